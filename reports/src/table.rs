//! The rows and columns of the results table, shared by the terminal and Markdown exporters
//! (the CSV exporter uses the same rows with every column, in machine units).
//!
//! One row per test and rate, like llama-bench's table: a `pp512` test is one row (prompt
//! processing), a `tg128` test one row (generation), and a combined `pp512+tg128` test two rows,
//! `pp512+tg128:pp` and `pp512+tg128:tg`, so each row has one t/s and the table stays narrow.
//! Rows are sorted so the same results always print the same table.
//!
//! Nothing here computes a statistic: cells only format what the records hold.

use crate::merge::History;
pub use crate::order::{sorted, target_label, workload_name};
use edgebench_harness::schema::{metric, Environment, Status, TestRecord};
use edgebench_harness::stats::Summary;
use std::collections::BTreeSet;

/// Which rate a row shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Prompt processing: `pp_tps`, prefill energy.
    Prefill,
    /// Token generation: `tg_tps`, decode energy, inter-token latency.
    Decode,
    /// A test with no known rate (no tokens recorded and no rate measured).
    Whole,
}

impl Phase {
    /// `pp`, `tg` or empty.
    pub fn short(self) -> &'static str {
        match self {
            Phase::Prefill => "pp",
            Phase::Decode => "tg",
            Phase::Whole => "",
        }
    }

    /// The rate metric of this phase.
    pub fn tps_metric(self) -> Option<&'static str> {
        match self {
            Phase::Prefill => Some(metric::PP_TPS),
            Phase::Decode => Some(metric::TG_TPS),
            Phase::Whole => None,
        }
    }

    /// The energy-per-token metric of this phase.
    pub fn energy_metric(self) -> Option<&'static str> {
        match self {
            Phase::Prefill => Some(metric::PREFILL_J_PER_TOKEN),
            Phase::Decode => Some(metric::DECODE_J_PER_TOKEN),
            Phase::Whole => None,
        }
    }
}

/// One row: a test and the rate it shows.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub test: &'a TestRecord,
    pub phase: Phase,
    /// Whether this is the first row of its test (test-wide figures such as TTFT go there).
    pub first: bool,
    /// Whether the test has two rows (a combined workload).
    pub combined: bool,
}

impl Row<'_> {
    /// The workload, qualified by the phase for a combined workload: `pp512+tg128:tg`.
    pub fn label(&self) -> String {
        let workload = workload_name(self.test);
        if self.combined {
            format!("{workload}:{}", self.phase.short())
        } else {
            workload
        }
    }

    /// Summary of this row's rate metric.
    pub fn tps(&self) -> Option<&Summary> {
        self.summary(self.phase.tps_metric()?)
    }

    /// Summary of this row's energy per token.
    pub fn energy(&self) -> Option<&Summary> {
        self.summary(self.phase.energy_metric()?)
    }

    pub fn summary(&self, name: &str) -> Option<&Summary> {
        self.test.summary.get(name)
    }
}

/// The rates a test shows, from its token counts (or, when those are unknown, its metrics).
pub fn phases(test: &TestRecord) -> Vec<Phase> {
    let (p, g) = (test.scenario.prompt_tokens, test.scenario.gen_tokens);
    let (pp, tg) = if p == 0 && g == 0 {
        (
            test.summary.contains_key(metric::PP_TPS),
            test.summary.contains_key(metric::TG_TPS),
        )
    } else {
        (p > 0, g > 0)
    };
    match (pp, tg) {
        (true, true) => vec![Phase::Prefill, Phase::Decode],
        (true, false) => vec![Phase::Prefill],
        (false, true) => vec![Phase::Decode],
        (false, false) => vec![Phase::Whole],
    }
}

/// Whether a test is a speech (Whisper) test: its figures are a real-time factor, encoder time
/// and decoder steps per second, not an LLM's prompt and generation rates. Known from its
/// metrics, else (a test that failed before measuring) from its workload or model architecture.
pub fn is_speech(test: &TestRecord) -> bool {
    const SPEECH_METRICS: [&str; 4] = [
        metric::RTF,
        metric::ENCODE_S,
        metric::MEL_S,
        metric::TRANSCRIBE_S,
    ];
    if SPEECH_METRICS.iter().any(|m| test.summary.contains_key(*m)) {
        return true;
    }
    let workload = test.scenario.workload.as_str();
    workload.starts_with("transcribe")
        || workload == "encode"
        || workload.starts_with("decode-t")
        || test
            .model
            .as_ref()
            .is_some_and(|m| m.architecture == "whisper")
        || test.scenario.model.starts_with("whisper")
}

/// The rows of `tests`, in table order.
pub fn rows(tests: &[TestRecord]) -> Vec<Row<'_>> {
    rows_of(sorted(tests))
}

/// The rows of tests already in table order.
pub fn rows_of<'a>(tests: impl IntoIterator<Item = &'a TestRecord>) -> Vec<Row<'a>> {
    let mut rows = Vec::new();
    for test in tests {
        let phases = phases(test);
        let combined = phases.len() > 1;
        for (i, phase) in phases.into_iter().enumerate() {
            rows.push(Row {
                test,
                phase,
                first: i == 0,
                combined,
            });
        }
    }
    rows
}

/// A column of the human-readable tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// Only shown when the results come from more than one device.
    Device,
    Model,
    Quant,
    /// Model file size, GiB.
    Size,
    /// Parameters, billions.
    Params,
    Target,
    Threads,
    /// Backend options of a sweep (`batch=256 ubatch=128`); only shown when a test has some.
    Options,
    Test,
    /// Median t/s ± half-width of the 95% CI.
    Tps,
    /// Speech: median real-time factor (audio seconds ÷ seconds to transcribe; higher is
    /// better) ± half-width of the 95% CI.
    Rtf,
    /// Speech: median encoder time, ms ± half-width of the 95% CI.
    Encoder,
    /// Median time to first token, ms.
    Ttft,
    /// Median inter-token latency p50 / p99, ms.
    Itl,
    /// Peak resident memory of the worker, GiB.
    Rss,
    /// Median energy per token, J.
    Energy,
    /// Highest temperature seen, °C.
    Temp,
    Status,
}

impl Column {
    /// Every column, in table order.
    pub const ALL: [Column; 18] = [
        Column::Device,
        Column::Model,
        Column::Quant,
        Column::Size,
        Column::Params,
        Column::Target,
        Column::Threads,
        Column::Options,
        Column::Test,
        Column::Tps,
        Column::Rtf,
        Column::Encoder,
        Column::Ttft,
        Column::Itl,
        Column::Rss,
        Column::Energy,
        Column::Temp,
        Column::Status,
    ];

    /// Header as (name, unit); a narrow table puts the unit on a second header line.
    pub fn header(self) -> (&'static str, &'static str) {
        match self {
            Column::Device => ("device", ""),
            Column::Model => ("model", ""),
            Column::Quant => ("quant", ""),
            Column::Size => ("size", "GiB"),
            Column::Params => ("params", "B"),
            Column::Target => ("target", ""),
            Column::Threads => ("threads", ""),
            Column::Options => ("options", ""),
            Column::Test => ("test", ""),
            Column::Tps => ("t/s", ""),
            Column::Rtf => ("RTF", "×RT"),
            Column::Encoder => ("enc", "ms"),
            Column::Ttft => ("TTFT", "ms"),
            Column::Itl => ("ITL ms", "p50/p99"),
            Column::Rss => ("RSS", "GiB"),
            Column::Energy => ("energy", "J/tok"),
            Column::Temp => ("max", "°C"),
            Column::Status => ("status", ""),
        }
    }

    /// Header on one line: `size GiB`.
    pub fn header_line(self) -> String {
        match self.header() {
            (name, "") => name.to_string(),
            (name, unit) => format!("{name} {unit}"),
        }
    }

    /// Numbers are right-aligned.
    pub fn numeric(self) -> bool {
        matches!(
            self,
            Column::Size
                | Column::Params
                | Column::Threads
                | Column::Tps
                | Column::Rtf
                | Column::Encoder
                | Column::Ttft
                | Column::Itl
                | Column::Rss
                | Column::Energy
                | Column::Temp
        )
    }
}

/// How the status column shows a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reasons {
    /// `failed: worker killed by…`, the reason cut to this many characters.
    Shortened(usize),
    /// `failed` alone (the reasons are listed under the table).
    Hidden,
}

/// The rows and the columns that have something to show, with what cells need to know.
pub struct Table<'a> {
    pub rows: Vec<Row<'a>>,
    /// Columns with at least one value, in table order.
    pub columns: Vec<Column>,
    /// Some but not all weights are synthetic: their model names get a `*`.
    pub mark_synthetic: bool,
    /// Tests that ran more than once (the rows show the latest run; see [`crate::merge`]).
    pub histories: Vec<History<'a>>,
}

impl<'a> Table<'a> {
    /// The table of `tests`; a test that ran more than once shows its latest run, and its
    /// earlier runs are listed under the table.
    pub fn new(tests: &'a [TestRecord]) -> Self {
        let mut histories = crate::merge::histories(tests);
        let rows = rows_of(histories.iter().map(|h| h.latest()));
        histories.retain(|h| h.runs.len() > 1);
        let synthetic = tests.iter().filter(|t| t.scenario.synthetic).count();
        let devices: BTreeSet<&str> = tests
            .iter()
            .map(|t| t.environment.device.as_str())
            .collect();
        let mut table = Table {
            rows,
            columns: Vec::new(),
            mark_synthetic: synthetic > 0 && synthetic < tests.len(),
            histories,
        };
        table.columns = Column::ALL
            .into_iter()
            .filter(|&c| match c {
                Column::Device => devices.len() > 1,
                _ => table.rows.iter().any(|r| table.cell(r, c).is_some()),
            })
            .collect();
        table
    }

    /// A cell's text, `None` when there is nothing to show (printed as `-`). Status reasons
    /// are cut to 40 characters; see [`Table::cell_with`].
    pub fn cell(&self, row: &Row, column: Column) -> Option<String> {
        self.cell_with(row, column, Reasons::Shortened(40))
    }

    pub fn cell_with(&self, row: &Row, column: Column, reasons: Reasons) -> Option<String> {
        let t = row.test;
        match column {
            Column::Device => non_empty(&t.environment.device),
            Column::Model => {
                let star = if self.mark_synthetic && t.scenario.synthetic {
                    "*"
                } else {
                    ""
                };
                non_empty(&t.scenario.model).map(|m| format!("{m}{star}"))
            }
            Column::Quant => non_empty(&t.scenario.quant),
            Column::Size => Some(t.scenario.model_bytes)
                .filter(|&b| b > 0)
                .map(|b| format!("{:.2}", gib(b))),
            Column::Params => t
                .model
                .as_ref()
                .and_then(|m| m.parameters)
                .map(|p| format!("{:.2}", p as f64 / 1e9)),
            Column::Target => Some(target_label(t)),
            Column::Threads => Some(t.parameters.threads)
                .filter(|&n| n > 0)
                .map(|n| n.to_string()),
            Column::Options => Some(
                t.parameters
                    .options
                    .iter()
                    // A path (the audio clip) by its file name: the full path is in the record.
                    .map(|(k, v)| {
                        let v = std::path::Path::new(v)
                            .file_name()
                            .filter(|_| v.contains('/'))
                            .map_or(v.clone(), |n| n.to_string_lossy().into_owned());
                        format!("{k}={v}")
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Column::Test => Some(row.label()),
            Column::Tps => row.tps().map(format_tps),
            Column::Rtf => row
                .first
                .then(|| row.summary(metric::RTF))
                .flatten()
                .map(format_tps),
            Column::Encoder => row
                .first
                .then(|| row.summary(metric::ENCODE_S))
                .flatten()
                .map(|s| format_tps(&scaled(s, 1e3))),
            Column::Ttft => row
                .first
                .then(|| row.summary(metric::TTFT_S))
                .flatten()
                .map(|s| format!("{:.1}", s.median * 1e3)),
            Column::Itl => {
                if row.phase != Phase::Decode {
                    return None;
                }
                let p50 = row.summary(metric::ITL_P50_S)?;
                let p99 = row.summary(metric::ITL_P99_S)?;
                Some(format!("{:.1}/{:.1}", p50.median * 1e3, p99.median * 1e3))
            }
            Column::Rss => t.peak_rss_bytes.map(|b| format!("{:.2}", gib(b))),
            Column::Energy => row.energy().map(|s| format!("{:.3}", s.median)),
            Column::Temp => t.sensors.max_temp_c.map(|c| format!("{c:.1}")),
            Column::Status => Some(match throttle_note(t) {
                Some(note) => format!("{}, {note}", status_text(&t.status, reasons)),
                None => status_text(&t.status, reasons),
            }),
        }
        .filter(|s| !s.is_empty())
    }

    /// Lines to print above the table: where the results come from.
    pub fn captions(&self) -> Vec<String> {
        let mut tests: Vec<&TestRecord> = self.rows.iter().map(|r| r.test).collect();
        tests.dedup_by(|a, b| std::ptr::eq(*a, *b));
        let mut lines: Vec<String> = Vec::new();
        for test in &tests {
            let line = environment_caption(&test.environment);
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
        lines.sort();
        if let Some(line) = target_ci_caption(&tests) {
            lines.push(line);
        }
        let synthetic = tests.iter().filter(|t| t.scenario.synthetic).count();
        if synthetic > 0 && synthetic == tests.len() {
            lines.push("Synthetic weights: real model shapes, pseudo-random values.".into());
        } else if synthetic > 0 {
            lines.push("* synthetic weights: real model shapes, pseudo-random values.".into());
        }
        lines
    }

    /// Why tests did not end `ok`, one line per test, to print under the table.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for row in self.rows.iter().filter(|r| r.first) {
            let t = row.test;
            let what = format!(
                "{} {} {} {}",
                t.scenario.model,
                t.scenario.quant,
                target_label(t),
                workload_name(t)
            );
            if let Some(reason) = t.status.reason() {
                notes.push(format!("{what}: {}: {reason}", t.status.label()));
            }
            for warning in &t.warnings {
                notes.push(format!("{what}: warning: {warning}"));
            }
            for phase in phases(t) {
                if let Some(note) = phase
                    .tps_metric()
                    .and_then(|m| t.summary.get(m))
                    .and_then(|s| modes_note(phase, s))
                {
                    notes.push(format!("{what}: {note}"));
                }
            }
        }
        for history in &self.histories {
            notes.push(history_note(history));
        }
        notes
    }
}

/// `tg t/s: two speeds, 14.71 (4 repetitions) and 20.02 (8): one interval over both is not
/// noise; find what switches between them` for a rate whose repetitions are bimodal.
pub fn modes_note(phase: Phase, s: &Summary) -> Option<String> {
    let b = s.bimodal.as_ref()?;
    let short = phase.short();
    let label = if short.is_empty() {
        "t/s".to_string()
    } else {
        format!("{short} t/s")
    };
    let gap = match b.gap_ratio {
        Some(g) => format!("a gap of {g:.0}× the spread within each"),
        None => "no spread within each".to_string(),
    };
    Some(format!(
        "{label}: two speeds, {:.2} ({} repetitions) and {:.2} ({}), {gap}: the interval \
         spans both, it is not noise around one value",
        b.low_median, b.low_n, b.high_median, b.high_n
    ))
}

/// `Intervals aimed for ±5% (suite quick), not the usual ±2%: …` when some test was repeated
/// towards a wider confidence interval than the default (the quick suite trades precision for
/// time), so nobody reads its intervals as ±2% results.
fn target_ci_caption(tests: &[&TestRecord]) -> Option<String> {
    let mut wide: Vec<String> = Vec::new();
    for t in tests {
        let extra = &t.environment.extra;
        let Some(ci) = extra
            .get("target_ci_percent")
            .and_then(|c| c.parse::<f64>().ok())
        else {
            continue;
        };
        if ci > 2.0 {
            let label = match extra.get("suite") {
                Some(suite) => format!("±{ci}% (suite {suite})"),
                None => format!("±{ci}%"),
            };
            if !wide.contains(&label) {
                wide.push(label);
            }
        }
    }
    (!wide.is_empty()).then(|| {
        format!(
            "Repeated until the 95% confidence interval was within {} of the mean, or the \
             suite's repetition and time limits: wider than the ±2% of `--suite standard`.",
            wide.join(", ")
        )
    })
}

/// `llama3-8b q4_k_m tg128 candle t4: 3 runs, tg t/s 12.31, 12.40, 12.37 (the latest is shown)`.
fn history_note(history: &History) -> String {
    let latest = history.latest();
    let mut parts = Vec::new();
    for phase in phases(latest) {
        let Some(name) = phase.tps_metric() else {
            continue;
        };
        let values: Vec<String> = history
            .runs
            .iter()
            .map(|t| {
                t.summary.get(name).map_or_else(
                    || t.status.label().to_string(),
                    |s| format!("{:.2}", s.median),
                )
            })
            .collect();
        parts.push(format!("{} t/s {}", phase.short(), values.join(", ")));
    }
    let mut key = history.key.clone();
    key.device.clear();
    format!(
        "{key}: {} runs, {} (oldest first; the latest is shown)",
        history.runs.len(),
        parts.join("; ")
    )
}

/// `Raspberry Pi 5 · Cortex-A76 (4 cores) · Debian 12 · edgebench 0.1.0 (642ad87)`.
pub fn environment_caption(env: &Environment) -> String {
    let mut parts = Vec::new();
    if !env.device.is_empty() {
        parts.push(env.device.clone());
    }
    match (env.cpu_model.as_str(), env.cpu_cores) {
        ("", 0) => {}
        ("", n) => parts.push(format!("{n} cores")),
        (cpu, 0) => parts.push(cpu.to_string()),
        (cpu, n) => parts.push(format!("{cpu} ({n} cores)")),
    }
    if !env.os.is_empty() {
        parts.push(env.os.clone());
    }
    if !env.edgebench_version.is_empty() {
        let commit: String = env.edgebench_commit.chars().take(7).collect();
        if commit.is_empty() {
            parts.push(format!("edgebench {}", env.edgebench_version));
        } else {
            parts.push(format!("edgebench {} ({commit})", env.edgebench_version));
        }
    }
    if env.emulated {
        parts.push("EMULATED (timings measure the emulator, not the device)".into());
    }
    if parts.is_empty() {
        "unknown environment".into()
    } else {
        parts.join(" · ")
    }
}

/// `ok`, `failed: worker killed by…`, `skipped`.
pub fn status_text(status: &Status, reasons: Reasons) -> String {
    match (status.reason(), reasons) {
        (Some(reason), Reasons::Shortened(n)) if n > 0 && !reason.trim().is_empty() => {
            format!("{}: {}", status.label(), shorten(reason, n))
        }
        _ => status.label().to_string(),
    }
}

/// `throttled 3/5` when the device throttled during some repetitions of a test.
pub fn throttle_note(test: &TestRecord) -> Option<String> {
    let n = test.sensors.throttled_repetitions.filter(|&n| n > 0)?;
    Some(format!("throttled {n}/{}", test.repetitions.len()))
}

/// The first line of `text`, cut to at most `max` characters at a word boundary where one is
/// near, with `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.chars().count() <= max {
        return line.to_string();
    }
    let keep: String = line.chars().take(max.saturating_sub(1)).collect();
    let cut = match keep.rfind(' ') {
        Some(i) if keep[..i].chars().count() * 2 >= max => &keep[..i],
        _ => &keep,
    };
    format!("{}…", cut.trim_end_matches([' ', ',', ';', ':', '(']))
}

/// `median ± CI half-width` with two decimals; the median alone for a single repetition;
/// `(2 modes)` after it when the repetitions ran at two speeds (see [`modes_note`]).
pub fn format_tps(s: &Summary) -> String {
    let text = if s.n < 2 {
        format!("{:.2}", s.median)
    } else {
        format!("{:.2} ± {:.2}", s.median, (s.ci95_high - s.ci95_low) / 2.0)
    };
    if s.bimodal.is_some() {
        format!("{text} (2 modes)")
    } else {
        text
    }
}

/// A summary in other units (seconds → milliseconds).
fn scaled(s: &Summary, k: f64) -> Summary {
    Summary {
        mean: s.mean * k,
        median: s.median * k,
        stddev: s.stddev * k,
        min: s.min * k,
        max: s.max * k,
        ci95_low: s.ci95_low * k,
        ci95_high: s.ci95_high * k,
        bimodal: s
            .bimodal
            .as_ref()
            .map(|b| edgebench_harness::stats::Bimodality {
                low_median: b.low_median * k,
                high_median: b.high_median * k,
                ..b.clone()
            }),
        ..s.clone()
    }
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_cuts_at_a_word() {
        assert_eq!(shorten("out of memory", 20), "out of memory");
        assert_eq!(
            shorten("worker killed by signal 9 (SIGKILL)", 20),
            "worker killed by…"
        );
        assert_eq!(shorten("abcdefghijklmnopqrstuvwxyz", 10), "abcdefghi…");
        assert_eq!(shorten("first line\nsecond", 40), "first line");
    }

    #[test]
    fn tps_shows_ci_half_width() {
        let s = Summary {
            n: 3,
            median: 12.345,
            ci95_low: 12.0,
            ci95_high: 12.5,
            ..Default::default()
        };
        assert_eq!(format_tps(&s), "12.35 ± 0.25");
        assert_eq!(format_tps(&Summary { n: 1, ..s.clone() }), "12.35");
    }

    /// Repetitions at two speeds are marked in the cell and explained in a note.
    #[test]
    fn two_speeds_are_marked() {
        let reps = [14.7, 14.6, 14.8, 20.0, 20.1, 19.9, 20.0];
        let s = edgebench_harness::stats::summarize(&reps).unwrap();
        assert!(format_tps(&s).ends_with(" (2 modes)"), "{}", format_tps(&s));
        let note = modes_note(Phase::Decode, &s).unwrap();
        assert!(
            note.starts_with("tg t/s: two speeds, 14.70 (3 repetitions) and 20.00 (4)"),
            "{note}"
        );
        let one = edgebench_harness::stats::summarize(&[14.7, 14.6, 14.8, 14.7]).unwrap();
        assert!(!format_tps(&one).contains("modes"));
        assert!(modes_note(Phase::Decode, &one).is_none());
    }
}
