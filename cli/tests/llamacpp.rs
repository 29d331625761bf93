//! The llama.cpp target through the `edgebench` binary: sweeps, a crash inside llama.cpp that
//! the run survives, and `check` against candle. Needs both workers built (scripts/test.sh
//! builds every binary first).

use assert_cmd::Command;
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::QTensor;
use candle_core::Device;
use edgebench_harness::schema::{Record, Status, TestRecord};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn edgebench() -> Command {
    let mut cmd = Command::cargo_bin("edgebench").unwrap();
    cmd.env_remove("EDGEBENCH_MODELS_DIR");
    cmd
}

fn test_records(path: &Path) -> Vec<TestRecord> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| match serde_json::from_str(l).unwrap() {
            Record::Test(t) => Some(t),
            _ => None,
        })
        .collect()
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

fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "stdout {}\nstderr {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn list_targets_reports_the_llama_cpp_build() {
    let out = run_ok(edgebench().args(["list", "targets"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("llamacpp"), "{stdout}");
    assert!(stdout.contains("built: llama.cpp (ggml"), "{stdout}");
}

/// `-t 1-2 -b 4,8 -p 8,16 -n 4` is 2 × 2 model loads of llama.cpp, each running 3 tests: 12
/// rows, each with its parameters; candle reads no batch size, so it runs each thread count
/// once.
#[test]
fn a_sweep_runs_every_combination_with_its_own_row() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth(&dir.path().join("models"), "llama3-8b-tiny", "q4_0");
    let results = dir.path().join("sweep.jsonl");
    let out = run_ok(
        edgebench()
            .args(["run", "--model"])
            .arg(&model)
            .args(["--target", "llamacpp,candle", "-t", "1-2", "-b", "4,8"])
            .args(["-p", "8,16", "-n", "4", "-r", "1", "--warmup", "0"])
            .arg("--results")
            .arg(&results),
    );
    let tests = test_records(&results);
    let llama: Vec<&TestRecord> = tests
        .iter()
        .filter(|t| t.target.name == "llamacpp")
        .collect();
    let candle: Vec<&TestRecord> = tests.iter().filter(|t| t.target.name == "candle").collect();
    assert_eq!(llama.len(), 12);
    assert_eq!(candle.len(), 6);
    let mut seen = std::collections::BTreeSet::new();
    for t in &tests {
        assert_eq!(t.status, Status::Ok, "{}: {:?}", t.test_id, t.status);
        assert!(seen.insert(t.test_id.clone()), "duplicate id {}", t.test_id);
    }
    for threads in [1, 2] {
        for batch in ["4", "8"] {
            for workload in ["pp8", "pp16", "tg4"] {
                let expected: BTreeMap<String, String> =
                    [("batch".to_string(), batch.to_string())].into();
                assert_eq!(
                    llama
                        .iter()
                        .filter(|t| t.parameters.threads == threads
                            && t.parameters.options == expected
                            && t.scenario.workload == workload)
                        .count(),
                    1,
                    "t{threads} batch {batch} {workload}"
                );
            }
        }
    }
    assert!(candle.iter().all(|t| t.parameters.options.is_empty()));
    // The table tells the combinations apart.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("batch=4") && stdout.contains("batch=8"),
        "{stdout}"
    );
}

#[test]
fn llama_bench_flags_and_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_ok(
        edgebench()
            .args([
                "run",
                "--scenario",
                "llama3-8b-tiny",
                "--target",
                "llamacpp",
            ])
            .args([
                "-ub",
                "64,128",
                "-fa",
                "0,1",
                "-ctk",
                "q8_0",
                "-ngl",
                "0",
                "--dry-run",
            ])
            .arg("--models-dir")
            .arg(dir.path()),
    );
    let plan = String::from_utf8_lossy(&out.stderr);
    assert_eq!(plan.matches("on llamacpp (").count(), 4, "{plan}");
    assert!(
        plan.contains("cache_type_k=q8_0,flash_attn=1,n_gpu_layers=0,ubatch=128"),
        "{plan}"
    );
    for (args, needle) in [
        (vec!["-fa", "2"], "option flash_attn=2: expected 0, 1, auto"),
        (vec!["-ctk", "q3_k"], "option cache_type_k=q3_k"),
        (
            vec!["-b", "0"],
            "option batch=0: expected a whole number ≥ 1",
        ),
        (vec!["-t", "4-1"], "ends before it starts"),
    ] {
        let out = edgebench()
            .args(["run", "--scenario", "llama3-8b-tiny", "--dry-run"])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// A Gemma file whose RoPE covers twice the head passes the CLI's header check and llama.cpp's
/// load, then aborts llama.cpp (GGML_ASSERT) at the first decode.
fn aborting_model(models: &Path, dir: &Path) -> PathBuf {
    let src = synth(models, "gemma-2b-tiny", "q8_0");
    let dst = dir.join("gemma-rope-too-wide.gguf");
    let mut reader = std::io::BufReader::new(std::fs::File::open(&src).unwrap());
    let content = gguf_file::Content::read(&mut reader).unwrap();
    let mut names: Vec<(&String, u64)> = content
        .tensor_infos
        .iter()
        .map(|(n, i)| (n, i.offset))
        .collect();
    names.sort_by_key(|(_, o)| *o);
    let tensors: Vec<(String, QTensor)> = names
        .into_iter()
        .map(|(n, _)| {
            (
                n.clone(),
                content.tensor(&mut reader, n, &Device::Cpu).unwrap(),
            )
        })
        .collect();
    let mut md = content.metadata.clone();
    let Some(Value::U32(head)) = md.get("gemma.attention.key_length").cloned() else {
        panic!("no key_length")
    };
    md.insert("gemma.rope.dimension_count".into(), Value::U32(head * 2));
    let md: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&dst).unwrap());
    gguf_file::write(&mut out, &md, &ts).unwrap();
    dst
}

/// The worker dies inside llama.cpp: that test fails with llama.cpp's last words, and the run
/// goes on to the next model.
#[test]
fn an_abort_inside_llama_cpp_fails_one_test_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let bad = aborting_model(&models, dir.path());
    let good = synth(&models, "llama3-8b-tiny", "q4_k_m");
    let results = dir.path().join("crash.jsonl");
    let out = edgebench()
        .args(["run", "--target", "llamacpp", "--model"])
        .arg(&bad)
        .arg("--model")
        .arg(&good)
        .args(["-p", "8", "-r", "1", "-t", "2"])
        .arg("--results")
        .arg(&results)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let tests = test_records(&results);
    assert_eq!(tests.len(), 2, "{tests:?}");
    let crashed = &tests[0];
    assert!(crashed
        .scenario
        .model_path
        .ends_with("gemma-rope-too-wide.gguf"));
    let Status::Failed { reason } = &crashed.status else {
        panic!("{:?}", crashed.status)
    };
    assert!(reason.contains("SIGABRT"), "{reason}");
    assert!(
        reason.contains("GGML_ASSERT(n_dims <= ne0) failed"),
        "{reason}"
    );
    assert_eq!(tests[1].status, Status::Ok);
    assert_eq!(tests[1].repetitions.len(), 1);
}

/// On the tiny llama, phi3 and gemma, llama.cpp agrees with candle within the documented
/// tolerance at F16, Q8_0 and Q4_K_M, and at F16 on the top-1 token at ≥ 99% of 32 positions.
#[test]
fn check_agrees_with_candle() {
    let dir = tempfile::tempdir().unwrap();
    let out = edgebench()
        .args(["check", "--target", "llamacpp"])
        .args(["-s", "llama3-8b-tiny,phi3-mini-tiny,gemma-2b-tiny"])
        .args([
            "-q",
            "f16,q8_0,q4_k_m",
            "-n",
            "32",
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
    assert_eq!(rows.len(), 3 * 3 * 2, "{stdout}");
    for row in &rows {
        let what = format!("{} {} {}", row["model"], row["quant"], row["target"]);
        if row["target"] == "candle" {
            assert_eq!(row["verdict"], "reference", "{what}");
            assert!(
                row["vs_f32"]["max_rel"].as_f64().unwrap() < 0.5,
                "{what}: {row}"
            );
            continue;
        }
        assert_eq!(row["verdict"], "ok", "{what}: {row}");
        let c = &row["vs_reference"];
        assert_eq!(c["positions"], 32, "{what}");
        if row["quant"] == "f16" {
            let agree = c["top1_agree"].as_f64().unwrap() / 32.0;
            assert!(agree >= 0.99, "{what}: {c}");
            // 0.005 on x86_64, 0.01 on aarch64 (F16 sums in F16): the target's own tolerance.
            let tolerance = row["tolerance"]["max_rel"].as_f64().unwrap();
            assert!(tolerance <= 0.01, "{what}: {row}");
            assert!(c["max_rel"].as_f64().unwrap() <= tolerance, "{what}: {c}");
        }
    }
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
}
