//! The `edgebench` binary as a user runs it, on tiny synthetic models in temp folders.

use assert_cmd::Command;
use edgebench_harness::schema::{Record, Status};
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn edgebench() -> Command {
    let mut cmd = Command::cargo_bin("edgebench").unwrap();
    // Worker binaries are built next to `edgebench` (scripts/test.sh builds every binary first).
    cmd.env_remove("EDGEBENCH_MODELS_DIR");
    // Memory bandwidth (for the roofline) is measured once for the suite, then cached.
    cmd.env(
        "EDGEBENCH_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("edgebench-cache"),
    );
    cmd
}

/// Every record of a results file.
fn records(path: &Path) -> Vec<Record> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
        .collect()
}

fn test_records(path: &Path) -> Vec<edgebench_harness::schema::TestRecord> {
    records(path)
        .into_iter()
        .filter_map(|r| match r {
            Record::Test(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// A one-line error: exit code 2, a single stderr line naming `needle`, no panic.
fn assert_one_line_error(output: &std::process::Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "stderr: {stderr}");
    assert!(
        errors[0].contains(needle),
        "{:?} does not name {needle}",
        errors[0]
    );
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
}

fn synth(dir: &Path, model: &str, quant: &str) -> PathBuf {
    let out = edgebench()
        .args(["models", "synth", model, "--quant", quant, "--models-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    PathBuf::from(stdout.split_whitespace().next().unwrap())
}

#[test]
fn version_names_the_commit() {
    edgebench().arg("--version").assert().success().stdout(
        predicate::str::is_match(r"^edgebench \d+\.\d+\.\d+ \(commit [0-9a-z-]+\)\n$").unwrap(),
    );
}

#[test]
fn list_scenarios_shows_published_shapes() {
    edgebench()
        .args(["list", "scenarios"])
        .assert()
        .success()
        .stdout(predicate::str::contains("llama3-8b").and(predicate::str::contains("8.03B")))
        .stdout(predicate::str::contains("phi3-mini").and(predicate::str::contains("gemma-7b")));
}

#[test]
fn list_targets_reports_candle_build() {
    edgebench()
        .args(["list", "targets"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("candle").and(predicate::str::contains("built: candle-core")),
        );
}

#[test]
fn run_tiny_model_prints_table_and_writes_every_repetition() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.jsonl");
    let out = edgebench()
        .args([
            "run",
            "--target",
            "candle",
            "--scenario",
            "llama3-8b-tiny",
            "--quant",
            "q8_0",
            "-p",
            "16",
            "-n",
            "16",
            "-r",
            "3",
            "-t",
            "1",
        ])
        .arg("--models-dir")
        .arg(dir.path().join("models"))
        .arg("--results")
        .arg(&results)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout {stdout}\nstderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("llama3-8b-tiny") && stdout.contains("pp16") && stdout.contains("tg16"),
        "{stdout}"
    );
    let all = records(&results);
    assert_eq!(
        all.iter()
            .filter(|r| matches!(r, Record::Repetition(_)))
            .count(),
        6
    );
    let tests = test_records(&results);
    assert_eq!(tests.len(), 2);
    for t in &tests {
        assert_eq!(t.status, Status::Ok, "{t:?}");
        assert_eq!(t.repetitions.len(), 3);
        assert!(t.scenario.synthetic && t.scenario.model_sha256.is_some());
        assert_eq!(t.target.name, "candle");
        assert!(t.peak_rss_bytes.unwrap() > 1 << 20);
        let headline = if t.scenario.gen_tokens > 0 {
            "tg_tps"
        } else {
            "pp_tps"
        };
        assert!(t.summary[headline].median > 0.0);
    }
}

#[test]
fn bad_model_files_get_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.gguf");
    let out = edgebench()
        .args(["run", "--model"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_one_line_error(&out, "nope.gguf");

    let good = synth(&dir.path().join("models"), "gemma-2b-tiny", "q4_0");
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.gguf");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let out = edgebench()
        .args(["run", "--model"])
        .arg(&truncated)
        .output()
        .unwrap();
    assert_one_line_error(&out, "truncated.gguf: truncated");

    let header_only = dir.path().join("header.gguf");
    std::fs::write(&header_only, &bytes[..100]).unwrap();
    let out = edgebench()
        .args(["run", "--model"])
        .arg(&header_only)
        .output()
        .unwrap();
    assert_one_line_error(&out, "header.gguf");

    let not_gguf = dir.path().join("text.gguf");
    std::fs::write(&not_gguf, "hello").unwrap();
    let out = edgebench()
        .args(["run", "--model"])
        .arg(&not_gguf)
        .output()
        .unwrap();
    assert_one_line_error(&out, "text.gguf: not a readable GGUF file");
}

#[test]
fn wrong_architecture_is_skipped_with_the_reason() {
    use candle_core::quantized::gguf_file;
    let dir = tempfile::tempdir().unwrap();
    let good = synth(&dir.path().join("models"), "llama3-8b-tiny", "q8_0");
    let mut file = std::fs::File::open(&good).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let mut metadata: Vec<(String, gguf_file::Value)> =
        content.metadata.clone().into_iter().collect();
    for (k, v) in metadata.iter_mut() {
        if k == "general.architecture" {
            *v = gguf_file::Value::String("mamba9".into());
        }
    }
    let tensors: Vec<(String, candle_core::quantized::QTensor)> = content
        .tensor_infos
        .keys()
        .map(|name| {
            (
                name.clone(),
                content
                    .tensor(&mut file, name, &candle_core::Device::Cpu)
                    .unwrap(),
            )
        })
        .collect();
    let wrong = dir.path().join("wrong-arch.gguf");
    let mut out_file = std::fs::File::create(&wrong).unwrap();
    let md: Vec<(&str, &gguf_file::Value)> =
        metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let ts: Vec<(&str, &candle_core::quantized::QTensor)> =
        tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(&mut out_file, &md, &ts).unwrap();
    drop(out_file);

    let results = dir.path().join("r.jsonl");
    let out = edgebench()
        .args(["run", "--target", "candle", "-p", "8", "-r", "1", "--model"])
        .arg(&wrong)
        .arg("--results")
        .arg(&results)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("skipped"), "{stdout}");
    let tests = test_records(&results);
    assert_eq!(tests.len(), 1);
    match &tests[0].status {
        Status::Skipped { reason } => assert!(reason.contains("mamba9"), "{reason}"),
        other => panic!("expected skipped, got {other:?}"),
    }
}

#[test]
fn bad_flags_get_one_line_errors() {
    let out = edgebench()
        .args(["run", "--quant", "q3_x"])
        .output()
        .unwrap();
    assert_one_line_error(&out, "q3_x");
    let out = edgebench()
        .args(["run", "--scenario", "llama9-1t"])
        .output()
        .unwrap();
    assert_one_line_error(&out, "llama9-1t");
    let out = edgebench()
        .args(["run", "--output", "pdf"])
        .output()
        .unwrap();
    assert_one_line_error(&out, "pdf");
    let out = edgebench()
        .args(["run", "--target", "tensorflow"])
        .output()
        .unwrap();
    assert_one_line_error(&out, "tensorflow");
}

#[test]
fn dry_run_plans_without_running_and_skips_what_does_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let out = edgebench()
        .args(["run", "--suite", "standard", "--dry-run", "--models-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let plan = String::from_utf8_lossy(&out.stderr);
    assert!(
        plan.contains("llama3-8b q4_k_m (synthetic, seed 1) on candle"),
        "{plan}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a dry run writes nothing"
    );
}

/// The worker dying mid-test (killed from outside, as the OOM killer would) fails that test
/// with the reason, and the next test still runs.
#[cfg(target_os = "linux")]
#[test]
fn killed_worker_is_a_failed_test_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("r.jsonl");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("edgebench"))
        .args([
            "run",
            "--target",
            "candle",
            "--scenario",
            "phi3-mini-tiny",
            "--quant",
            "q4_0",
            "-p",
            "16",
            "-n",
            "16",
            "-t",
            "1",
            "--min-reps",
            "1000000",
            "--max-reps",
            "1000000",
            "--max-time",
            "5",
        ])
        .arg("--models-dir")
        .arg(dir.path().join("models"))
        .arg("--results")
        .arg(&results)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the first repetition of the first test (pp16), then kill the worker.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let worker = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no repetition written in time"
        );
        let reps = std::fs::read_to_string(&results)
            .unwrap_or_default()
            .matches("\"record\":\"repetition\"")
            .count();
        if reps > 0 {
            if let Some(pid) = child_pid_named(child.id(), "edgebench-worke") {
                break pid;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    unsafe { libc::kill(worker as i32, libc::SIGKILL) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "a failed test makes the run exit 1");
    let tests = test_records(&results);
    assert_eq!(tests.len(), 2, "{tests:#?}");
    match &tests[0].status {
        Status::Failed { reason } => assert!(reason.contains("signal 9"), "{reason}"),
        other => panic!("expected the first test to fail, got {other:?}"),
    }
    assert!(
        !tests[0].repetitions.is_empty(),
        "repetitions before the crash are kept"
    );
    assert_eq!(
        tests[1].status,
        Status::Ok,
        "the next test runs on a fresh worker"
    );
}

#[cfg(target_os = "linux")]
fn child_pid_named(parent: u32, comm_prefix: &str) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()? {
        let entry = entry.ok()?;
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid …
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let ppid: u32 = stat[close + 2..]
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if ppid == parent && comm.starts_with(comm_prefix) {
            return Some(pid);
        }
    }
    None
}

/// Ctrl-C stops after the current repetition; the results file stays valid JSONL and keeps
/// what was measured.
#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_leaves_a_valid_results_file() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("r.jsonl");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("edgebench"))
        .args([
            "run",
            "--target",
            "candle",
            "--scenario",
            "llama3-8b-tiny",
            "--quant",
            "q8_0",
            "-n",
            "16",
            "-t",
            "1",
        ])
        .args([
            "--min-reps",
            "1000000",
            "--max-reps",
            "1000000",
            "--max-time",
            "60",
        ])
        .arg("--models-dir")
        .arg(dir.path().join("models"))
        .arg("--results")
        .arg(&results)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::fs::read_to_string(&results)
        .unwrap_or_default()
        .matches("\"record\":\"repetition\"")
        .count()
        < 3
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no repetitions written in time"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let all = records(&results); // panics on any invalid line
    let tests = test_records(&results);
    assert_eq!(tests.len(), 1);
    assert!(
        matches!(tests[0].status, Status::Interrupted { .. }),
        "{:?}",
        tests[0].status
    );
    let reps = all
        .iter()
        .filter(|r| matches!(r, Record::Repetition(_)))
        .count();
    assert!(reps >= 3 && tests[0].repetitions.len() == reps);
}

/// `edgebench run` on a tiny model, repeating until stopped: a `pp240+tg256` repetition lasts
/// long enough (hundreds of milliseconds) for a signal to land in the middle of one.
#[cfg(target_os = "linux")]
fn endless_run(dir: &Path, results: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("edgebench"));
    cmd.env_remove("EDGEBENCH_MODELS_DIR")
        .env(
            "EDGEBENCH_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("edgebench-cache"),
        )
        .args(["run", "--target", "candle", "--scenario", "llama3-8b-tiny"])
        .args([
            "--quant",
            "q8_0",
            "--pg",
            "240,256", // 497 tokens: within the tiny model's 512-token context
            "-t",
            "1",
            "--cooldown",
            "off",
        ])
        .args([
            "--min-reps",
            "1000000",
            "--max-reps",
            "1000000",
            "--max-time",
            "120",
        ])
        .arg("--models-dir")
        .arg(dir.join("models"))
        .arg("--results")
        .arg(results);
    cmd
}

#[cfg(target_os = "linux")]
fn repetition_lines(results: &Path) -> usize {
    std::fs::read_to_string(results)
        .unwrap_or_default()
        .matches("\"record\":\"repetition\"")
        .count()
}

/// Wait until the results file has at least one repetition line; returns how many.
#[cfg(target_os = "linux")]
fn wait_for_a_repetition(results: &Path, child: &mut std::process::Child) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let n = repetition_lines(results);
        if n > 0 {
            return n;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "edgebench ended ({status}) before writing a repetition: {}",
                std::fs::read_to_string(results).unwrap_or_default()
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no repetition written in time"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Ctrl-C at a terminal signals the whole foreground process group: edgebench and its worker.
/// The worker lives in a group of its own, so the repetition in flight finishes and is kept,
/// the run stops after it, and the table shows the interrupted test with what it kept.
#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_to_the_process_group_keeps_the_repetition_in_flight() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("r.jsonl");
    let mut child = endless_run(dir.path(), &results)
        .process_group(0) // as a shell starts a foreground job
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let before = wait_for_a_repetition(&results, &mut child);
    // The next repetition is in flight now: signal the group, as a terminal does.
    unsafe { libc::killpg(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let after = repetition_lines(&results);
    let tests = test_records(&results);
    assert_eq!(tests.len(), 1, "{stderr}");
    match &tests[0].status {
        Status::Interrupted { reason } => assert!(reason.contains("Ctrl-C"), "{reason}"),
        other => panic!("expected interrupted, got {other:?}: {stderr}"),
    }
    assert!(
        after > before,
        "the repetition in flight at Ctrl-C was lost: {before} repetitions before, {after} after"
    );
    assert_eq!(tests[0].repetitions.len(), after);
    // The table shows the interrupted test's kept repetitions, both rates.
    let table = String::from_utf8_lossy(&out.stdout);
    for rate in ["pp240+tg256:pp", "pp240+tg256:tg"] {
        let row = table
            .lines()
            .find(|l| l.contains(rate))
            .unwrap_or_else(|| panic!("no {rate} row in:\n{table}"));
        assert!(
            row.contains("interrupted") && row.chars().any(|c| c.is_ascii_digit()),
            "{row}"
        );
    }
    assert!(
        stderr.contains("repetitions kept); interrupted"),
        "the progress line shows what was kept: {stderr}"
    );
}

/// A worker never outlives edgebench: killed with SIGKILL (no chance to clean up), its worker
/// goes with it rather than running on in its own process group.
#[cfg(target_os = "linux")]
#[test]
fn killing_edgebench_leaves_no_worker_behind() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("r.jsonl");
    let mut child = endless_run(dir.path(), &results)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_a_repetition(&results, &mut child);
    let worker = child_pid_named(child.id(), "edgebench-worke").expect("a worker");
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        // Gone, or a zombie waiting for whichever process adopted it.
        let state = std::fs::read_to_string(format!("/proc/{worker}/stat"))
            .ok()
            .and_then(|s| s.rfind(')').map(|i| s[i + 2..].chars().next()))
            .flatten();
        if matches!(state, None | Some('Z') | Some('X')) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "worker {worker} still running (state {state:?}) after edgebench was killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

// --- report and compare (reports crate) ----------------------------------------------------

/// The reports crate's fixture: one run on a Raspberry Pi 5 (ok, failed, skipped, interrupted).
fn reports_fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/tests/fixtures/results.jsonl")
}

/// The fixture's lines with every tg rate scaled by `factor` and the run renamed, so the tests
/// are the same tests from another run.
fn scaled_fixture(factor: f64, run: &str) -> String {
    let text = std::fs::read_to_string(reports_fixture()).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(id) = v
            .get("test_id")
            .and_then(|i| i.as_str())
            .map(str::to_string)
        {
            v["test_id"] = format!("{run}/{id}").into();
        }
        if v.get("run_id").is_some() {
            v["run_id"] = run.into();
        }
        // Repetition lines, and the repetitions inside test records.
        let reps: Vec<&mut serde_json::Value> = if v.get("repetitions").is_some() {
            match v.get_mut("repetitions") {
                Some(serde_json::Value::Array(inner)) => inner.iter_mut().collect(),
                _ => vec![],
            }
        } else {
            vec![&mut v]
        };
        for rep in reps {
            if let Some(m) = rep.get_mut("metrics").and_then(|m| m.as_object_mut()) {
                if let Some(tps) = m.get("tg_tps").and_then(|t| t.as_f64()) {
                    m.insert("tg_tps".into(), (tps * factor).into());
                }
            }
        }
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

#[test]
fn compare_exits_1_on_a_ten_percent_regression_and_0_on_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.jsonl");
    let slower = dir.path().join("slower.jsonl");
    let same = dir.path().join("same.jsonl");
    std::fs::write(&base, scaled_fixture(1.0, "base")).unwrap();
    std::fs::write(&slower, scaled_fixture(0.9, "slower")).unwrap();
    std::fs::write(&same, scaled_fixture(1.0, "same")).unwrap();
    let md = dir.path().join("summary.md");
    Command::cargo_bin("edgebench")
        .unwrap()
        .args(["compare"])
        .arg(&base)
        .arg(&slower)
        .arg("--markdown")
        .arg(&md)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("regressed"))
        .stdout(predicate::str::contains("tg t/s"));
    let summary = std::fs::read_to_string(&md).unwrap();
    assert!(summary.contains("Performance regression"), "{summary}");
    Command::cargo_bin("edgebench")
        .unwrap()
        .args(["compare"])
        .arg(&base)
        .arg(&same)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("0 regressions"));
}

/// Two files without a test in common compare nothing: exit 2 with the reason on the last
/// line, not 0 ("no regression") with a warning.
#[test]
fn compare_without_a_matching_test_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.jsonl");
    let other = dir.path().join("other-device.jsonl");
    std::fs::write(&base, scaled_fixture(1.0, "base")).unwrap();
    let elsewhere = scaled_fixture(1.0, "other").replace("Raspberry Pi 5", "Some Other Board");
    std::fs::write(&other, elsewhere).unwrap();
    let out = Command::cargo_bin("edgebench")
        .unwrap()
        .arg("compare")
        .arg(&base)
        .arg(&other)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: no test of") && last.contains("nothing was compared"),
        "{stderr}"
    );
    // Across devices they do match.
    Command::cargo_bin("edgebench")
        .unwrap()
        .arg("compare")
        .arg(&base)
        .arg(&other)
        .arg("--ignore-device")
        .assert()
        .code(0);
}

/// A run in which nothing asked for could run (the onnxruntime target without its library)
/// exits 2 and says why on its last line, instead of 0 with nothing measured.
#[test]
fn a_run_that_measures_nothing_exits_2_and_says_so_last() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("r.jsonl");
    let out = edgebench()
        .env("ORT_DYLIB_PATH", "/nonexistent")
        .args([
            "run",
            "--target",
            "onnxruntime",
            "--scenario",
            "llama3-8b-tiny",
        ])
        .args([
            "--quant",
            "q4_0",
            "-n",
            "4",
            "-r",
            "1",
            "-t",
            "1",
            "--cooldown",
            "off",
        ])
        .arg("--models-dir")
        .arg(dir.path().join("models"))
        .arg("--results")
        .arg(&results)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: nothing was measured: 1 test skipped")
            && last.contains("/nonexistent"),
        "{stderr}"
    );
    let tests = test_records(&results);
    assert_eq!(tests.len(), 1, "{tests:?}");
    assert!(
        matches!(tests[0].status, Status::Skipped { .. }),
        "{tests:?}"
    );
}

#[test]
fn report_writes_html_and_charts_from_two_runs() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jsonl");
    let b = dir.path().join("b.jsonl");
    std::fs::write(&a, scaled_fixture(1.0, "run-a")).unwrap();
    std::fs::write(&b, scaled_fixture(1.05, "run-b")).unwrap();
    let html = dir.path().join("out/report.html");
    let charts = dir.path().join("charts");
    Command::cargo_bin("edgebench")
        .unwrap()
        .arg("report")
        .arg(&a)
        .arg(&b)
        .arg("--html")
        .arg(&html)
        .arg("--charts")
        .arg(&charts)
        .args(["--output", "md"])
        .assert()
        .success()
        .stdout(predicate::str::contains("2 runs"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Performance at a glance"));
    assert!(page.contains("<svg"));
    for name in ["throughput.svg", "throughput.png", "energy.svg"] {
        assert!(charts.join(name).is_file(), "{name}");
    }
}

#[test]
fn report_exports_llama_bench_json() {
    Command::cargo_bin("edgebench")
        .unwrap()
        .arg("report")
        .arg(reports_fixture())
        .args(["--output", "llama-bench"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"samples_ns\""))
        .stdout(predicate::str::contains("\"avg_ts\""));
}

/// A GenAI folder given with --model runs on ONNX Runtime; GGUF-only targets skip it with the
/// reason; the record says which execution provider ran the nodes.
#[test]
fn genai_folder_runs_on_onnxruntime() {
    let dir = tempfile::tempdir().unwrap();
    let folder = synth(&dir.path().join("models"), "llama3-8b-tiny", "int4");
    assert!(
        folder.join("genai_config.json").is_file(),
        "{}",
        folder.display()
    );
    let results = dir.path().join("r.jsonl");
    let out = edgebench()
        .args(["run", "-p", "8", "-n", "4", "-r", "1", "-t", "1", "--model"])
        .arg(&folder)
        .arg("--results")
        .arg(&results)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tests = test_records(&results);
    let ort: Vec<_> = tests
        .iter()
        .filter(|t| t.target.name == "onnxruntime")
        .collect();
    assert_eq!(ort.len(), 2, "{tests:#?}");
    for t in ort {
        assert_eq!(t.status, Status::Ok, "{t:?}");
        assert_eq!(t.scenario.quant, "int4");
        assert!(t.scenario.synthetic);
        assert!(
            t.target.extra["session_providers"].contains("CPUExecutionProvider"),
            "{:?}",
            t.target.extra
        );
    }
    for t in tests.iter().filter(|t| t.target.name == "candle") {
        match &t.status {
            Status::Skipped { reason } => assert!(reason.contains("onnx-genai"), "{reason}"),
            other => panic!("candle should skip a GenAI folder, got {other:?}"),
        }
    }
}

#[test]
fn bad_genai_folders_get_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty-folder");
    std::fs::create_dir_all(&empty).unwrap();
    let out = edgebench()
        .args(["run", "--model"])
        .arg(&empty)
        .output()
        .unwrap();
    assert_one_line_error(&out, "empty-folder: not an ONNX Runtime GenAI model folder");

    let folder = synth(&dir.path().join("models"), "phi3-mini-tiny", "fp16");
    let model = folder.join("model.onnx");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();
    let out = edgebench()
        .args(["run", "--model"])
        .arg(&folder)
        .output()
        .unwrap();
    assert_one_line_error(&out, "model.onnx: not a readable ONNX model");
}

#[test]
fn list_quants_names_each_format() {
    edgebench()
        .args(["list", "quants"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"q4_k_m +gguf +15 .* int4").unwrap())
        .stdout(predicate::str::is_match(r"int4 +onnx-genai").unwrap());
}

#[cfg(not(target_os = "macos"))]
#[test]
fn list_targets_says_coreml_needs_macos() {
    edgebench()
        .args(["list", "targets"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "coreml       not available: needs macOS",
        ))
        .stdout(predicate::str::contains("onnxruntime  ONNX Runtime"));
}

/// `edgebench check` runs ONNX Runtime on the GenAI counterpart of each quantization, written
/// from the same seed: fp32 agrees with candle's F32 GGUF to rounding, and every row is within
/// its documented tolerance.
#[test]
fn check_includes_onnxruntime() {
    let dir = tempfile::tempdir().unwrap();
    let out = edgebench()
        .args([
            "check",
            "--target",
            "onnxruntime",
            "-s",
            "llama3-8b-tiny,gemma-2b-tiny",
        ])
        .args([
            "-q",
            "f32,f16,q4_k_m",
            "-n",
            "16",
            "-t",
            "2",
            "--output",
            "json",
        ])
        .arg("--models-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    assert_eq!(rows.len(), 2 * 3 * 2, "{stdout}");
    let ort: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["target"].as_str().unwrap().starts_with("onnxruntime ("))
        .collect();
    assert_eq!(ort.len(), 6, "{stdout}");
    for row in ort {
        let what = format!("{} {} {}", row["model"], row["quant"], row["target"]);
        assert_eq!(row["verdict"], "ok", "{what}: {row}");
        if row["quant"] == "f32" {
            assert_eq!(row["target"], "onnxruntime (fp32)");
            let c = &row["vs_reference"];
            assert_eq!(c["top1_agree"], 16, "{what}: {c}");
            assert!(c["max_rel"].as_f64().unwrap() < 1e-4, "{what}: {c}");
        }
    }
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
}

/// `edgebench list … | head` must end quietly when the reader goes away, not panic.
#[cfg(unix)]
#[test]
fn printing_into_a_closed_pipe_is_not_a_panic() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: a fresh pipe; both ends are owned below and closed exactly once.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end); // every write to the pipe now fails with EPIPE
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("edgebench"))
        .args(["list", "scenarios"])
        .stdout(std::process::Stdio::from(write_end))
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
}

/// `models prune` deletes cache entries this version would not use (an older generator's, whose
/// name hash differs) with their sidecars, keeps current ones, and `--dry-run` deletes nothing.
#[test]
fn models_prune_deletes_only_stale_entries() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let gguf = synth(&models, "phi3-mini-tiny", "q8_0");
    let genai = synth(&models, "phi3-mini-tiny", "int8");
    // An older generator's copies: same sidecar fields, another name hash.
    let old_gguf = models.join("phi3-mini-tiny-q8_0-s1-000000000000.gguf");
    std::fs::copy(&gguf, &old_gguf).unwrap();
    let sidecar = |p: &Path| PathBuf::from(format!("{}.json", p.display()));
    std::fs::copy(sidecar(&gguf), sidecar(&old_gguf)).unwrap();
    let old_genai = models.join("phi3-mini-tiny-int8-s1-000000000000-genai");
    std::fs::create_dir(&old_genai).unwrap();
    for f in std::fs::read_dir(&genai).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, old_genai.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::copy(sidecar(&genai), sidecar(&old_genai)).unwrap();
    // The user's own file, without a sidecar, is never touched.
    let own = models.join("mine.gguf");
    std::fs::copy(&gguf, &own).unwrap();

    let list = edgebench()
        .args(["models", "list", "--models-dir"])
        .arg(&models)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&list.stdout);
    assert_eq!(stdout.matches("(stale)").count(), 2, "{stdout}");

    let dry = edgebench()
        .args(["models", "prune", "--dry-run", "--models-dir"])
        .arg(&models)
        .output()
        .unwrap();
    assert!(dry.status.success());
    assert!(old_gguf.exists() && old_genai.exists());
    assert!(String::from_utf8_lossy(&dry.stdout).contains("2 stale models"));

    let out = edgebench()
        .args(["models", "prune", "--models-dir"])
        .arg(&models)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!old_gguf.exists() && !sidecar(&old_gguf).exists());
    assert!(!old_genai.exists() && !sidecar(&old_genai).exists());
    assert!(gguf.exists() && sidecar(&gguf).exists());
    assert!(genai.exists() && sidecar(&genai).exists());
    assert!(own.exists());
}
