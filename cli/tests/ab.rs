//! `edgebench ab` and `edgebench history` as a user runs them, on a tiny synthetic model with
//! the candle target (seconds). No timing is asserted: only that the blocks ran, were paired and
//! reported, that bad sides are refused in one line, and that the history finds the builds.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn edgebench(cache: &Path) -> Command {
    let mut cmd = Command::cargo_bin("edgebench").unwrap();
    cmd.env_remove("EDGEBENCH_MODELS_DIR");
    cmd.env(
        "EDGEBENCH_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("edgebench-cache"),
    );
    cmd.env("EDGEBENCH_HISTORY", cache.join("history.sqlite"));
    cmd
}

const SUITE: [&str; 12] = [
    "-s",
    "llama3-8b-tiny",
    "-q",
    "q8_0",
    "-w",
    "tg16",
    "--target",
    "candle",
    "-t",
    "1",
    "--cooldown",
    "off",
];

fn one_line_error(out: &std::process::Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("side ")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(needle),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn two_blocks_are_run_interleaved_paired_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ab");
    let run = edgebench(dir.path())
        .args([
            "ab",
            "--min-blocks",
            "2",
            "--max-blocks",
            "2",
            "--seed",
            "7",
        ])
        .args([
            "--a-name",
            "one warmup",
            "--b-args",
            "--warmup 2",
            "--b-name",
            "two warmups",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--")
        .args(SUITE)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    // Two blocks cannot reach significance: inconclusive, never a regression.
    assert_eq!(run.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("A (baseline): one warmup"), "{stdout}");
    assert!(stdout.contains("B (candidate): two warmups"), "{stdout}");
    assert!(
        stdout.contains("tg t/s") && stdout.contains("inconclusive"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Wilcoxon signed-rank on 2 paired blocks"),
        "{stdout}"
    );
    assert!(stderr.contains("block 2/2"), "{stderr}");
    // Each block ran A twice and B twice, in ABBA or BAAB order.
    let blocks = std::fs::read_to_string(out.join("blocks.csv")).unwrap();
    let orders: Vec<&str> = blocks
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(orders.len(), 2, "{blocks}");
    assert!(
        orders.iter().all(|o| *o == "ABBA" || *o == "BAAB"),
        "{blocks}"
    );
    let runs: Vec<PathBuf> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".jsonl") && !name.ends_with(".timeline.jsonl")
        })
        .collect();
    assert_eq!(runs.len(), 8, "{runs:?}");
    // One ratio per block, and both sides' records readable by `compare`.
    let ratios = std::fs::read_to_string(out.join("ratios.csv")).unwrap();
    assert_eq!(ratios.lines().count(), 3, "{ratios}");
    for side in ["a.jsonl", "b.jsonl"] {
        let tests = edgebench_reports::read_results(&[out.join(side)]).unwrap();
        assert_eq!(tests.len(), 4, "{side}: two runs a block");
        assert!(tests.iter().all(|t| t.repetitions.len() == 2));
    }
    assert!(std::fs::read_to_string(out.join("summary.md"))
        .unwrap()
        .starts_with("### edgebench ab"));
    // The halves are not builds of their own: nothing went into the history.
    assert!(!dir.path().join("history.sqlite").exists());
}

#[test]
fn bad_sides_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        edgebench(dir.path())
            .arg("ab")
            .args(args)
            .arg("--")
            .args(SUITE)
            .output()
            .unwrap()
    };
    one_line_error(
        &run(&["--b-ort", "/nonexistent/libonnxruntime.so"]),
        "/nonexistent/libonnxruntime.so: no such file",
    );
    let empty = dir.path().display().to_string();
    one_line_error(&run(&["--a-bin", &empty]), "no edgebench binary");
    one_line_error(
        &run(&["--b-build-env", "GGML_CPU_REPACK=OFF"]),
        "--b-build-env needs --b-llama-cpp",
    );
    one_line_error(
        &run(&["--b-llama-cpp", &empty]),
        "not a llama.cpp source tree",
    );
    one_line_error(
        &run(&["--b-whisper-cpp", &empty]),
        "not a whisper.cpp source tree",
    );
    one_line_error(&run(&["--b-env", "NOEQUALS"]), "is not KEY=VALUE");
    let out = edgebench(dir.path())
        .args(["ab", "--", "--results", "x.jsonl"])
        .output()
        .unwrap();
    one_line_error(&out, "--results cannot be used with ab");
}

#[test]
fn a_dry_run_shows_each_side_with_its_library() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("libonnxruntime.so.1.99.0");
    std::fs::write(&lib, b"not run in a dry run").unwrap();
    let out = edgebench(dir.path())
        .args(["ab", "--dry-run", "--b-ort"])
        .arg(&lib)
        .arg("--")
        .args(SUITE)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("side A: stock"), "{err}");
    assert!(
        err.contains("ORT_DYLIB_PATH=") && err.contains("libonnxruntime.so.1.99.0"),
        "{err}"
    );
    assert!(err.contains(" -r 2 "), "{err}");
}

#[test]
fn runs_go_into_the_history_and_compare_reads_builds_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("run.jsonl");
    let run = edgebench(dir.path())
        .args(["run", "-r", "2"])
        .args(SUITE)
        .arg("--results")
        .arg(&results)
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let db = dir.path().join("history.sqlite");
    assert!(db.exists(), "run did not record into the history");
    // The same measurements under another edgebench commit: a second build in the store.
    let text = std::fs::read_to_string(&results).unwrap();
    let tests = edgebench_reports::read_results(std::slice::from_ref(&results)).unwrap();
    let commit = tests[0].environment.edgebench_commit.clone();
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(
        other.join("old.jsonl"),
        text.replace(
            &format!("\"edgebench_commit\":\"{commit}\""),
            "\"edgebench_commit\":\"0123456789ab\"",
        )
        .replace(&tests[0].test_id, "older-test")
        .replace(&tests[0].started_at, "2020-01-01T00:00:00Z"),
    )
    .unwrap();
    let import = edgebench(dir.path())
        .args(["history", "import"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(import.status.success(), "{import:?}");
    assert!(String::from_utf8_lossy(&import.stdout).starts_with("1 tests imported"));
    let chart = dir.path().join("trend.svg");
    let hist = edgebench(dir.path())
        .args([
            "history",
            "-s",
            "llama3-8b-tiny",
            "--target",
            "candle",
            "--chart",
        ])
        .arg(&chart)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&hist.stdout);
    assert!(hist.status.success(), "{hist:?}");
    assert!(
        table.contains("0123456789ab") && table.contains(&commit),
        "{table}"
    );
    // Oldest first: the relabelled run is build 1.
    let first = table
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .unwrap();
    assert!(first.contains("0123456789ab"), "{table}");
    assert!(std::fs::read_to_string(&chart).unwrap().contains("<svg"));
    // compare: two builds by commit instead of two files.
    let cmp = edgebench(dir.path())
        .args(["compare", "0123456789ab", &commit])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&cmp.stdout);
    assert!(text.contains("llama3-8b-tiny"), "{cmp:?}");
    let missing = edgebench(dir.path())
        .args(["compare", "feedfacefeed", &commit])
        .output()
        .unwrap();
    one_line_error(
        &missing,
        "feedfacefeed: no such file, and no run of edgebench commit",
    );
    let none = edgebench(dir.path())
        .args(["history", "-s", "gemma-7b"])
        .output()
        .unwrap();
    one_line_error(&none, "no test matches gemma-7b");
}
