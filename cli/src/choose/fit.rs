//! The efficiencies, fitted from measured and published figures, and predictions from them.
//!
//! A figure's efficiency is the fraction of the device's peak it reached
//! ([`Observation::efficiency`]). For a backend on a device family the fitted efficiency is the
//! median of its figures' efficiencies (robust to the odd outlier a community table has), and
//! the interval is the 10th–90th percentile of each figure's efficiency ÷ the median of the
//! others (so it measures how far an unseen figure falls): over the group's own
//! figures when it has at least [`OWN_SPREAD_MIN`], else pooled over every group of the same
//! metric (each figure against its own group's median). A family without figures for the
//! backend borrows the backend's median over every family, and says so. Prompt speed is
//! predicted first from the device's own prompt figures (its achieved FLOPs/s, which the
//! FLOPs per token of the asked model turn into t/s), else from the family's compute efficiency
//! and the catalog's peak compute.

use super::{median, quantile, Device, Estimate, Metric, Observation};

/// Figures a group needs for its own interval.
pub const OWN_SPREAD_MIN: usize = 5;

/// Each figure against the median of the others (jackknife residuals): how far a figure the fit
/// has not seen falls from the prediction. Ratios to a median that includes the figure itself
/// are narrower than that, and intervals from them covered too little (68% for a nominal 80% in
/// leave-one-out validation).
///
/// In O(n log n): the median of the others is read off the sorted values with the figure's
/// own place skipped (a results folder of a lab gives groups of thousands of figures).
fn held_out_ratios(values: &[f64]) -> Vec<f64> {
    if values.len() < 2 {
        return Vec::new();
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    // The same linear-interpolation median as `median`, over the n − 1 others.
    let pos = 0.5 * (values.len() - 2) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    values
        .iter()
        .map(|&x| {
            let k = sorted.partition_point(|v| v.total_cmp(&x).is_lt());
            let other = |j: usize| if j < k { sorted[j] } else { sorted[j + 1] };
            x / (other(lo) + (other(hi) - other(lo)) * (pos - lo as f64))
        })
        .collect()
}

/// [`held_out_ratios`] within every group of two or more values, the groups keyed by `K`.
fn grouped_held_out_ratios<K: Ord>(values: impl Iterator<Item = (K, f64)>) -> Vec<f64> {
    let mut groups: std::collections::BTreeMap<K, Vec<f64>> = Default::default();
    for (key, v) in values {
        groups.entry(key).or_default().push(v);
    }
    groups
        .values()
        .filter(|vs| vs.len() >= 2)
        .flat_map(|vs| held_out_ratios(vs))
        .collect()
}

/// The figures the predictions come from.
#[derive(Debug, Clone, Default)]
pub struct Fit {
    pub observations: Vec<Observation>,
}

/// A fitted efficiency: its value, interval and how many figures it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Efficiency {
    pub value: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub figures: usize,
    /// Borrowed from the backend's other families.
    pub borrowed: bool,
}

impl Fit {
    pub fn new(observations: Vec<Observation>) -> Fit {
        Fit { observations }
    }

    /// The same fit without observation `index` (for leave-one-out).
    pub fn without(&self, index: usize) -> Fit {
        let mut observations = self.observations.clone();
        observations.remove(index);
        Fit { observations }
    }

    fn efficiencies<'a>(
        &'a self,
        metric: Metric,
        backend: &'a str,
    ) -> impl Iterator<Item = (&'a Observation, f64)> + 'a {
        self.observations
            .iter()
            .filter(move |o| o.metric == metric && o.backend == backend)
            .filter_map(|o| o.efficiency().map(|e| (o, e)))
    }

    /// Efficiency ÷ its group's median for every figure of `metric` in a group of two or more.
    fn pooled_ratios(&self, metric: Metric) -> Vec<f64> {
        grouped_held_out_ratios(
            self.observations
                .iter()
                .filter(|o| o.metric == metric)
                .filter_map(|o| Some(((o.backend.as_str(), o.family.as_str()), o.efficiency()?))),
        )
    }

    /// Held-out ratios of achieved prompt FLOPs/s within every device × backend group of two
    /// or more prompt figures.
    fn pooled_prompt_ratios(&self) -> Vec<f64> {
        grouped_held_out_ratios(
            self.observations
                .iter()
                .filter(|o| o.metric == Metric::Prompt)
                .filter_map(|o| {
                    Some(((o.backend.as_str(), o.device.as_str()), o.achieved_flops()?))
                }),
        )
    }

    /// The fitted efficiency of `backend` on `family` for `metric` (see the module
    /// documentation), or `None` when no figure of the backend has one.
    pub fn efficiency(&self, metric: Metric, backend: &str, family: &str) -> Option<Efficiency> {
        let own: Vec<f64> = self
            .efficiencies(metric, backend)
            .filter(|(o, _)| o.family == family)
            .map(|(_, e)| e)
            .collect();
        let (values, borrowed) = if own.is_empty() {
            let all: Vec<f64> = self.efficiencies(metric, backend).map(|(_, e)| e).collect();
            (all, true)
        } else {
            (own, false)
        };
        let value = median(&values)?;
        let ratios: Vec<f64> = if values.len() >= OWN_SPREAD_MIN || borrowed {
            held_out_ratios(&values)
        } else {
            self.pooled_ratios(metric)
        };
        let (low, high) = if ratios.len() >= 2 {
            (
                quantile(&ratios, 0.1).map(|r| r * value),
                quantile(&ratios, 0.9).map(|r| r * value),
            )
        } else {
            (None, None)
        };
        Some(Efficiency {
            value,
            low,
            high,
            figures: values.len(),
            borrowed,
        })
    }

    /// Generation t/s of `backend` on `device` for a model streaming `bytes` per token.
    pub fn generation(&self, device: &Device, backend: &str, bytes: f64) -> Option<Estimate> {
        let bw = device.bandwidth_gbs? * 1e9;
        let e = self.efficiency(Metric::Generation, backend, &device.family)?;
        let tps = |eff: f64| eff * bw / bytes;
        Some(Estimate {
            value: tps(e.value),
            low: e.low.map(tps),
            high: e.high.map(tps),
            basis: format!(
                "{backend} on {}: {:.2} of peak bandwidth (median of {} figure{}{})",
                device.family,
                e.value,
                e.figures,
                if e.figures == 1 { "" } else { "s" },
                if e.borrowed {
                    ", borrowed from other families: none of this family"
                } else {
                    ""
                }
            ),
            figures: e.figures,
        })
    }

    /// Prompt t/s of `backend` on `device` for a model costing `flops` per prompt token.
    pub fn prompt(&self, device: &Device, backend: &str, flops: f64) -> Option<Estimate> {
        // The device's own prompt figures on this backend: their achieved FLOPs/s.
        let own: Vec<f64> = self
            .observations
            .iter()
            .filter(|o| o.metric == Metric::Prompt && o.backend == backend && o.device == device.id)
            .filter_map(Observation::achieved_flops)
            .collect();
        if let Some(rate) = median(&own) {
            // How far an unseen figure falls from the median of the others: from the device's
            // own figures when it has enough, else pooled over every device's own prompt
            // figures (achieved FLOPs/s moves with the model and quantization, which a
            // device's few figures under-sample: in-sample ratios covered 40% for a nominal
            // 80% in leave-one-out validation).
            let ratios = if own.len() >= OWN_SPREAD_MIN {
                held_out_ratios(&own)
            } else {
                self.pooled_prompt_ratios()
            };
            let spread = |q: f64| {
                (ratios.len() >= 2)
                    .then(|| quantile(&ratios, q).map(|r| r * rate / flops))
                    .flatten()
            };
            return Some(Estimate {
                value: rate / flops,
                low: spread(0.1),
                high: spread(0.9),
                basis: format!(
                    "{backend} on {}: {:.2} TFLOPs/s achieved in its own prompt figures \
                     (median of {}) ÷ {:.2} GFLOPs a token",
                    device.name,
                    rate / 1e12,
                    own.len(),
                    flops / 1e9
                ),
                figures: own.len(),
            });
        }
        let peak = device.compute_tflops? * 1e12;
        let e = self.efficiency(Metric::Prompt, backend, &device.family)?;
        if e.borrowed {
            // Peak compute means different engines on different families.
            return None;
        }
        let tps = |eff: f64| eff * peak / flops;
        Some(Estimate {
            value: tps(e.value),
            low: e.low.map(tps),
            high: e.high.map(tps),
            basis: format!(
                "{backend} on {}: {:.2} of peak compute (median of {} figures)",
                device.family, e.value, e.figures
            ),
            figures: e.figures,
        })
    }

    /// Seconds of one Whisper encoder pass of `flops` on `device`.
    pub fn encoder_s(&self, device: &Device, backend: &str, flops: f64) -> Option<Estimate> {
        let peak = device.compute_tflops? * 1e12;
        let e = self.efficiency(Metric::Encoder, backend, &device.family)?;
        if e.borrowed {
            return None;
        }
        let seconds = |eff: f64| flops / (eff * peak);
        Some(Estimate {
            value: seconds(e.value),
            // A higher efficiency is a shorter pass.
            low: e.high.map(seconds),
            high: e.low.map(seconds),
            basis: format!(
                "{backend} on {}: {:.2} of peak compute (median of {} encoder figures)",
                device.family, e.value, e.figures
            ),
            figures: e.figures,
        })
    }

    /// Backends with a generation (or, for Whisper, encoder) figure on the device's family or
    /// on the device itself.
    pub fn backends_for(&self, device: &Device, whisper: bool) -> Vec<String> {
        let mut out: Vec<String> = self
            .observations
            .iter()
            .filter(|o| o.family == device.family || o.device == device.id)
            .filter(|o| {
                if whisper {
                    matches!(o.metric, Metric::Encoder | Metric::Rtf)
                } else {
                    matches!(o.metric, Metric::Generation | Metric::Prompt)
                        && !o.backend.starts_with("whisper")
                }
            })
            .map(|o| o.backend.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn held_out_ratios_equal_the_median_of_the_others() {
        let values = [0.5, 0.7, 0.7, 0.2, 0.9, 0.4, 0.55];
        for n in 2..=values.len() {
            let v = &values[..n];
            let naive: Vec<f64> = (0..n)
                .map(|i| {
                    let others: Vec<f64> = (0..n).filter(|&j| j != i).map(|j| v[j]).collect();
                    v[i] / median(&others).unwrap()
                })
                .collect();
            let fast = held_out_ratios(v);
            assert_eq!(fast.len(), n);
            for (a, b) in fast.iter().zip(&naive) {
                assert!((a - b).abs() < 1e-12, "{n}: {fast:?} vs {naive:?}");
            }
        }
        assert!(held_out_ratios(&[0.3]).is_empty());
    }
    use crate::choose::Origin;

    /// A device of `family` with `bw` GB/s and `tflops` of compute.
    pub fn dev(id: &str, family: &str, bw: f64, tflops: Option<f64>) -> Device {
        Device {
            id: id.into(),
            name: id.into(),
            family: family.into(),
            bandwidth_gbs: Some(bw),
            compute_tflops: tflops,
            ram_bytes: Some(8 << 30),
            power: Some((10.0, "test".into())),
            price_usd: Some(100.0),
            in_catalog: true,
        }
    }

    /// A published generation figure of `tps` on `d` for a model of `bytes` per token.
    pub fn gen(d: &Device, backend: &str, tps: f64, bytes: f64) -> Observation {
        Observation {
            device: d.id.clone(),
            family: d.family.clone(),
            bandwidth_gbs: d.bandwidth_gbs,
            compute_tflops: d.compute_tflops,
            backend: backend.into(),
            model: "m".into(),
            quant: "q4_0".into(),
            metric: Metric::Generation,
            value: tps,
            work: Some(bytes),
            origin: Origin::Published,
            source: "https://example.org".into(),
            note: String::new(),
            tokens: Some(128),
            power_w: None,
            throttled: None,
        }
    }

    #[test]
    fn generation_is_efficiency_times_bandwidth_over_bytes() {
        let a = dev("a", "fam", 100.0, None);
        let b = dev("b", "fam", 200.0, None);
        // 1 GB a token: a reaches 0.6 of 100 GB/s, b 0.8 of 200 GB/s; median 0.7.
        let fit = Fit::new(vec![gen(&a, "x", 60.0, 1e9), gen(&b, "x", 160.0, 1e9)]);
        let c = dev("c", "fam", 50.0, None);
        let e = fit.generation(&c, "x", 2e9).unwrap();
        assert!((e.value - 0.7 * 50.0 / 2.0).abs() < 1e-9, "{e:?}");
        assert_eq!(e.figures, 2);
        // Two figures: the interval is pooled from the group's held-out ratios (0.75, 1.33).
        let (lo, hi) = (e.low.unwrap(), e.high.unwrap());
        assert!(lo < e.value && e.value < hi, "{e:?}");
        // Another family borrows the backend's median, and says so.
        let other = fit
            .generation(&dev("d", "elsewhere", 100.0, None), "x", 1e9)
            .unwrap();
        assert!((other.value - 70.0).abs() < 1e-9);
        assert!(other.basis.contains("borrowed"));
        // An unknown backend predicts nothing; a device without bandwidth neither.
        assert!(fit.generation(&c, "y", 1e9).is_none());
        let mut nobw = c.clone();
        nobw.bandwidth_gbs = None;
        assert!(fit.generation(&nobw, "x", 1e9).is_none());
    }

    #[test]
    fn prompt_from_the_devices_own_figures_then_peak_compute() {
        let a = dev("a", "fam", 100.0, Some(10.0));
        let mut pp = gen(&a, "x", 500.0, 1e10);
        pp.metric = Metric::Prompt;
        // 500 t/s × 10 GFLOPs = 5 TFLOPs/s achieved: half the peak.
        let fit = Fit::new(vec![pp]);
        let e = fit.prompt(&a, "x", 2e10).unwrap();
        assert!((e.value - 250.0).abs() < 1e-9);
        let b = dev("b", "fam", 100.0, Some(4.0));
        let e = fit.prompt(&b, "x", 1e10).unwrap();
        assert!((e.value - 0.5 * 4e12 / 1e10).abs() < 1e-6, "{e:?}");
        // No compute figure, or only another family's efficiency: nothing.
        assert!(fit.prompt(&dev("c", "fam", 1.0, None), "x", 1e10).is_none());
        assert!(fit
            .prompt(&dev("d", "other", 1.0, Some(1.0)), "x", 1e10)
            .is_none());
    }

    #[test]
    fn own_spread_needs_five_figures() {
        let devs: Vec<Device> = (0..6)
            .map(|i| dev(&format!("d{i}"), "fam", 100.0, None))
            .collect();
        let obs: Vec<Observation> = devs
            .iter()
            .enumerate()
            .map(|(i, d)| gen(d, "x", 50.0 + 2.0 * i as f64, 1e9))
            .collect();
        let fit = Fit::new(obs);
        let e = fit.efficiency(Metric::Generation, "x", "fam").unwrap();
        assert_eq!(e.figures, 6);
        assert!((e.value - 0.55).abs() < 1e-9);
        // 10th and 90th percentiles of each figure against the median of the other five
        // (0.893…1.111 of it): wider than the figures' own 0.51…0.59, as an unseen figure is.
        assert!((e.low.unwrap() - 0.5010).abs() < 1e-3, "{e:?}");
        assert!((e.high.unwrap() - 0.6010).abs() < 1e-3, "{e:?}");
    }
}
