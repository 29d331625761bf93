//! The performance-at-a-glance matrix: rows are devices, columns scenarios (model ×
//! quantization, and Whisper), cells the generation t/s (Whisper: × real time). Measured
//! figures are plain, published ones carry a dagger, predicted ones a `≈` and their interval.
//!
//! The matrix is plain data built elsewhere (the CLI's device chooser, which knows the catalog
//! and the predictor); this module only lays it out as HTML and Markdown.

use crate::html::escape;
use std::fmt::Write as _;

/// Where a cell's figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    Measured,
    Published,
    Predicted,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub value: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub kind: CellKind,
    /// The backend the figure is for.
    pub backend: String,
    /// Where it comes from, in words (a URL, a run, a prediction's basis).
    pub detail: String,
    /// A measured figure some repetition of which throttled.
    pub throttled: bool,
}

impl Cell {
    /// `21.9`, `21.9†`, `≈19.3 (17.2–20.1)`, with `⚠` when throttled.
    pub fn text(&self) -> String {
        let v = |x: f64| {
            if x >= 100.0 {
                format!("{x:.0}")
            } else {
                format!("{x:.1}")
            }
        };
        let mut out = match self.kind {
            CellKind::Measured => v(self.value),
            CellKind::Published => format!("{}†", v(self.value)),
            CellKind::Predicted => match (self.low, self.high) {
                (Some(lo), Some(hi)) => format!("≈{} ({}–{})", v(self.value), v(lo), v(hi)),
                _ => format!("≈{}", v(self.value)),
            },
        };
        if self.throttled {
            out.push_str(" ⚠");
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// `Llama 3 8B q4_k_m`.
    pub title: String,
    /// `gen t/s`, `× real time`.
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub device: String,
    /// One per column.
    pub cells: Vec<Option<Cell>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matrix {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    /// Prompt length, thermal state, how predictions are made.
    pub notes: Vec<String>,
}

const LEGEND: &str = "Measured figures plain; † published (source in the cell's title and \
    in `harness/devices.toml`); ≈ predicted, with its interval; ⚠ some repetition throttled.";

impl Matrix {
    /// The matrix as an HTML fragment (a table and its notes), for the report page.
    pub fn html(&self) -> String {
        let mut out = String::from("<table class=\"matrix\"><thead><tr><th>device</th>");
        for c in &self.columns {
            let _ = write!(
                out,
                "<th class=\"num\">{}<br><span class=\"muted\">{}</span></th>",
                escape(&c.title),
                escape(&c.unit)
            );
        }
        out.push_str("</tr></thead><tbody>\n");
        for r in &self.rows {
            let _ = write!(out, "<tr><td class=\"name\">{}</td>", escape(&r.device));
            for cell in &r.cells {
                match cell {
                    Some(c) => {
                        let class = match c.kind {
                            CellKind::Measured => "num",
                            CellKind::Published => "num published",
                            CellKind::Predicted => "num predicted muted",
                        };
                        let _ = write!(
                            out,
                            "<td class=\"{class}\" title=\"{}: {}\">{}</td>",
                            escape(&c.backend),
                            escape(&c.detail),
                            escape(&c.text())
                        );
                    }
                    None => out.push_str("<td class=\"num muted\">–</td>"),
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table>\n");
        let _ = writeln!(out, "<p class=\"muted\">{}</p>", escape(LEGEND));
        if !self.notes.is_empty() {
            out.push_str("<ul class=\"muted\">\n");
            for n in &self.notes {
                let _ = writeln!(out, "<li>{}</li>", escape(n));
            }
            out.push_str("</ul>\n");
        }
        out
    }

    /// The matrix as Markdown: a heading, the table and its notes.
    pub fn markdown(&self) -> String {
        let mut out = String::from("## Performance at a glance\n\n| device |");
        for c in &self.columns {
            let _ = write!(out, " {} ({}) |", md(&c.title), md(&c.unit));
        }
        out.push_str("\n|---|");
        out.push_str(&"---:|".repeat(self.columns.len()));
        out.push('\n');
        for r in &self.rows {
            let _ = write!(out, "| {} |", md(&r.device));
            for cell in &r.cells {
                let text = cell.as_ref().map_or("–".to_string(), Cell::text);
                let _ = write!(out, " {} |", md(&text));
            }
            out.push('\n');
        }
        let _ = writeln!(out, "\n{LEGEND}");
        for n in &self.notes {
            let _ = writeln!(out, "- {n}");
        }
        out
    }
}

/// Text safe inside a Markdown table cell.
fn md(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(kind: CellKind, value: f64) -> Cell {
        Cell {
            value,
            low: Some(value * 0.9),
            high: Some(value * 1.1),
            kind,
            backend: "llamacpp".into(),
            detail: "<src>".into(),
            throttled: false,
        }
    }

    #[test]
    fn measured_plain_published_daggered_predicted_marked() {
        let m = Matrix {
            columns: vec![Column {
                title: "Llama 3 8B q4_k_m".into(),
                unit: "gen t/s".into(),
            }],
            rows: vec![
                Row {
                    device: "this machine".into(),
                    cells: vec![Some(cell(CellKind::Measured, 5.26))],
                },
                Row {
                    device: "Apple M2".into(),
                    cells: vec![Some(cell(CellKind::Predicted, 17.0))],
                },
                Row {
                    device: "Pi | 5".into(),
                    cells: vec![Some(cell(CellKind::Published, 2.17))],
                },
                Row {
                    device: "nothing".into(),
                    cells: vec![None],
                },
            ],
            notes: vec!["prompt 512".into()],
        };
        let md = m.markdown();
        assert!(md.contains("| this machine | 5.3 |"), "{md}");
        assert!(md.contains("| Apple M2 | ≈17.0 (15.3–18.7) |"), "{md}");
        assert!(md.contains("| Pi \\| 5 | 2.2† |"), "{md}");
        assert!(md.contains("| nothing | – |"));
        assert!(md.contains("- prompt 512"));
        let html = m.html();
        assert!(html.contains("title=\"llamacpp: &lt;src&gt;\""), "{html}");
        assert!(html.contains("class=\"num predicted muted\""));
    }
}
