//! Leave-one-out validation of the predictor: each measured or published figure is predicted
//! from all the others (the device's other figures, of other models or quantizations, stay in),
//! and the error is (predicted − actual) ÷ actual. The table gives, per metric and device family, the
//! figures, how many could be predicted, the median absolute error and how often the actual
//! figure fell inside the predicted interval.

use super::fit::Fit;
use super::{median, Device, Metric, Observation};
use std::collections::BTreeMap;

/// One figure predicted without itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    pub index: usize,
    pub predicted: Option<f64>,
    pub inside: Option<bool>,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub metric: Metric,
    /// A family, or `all`.
    pub family: String,
    pub figures: usize,
    pub predicted: usize,
    /// Median of |predicted − actual| ÷ actual, percent.
    pub median_abs_error_pct: Option<f64>,
    /// Percent of the predicted figures inside their interval.
    pub inside_pct: Option<f64>,
}

/// The device an observation's prediction is made for (its own figures are left out by the
/// caller's fit).
fn device_of(o: &Observation) -> Device {
    Device {
        id: o.device.clone(),
        name: o.device.clone(),
        family: o.family.clone(),
        bandwidth_gbs: o.bandwidth_gbs,
        compute_tflops: o.compute_tflops,
        ram_bytes: None,
        power: None,
        price_usd: None,
        in_catalog: true,
    }
}

/// Predict observation `index` of `fit` from the others.
pub fn trial(fit: &Fit, index: usize) -> Trial {
    let o = &fit.observations[index];
    let rest = fit.without(index);
    let d = device_of(o);
    let estimate = o.work.and_then(|work| match o.metric {
        Metric::Generation => rest.generation(&d, &o.backend, work),
        Metric::Prompt => rest.prompt(&d, &o.backend, work),
        Metric::Encoder => rest.encoder_s(&d, &o.backend, work),
        Metric::Rtf => None,
    });
    Trial {
        index,
        predicted: estimate.as_ref().map(|e| e.value),
        inside: estimate.and_then(|e| match (e.low, e.high) {
            (Some(lo), Some(hi)) => Some(lo <= o.value && o.value <= hi),
            _ => None,
        }),
    }
}

/// The leave-one-out table over every figure with a cost (measured figures of devices outside
/// the catalog have no peak to scale and are left out).
pub fn leave_one_out(fit: &Fit) -> Vec<Row> {
    type Acc = (usize, Vec<f64>, Vec<bool>);
    let mut acc: BTreeMap<(Metric, String), Acc> = BTreeMap::new();
    for (i, o) in fit.observations.iter().enumerate() {
        if o.metric == Metric::Rtf || o.work.is_none() || o.bandwidth_gbs.is_none() {
            continue;
        }
        let t = trial(fit, i);
        for family in [o.family.clone(), "all".to_string()] {
            let a = acc.entry((o.metric, family)).or_default();
            a.0 += 1;
            if let Some(p) = t.predicted {
                a.1.push(((p - o.value) / o.value).abs() * 100.0);
            }
            if let Some(inside) = t.inside {
                a.2.push(inside);
            }
        }
    }
    let mut rows: Vec<Row> = acc
        .into_iter()
        .map(|((metric, family), (figures, errors, inside))| Row {
            metric,
            family,
            figures,
            predicted: errors.len(),
            median_abs_error_pct: median(&errors),
            inside_pct: (!inside.is_empty()).then(|| {
                100.0 * inside.iter().filter(|x| **x).count() as f64 / inside.len() as f64
            }),
        })
        .collect();
    // Each metric's rows by family, `all` last.
    rows.sort_by(|a, b| {
        (a.metric, a.family == "all", &a.family).cmp(&(b.metric, b.family == "all", &b.family))
    });
    rows
}

/// The table as Markdown (the README shows it).
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| metric | device family | figures | predicted | median abs. error | inside interval |\n\
         |---|---|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let pct = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.1}%"));
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.metric.label(),
            if r.family == "all" {
                "**all**".to_string()
            } else {
                r.family.clone()
            },
            r.figures,
            r.predicted,
            pct(r.median_abs_error_pct),
            pct(r.inside_pct),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::choose::fit::tests::{dev, gen};

    #[test]
    fn leave_one_out_predicts_each_figure_from_the_others() {
        let a = dev("a", "fam", 100.0, None);
        let b = dev("b", "fam", 200.0, None);
        let c = dev("c", "fam", 100.0, None);
        // Efficiencies 0.5, 0.6, 0.7 (1 GB a token).
        let fit = Fit::new(vec![
            gen(&a, "x", 50.0, 1e9),
            gen(&b, "x", 120.0, 1e9),
            gen(&c, "x", 70.0, 1e9),
        ]);
        // a is predicted from b and c: median 0.65 → 65 t/s, 30% above its 50.
        let t = trial(&fit, 0);
        assert!((t.predicted.unwrap() - 65.0).abs() < 1e-9);
        let rows = leave_one_out(&fit);
        let all = rows.iter().find(|r| r.family == "all").unwrap();
        assert_eq!((all.figures, all.predicted), (3, 3));
        // Errors: a 30%, b (0.6 from 0.5 and 0.7 → same) 0%, c (0.55 vs 0.7) 21.4%.
        assert!(
            (all.median_abs_error_pct.unwrap() - 21.428_571).abs() < 1e-3,
            "{all:?}"
        );
        assert!(markdown(&rows).contains("| generation | **all** | 3 | 3 | 21.4% |"));
    }

    #[test]
    fn a_lone_figure_of_its_backend_cannot_be_predicted() {
        let a = dev("a", "fam", 100.0, None);
        let fit = Fit::new(vec![gen(&a, "x", 50.0, 1e9), gen(&a, "y", 60.0, 1e9)]);
        let rows = leave_one_out(&fit);
        let all = rows.iter().find(|r| r.family == "all").unwrap();
        assert_eq!((all.figures, all.predicted), (2, 0));
        assert_eq!(all.median_abs_error_pct, None);
    }
}
