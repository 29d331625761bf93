//! `edgebench compare BASELINE CANDIDATE`: regression testing between two sets of results.
//!
//! Tests are matched by [`TestKey`] (device, scenario, target, parameters). Every run of a test
//! on one side is pooled: its raw repetitions are the sample of that side, so interleaved runs
//! (A, B, A, B… appended to two files) simply add up. For each metric both sides have, the
//! candidate is compared with the baseline by [`edgebench_harness::stats::compare_samples`]:
//! a two-sided Mann–Whitney U test on the raw repetitions and the Hodges–Lehmann relative change
//! with its confidence interval (the module documentation there says why). A change counts
//! only when it is significant *and* its whole interval is beyond the noise threshold (default
//! ±2%); a regression is such a change in the bad direction (slower rate, longer latency, more
//! joules). Nothing here measures: it reads records.

use crate::merge::TestKey;
use edgebench_harness::schema::{metric, TestRecord};
use edgebench_harness::stats::{self, SampleComparison, Verdict};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Which way is better for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// The metrics compared, with their display name, unit scale and direction.
pub const METRICS: [(&str, &str, f64, &str, Better); 9] = [
    (metric::PP_TPS, "pp t/s", 1.0, "", Better::Higher),
    (metric::TG_TPS, "tg t/s", 1.0, "", Better::Higher),
    (metric::RTF, "RTF", 1.0, "×", Better::Higher),
    (metric::ENCODE_S, "encoder", 1e3, " ms", Better::Lower),
    (metric::TTFT_S, "TTFT", 1e3, " ms", Better::Lower),
    (metric::ITL_P50_S, "ITL p50", 1e3, " ms", Better::Lower),
    (metric::ITL_P99_S, "ITL p99", 1e3, " ms", Better::Lower),
    (
        metric::PREFILL_J_PER_TOKEN,
        "pp J/token",
        1.0,
        " J",
        Better::Lower,
    ),
    (
        metric::DECODE_J_PER_TOKEN,
        "tg J/token",
        1.0,
        " J",
        Better::Lower,
    ),
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Significance level of the test (0.05).
    pub alpha: f64,
    /// Relative changes whose interval reaches inside ±noise are "no change" (0.02).
    pub noise: f64,
    /// Match tests across devices (the device is left out of the key).
    pub ignore_device: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            alpha: 0.05,
            noise: 0.02,
            ignore_device: false,
        }
    }
}

/// What a metric did, in terms of better or worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Regressed,
    Improved,
    /// Not significant, or within the noise threshold.
    NoChange,
    /// The sample sizes cannot reach significance (3 × 3 repetitions at α = 0.05).
    Inconclusive,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Regressed => "regressed",
            Outcome::Improved => "improved",
            Outcome::NoChange => "no change",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// One metric of one test on both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricChange {
    pub metric: &'static str,
    pub name: &'static str,
    pub baseline: Vec<f64>,
    pub candidate: Vec<f64>,
    pub stats: SampleComparison,
    pub outcome: Outcome,
    /// Why it is no change or inconclusive, in words.
    pub why: String,
}

/// One test found on both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct TestChange {
    pub key: TestKey,
    pub baseline_runs: usize,
    pub candidate_runs: usize,
    pub metrics: Vec<MetricChange>,
}

/// Everything `compare` found.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub options: Options,
    pub tests: Vec<TestChange>,
    /// Tests only the baseline has (not run, or renamed, in the candidate).
    pub only_baseline: Vec<TestKey>,
    pub only_candidate: Vec<TestKey>,
    /// The command that compared (`compare`, `ab`), for the summary's heading.
    pub command: &'static str,
    /// How the sides were compared, in words (the test, its unit, α and the threshold).
    pub method: String,
}

/// Raw repetitions of every run of each test, by key.
fn pooled(tests: &[TestRecord], ignore_device: bool) -> BTreeMap<TestKey, Vec<&TestRecord>> {
    let mut out: BTreeMap<TestKey, Vec<&TestRecord>> = BTreeMap::new();
    for t in tests {
        let key = TestKey::of(t);
        let key = if ignore_device {
            key.without_device()
        } else {
            key
        };
        out.entry(key).or_default().push(t);
    }
    out
}

fn samples(runs: &[&TestRecord], name: &str) -> Vec<f64> {
    runs.iter()
        .flat_map(|t| &t.repetitions)
        .filter_map(|r| r.metrics.get(name).copied())
        .collect()
}

/// Compare `candidate` against `baseline`; see the module documentation.
pub fn compare(baseline: &[TestRecord], candidate: &[TestRecord], options: Options) -> Comparison {
    let base = pooled(baseline, options.ignore_device);
    let cand = pooled(candidate, options.ignore_device);
    let mut tests = Vec::new();
    for (key, base_runs) in &base {
        let Some(cand_runs) = cand.get(key) else {
            continue;
        };
        let mut metrics = Vec::new();
        for (name, label, _, _, better) in METRICS {
            let (x, y) = (samples(base_runs, name), samples(cand_runs, name));
            let Some(stats) = stats::compare_samples(&x, &y, options.alpha, options.noise) else {
                continue;
            };
            let (outcome, why) = judge(
                &stats,
                better,
                &options,
                (x.len(), y.len()),
                "repetitions (-r 5)",
            );
            metrics.push(MetricChange {
                metric: name,
                name: label,
                baseline: x,
                candidate: y,
                stats,
                outcome,
                why,
            });
        }
        if !metrics.is_empty() {
            tests.push(TestChange {
                key: key.clone(),
                baseline_runs: base_runs.len(),
                candidate_runs: cand_runs.len(),
                metrics,
            });
        }
    }
    Comparison {
        options,
        tests,
        only_baseline: base
            .keys()
            .filter(|k| !cand.contains_key(*k))
            .cloned()
            .collect(),
        only_candidate: cand
            .keys()
            .filter(|k| !base.contains_key(*k))
            .cloned()
            .collect(),
        command: "compare",
        method: format!(
            "Mann–Whitney U on raw repetitions, α = {}, noise threshold ±{}%",
            options.alpha,
            options.noise * 100.0
        ),
    }
}

/// What a comparison's verdict means for a metric whose better direction is `better`, and why
/// it is no change or inconclusive, in words; `more` names what to add when the samples are
/// too few ("repetitions (-r 5)", "blocks").
pub fn judge(
    stats: &SampleComparison,
    better: Better,
    options: &Options,
    sizes: (usize, usize),
    more: &str,
) -> (Outcome, String) {
    match stats.verdict {
        Verdict::Increased | Verdict::Decreased => {
            let up = stats.verdict == Verdict::Increased;
            let good = up == (better == Better::Higher);
            let outcome = if good {
                Outcome::Improved
            } else {
                Outcome::Regressed
            };
            (outcome, String::new())
        }
        Verdict::NotSignificant => (
            Outcome::NoChange,
            format!("p = {:.3} ≥ {}", stats.test.p_value, options.alpha),
        ),
        Verdict::WithinNoise => (
            Outcome::NoChange,
            format!(
                "significant, but the interval reaches inside ±{}%",
                options.noise * 100.0
            ),
        ),
        Verdict::TooFewSamples => (
            Outcome::Inconclusive,
            format!(
                "{} × {} cannot reach p < {} (the smallest possible p is {:.3}); run more {more}",
                sizes.0, sizes.1, options.alpha, stats.test.min_p_value
            ),
        ),
    }
}

impl Comparison {
    fn count(&self, outcome: Outcome) -> usize {
        self.tests
            .iter()
            .flat_map(|t| &t.metrics)
            .filter(|m| m.outcome == outcome)
            .count()
    }

    /// Metrics that regressed significantly beyond the threshold.
    pub fn regressions(&self) -> usize {
        self.count(Outcome::Regressed)
    }

    /// `1 regression, 2 improvements, 5 unchanged, 1 inconclusive`.
    pub fn headline(&self) -> String {
        let n = |count: usize, one: &str, many: &str| {
            format!("{count} {}", if count == 1 { one } else { many })
        };
        let mut parts = vec![
            n(self.regressions(), "regression", "regressions"),
            n(self.count(Outcome::Improved), "improvement", "improvements"),
            format!("{} unchanged", self.count(Outcome::NoChange)),
        ];
        let inconclusive = self.count(Outcome::Inconclusive);
        if inconclusive > 0 {
            parts.push(format!("{inconclusive} inconclusive"));
        }
        parts.join(", ")
    }

    fn method(&self) -> String {
        self.method.clone()
    }

    /// A Markdown summary for a pull-request comment: the verdict first, then regressions and
    /// improvements, then (folded) every metric.
    pub fn markdown(&self, baseline_name: &str, candidate_name: &str) -> String {
        let mut out = String::new();
        let verdict = if self.regressions() > 0 {
            "❌ **Performance regression**"
        } else {
            "✅ **No performance regression**"
        };
        let _ = writeln!(out, "### edgebench {}\n", self.command);
        let _ = writeln!(out, "{verdict}: {}.\n", self.headline());
        let _ = writeln!(
            out,
            "Baseline `{}`, candidate `{}`; {}.\n",
            md_code(baseline_name),
            md_code(candidate_name),
            self.method()
        );
        let header = "| test | metric | baseline | candidate | change | CI | p | verdict |\n\
                      |:-----|:-------|---------:|----------:|-------:|:---|--:|:--------|\n";
        let notable: Vec<(&TestChange, &MetricChange)> = self
            .rows()
            .filter(|(_, m)| matches!(m.outcome, Outcome::Regressed | Outcome::Improved))
            .collect();
        if !notable.is_empty() {
            out.push_str(header);
            for (t, m) in &notable {
                out.push_str(&md_row(t, m));
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "<details><summary>All {} metrics of {} tests</summary>\n",
            self.rows().count(),
            self.tests.len()
        );
        out.push_str(header);
        for (t, m) in self.rows() {
            out.push_str(&md_row(t, m));
        }
        out.push_str("\n</details>\n");
        for (what, keys) in [
            ("Only in the baseline", &self.only_baseline),
            ("Only in the candidate", &self.only_candidate),
        ] {
            if !keys.is_empty() {
                let _ = writeln!(out, "\n{what} (not compared):");
                for k in keys {
                    let _ = writeln!(out, "- {}", md_escape(&k.to_string()));
                }
            }
        }
        let inconclusive: Vec<String> = self
            .rows()
            .filter(|(_, m)| m.outcome == Outcome::Inconclusive)
            .map(|(_, m)| m.why.clone())
            .collect();
        if let Some(why) = inconclusive.first() {
            let _ = writeln!(out, "\nInconclusive: {why}.");
        }
        out
    }

    /// Plain text for a terminal: one line per metric, the verdict last.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut table = comfy_table::Table::new();
        table
            .load_preset("     ─             ")
            .force_no_tty()
            .set_content_arrangement(comfy_table::ContentArrangement::Disabled);
        table.set_header(vec![
            "test",
            "metric",
            "baseline",
            "candidate",
            "change",
            "CI",
            "p",
            "verdict",
        ]);
        for (t, m) in self.rows() {
            let c = cells(t, m);
            table.add_row(c);
        }
        for i in [2, 3, 4, 6] {
            if let Some(col) = table.column_mut(i) {
                col.set_cell_alignment(comfy_table::CellAlignment::Right);
            }
        }
        for col in table.column_iter_mut() {
            col.set_padding((0, 2));
        }
        if self.tests.is_empty() {
            out.push_str("No test is in both the baseline and the candidate.\n");
        } else {
            out.push_str(&table.trim_fmt());
            out.push('\n');
        }
        for (what, keys) in [
            ("only in the baseline", &self.only_baseline),
            ("only in the candidate", &self.only_candidate),
        ] {
            for k in keys.iter() {
                let _ = writeln!(out, "{what} (not compared): {k}");
            }
        }
        if let Some((_, m)) = self
            .rows()
            .find(|(_, m)| m.outcome == Outcome::Inconclusive)
        {
            let _ = writeln!(out, "inconclusive: {}", m.why);
        }
        let _ = writeln!(out, "\n{} ({}).", self.headline(), self.method());
        out
    }

    fn rows(&self) -> impl Iterator<Item = (&TestChange, &MetricChange)> {
        self.tests
            .iter()
            .flat_map(|t| t.metrics.iter().map(move |m| (t, m)))
    }
}

fn scale_of(metric: &str) -> (f64, &'static str) {
    METRICS
        .iter()
        .find(|m| m.0 == metric)
        .map_or((1.0, ""), |m| (m.2, m.3))
}

/// `12.31 (n=5)`: the median of a side, in display units.
fn side(values: &[f64], metric: &str) -> String {
    let (scale, unit) = scale_of(metric);
    let median = stats::percentile(values, 50.0) * scale;
    format!("{}{unit} (n={})", figure(median), values.len())
}

fn figure(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

fn percent(v: f64) -> String {
    let p = v * 100.0;
    if p.abs() < 0.05 {
        "0.0%".into()
    } else {
        format!("{p:+.1}%")
    }
}

fn cells(t: &TestChange, m: &MetricChange) -> Vec<String> {
    let c = &m.stats.change;
    let mut test = t.key.to_string();
    if t.baseline_runs > 1 || t.candidate_runs > 1 {
        test.push_str(&format!(" ({}×{} runs)", t.baseline_runs, t.candidate_runs));
    }
    vec![
        test,
        m.name.to_string(),
        side(&m.baseline, m.metric),
        side(&m.candidate, m.metric),
        percent(c.estimate),
        format!(
            "[{}, {}] {:.0}%",
            percent(c.ci_low),
            percent(c.ci_high),
            c.ci_level * 100.0
        ),
        format!("{:.3}", m.stats.test.p_value),
        m.outcome.label().to_string(),
    ]
}

fn md_row(t: &TestChange, m: &MetricChange) -> String {
    let mut c: Vec<String> = cells(t, m).iter().map(|s| md_escape(s)).collect();
    c[7] = match m.outcome {
        Outcome::Regressed => "❌ **regressed**".into(),
        Outcome::Improved => "✅ improved".into(),
        other => other.label().into(),
    };
    format!("| {} |\n", c.join(" | "))
}

fn md_escape(text: &str) -> String {
    text.replace('|', "\\|").replace('*', "\\*")
}

fn md_code(text: &str) -> String {
    text.replace('`', "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_signs() {
        assert_eq!(percent(-0.1012), "-10.1%");
        assert_eq!(percent(0.0004), "0.0%");
        assert_eq!(percent(0.05), "+5.0%");
    }
}
