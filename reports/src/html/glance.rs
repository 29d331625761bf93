//! The at-a-glance tables of the page: per device, one table of LLM tests (prompt and
//! generation t/s, TTFT, memory, J/token, throttled?, status) and one of speech tests
//! (real-time factor, encoder time, decoder steps/s, memory, J per audio second), one row per
//! model × quantization × target × threads × options.
//!
//! Cells stay one line high: why a test failed or was skipped, and its warnings, are numbered
//! footnotes under the device's tables (the same reason once, however many rows it explains).

use super::{escape, gib};
use crate::table::{is_speech, phases, target_label, workload_name, Phase};
use edgebench_harness::schema::{metric, Status, TestRecord};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// The tests of one row: the latest runs of one device, model, quantization, target, thread
/// count and option set (one test per workload).
pub(super) struct GlanceRow<'a> {
    pub tests: Vec<&'a TestRecord>,
}

type GlanceKey = (String, String, String, usize, String);

/// The rows of every device, devices by name, rows by model, quantization, target, threads.
pub(super) fn glance_rows<'a>(latest: &[&'a TestRecord]) -> BTreeMap<String, Vec<GlanceRow<'a>>> {
    let mut by_device: BTreeMap<String, BTreeMap<GlanceKey, GlanceRow<'a>>> = BTreeMap::new();
    for &t in latest {
        let key = (
            t.scenario.model.clone(),
            t.scenario.quant.clone(),
            target_label(t),
            t.parameters.threads,
            options_text(t),
        );
        by_device
            .entry(t.environment.device.clone())
            .or_default()
            .entry(key)
            .or_insert_with(|| GlanceRow { tests: Vec::new() })
            .tests
            .push(t);
    }
    by_device
        .into_iter()
        .map(|(d, rows)| (d, rows.into_values().collect()))
        .collect()
}

fn options_text(t: &TestRecord) -> String {
    t.parameters
        .options
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Numbered footnotes, numbered across the page; the same text under one device gets one
/// number.
#[derive(Default)]
pub(super) struct Footnotes {
    next: usize,
    pending: Vec<(usize, String)>,
    by_text: HashMap<String, usize>,
}

impl Footnotes {
    /// The number of the footnote holding `text` (an HTML fragment), added if new.
    fn mark(&mut self, text: String) -> usize {
        if let Some(&n) = self.by_text.get(&text) {
            return n;
        }
        self.next += 1;
        self.by_text.insert(text.clone(), self.next);
        self.pending.push((self.next, text));
        self.next
    }

    /// The footnotes added since the last call, as a list (empty when there are none).
    pub(super) fn take_html(&mut self) -> String {
        self.by_text.clear();
        if self.pending.is_empty() {
            return String::new();
        }
        let mut out = String::from("<ol class=\"footnotes\">\n");
        for (n, text) in self.pending.drain(..) {
            let _ = writeln!(out, "<li id=\"fn-{n}\" value=\"{n}\">{text}</li>");
        }
        out.push_str("</ol>\n");
        out
    }
}

fn footnote_ref(n: usize) -> String {
    format!("<sup><a href=\"#fn-{n}\" class=\"fn\">{n}</a></sup>")
}

/// `median ± half-width` of a summary, the half-width muted; the median alone for one
/// repetition.
fn value_ci(s: &edgebench_harness::stats::Summary, scale: f64, digits: usize) -> String {
    if s.n > 1 {
        format!(
            "{:.digits$} <span class=\"muted\">± {:.digits$}</span>",
            s.median * scale,
            (s.ci95_high - s.ci95_low) / 2.0 * scale
        )
    } else {
        format!("{:.digits$}", s.median * scale)
    }
}

/// `pp512 21.40 ± 0.12` lines for the tests of a row that have the phase's rate.
fn rate_lines(tests: &[&TestRecord], phase: Phase) -> Vec<String> {
    tests
        .iter()
        .filter(|t| phases(t).contains(&phase))
        .filter_map(|t| {
            let s = t.summary.get(phase.tps_metric()?)?;
            // Two speeds: marked, with the explanation as the tooltip.
            let modes = crate::table::modes_note(phase, s)
                .map(|note| {
                    format!(
                        " <span class=\"bad\" title=\"{}\">2 modes</span>",
                        escape(&note)
                    )
                })
                .unwrap_or_default();
            Some(format!(
                "<span class=\"muted\">{}</span> <span class=\"v\">{}</span>{modes}",
                escape(&workload_name(t)),
                value_ci(s, 1.0, 2)
            ))
        })
        .collect()
}

/// `transcribe-30s 4.21` lines of one metric, scaled (seconds → ms).
fn metric_lines(tests: &[&TestRecord], name: &str, scale: f64, digits: usize) -> Vec<String> {
    tests
        .iter()
        .filter_map(|t| {
            t.summary.get(name).map(|s| {
                format!(
                    "<span class=\"muted\">{}</span> <span class=\"v\">{}</span>",
                    escape(&workload_name(t)),
                    value_ci(s, scale, digits)
                )
            })
        })
        .collect()
}

fn throttled_cell(tests: &[&TestRecord]) -> String {
    let flags: Vec<bool> = tests
        .iter()
        .flat_map(|t| &t.repetitions)
        .filter_map(|r| r.throttled)
        .collect();
    let throttled = flags.iter().filter(|f| **f).count();
    if flags.is_empty() {
        "<span class=\"muted\">–</span>".into()
    } else if throttled == 0 {
        format!(
            "<span class=\"ok\">no</span> <span class=\"muted\">0/{}</span>",
            flags.len()
        )
    } else {
        format!(
            "<span class=\"bad\">yes</span> <span class=\"muted\">{throttled}/{}</span>",
            flags.len()
        )
    }
}

/// The status cell: `ok`, or `pp512: failed¹` per test that did not end ok, a footnote mark
/// on a test with warnings, and a link to the history when a test ran more than once.
fn status_cell(
    tests: &[&TestRecord],
    history_counts: &HashMap<&str, usize>,
    notes: &mut Footnotes,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    let several = tests.len() > 1;
    for t in tests {
        let what = if several {
            format!("{}: ", escape(&workload_name(t)))
        } else {
            String::new()
        };
        let class = match t.status {
            Status::Ok => "ok",
            Status::Skipped { .. } => "warn",
            _ => "bad",
        };
        let mut marks = String::new();
        if let Some(reason) = t.status.reason() {
            let n = notes.mark(format!(
                "<span class=\"{class}\">{}</span>: {}",
                t.status.label(),
                escape(reason)
            ));
            marks.push_str(&footnote_ref(n));
        }
        for w in &t.warnings {
            let n = notes.mark(format!("warning: {}", escape(w)));
            marks.push_str(&footnote_ref(n));
        }
        if t.status != Status::Ok || !marks.is_empty() {
            parts.push(format!(
                "{what}<span class=\"{class}\">{}</span>{marks}",
                t.status.label()
            ));
        }
    }
    if parts.is_empty() {
        parts.push("<span class=\"ok\">ok</span>".into());
    }
    let runs = tests
        .iter()
        .map(|t| history_counts.get(t.test_id.as_str()).copied().unwrap_or(1))
        .max()
        .unwrap_or(1);
    if runs > 1 {
        parts.push(format!(
            "<a href=\"#history\" class=\"muted\" title=\"the latest run is shown\">{runs}&nbsp;runs</a>"
        ));
    }
    parts.join("<br>")
}

/// The model cell: name, synthetic badge, backend options (which may wrap).
fn model_cell(first: &TestRecord, mark_synthetic: bool) -> String {
    let synthetic = if mark_synthetic && first.scenario.synthetic {
        "<span class=\"badge synthetic\" title=\"synthetic weights: real shapes, pseudo-random values\">synthetic</span>"
    } else {
        ""
    };
    let options = options_text(first);
    let options = if options.is_empty() {
        String::new()
    } else {
        format!("<div class=\"opts muted\">{}</div>", escape(&options))
    };
    format!(
        "<span class=\"model\">{}</span>{synthetic}{options}",
        escape(&first.scenario.model)
    )
}

fn dash(lines: Vec<String>) -> String {
    if lines.is_empty() {
        "–".to_string()
    } else {
        lines.join("<br>")
    }
}

fn memory_cell(tests: &[&TestRecord]) -> String {
    tests
        .iter()
        .filter_map(|t| t.peak_rss_bytes)
        .max()
        .map_or_else(|| "–".into(), |b| format!("{:.2}", gib(b)))
}

/// The tables of one device: LLM rows, then speech rows, each table only when it has rows.
/// Footnote marks go into `notes`; the caller prints them under the tables.
pub(super) fn device_tables(
    rows: &[GlanceRow],
    history_counts: &HashMap<&str, usize>,
    mark_synthetic: bool,
    notes: &mut Footnotes,
) -> String {
    let (speech, llm): (Vec<&GlanceRow>, Vec<&GlanceRow>) = rows
        .iter()
        .partition(|r| r.tests.iter().any(|t| is_speech(t)));
    let mut out = String::new();
    if !llm.is_empty() {
        out.push_str(
            "<div class=\"scroll\"><table class=\"glance\"><thead><tr><th>model</th><th>quant</th>\
             <th>target</th><th class=\"num\">threads</th><th class=\"num\">prompt t/s</th>\
             <th class=\"num\">generation t/s</th><th class=\"num\">TTFT ms</th>\
             <th class=\"num\">memory GiB</th><th class=\"num\">J/token</th>\
             <th>throttled?</th><th>status</th></tr></thead><tbody>\n",
        );
        for row in llm {
            let first = row.tests[0];
            let mut energy = Vec::new();
            for (name, label) in [
                (metric::PREFILL_J_PER_TOKEN, "pp"),
                (metric::DECODE_J_PER_TOKEN, "tg"),
            ] {
                if let Some(v) = row
                    .tests
                    .iter()
                    .find_map(|t| t.summary.get(name).map(|s| s.median))
                {
                    energy.push(format!("<span class=\"muted\">{label}</span> {v:.3}"));
                }
            }
            let _ = writeln!(
                out,
                "<tr><td class=\"name\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"flag\">{}</td>\
                 <td class=\"status\">{}</td></tr>",
                model_cell(first, mark_synthetic),
                escape(&first.scenario.quant),
                escape(&target_label(first)),
                first.parameters.threads,
                dash(rate_lines(&row.tests, Phase::Prefill)),
                dash(rate_lines(&row.tests, Phase::Decode)),
                dash(metric_lines(&row.tests, metric::TTFT_S, 1e3, 1)),
                memory_cell(&row.tests),
                dash(energy),
                throttled_cell(&row.tests),
                status_cell(&row.tests, history_counts, notes),
            );
        }
        out.push_str("</tbody></table></div>\n");
    }
    if !speech.is_empty() {
        out.push_str(
            "<div class=\"scroll\"><table class=\"glance speech\"><thead><tr><th>speech model</th>\
             <th>quant</th><th>target</th><th class=\"num\">threads</th>\
             <th class=\"num\" title=\"seconds of audio ÷ seconds to transcribe them; higher is better\">\
             real-time factor ×</th><th class=\"num\">encoder ms</th>\
             <th class=\"num\">decoder steps/s</th><th class=\"num\">memory GiB</th>\
             <th class=\"num\">J/audio s</th><th>throttled?</th><th>status</th></tr></thead><tbody>\n",
        );
        for row in speech {
            let first = row.tests[0];
            let _ = writeln!(
                out,
                "<tr><td class=\"name\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"flag\">{}</td>\
                 <td class=\"status\">{}</td></tr>",
                model_cell(first, mark_synthetic),
                escape(&first.scenario.quant),
                escape(&target_label(first)),
                first.parameters.threads,
                dash(metric_lines(&row.tests, metric::RTF, 1.0, 2)),
                dash(metric_lines(&row.tests, metric::ENCODE_S, 1e3, 1)),
                dash(metric_lines(&row.tests, metric::TG_TPS, 1.0, 1)),
                memory_cell(&row.tests),
                dash(metric_lines(&row.tests, metric::J_PER_AUDIO_S, 1.0, 3)),
                throttled_cell(&row.tests),
                status_cell(&row.tests, history_counts, notes),
            );
        }
        out.push_str("</tbody></table></div>\n");
    }
    out
}
