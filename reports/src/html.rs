//! The "performance at a glance" page: one self-contained HTML file (inline CSS and SVG, no
//! script, no network fetch — a Content-Security-Policy forbids any), readable from disk, no
//! wider than 1280 px.
//!
//! The page is a list of sections ([`SECTIONS`]), each a function of the page's data
//! ([`PageData`]): the at-a-glance tables per device × model × quantization × target (t/s,
//! TTFT, memory, J/token, throttled?; speech tests in a table of their own, with real-time
//! factor and encoder time; why a test failed as a numbered footnote), the charts, the history
//! of tests run more than once, notes (synthetic weights, read warnings), and the environment
//! fingerprint of every run. A report with more rows than a page holds at a glance is split
//! ([`pages`]): the main page keeps the summary sections and the charts and links to a second
//! page with the per-test tables. Like every report it formats what the records hold.

mod glance;

use crate::merge::{histories, History};
use crate::table::target_label;
use edgebench_harness::schema::{metric, Status, TestRecord};
use std::collections::{BTreeMap, HashMap};
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
td.name, td.flag { white-space: nowrap; }
.opts { white-space: normal; font-size: 12px; max-width: 16em; }
.scroll { overflow-x: auto; }
ol.footnotes { font-size: 13px; color: var(--muted); margin: -4px 0 16px; padding-left: 30px; }
ol.footnotes li { margin: 1px 0; }
a.fn { text-decoration: none; color: #1f5f99; padding: 0 1px; }
p, li, dd, footer, h3 { overflow-wrap: anywhere; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.glance th { white-space: normal; }
.v { white-space: nowrap; }
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

fn history_tables(histories: &[History]) -> String {
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

/// One fingerprint per device and run.
fn environment_dls(tests: &[TestRecord]) -> String {
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

/// More at-a-glance rows than this and the per-test tables (at a glance, history,
/// environment) move to a page of their own, linked from the main page, which keeps the
/// summary sections and the charts (see [`pages`]).
pub const MAX_ROWS_ON_PAGE: usize = 120;

/// Which page is being written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Everything on one page.
    Whole,
    /// The main page of a split report: its per-test tables are at this link.
    Main { tests_href: String },
    /// The per-test tables of a split report.
    Tests,
}

/// What every section reads: the tests, their histories and latest runs, the charts, and which
/// page is being written.
pub struct PageData<'a> {
    pub tests: &'a [TestRecord],
    /// Every test's runs, in table order (see [`crate::merge::histories`]).
    pub histories: Vec<History<'a>>,
    /// The latest run of every test, in table order.
    pub latest: Vec<&'a TestRecord>,
    pub charts: &'a [ChartSvg],
    pub info: &'a PageInfo,
    pub layout: Layout,
    /// Sections built elsewhere (the device chooser's matrix), shown after "at a glance" on
    /// the main page.
    pub extra: Vec<Section>,
}

impl<'a> PageData<'a> {
    pub fn new(
        tests: &'a [TestRecord],
        charts: &'a [ChartSvg],
        info: &'a PageInfo,
        layout: Layout,
    ) -> Self {
        let histories = histories(tests);
        let latest = histories.iter().map(|h| h.latest()).collect();
        PageData {
            tests,
            histories,
            latest,
            charts,
            info,
            layout,
            extra: Vec::new(),
        }
    }
}

/// One section of the page: its anchor, its name in the navigation bar, and its HTML (which
/// starts with its own `<h2>`).
#[derive(Debug, Clone)]
pub struct Section {
    pub id: &'static str,
    pub nav: &'static str,
    pub html: String,
}

/// Makes a section from the page's data, or nothing when it has nothing to show on this page.
pub type SectionFn = fn(&PageData) -> Option<Section>;

/// The page's sections, in order. A new section is one more entry here.
pub const SECTIONS: &[SectionFn] = &[
    glance_section,
    charts_section,
    history_section,
    notes_section,
    environment_section,
];

/// The pages of a report: the main page, and, when there are more than [`MAX_ROWS_ON_PAGE`]
/// at-a-glance rows, the per-test tables for the file named `tests_file` beside it.
pub struct Pages {
    pub main: String,
    pub tests: Option<String>,
}

/// The report as one page, or as a main page and a page of per-test tables when the tables
/// are too long for a page that is read at a glance. `tests_file` is the second page's file
/// name (a sibling of the main page, linked relatively).
pub fn pages(
    tests: &[TestRecord],
    charts: &[ChartSvg],
    info: &PageInfo,
    tests_file: &str,
) -> Pages {
    pages_with(tests, charts, info, tests_file, Vec::new())
}

/// [`pages`] with `extra` sections after "at a glance" on the main page.
pub fn pages_with(
    tests: &[TestRecord],
    charts: &[ChartSvg],
    info: &PageInfo,
    tests_file: &str,
    extra: Vec<Section>,
) -> Pages {
    let mut whole = PageData::new(tests, charts, info, Layout::Whole);
    whole.extra = extra;
    let rows: usize = glance::glance_rows(&whole.latest)
        .values()
        .map(Vec::len)
        .sum();
    if rows <= MAX_ROWS_ON_PAGE {
        return Pages {
            main: render(&whole),
            tests: None,
        };
    }
    let main = PageData {
        layout: Layout::Main {
            tests_href: tests_file.to_string(),
        },
        ..whole
    };
    let main_html = render(&main);
    let details = PageData {
        layout: Layout::Tests,
        ..main
    };
    Pages {
        main: main_html,
        tests: Some(render(&details)),
    }
}

/// The whole report on one page, however long.
pub fn page(tests: &[TestRecord], charts: &[ChartSvg], info: &PageInfo) -> String {
    render(&PageData::new(tests, charts, info, Layout::Whole))
}

/// The page of `data`: its header, the sections [`SECTIONS`] gives for its layout, its footer.
pub fn render(data: &PageData) -> String {
    let mut sections: Vec<Section> = Vec::new();
    for (i, make) in SECTIONS.iter().enumerate() {
        sections.extend(make(data));
        if i == 0 && data.layout != Layout::Tests {
            sections.extend(data.extra.iter().cloned());
        }
    }
    let tests = data.tests;
    let devices = crate::merge::devices(tests);
    let runs = crate::merge::runs(tests);
    let title = match data.layout {
        Layout::Tests => "Every test",
        _ => "Performance at a glance",
    };
    let mut out = String::new();
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n",
    );
    let _ = writeln!(out, "<title>edgebench: {}</title>", title.to_lowercase());
    out.push_str("<style>");
    out.push_str(CSS);
    let _ = writeln!(out, "</style></head><body>\n<header>\n<h1>{title}</h1>");
    let _ = writeln!(
        out,
        "<p class=\"sub\">{} tests ({} shown, the latest run of each) from {} run{} on {} device{}.</p>",
        tests.len(),
        data.latest.len(),
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
    if synthetic_tests > 0 && data.layout != Layout::Tests {
        let _ = writeln!(
            out,
            "<p class=\"sub\"><span class=\"badge synthetic\">synthetic</span> {} of {} tests \
             ran on synthetic weights (real shapes, pseudo-random values): see the \
             <a href=\"#notes\">notes</a>.</p>",
            synthetic_tests,
            tests.len()
        );
    }
    out.push_str("<nav>");
    for s in &sections {
        let _ = write!(out, "<a href=\"#{}\">{}</a>", s.id, escape(s.nav));
    }
    out.push_str("</nav>\n</header>\n<main>\n");
    for s in &sections {
        let _ = writeln!(out, "<section id=\"{}\">\n{}</section>", s.id, s.html);
    }
    out.push_str("</main>\n<footer>");
    let _ = write!(
        out,
        "Made by edgebench {} from {}. Self-contained: opens from disk, fetches nothing.",
        escape(&data.info.generator),
        escape(&data.info.sources.join(", "))
    );
    out.push_str("</footer>\n</body></html>\n");
    out
}

fn device_name(device: &str) -> &str {
    if device.is_empty() {
        "unknown device"
    } else {
        device
    }
}

/// Per device, the LLM and speech tables with the footnotes of their rows; on a split main
/// page, a line saying where the tables are instead.
fn glance_section(data: &PageData) -> Option<Section> {
    let mut out = String::from("<h2>At a glance</h2>\n");
    let rows = glance::glance_rows(&data.latest);
    if let Layout::Main { tests_href } = &data.layout {
        let n: usize = rows.values().map(Vec::len).sum();
        let _ = writeln!(
            out,
            "<p>{} tests in {n} rows on {} devices: too many for one page. The per-test tables \
             (at a glance, history, environment) are on <a href=\"{}\">their own page</a>; \
             every figure is also in <code>edgebench report … --output csv</code> (or \
             <code>md</code>).</p>",
            data.latest.len(),
            rows.len(),
            escape(tests_href)
        );
        return Some(Section {
            id: "glance",
            nav: "at a glance",
            html: out,
        });
    }
    out.push_str(
        "<p class=\"muted\">Median over repetitions, ± the half-width of the 95% confidence \
         interval of the mean. Prompt t/s: prompt tokens ÷ one prefill call; generation t/s: \
         generated tokens ÷ single-token decodes. Speech: real-time factor = seconds of audio ÷ \
         seconds to transcribe them (higher is better), decoder steps/s = single-token decoder \
         steps per second. Memory: peak resident memory of the backend's worker process. \
         J/token: energy of the phase ÷ its tokens, where the device measures energy. \
         Numbered notes under each table say why a test failed or was skipped.</p>\n",
    );
    let history_counts: HashMap<&str, usize> = data
        .histories
        .iter()
        .map(|h| (h.latest().test_id.as_str(), h.runs.len()))
        .collect();
    let synthetic_count = data.latest.iter().filter(|t| t.scenario.synthetic).count();
    let mark_synthetic = synthetic_count > 0 && synthetic_count < data.latest.len();
    let mut notes = glance::Footnotes::default();
    for (device, rows) in &rows {
        let _ = writeln!(out, "<h3>{}</h3>", escape(device_name(device)));
        out.push_str(&glance::device_tables(
            rows,
            &history_counts,
            mark_synthetic,
            &mut notes,
        ));
        out.push_str(&notes.take_html());
    }
    Some(Section {
        id: "glance",
        nav: "at a glance",
        html: out,
    })
}

fn charts_section(data: &PageData) -> Option<Section> {
    if data.layout == Layout::Tests {
        return None;
    }
    let mut out = String::from("<h2>Charts</h2>\n");
    if data.charts.is_empty() {
        out.push_str("<p class=\"muted\">No test has a rate to chart.</p>\n");
    }
    for chart in data.charts {
        let _ = writeln!(
            out,
            "<figure><figcaption>{}</figcaption>\n{}\n</figure>",
            escape(&chart.title),
            inline_svg(&chart.svg)
        );
    }
    Some(Section {
        id: "charts",
        nav: "charts",
        html: out,
    })
}

fn history_section(data: &PageData) -> Option<Section> {
    if matches!(data.layout, Layout::Main { .. }) {
        return None;
    }
    let mut out = String::from("<h2>History</h2>\n");
    let history = history_tables(&data.histories);
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
    Some(Section {
        id: "history",
        nav: "history",
        html: out,
    })
}

/// Which weights are synthetic, and problems met while reading (why a test failed is a
/// footnote of its row).
fn notes_section(data: &PageData) -> Option<Section> {
    if data.layout == Layout::Tests {
        return None;
    }
    let mut out = String::from("<h2>Notes</h2>\n");
    let synthetic: BTreeMap<String, &TestRecord> = data
        .tests
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
    let failed = data
        .latest
        .iter()
        .filter(|t| t.status != Status::Ok)
        .count();
    if failed > 0 {
        let where_ = match &data.layout {
            Layout::Main { tests_href } => format!(
                "the numbered notes of the <a href=\"{}\">per-test tables</a>",
                escape(tests_href)
            ),
            _ => "the numbered notes under the <a href=\"#glance\">tables</a>".into(),
        };
        let _ = writeln!(
            out,
            "<p>{failed} of {} tests did not end ok: why is in {where_}.</p>",
            data.latest.len()
        );
    }
    if !data.info.warnings.is_empty() {
        out.push_str("<p>Read with warnings:</p><ul>\n");
        for w in &data.info.warnings {
            let _ = writeln!(out, "<li>{}</li>", escape(w));
        }
        out.push_str("</ul>\n");
    }
    Some(Section {
        id: "notes",
        nav: "notes",
        html: out,
    })
}

fn environment_section(data: &PageData) -> Option<Section> {
    if matches!(data.layout, Layout::Main { .. }) {
        return None;
    }
    Some(Section {
        id: "environment",
        nav: "environment",
        html: format!("<h2>Environment</h2>\n{}", environment_dls(data.tests)),
    })
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
