//! The "performance at a glance" page: one self-contained HTML file (inline CSS and SVG, no
//! script, no network fetch — a Content-Security-Policy forbids any), readable from disk.
//!
//! Sections: the at-a-glance table per device × model × quantization × target (t/s, TTFT,
//! memory, J/token, throttled?), the charts, the history of tests run more than once, why tests
//! failed or were skipped, which numbers come from synthetic weights, and the environment
//! fingerprint of every run. Like every report it formats what the records hold.

use crate::merge::{histories, History};
use crate::table::{phases, status_text, target_label, workload_name, Phase, Reasons};
use edgebench_harness::schema::{metric, Status, TestRecord};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A chart as the page shows it: its title and its SVG document.
pub struct ChartSvg {
    pub title: String,
    pub svg: String,
}

/// What goes on the page besides the tests.
#[derive(Default)]
pub struct PageInfo {
    /// The results files or folders the page was made from.
    pub sources: Vec<String>,
    /// The edgebench that wrote the page (`0.1.0 (abc1234)`).
    pub generator: String,
    /// Problems met while reading (skipped lines, timeline files that did not parse).
    pub warnings: Vec<String>,
}

const CSS: &str = r#"
:root { --ink:#1d232a; --muted:#5c6670; --line:#d9dee3; --band:#f5f7f9; --ok:#2f7d32; --bad:#b3261e; --warn:#a05a00; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: #fff; }
header, main, footer { max-width: 1180px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 24px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 6px; }
.sub { color: var(--muted); margin: 0; }
nav a { margin-right: 14px; color: #1f5f99; text-decoration: none; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 14px; font-size: 14px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--band); font-weight: 600; white-space: nowrap; }
td.name { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
.badge { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 8px; background: #e8eef6; color: #1f5f99; margin-left: 4px; vertical-align: 1px; }
.synthetic { background: #f3ecfa; color: #6a3d9a; }
.emulated { background: #fdecea; color: #a12622; }
.ok { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); }
.muted { color: var(--muted); }
figure { margin: 18px 0; border: 1px solid var(--line); border-radius: 6px; padding: 10px; overflow-x: auto; }
figcaption { font-weight: 600; margin-bottom: 6px; }
figure svg { max-width: 100%; height: auto; display: block; }
dl.env { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0 14px; font-size: 14px; }
dl.env dt { color: var(--muted); } dl.env dd { margin: 0; }
ul { margin: 6px 0 14px; padding-left: 22px; }
code { font-size: 13px; }
footer { color: var(--muted); font-size: 13px; padding-bottom: 30px; margin-top: 30px; }
"#;

/// Escape text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// One row of the at-a-glance table: the latest runs of the tests of one device, model,
/// quantization, target, thread count and option set.
struct GlanceRow<'a> {
    tests: Vec<&'a TestRecord>,
}

type GlanceKey = (String, String, String, usize, String);

fn glance_rows<'a>(latest: &[&'a TestRecord]) -> BTreeMap<String, Vec<GlanceRow<'a>>> {
    let mut by_device: BTreeMap<String, BTreeMap<GlanceKey, GlanceRow<'a>>> = BTreeMap::new();
    for &t in latest {
        let options: Vec<String> = t
            .parameters
            .options
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let key = (
            t.scenario.model.clone(),
            t.scenario.quant.clone(),
            target_label(t),
            t.parameters.threads,
            options.join(" "),
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

/// `pp512 21.40 ± 0.12` lines for the rows of a phase.
fn rate_lines(tests: &[&TestRecord], phase: Phase) -> Vec<String> {
    let mut lines = Vec::new();
    for t in tests {
        if !phases(t).contains(&phase) {
            continue;
        }
        let Some(s) = phase.tps_metric().and_then(|m| t.summary.get(m)) else {
            continue;
        };
        let ci = if s.n > 1 {
            format!(
                " <span class=\"muted\">± {:.2}</span>",
                (s.ci95_high - s.ci95_low) / 2.0
            )
        } else {
            String::new()
        };
        lines.push(format!(
            "<span class=\"muted\">{}</span> {:.2}{ci}",
            escape(&workload_name(t)),
            s.median
        ));
    }
    lines
}

fn throttled_cell(tests: &[&TestRecord]) -> String {
    let flags: Vec<bool> = tests
        .iter()
        .flat_map(|t| &t.repetitions)
        .filter_map(|r| r.throttled)
        .collect();
    let throttled = flags.iter().filter(|f| **f).count();
    if flags.is_empty() {
        "<span class=\"muted\">not reported</span>".into()
    } else if throttled == 0 {
        format!(
            "<span class=\"ok\">no</span> <span class=\"muted\">(0/{})</span>",
            flags.len()
        )
    } else {
        format!(
            "<span class=\"bad\">yes</span> <span class=\"muted\">({throttled}/{})</span>",
            flags.len()
        )
    }
}

/// `mark_synthetic`: some but not all weights are synthetic, so rows say which (when all are,
/// the notes say so once).
fn glance_table(
    rows: &[GlanceRow],
    history_counts: &BTreeMap<String, usize>,
    mark_synthetic: bool,
) -> String {
    let mut out = String::from(
        "<table><thead><tr><th>model</th><th>quant</th><th>target</th><th class=\"num\">threads</th>\
         <th class=\"num\">prompt t/s</th><th class=\"num\">generation t/s</th>\
         <th class=\"num\">TTFT ms</th><th class=\"num\">memory GiB</th>\
         <th class=\"num\">J/token</th><th>throttled?</th><th>status</th></tr></thead><tbody>\n",
    );
    for row in rows {
        let first = row.tests[0];
        let synthetic = if mark_synthetic && row.tests.iter().any(|t| t.scenario.synthetic) {
            "<span class=\"badge synthetic\" title=\"synthetic weights: real shapes, pseudo-random values\">synthetic</span>"
        } else {
            ""
        };
        let options = if first.parameters.options.is_empty() {
            String::new()
        } else {
            let o: Vec<String> = first
                .parameters
                .options
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("<br><span class=\"muted\">{}</span>", escape(&o.join(" ")))
        };
        let pp = rate_lines(&row.tests, Phase::Prefill).join("<br>");
        let tg = rate_lines(&row.tests, Phase::Decode).join("<br>");
        let ttft: Vec<String> = row
            .tests
            .iter()
            .filter_map(|t| {
                t.summary.get(metric::TTFT_S).map(|s| {
                    format!(
                        "<span class=\"muted\">{}</span> {:.1}",
                        escape(&workload_name(t)),
                        s.median * 1e3
                    )
                })
            })
            .collect();
        let memory = row
            .tests
            .iter()
            .filter_map(|t| t.peak_rss_bytes)
            .max()
            .map_or_else(|| "–".into(), |b| format!("{:.2}", gib(b)));
        let mut energy = Vec::new();
        for (name, label) in [
            (metric::PREFILL_J_PER_TOKEN, "pp"),
            (metric::DECODE_J_PER_TOKEN, "tg"),
        ] {
            let values: Vec<f64> = row
                .tests
                .iter()
                .filter_map(|t| t.summary.get(name).map(|s| s.median))
                .collect();
            if let Some(v) = values.first() {
                energy.push(format!("<span class=\"muted\">{label}</span> {v:.3}"));
            }
        }
        let mut statuses: Vec<String> = Vec::new();
        for t in &row.tests {
            let class = match t.status {
                Status::Ok => continue,
                Status::Skipped { .. } => "warn",
                _ => "bad",
            };
            statuses.push(format!(
                "<span class=\"{class}\" title=\"{}\">{}: {}</span>",
                escape(t.status.reason().unwrap_or("")),
                escape(&workload_name(t)),
                escape(&status_text(&t.status, Reasons::Shortened(40)))
            ));
        }
        let runs: usize = row
            .tests
            .iter()
            .map(|t| history_counts.get(&t.test_id).copied().unwrap_or(1))
            .max()
            .unwrap_or(1);
        if statuses.is_empty() {
            statuses.push("<span class=\"ok\">ok</span>".into());
        }
        if runs > 1 {
            statuses.push(format!(
                "<a href=\"#history\" class=\"muted\" title=\"the latest run is shown\">{runs}&nbsp;runs</a>"
            ));
        }
        let dash = |s: String| if s.is_empty() { "–".to_string() } else { s };
        let _ = writeln!(
            out,
            "<tr><td class=\"name\">{}{synthetic}{options}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{memory}</td><td class=\"num\">{}</td><td class=\"name\">{}</td><td>{}</td></tr>",
            escape(&first.scenario.model),
            escape(&first.scenario.quant),
            escape(&target_label(first)),
            first.parameters.threads,
            dash(pp),
            dash(tg),
            dash(ttft.join("<br>")),
            dash(energy.join("<br>")),
            throttled_cell(&row.tests),
            statuses.join("<br>"),
        );
    }
    out.push_str("</tbody></table>\n");
    out
}

fn history_section(histories: &[History]) -> String {
    let mut out = String::new();
    for h in histories.iter().filter(|h| h.runs.len() > 1) {
        let latest = h.latest();
        let _ = writeln!(out, "<h3>{}</h3>", escape(&h.key.to_string()));
        out.push_str(
            "<table><thead><tr><th>started</th><th>run</th><th>edgebench</th><th class=\"num\">pp t/s</th>\
             <th class=\"num\">tg t/s</th><th class=\"num\">repetitions</th><th>status</th></tr></thead><tbody>\n",
        );
        for t in h.runs.iter().rev() {
            let median = |m: &str| {
                t.summary
                    .get(m)
                    .map_or_else(|| "–".into(), |s| format!("{:.2}", s.median))
            };
            let shown = if std::ptr::eq(*t, latest) {
                " <span class=\"badge\">shown</span>"
            } else {
                ""
            };
            let commit: String = t.environment.edgebench_commit.chars().take(7).collect();
            let _ = writeln!(
                out,
                "<tr><td>{}{shown}</td><td>{}</td><td>{} {}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                escape(&t.started_at),
                escape(&t.run_id),
                escape(&t.environment.edgebench_version),
                escape(&commit),
                median(metric::PP_TPS),
                median(metric::TG_TPS),
                t.repetitions.len(),
                escape(t.status.label()),
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out
}

fn environment_section(tests: &[TestRecord]) -> String {
    // One fingerprint per device and run.
    let mut seen: BTreeMap<(String, String), &TestRecord> = BTreeMap::new();
    for t in tests {
        seen.entry((t.environment.device.clone(), t.run_id.clone()))
            .or_insert(t);
    }
    let mut out = String::new();
    for ((device, run), t) in seen {
        let e = &t.environment;
        let _ = writeln!(
            out,
            "<h3>{} <span class=\"muted\">· run {}</span></h3><dl class=\"env\">",
            escape(if device.is_empty() {
                "unknown device"
            } else {
                &device
            }),
            escape(&run)
        );
        let mut item = |k: &str, v: String| {
            if !v.is_empty() {
                let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v));
            }
        };
        item("hostname", e.hostname.clone());
        item(
            "CPU",
            match e.cpu_cores {
                0 => e.cpu_model.clone(),
                n => format!("{} ({n} cores)", e.cpu_model),
            },
        );
        if e.ram_bytes > 0 {
            item("RAM", format!("{:.1} GiB", gib(e.ram_bytes)));
        }
        item("OS", e.os.clone());
        item(
            "kernel",
            format!("{} {}", e.kernel, e.arch).trim().to_string(),
        );
        item("governor", e.governor.clone().unwrap_or_default());
        if e.emulated {
            item(
                "emulated",
                "yes: timings measure the emulator, not the device".into(),
            );
        }
        item(
            "edgebench",
            format!("{} {}", e.edgebench_version, e.edgebench_commit)
                .trim()
                .to_string(),
        );
        for (k, v) in &e.extra {
            item(k, v.clone());
        }
        let mut targets: Vec<String> = tests
            .iter()
            .filter(|x| x.run_id == t.run_id && x.environment.device == device)
            .map(|x| {
                let tgt = &x.target;
                let flags = if tgt.build_flags.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", tgt.build_flags.join(" "))
                };
                format!("{} {}{flags}", target_label(x), tgt.library_version)
            })
            .collect();
        targets.sort();
        targets.dedup();
        item("targets", targets.join("; "));
        out.push_str("</dl>\n");
    }
    out
}

/// The whole page.
pub fn page(tests: &[TestRecord], charts: &[ChartSvg], info: &PageInfo) -> String {
    let all_histories = histories(tests);
    let latest: Vec<&TestRecord> = all_histories.iter().map(|h| h.latest()).collect();
    let history_counts: BTreeMap<String, usize> = all_histories
        .iter()
        .map(|h| (h.latest().test_id.clone(), h.runs.len()))
        .collect();
    let devices = crate::merge::devices(tests);
    let runs = crate::merge::runs(tests);
    let mut out = String::new();
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <title>edgebench: performance at a glance</title>\n<style>",
    );
    out.push_str(CSS);
    out.push_str("</style></head><body>\n<header>\n<h1>Performance at a glance</h1>\n");
    let _ = writeln!(
        out,
        "<p class=\"sub\">{} tests ({} shown, the latest run of each) from {} run{} on {} device{}.</p>",
        tests.len(),
        latest.len(),
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        devices.len(),
        if devices.len() == 1 { "" } else { "s" },
    );
    let emulated_tests = tests.iter().filter(|t| t.environment.emulated).count();
    if emulated_tests > 0 {
        let _ = writeln!(
            out,
            "<p class=\"sub\"><span class=\"badge emulated\">emulated</span> {} of {} tests \
             ran under an emulator: they show the code runs, but their timings measure the \
             emulator, not the device.</p>",
            emulated_tests,
            tests.len()
        );
    }
    let synthetic_tests = tests.iter().filter(|t| t.scenario.synthetic).count();
    if synthetic_tests > 0 {
        let _ = writeln!(
            out,
            "<p class=\"sub\"><span class=\"badge synthetic\">synthetic</span> {} of {} tests \
             ran on synthetic weights (real shapes, pseudo-random values): see the \
             <a href=\"#notes\">notes</a>.</p>",
            synthetic_tests,
            tests.len()
        );
    }
    out.push_str(
        "<nav><a href=\"#glance\">at a glance</a><a href=\"#charts\">charts</a>\
         <a href=\"#history\">history</a><a href=\"#notes\">notes</a>\
         <a href=\"#environment\">environment</a></nav>\n</header>\n<main>\n",
    );
    // At a glance.
    out.push_str("<section id=\"glance\"><h2>At a glance</h2>\n");
    out.push_str(
        "<p class=\"muted\">Median over repetitions, ± the half-width of the 95% confidence \
         interval of the mean. Prompt t/s: prompt tokens ÷ one prefill call; generation t/s: \
         generated tokens ÷ single-token decodes. Memory: peak resident memory of the backend's \
         worker process. J/token: energy of the phase ÷ its tokens, where the device measures \
         energy.</p>\n",
    );
    let synthetic_count = latest.iter().filter(|t| t.scenario.synthetic).count();
    let mark_synthetic = synthetic_count > 0 && synthetic_count < latest.len();
    for (device, rows) in glance_rows(&latest) {
        let _ = writeln!(
            out,
            "<h3>{}</h3>",
            escape(if device.is_empty() {
                "unknown device"
            } else {
                &device
            })
        );
        out.push_str(&glance_table(&rows, &history_counts, mark_synthetic));
    }
    out.push_str("</section>\n");
    // Charts.
    out.push_str("<section id=\"charts\"><h2>Charts</h2>\n");
    if charts.is_empty() {
        out.push_str("<p class=\"muted\">No test has a rate to chart.</p>\n");
    }
    for chart in charts {
        let _ = writeln!(
            out,
            "<figure><figcaption>{}</figcaption>\n{}\n</figure>",
            escape(&chart.title),
            inline_svg(&chart.svg)
        );
    }
    out.push_str("</section>\n");
    // History.
    out.push_str("<section id=\"history\"><h2>History</h2>\n");
    let history = history_section(&all_histories);
    if history.is_empty() {
        out.push_str("<p class=\"muted\">Every test ran once.</p>\n");
    } else {
        out.push_str(
            "<p class=\"muted\">Tests that ran more than once (same device, scenario, target and \
             parameters), newest first. Only figures measured side by side compare well: runs \
             minutes apart can differ by more than the test's own noise.</p>\n",
        );
        out.push_str(&history);
    }
    out.push_str("</section>\n");
    // Notes.
    out.push_str("<section id=\"notes\"><h2>Notes</h2>\n");
    let synthetic: BTreeMap<String, &TestRecord> = tests
        .iter()
        .filter(|t| t.scenario.synthetic)
        .map(|t| (format!("{} {}", t.scenario.model, t.scenario.quant), t))
        .collect();
    if synthetic.is_empty() {
        out.push_str("<p>All weights are real model files.</p>\n");
    } else {
        out.push_str(
            "<p><span class=\"badge synthetic\">synthetic</span> These numbers come from \
             synthetic weights: files of the exact published shape and quantization with \
             seeded pseudo-random values. Speed, memory and energy do not depend on weight \
             values; the generated text is meaningless.</p><ul>\n",
        );
        for (name, t) in &synthetic {
            let sha: String = t
                .scenario
                .model_sha256
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(16)
                .collect();
            let _ = writeln!(
                out,
                "<li>{} <span class=\"muted\">{:.2} GiB{}{}</span></li>",
                escape(name),
                gib(t.scenario.model_bytes),
                t.scenario
                    .seed
                    .map_or(String::new(), |s| format!(", seed {s}")),
                if sha.is_empty() {
                    String::new()
                } else {
                    format!(", sha256 {sha}…")
                }
            );
        }
        out.push_str("</ul>\n");
    }
    let mut problems: Vec<String> = Vec::new();
    for t in &latest {
        let what = format!(
            "{} {} {} {} on {}",
            t.scenario.model,
            t.scenario.quant,
            workload_name(t),
            target_label(t),
            t.environment.device
        );
        if let Some(reason) = t.status.reason() {
            problems.push(format!(
                "<li><b>{}</b>: {}: {}</li>",
                escape(&what),
                escape(t.status.label()),
                escape(reason)
            ));
        }
        for w in &t.warnings {
            problems.push(format!(
                "<li><b>{}</b>: warning: {}</li>",
                escape(&what),
                escape(w)
            ));
        }
    }
    for w in &info.warnings {
        problems.push(format!("<li>{}</li>", escape(w)));
    }
    if !problems.is_empty() {
        out.push_str("<p>Tests that did not end ok, and warnings:</p><ul>\n");
        for p in problems {
            out.push_str(&p);
            out.push('\n');
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
    // Environment.
    out.push_str("<section id=\"environment\"><h2>Environment</h2>\n");
    out.push_str(&environment_section(tests));
    out.push_str("</section>\n</main>\n<footer>");
    let _ = write!(
        out,
        "Made by edgebench {} from {}. Self-contained: opens from disk, fetches nothing.",
        escape(&info.generator),
        escape(&info.sources.join(", "))
    );
    out.push_str("</footer>\n</body></html>\n");
    out
}

/// plotters' SVG without an XML declaration, with a role for screen readers.
fn inline_svg(svg: &str) -> String {
    let body = match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    };
    body.replacen("<svg", "<svg role=\"img\"", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<b a=\"1\">&'"),
            "&lt;b a=&quot;1&quot;&gt;&amp;&#39;"
        );
    }
}
