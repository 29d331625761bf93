//! `edgebench choose` as a user runs it: the ranking with its sources, claims against physics,
//! the validation table, measured results joining the catalog's figures. No model is needed.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn edgebench() -> Command {
    Command::cargo_bin("edgebench").unwrap()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ranks_devices_for_llama3_8b_with_sources() {
    let out = edgebench()
        .args(["choose", "--scenario", "llama3-8b", "--quant", "q4_k_m"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    // The arithmetic behind the ranking, then the table.
    assert!(
        text.contains("4.62 GB streamed per generated token"),
        "{text}"
    );
    assert!(
        text.contains("gen t/s") && text.contains("sources"),
        "{text}"
    );
    // The Pi 5 16 GB has its own published figure of this model; others are predicted.
    assert!(text.contains("2.1†"), "{text}");
    assert!(text.contains("published: https://github.com/geerlingguy/ai-benchmarks/issues/7"));
    assert!(
        text.contains("≈") && text.contains("predicted: llamacpp on"),
        "{text}"
    );
    // The 2 GB Pi cannot hold the model: left out, saying by how much.
    assert!(
        text.lines()
            .any(|l| l.contains("Raspberry Pi 5 (2 GB)") && l.contains("does not fit")),
        "{text}"
    );
    // Ranked: the first row is numbered 1 and is the fastest.
    assert!(
        text.lines().any(|l| l.trim_start().starts_with("1 ")),
        "{text}"
    );
}

#[test]
fn constraints_leave_devices_out_with_the_reason() {
    let out = edgebench()
        .args([
            "choose",
            "-s",
            "llama3-8b",
            "--min-tps",
            "10",
            "--max-watts",
            "30",
            "--budget",
            "500",
            "--all",
        ])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Asked: at least 10 t/s, at most 30 W, at most $500."));
    // The Orin Nano Super (25 W, $249) is the one edge board that passes.
    let ranked: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Left out"))
        .collect();
    assert!(
        ranked
            .iter()
            .any(|l| l.contains("Jetson Orin Nano 8GB (Super mode)")),
        "{text}"
    );
    assert!(
        !ranked.iter().any(|l| l.contains("Raspberry Pi 5")),
        "{text}"
    );
    assert!(text.contains("is below --min-tps 10"), "{text}");
}

#[test]
fn whisper_small_en_ranks_by_real_time_factor() {
    let out = edgebench()
        .args(["choose", "--scenario", "whisper-small.en"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("× real time"), "{text}");
    assert!(text.contains("Raspberry Pi 5"), "{text}");
    assert!(text.contains("encoder"), "{text}");
}

#[test]
fn an_impossible_claim_fails_with_the_arithmetic() {
    let out = edgebench()
        .args(["choose", "--check", "m2 llama3-8b q4_k_m 40"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("IMPOSSIBLE"), "{text}");
    assert!(
        text.contains("ceiling = 100 GB/s ÷ 4.62 GB = 21.7 t/s"),
        "{text}"
    );
    let ok = edgebench()
        .args(["choose", "--check", "m2 llama3-8b q4_k_m 15"])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", stdout(&ok));
    assert!(stdout(&ok).contains("possible"));
}

#[test]
fn claims_from_a_file_and_bad_claims() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("claims.txt");
    std::fs::write(
        &file,
        "# device model quant t/s source\n\
         rpi5 llama3-8b q4_k_m 2.1 geerlingguy\n\
         m4-max-16c llama2-7b q4_0 200 a blog\n",
    )
    .unwrap();
    let out = edgebench()
        .args(["choose", "--check"])
        .arg(&file)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(text.matches("IMPOSSIBLE").count(), 1, "{text}");
    assert!(text.contains("claims.txt:3"), "{text}");
    let bad = edgebench()
        .args(["choose", "--check", "m2 llama3-8b 40"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.starts_with("error:") && stderr.contains("DEVICE MODEL QUANT TPS"));
    assert!(!stderr.contains("panicked"));
}

#[test]
fn validation_prints_the_leave_one_out_table() {
    let out = edgebench().args(["choose", "--validate"]).output().unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("| generation | **all** |"), "{text}");
    assert!(
        text.contains("apple-max") && text.contains("raspberry-pi-5"),
        "{text}"
    );
}

#[test]
fn measured_results_join_the_ranking() {
    let out = edgebench()
        .args(["choose", "-s", "phi3-mini", "--results"])
        .arg(fixture("choose-pi5.jsonl"))
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    // The fixture's Pi 5 (8 GB) measured Phi-3 mini: 4.61 t/s generation, 21 t/s prompt.
    let pi = text
        .lines()
        .find(|l| l.contains("Raspberry Pi 5 (8 GB)"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(pi.contains("4.6") && pi.contains("21"), "{pi}");
    assert!(
        text.contains("measured: run 20250601T100000Z-pi5 on pi5-bench"),
        "{text}"
    );
}

#[test]
fn the_report_shows_the_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let out = edgebench()
        .args(["report", "--output", "md", "--html"])
        .arg(&html)
        .arg(fixture("choose-pi5.jsonl"))
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("## Performance at a glance"), "{text}");
    assert!(text.contains("| Raspberry Pi 5 (8 GB) | "), "{text}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<section id=\"matrix\">"));
    assert!(page.contains("class=\"num predicted muted\""));
    assert!(page.contains("speed and speed per watt"));
}
