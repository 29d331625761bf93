//! The report's devices × scenarios matrix and the chooser's chart, built from the chooser's
//! answers (see `edgebench_reports::matrix` for the layout).

use super::cost::Work;
use super::fit::Fit;
use super::rank::{self, Fits, Question, Row};
use super::{Device, Origin};
use edgebench_reports::chart::{self, ChoiceChart, ChoicePoint};
use edgebench_reports::matrix::{Cell, CellKind, Column, Matrix, Row as MatrixRow};
use edgebench_scenarios::Catalog;

/// The three questions users ask, always columns of the matrix.
pub const STANDARD: [(&str, &str); 3] = [
    ("llama3-8b", "q4_k_m"),
    ("phi3-mini", "q4_k_m"),
    ("whisper-small.en", "f16"),
];

/// Context the memory check holds for the matrix.
pub const MATRIX_CTX: usize = 4096;

fn kind(o: Origin) -> CellKind {
    match o {
        Origin::Measured => CellKind::Measured,
        Origin::Published => CellKind::Published,
        Origin::Predicted => CellKind::Predicted,
    }
}

/// The fastest answer for `work` on `device` that fits its memory (any backend).
fn best(work: &Work, device: &Device, fit: &Fit) -> Option<Row> {
    let q = Question {
        work: work.clone(),
        ctx: MATRIX_CTX,
        prompt: 512,
        min_tps: None,
        max_watts: None,
        budget_usd: None,
    };
    rank::answer(&q, std::slice::from_ref(device), fit)
        .into_iter()
        .find(|r| !matches!(r.fits, Fits::No { .. }))
}

fn cell(row: &Row) -> Option<Cell> {
    let f = row.headline()?;
    Some(Cell {
        value: f.value,
        low: f.low,
        high: f.high,
        kind: kind(f.origin),
        backend: row.backend.clone(),
        detail: if f.note.is_empty() {
            f.source.clone()
        } else {
            format!("{} ({})", f.source, f.note)
        },
        throttled: f.throttled,
    })
}

/// Columns: the standard questions, then every other full-size scenario the results measured.
pub fn columns(catalog: &Catalog, fit: &Fit) -> Vec<Work> {
    let mut wanted: Vec<(String, String)> = STANDARD
        .iter()
        .map(|(m, q)| (m.to_string(), q.to_string()))
        .collect();
    for o in fit
        .observations
        .iter()
        .filter(|o| o.origin == Origin::Measured)
    {
        let key = (o.model.clone(), o.quant.clone());
        if !wanted.contains(&key) {
            wanted.push(key);
        }
    }
    wanted
        .into_iter()
        .filter_map(|(m, q)| Work::resolve(catalog, &m, &q).ok())
        .filter(|w| match w {
            Work::Llm { spec, .. } => !spec.tiny,
            Work::Whisper { spec, .. } => !spec.tiny,
        })
        .collect()
}

fn title(w: &Work) -> (String, String) {
    match w {
        Work::Llm { spec, quant } => (format!("{} {}", spec.display_name, quant), "gen t/s".into()),
        Work::Whisper { spec, quant } => (
            format!("{} {}", spec.display_name, quant),
            "× real time".into(),
        ),
    }
}

/// The matrix for `devices` (measured devices first, then the catalog's) and the chart of the
/// first column: speed against speed per watt.
pub fn build(catalog: &Catalog, devices: &[Device], fit: &Fit) -> (Matrix, Option<ChoiceChart>) {
    let works = columns(catalog, fit);
    let mut rows = Vec::new();
    let mut points = Vec::new();
    for d in devices {
        let answers: Vec<Option<Row>> = works.iter().map(|w| best(w, d, fit)).collect();
        if answers.iter().all(Option::is_none) {
            continue;
        }
        if let Some(Some(r)) = answers.first() {
            if let (Some(f), Some(pw)) = (r.headline(), r.per_watt()) {
                points.push(ChoicePoint {
                    label: d.name.clone(),
                    speed: f.value,
                    per_watt: pw,
                    kind: kind(f.origin),
                });
            }
        }
        rows.push(MatrixRow {
            device: d.name.clone(),
            cells: answers.iter().map(|a| a.as_ref().and_then(cell)).collect(),
        });
    }
    let matrix = Matrix {
        columns: works
            .iter()
            .map(|w| {
                let (title, unit) = title(w);
                Column { title, unit }
            })
            .collect(),
        rows,
        notes: vec![
            "Each cell is the fastest backend with a figure for that device (its name is in \
             the cell's title); – means no figure, or the model does not fit the device's \
             memory at 4096 tokens of context."
                .into(),
            "Prompt length: measured cells are edgebench's generation tests as run (tgN after \
             the run's prompt, if any); published cells are as their sources ran them \
             (llama-bench tg128 on an empty context, or a chat turn); predictions stream the \
             weights only, i.e. a short context."
                .into(),
            "Thermal state: ⚠ marks a measured figure with a throttled repetition; published \
             figures are short runs as their sources made them; predictions assume no \
             throttling."
                .into(),
            "Whisper: × real time for a 30 s window (encoder plus 64 decoder steps), higher is \
             faster."
                .into(),
            "Predictions: generation = bandwidth efficiency × peak bandwidth ÷ bytes per token, \
             the efficiency fitted per backend and device family from published and measured \
             figures (`edgebench choose --validate` shows how well it predicts them)."
                .into(),
        ],
    };
    let chart = works.first().and_then(|w| {
        let (t, _) = title(w);
        let unit = if w.is_whisper() {
            "× real time"
        } else {
            "generation t/s"
        };
        chart::choice(&format!("{t}: speed and speed per watt"), unit, points)
    });
    (matrix, chart)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::choose::fit::tests::{dev, gen};

    #[test]
    fn standard_columns_and_a_row_per_device_with_figures() {
        let catalog = Catalog::builtin();
        let a = dev("a", "fam", 100.0, None);
        let b = dev("b", "other", 100.0, None);
        let fit = Fit::new(vec![gen(&a, "llamacpp", 20.0, 4e9)]);
        let (m, chart) = build(&catalog, &[a, b], &fit);
        assert_eq!(m.columns.len(), 3);
        assert_eq!(m.columns[0].title, "Llama 3 8B q4_k_m");
        // b's family has no figure of any backend: no row.
        assert_eq!(m.rows.len(), 1);
        let c = m.rows[0].cells[0].as_ref().unwrap();
        assert_eq!(c.kind, CellKind::Predicted);
        // No Whisper figure anywhere.
        assert!(m.rows[0].cells[2].is_none());
        assert_eq!(chart.unwrap().points.len(), 1);
    }
}
