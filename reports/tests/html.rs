//! The HTML page: self-contained (no script, no fetch), every chart a valid SVG, reasons as
//! footnotes, speech in its own table, a split into two pages at scale; and in a real headless
//! Chromium it opens without console errors, fits 1280 px and never scrolls sideways (no
//! Chromium is a failure, unless `EDGEBENCH_SKIP_BROWSER_TEST=1`).

mod common;

use common::{rerun, two_devices, whisper_test};
use edgebench_harness::schema::{metric, TestRecord};
use edgebench_reports::chart::{charts_for, render_svg};
use edgebench_reports::html::{page, pages, ChartSvg, PageInfo, MAX_ROWS_ON_PAGE};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Two devices, a rerun (history), a failed, a skipped and an interrupted test, a Whisper
/// transcription.
fn sample_tests() -> Vec<TestRecord> {
    let mut tests = two_devices();
    // One test ran again a day later: history.
    let again = rerun(&tests[1], "20250603T080000Z-pi5", 3, 1.02);
    tests.push(again);
    tests.push(whisper_test());
    tests
}

fn svgs(tests: &[TestRecord]) -> Vec<ChartSvg> {
    charts_for(tests, &HashMap::new(), 4)
        .iter()
        .map(|c| ChartSvg {
            title: c.title().to_string(),
            svg: render_svg(c.as_ref()).unwrap(),
        })
        .collect()
}

fn info() -> PageInfo {
    PageInfo {
        sources: vec!["pi5.jsonl".into(), "orin/".into()],
        generator: "test".into(),
        warnings: vec![],
    }
}

fn sample_page() -> String {
    let tests = sample_tests();
    page(&tests, &svgs(&tests), &info())
}

/// The text of every element `<tag …>…</tag>` (not nested in itself), markup included.
fn elements<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&open) {
        let end = rest[i..].find(&close).expect("closed") + i + close.len();
        out.push(&rest[i..end]);
        rest = &rest[end..];
    }
    out
}

#[test]
fn page_is_self_contained_and_has_every_section() {
    let html = sample_page();
    for forbidden in ["<script", "<link", " src=", "url(", "@import", "<iframe"] {
        assert!(!html.contains(forbidden), "the page has {forbidden}");
    }
    assert!(html.contains("Content-Security-Policy"));
    for wanted in [
        "<h1>Performance at a glance</h1>",
        "<h3>Raspberry Pi 5 Model B Rev 1.0</h3>",
        "<h3>NVIDIA Jetson Orin Nano Developer Kit</h3>",
        "id=\"charts\"",
        "Throughput per model",
        "2&nbsp;runs",
        "synthetic weights",
        "worker killed by signal 9",
        "Cortex-A78AE (6 cores)",
        "llamacpp b4589 [NEON ARM_FMA DOTPROD]",
    ] {
        assert!(html.contains(wanted), "the page lacks {wanted:?}");
    }
    // Every inline chart is a well-formed SVG document.
    let mut rest = html.as_str();
    let mut n = 0;
    while let Some(i) = rest.find("<svg") {
        let end = rest[i..].find("</svg>").expect("closed svg") + i + 6;
        roxmltree::Document::parse(&rest[i..end]).expect("valid SVG");
        rest = &rest[end..];
        n += 1;
    }
    assert!(n >= 3, "{n} charts");
}

#[test]
fn reasons_are_numbered_footnotes_not_cell_text() {
    let html = sample_page();
    let reason = "worker killed by signal 9 (SIGKILL) while loading";
    // No table cell holds a reason: cells stay one line high.
    for td in elements(&html, "td") {
        assert!(!td.contains(reason), "a cell holds the reason: {td}");
        assert!(
            !td.contains("does not run q4_k_m"),
            "a cell holds the reason: {td}"
        );
    }
    // The failed test's status links to a footnote that holds its reason, under its
    // device's table; the same reason on the second device gets its own note there.
    let notes: Vec<&str> = elements(&html, "ol")
        .into_iter()
        .filter(|o| o.contains("class=\"footnotes\""))
        .collect();
    assert_eq!(notes.len(), 2, "one list of notes per device");
    let failed = elements(notes[0], "li")
        .into_iter()
        .find(|li| li.contains(reason))
        .expect("the reason is a footnote");
    let id = failed
        .split("id=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap();
    assert!(
        html.contains(&format!(
            "failed</span><sup><a href=\"#{id}\" class=\"fn\">"
        )),
        "the failed status links to #{id}"
    );
    // Warnings are footnotes too, and the interrupted test says how many repetitions it kept.
    assert!(notes
        .iter()
        .any(|n| n.contains("warning: sensor vcgencmd/pmic stopped answering")));
    assert!(notes.iter().any(|n| n.contains("2 repetitions kept")));
}

#[test]
fn speech_has_its_own_table_and_never_the_generation_column() {
    let html = sample_page();
    let tables = elements(&html, "table");
    let llm: Vec<&&str> = tables
        .iter()
        .filter(|t| t.starts_with("<table class=\"glance\">"))
        .collect();
    let speech: Vec<&&str> = tables
        .iter()
        .filter(|t| t.starts_with("<table class=\"glance speech\">"))
        .collect();
    assert_eq!((llm.len(), speech.len()), (2, 1));
    assert!(
        llm.iter().all(|t| !t.contains("whisper")),
        "Whisper in an LLM table"
    );
    assert!(llm[0].contains("generation t/s"));
    let table = speech[0];
    assert!(table.contains("real-time factor") && table.contains("decoder steps/s"));
    assert!(!table.contains("generation t/s"));
    let whisper = whisper_test();
    let rtf = format!("{:.2}", whisper.summary[metric::RTF].median);
    let row = elements(table, "tr")
        .into_iter()
        .find(|r| r.contains("whisper-tiny"))
        .unwrap();
    // Model, quant, target, threads, then the real-time factor.
    let cells = elements(row, "td");
    assert!(
        cells[4].contains(&format!("transcribe-30s</span> <span class=\"v\">{rtf}")),
        "{}",
        cells[4]
    );
    let encoder = format!("{:.1}", whisper.summary[metric::ENCODE_S].median * 1e3);
    assert!(cells[5].contains(&encoder), "{}", cells[5]);
}

#[test]
fn charts_have_a_panel_per_model() {
    let html = sample_page();
    let figure = elements(&html, "figure")
        .into_iter()
        .find(|f| f.contains("Throughput per model"))
        .expect("a throughput chart");
    let svg = &figure[figure.find("<svg").unwrap()..figure.rfind("</svg>").unwrap() + 6];
    let doc = roxmltree::Document::parse(svg).unwrap();
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(str::trim))
        .collect();
    for facet in ["gemma-2b", "phi3-mini", "whisper-tiny"] {
        assert!(texts.contains(&facet), "no facet {facet} in {texts:?}");
    }
    assert!(texts.contains(&"Transcription: real-time factor"));
}

#[test]
fn a_report_too_long_for_a_glance_puts_its_tables_on_a_linked_page() {
    let base = sample_tests();
    let small = pages(&base, &[], &info(), "report-tests.html");
    assert!(small.tests.is_none(), "a small report is one page");
    assert!(small.main.contains("<table class=\"glance\">"));
    // More rows than a page shows: the same tests at many thread counts.
    let mut tests = base.clone();
    for threads in 1..=MAX_ROWS_ON_PAGE / 4 {
        for t in base.iter().take(6) {
            let mut t = t.clone();
            t.parameters.threads = 100 + threads;
            t.test_id = format!("{}-t{threads}", t.test_id);
            tests.push(t);
        }
    }
    let split = pages(&tests, &svgs(&tests), &info(), "report-tests.html");
    let details = split.tests.expect("a second page");
    assert!(
        !split.main.contains("<table class=\"glance"),
        "no per-test table on the main page"
    );
    assert!(!split.main.contains("id=\"history\""));
    assert!(split.main.contains("<a href=\"report-tests.html\">"));
    assert!(
        split.main.contains("<figure>"),
        "the charts stay on the main page"
    );
    assert!(details.contains("<table class=\"glance\">"));
    assert!(details.contains("id=\"history\"") && details.contains("id=\"environment\""));
    assert!(!details.contains("<figure>"));
    assert!(split.main.len() < page(&tests, &svgs(&tests), &info()).len());
}

/// Set to 1 to skip the browser test where Chromium cannot be installed (it fails otherwise).
const SKIP_BROWSER: &str = "EDGEBENCH_SKIP_BROWSER_TEST";

/// Chromium's executable: `$CHROMIUM`, else the first of the usual names on PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    })
}

/// Run headless Chromium on `page` with `extra` arguments; (stdout, stderr).
fn run_chromium(exe: &Path, profile: &Path, page: &Path, extra: &[&str]) -> (String, String) {
    let out = Command::new(exe)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "chromium failed: {stderr}");
    (stdout, stderr)
}

/// Chromium, or `None` when the tests were told to skip it (`EDGEBENCH_SKIP_BROWSER_TEST=1`).
/// A browser test that quietly passes without a browser proves nothing: without Chromium and
/// without that opt-out, it fails.
fn chromium_or_fail(test: &str) -> Option<PathBuf> {
    if let Some(exe) = chromium() {
        return Some(exe);
    }
    if std::env::var_os(SKIP_BROWSER).is_some_and(|v| v == "1") {
        eprintln!("SKIPPED {test}: {SKIP_BROWSER}=1 and no Chromium");
        return None;
    }
    panic!(
        "no Chromium: the HTML page was not opened in a browser. Install it with \
         `scripts/setup.sh --with-chromium` (scripts/test.sh does), or set CHROMIUM=path; \
         {SKIP_BROWSER}=1 skips this test on purpose"
    );
}

#[test]
fn page_opens_in_headless_chromium_without_console_errors() {
    let Some(exe) = chromium_or_fail("page_opens_in_headless_chromium_without_console_errors")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    std::fs::write(&html, sample_page()).unwrap();
    let shot = dir.path().join("report.png");
    let (_, stderr) = run_chromium(
        &exe,
        &dir.path().join("profile-1"),
        &html,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400",
        ],
    );
    // A page with no script logs nothing to the console; anything there is a problem (a
    // blocked fetch, a parse error).
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let png = std::fs::read(&shot).expect("a screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // The DOM as Chromium parsed it has the table and the charts.
    let (dom, _) = run_chromium(&exe, &dir.path().join("profile-2"), &html, &["--dump-dom"]);
    assert!(dom.contains("Performance at a glance"), "{dom}");
    assert!(dom.matches("<svg").count() >= 3);
    assert!(
        dom.contains("<td class=\"name\"><span class=\"model\">phi3-mini"),
        "{dom}"
    );
}

/// The check itself: a page that tries a fetch is caught.
#[test]
fn chromium_check_catches_a_blocked_fetch() {
    let Some(exe) = chromium_or_fail("chromium_check_catches_a_blocked_fetch") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("bad.html");
    let bad = sample_page().replace("<h1>", "<img alt=\"x\" src=\"http://192.0.2.1/x.png\"><h1>");
    std::fs::write(&html, bad).unwrap();
    let (_, stderr) = run_chromium(&exe, &dir.path().join("profile"), &html, &["--dump-dom"]);
    assert!(
        stderr.lines().any(|l| l.contains(":CONSOLE")),
        "the blocked image was not reported: {stderr}"
    );
}

/// The page as a picture: at a 1400 px window the page's content is at most 1280 px wide, and
/// the document never scrolls sideways. Measured twice: from the screenshot (the span of
/// non-white pixels), and by the browser's own layout (a copy of the page with a measuring
/// script, whose result `--dump-dom` prints).
#[test]
fn page_fits_1280_px_and_never_scrolls_sideways() {
    let Some(exe) = chromium_or_fail("page_fits_1280_px_and_never_scrolls_sideways") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let page_text = sample_page();
    std::fs::write(&html, &page_text).unwrap();
    let shot = dir.path().join("report.png");
    let (width, height) = (1400usize, 5000usize);
    run_chromium(
        &exe,
        &dir.path().join("profile-1"),
        &html,
        &[
            &format!("--screenshot={}", shot.display()),
            &format!("--window-size={width},{height}"),
            "--hide-scrollbars",
        ],
    );
    if let Some(keep) = std::env::var_os("EDGEBENCH_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
    let decoder = png::Decoder::new(std::io::Cursor::new(std::fs::read(&shot).unwrap()));
    let mut reader = decoder.read_info().expect("a PNG screenshot");
    let info = reader.info();
    assert_eq!(
        (info.width as usize, info.height as usize),
        (width, height),
        "the screenshot is the window's size"
    );
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).unwrap();
    let channels = frame.line_size / width;
    let (mut left, mut right) = (width, 0);
    for row in buf[..frame.buffer_size()].chunks(frame.line_size) {
        for (x, px) in row.chunks(channels).enumerate() {
            if px[..3] != [255, 255, 255] {
                left = left.min(x);
                right = right.max(x);
            }
        }
    }
    assert!(right > left, "the screenshot is blank");
    assert!(
        right - left < 1280,
        "the page's content spans {} px (x {left}..{right}) of a {width} px window",
        right - left + 1
    );
    // The browser's layout: scroll width and the right edge of every element.
    let probe = page_text
        .replace(
            "<meta http-equiv=\"Content-Security-Policy\"",
            "<meta name=\"csp-removed-for-the-probe\"",
        )
        .replace(
            "</body>",
            "<script>const d = document.documentElement; let right = 0, widest = ''; \
             for (const e of document.body.querySelectorAll('*')) { const r = \
             e.getBoundingClientRect(); if (r.right > right) { right = r.right; widest = \
             e.tagName + '.' + e.className; } } document.body.setAttribute('data-probe', \
             [d.scrollWidth, d.clientWidth, Math.ceil(right), widest].join(' '));</script></body>",
        );
    let probe_path = dir.path().join("probe.html");
    std::fs::write(&probe_path, probe).unwrap();
    let (dom, _) = run_chromium(
        &exe,
        &dir.path().join("profile-2"),
        &probe_path,
        &["--dump-dom", &format!("--window-size={width},{height}")],
    );
    let probe = dom
        .split("data-probe=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no probe result in {dom}"));
    let fields: Vec<&str> = probe.split(' ').collect();
    let n = |i: usize| fields[i].parse::<usize>().unwrap();
    let (scroll_width, client_width, right_edge) = (n(0), n(1), n(2));
    assert!(
        scroll_width <= client_width,
        "the page scrolls sideways: scrollWidth {scroll_width} > clientWidth {client_width}"
    );
    let left_edge = (client_width.saturating_sub(1280)) / 2;
    assert!(
        right_edge <= left_edge + 1280,
        "an element ({}) reaches x = {right_edge}, beyond the page's 1280 px",
        fields[3..].join(" ")
    );
}
