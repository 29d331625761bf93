//! The HTML page: self-contained (no script, no fetch), every chart a valid SVG, and it opens
//! in a real headless Chromium without console errors (no Chromium is a failure, unless
//! `EDGEBENCH_SKIP_BROWSER_TEST=1`).

mod common;

use common::{rerun, two_devices};
use edgebench_reports::chart::{charts_for, render_svg};
use edgebench_reports::html::{page, ChartSvg, PageInfo};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sample_page() -> String {
    let mut tests = two_devices();
    // One test ran again a day later: history.
    let again = rerun(&tests[1], "20250603T080000Z-pi5", 3, 1.02);
    tests.push(again);
    let charts: Vec<ChartSvg> = charts_for(&tests, &HashMap::new(), 4)
        .iter()
        .map(|c| ChartSvg {
            title: c.title().to_string(),
            svg: render_svg(c.as_ref()).unwrap(),
        })
        .collect();
    page(
        &tests,
        &charts,
        &PageInfo {
            sources: vec!["pi5.jsonl".into(), "orin/".into()],
            generator: "test".into(),
            warnings: vec![],
        },
    )
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
        "Throughput: median t/s",
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
    assert!(dom.contains("<td class=\"name\">phi3-mini"), "{dom}");
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
