//! Whisper through the `edgebench` binary: runs on every speech target, the check, and bad
//! inputs, on the tiny Whisper test shape in temp folders.

use assert_cmd::Command;
use edgebench_harness::schema::{metric, Record, Status, TestRecord};
use std::path::Path;

fn edgebench() -> Command {
    let mut cmd = Command::cargo_bin("edgebench").unwrap();
    cmd.env_remove("EDGEBENCH_MODELS_DIR");
    cmd
}

fn tests_in(path: &Path) -> Vec<TestRecord> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| match serde_json::from_str(l).unwrap() {
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

#[test]
fn whisper_runs_on_every_speech_target_with_rtf() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("r.jsonl");
    let out = edgebench()
        .args([
            "run",
            "--suite",
            "whisper-tiny-test",
            "--quant",
            "f16,q8_0",
            "--workload",
            "transcribe-30s,decode-t8",
            "-r",
            "2",
            "--warmup",
            "0",
            "-t",
            "2",
            "--output",
            "md",
            "--models-dir",
        ])
        .arg(dir.path())
        .arg("--results")
        .arg(&results)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("RTF"), "{stdout}");
    let tests = tests_in(&results);
    assert_eq!(tests.len(), 12, "3 targets × 2 quants × 2 workloads");
    for t in &tests {
        if t.target.name == "onnxruntime" && t.scenario.quant == "q8_0" {
            // No ONNX folder holds ggml's q8_0 (ONNX Runtime's 8-bit is int8).
            assert!(
                matches!(&t.status, Status::Skipped { reason } if reason.contains("q8_0")),
                "{:?}",
                t.status
            );
            continue;
        }
        assert_eq!(t.status, Status::Ok, "{}: {:?}", t.test_id, t.status);
        assert_eq!(t.repetitions.len(), 2);
        assert!(t.parameters.options["audio"].ends_with(".wav"));
        assert!(t.scenario.synthetic && t.scenario.model_sha256.is_some());
        for r in &t.repetitions {
            assert_eq!(r.timing.audio_s, Some(30.0));
            assert_eq!(r.timing.decode_s.len(), t.scenario.gen_tokens);
        }
        if t.scenario.workload == "transcribe-30s" {
            assert_eq!(t.scenario.gen_tokens, 64);
            let rtf = &t.summary[metric::RTF];
            assert!(rtf.median > 0.0);
            for r in &t.repetitions {
                let m = &r.metrics;
                assert!((m[metric::RTF] * m[metric::RTF_INVERSE] - 1.0).abs() < 1e-9);
                let parts = m[metric::MEL_S]
                    + m[metric::ENCODE_S]
                    + r.timing.prefill_s.unwrap()
                    + r.timing.decode_s.iter().sum::<f64>();
                assert!((parts - m[metric::TRANSCRIBE_S]).abs() < 1e-9);
            }
        } else {
            assert!(t.summary.contains_key(metric::TG_TPS));
            assert!(!t.summary.contains_key(metric::RTF));
        }
    }
    let targets: std::collections::BTreeSet<&str> =
        tests.iter().map(|t| t.target.name.as_str()).collect();
    assert_eq!(
        targets.into_iter().collect::<Vec<_>>(),
        ["candle", "onnxruntime", "whispercpp"]
    );
}

#[test]
fn check_whisper_finds_the_engines_agree() {
    let dir = tempfile::tempdir().unwrap();
    let out = edgebench()
        .args(["check-whisper", "-q", "f32,f16", "--models-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            ["candle", "onnxruntime", "whispercpp"]
                .iter()
                .any(|t| l.starts_with(t))
        })
        .collect();
    // candle f32 (the reference) and f16, ONNX Runtime f32 and f16 (encoder outputs compared
    // too), whisper.cpp f16 (it runs no f32).
    assert_eq!(rows.len(), 5, "{stdout}");
    let ort: Vec<&&str> = rows
        .iter()
        .filter(|r| r.starts_with("onnxruntime"))
        .collect();
    assert_eq!(ort.len(), 2, "{stdout}");
    // Its encoder Δ is a number, not "-" (whisper.cpp's is).
    assert!(
        ort.iter().all(|r| r.split_whitespace().nth(3) != Some("-")),
        "{stdout}"
    );
    assert!(rows.iter().all(|r| r.ends_with("ok")), "{stdout}");
    assert!(!stdout.contains("MISMATCH"));
}

#[test]
fn bad_whisper_inputs_get_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        edgebench()
            .args(["run", "--dry-run", "--models-dir"])
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    // A WAV file that is not one.
    let wav = dir.path().join("speech.wav");
    std::fs::write(&wav, b"RIFF....WAVEfmt nonsense").unwrap();
    assert_one_line_error(&run(&["--audio", wav.to_str().unwrap()]), "speech.wav");
    // A truncated ggml-*.bin.
    let out = edgebench()
        .args([
            "models",
            "synth",
            "whisper-tiny-test",
            "-q",
            "q8_0",
            "--format",
            "whisper-ggml",
            "--models-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let file = String::from_utf8(out.stdout).unwrap();
    let file = file.split_whitespace().next().unwrap();
    let bytes = std::fs::read(file).unwrap();
    let cut = dir.path().join("ggml-cut.bin");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = run(&["--model", cut.to_str().unwrap()]);
    assert_one_line_error(&out, "ggml-cut.bin");
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
    // LLM quantizations and mixed runs.
    assert_one_line_error(
        &run(&["--scenario", "whisper-tiny", "--quant", "q4_k_m"]),
        "q4_k_m",
    );
    assert_one_line_error(
        &run(&["--scenario", "whisper-tiny,gemma-2b"]),
        "cannot share a run",
    );
    assert_one_line_error(&run(&["--suite", "whisper", "-n", "16"]), "--workload");
}
