//! Adding a target, end to end. The toy target (`toy.rs`, this folder) is registered with one
//! line, `EDGEBENCH_EXTRA_TARGETS=toy` (an in-tree target's line is in `cli/src/targets.rs`),
//! and the CLI discovers it, plans with what it describes (formats, its `mix` option, its
//! memory model), runs it and writes its results; the kit's conformance suite passes on it.
//!
//! This test binary is its own worker: started as `edgebench-worker-toy` (a link to itself in
//! a temp folder named by `EDGEBENCH_WORKER_DIR`), it serves the protocol instead of testing.
//! Hence `harness = false`: the test harness would print to the protocol's stdout.

mod toy;

use assert_cmd::Command;
use edgebench_harness::schema::{Record, Status, TestRecord};
use edgebench_scenarios::{synth, Catalog, Quant};
use edgebench_target_kit::conformance;
use edgebench_target_kit::describe::{ModelFacts, Shape};
use edgebench_target_kit::target::{LoadSpec, Target};
use std::path::{Path, PathBuf};

const WORKER: &str = "edgebench-worker-toy";

fn main() {
    let argv0 = std::env::args().next().unwrap_or_default();
    if Path::new(&argv0).file_name().is_some_and(|n| n == WORKER) {
        edgebench_target_kit::worker::main(toy::Toy::default());
    }
    let tests: [(&str, fn()); 2] = [
        ("the_toy_conforms", the_toy_conforms),
        (
            "the_cli_discovers_plans_runs_and_records_the_toy",
            end_to_end,
        ),
    ];
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    for (name, test) in tests {
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        eprintln!("test {name} ...");
        test();
        eprintln!("test {name} ... ok");
    }
}

/// The tiny llama model as a GGUF in `dir`.
fn tiny_model(dir: &Path) -> PathBuf {
    let spec = Catalog::builtin().model("llama3-8b-tiny").unwrap().clone();
    let path = dir.join("llama3-8b-tiny-q8_0.gguf");
    synth::write_gguf(&spec, Quant::Q8_0, 7, &path, &mut |_, _| {}).unwrap();
    path
}

fn the_toy_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let load = LoadSpec {
        model_path: model.clone(),
        threads: 1,
        context: 64,
        options: Default::default(),
    };
    conformance::llm(toy::Toy::default, &model, &load);
    conformance::worker_crash(
        &worker_link(dir.path()),
        &[],
        &load,
        &edgebench_target_kit::protocol::Request::Run(edgebench_target_kit::protocol::RunSpec {
            prompt: 4,
            gen: 2,
            seed: 1,
        }),
    );
}

/// A link named as the toy's worker, to this very executable.
fn worker_link(dir: &Path) -> PathBuf {
    let link = dir.join(WORKER);
    if !link.exists() {
        std::os::unix::fs::symlink(std::env::current_exe().unwrap(), &link).unwrap();
    }
    link
}

fn edgebench(workers: &Path) -> Command {
    let mut cmd = Command::cargo_bin("edgebench").unwrap();
    cmd.env_remove("EDGEBENCH_MODELS_DIR")
        .env("EDGEBENCH_WORKER_DIR", workers)
        // The one registration line.
        .env("EDGEBENCH_EXTRA_TARGETS", "toy")
        .env(
            "EDGEBENCH_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("edgebench-cache"),
        );
    cmd
}

fn end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let workers = dir.path().join("workers");
    std::fs::create_dir_all(&workers).unwrap();
    worker_link(&workers);
    let models = dir.path().join("models");

    // Discovered, with what it says about itself.
    let out = edgebench(&workers)
        .args(["list", "targets"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("toy          toy: bag-of-embeddings"),
        "{stdout}"
    );
    assert!(
        stdout.contains("--opt mix=<mean or last> [default: mean]"),
        "{stdout}"
    );

    // Planned with its own memory model: the GGUF + its f32 embeddings + its 64 MiB runtime.
    let spec = Catalog::builtin().model("llama3-8b-tiny").unwrap().clone();
    let file_bytes = synth::planned_file_bytes(&spec, Quant::Q8_0);
    let memory = toy::Toy::default().info().description.memory.unwrap();
    let expected = memory.estimate(
        &ModelFacts {
            file_bytes,
            quant: "q8_0",
            architecture: "llama",
            shape: Some(Shape {
                layers: spec.layers,
                kv_heads: spec.kv_heads,
                head_dim: spec.head_dim,
                vocab: spec.vocab_size,
                hidden: spec.hidden_size,
            }),
            kv_bytes: None,
        },
        13,
    );
    assert_eq!(expected.expanded_embeddings, 2048 * 256 * 4);
    let gib = |b: u64| format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64);
    let run = |extra: &[&str]| {
        let mut cmd = edgebench(&workers);
        cmd.args(["run", "--scenario", "llama3-8b-tiny", "--quant", "q8_0"])
            .args([
                "--target", "toy", "-p", "8", "-n", "4", "-r", "1", "--warmup", "0",
            ])
            .args(["--cooldown", "off", "--models-dir"])
            .arg(&models)
            .args(extra);
        cmd.output().unwrap()
    };
    let out = run(&["--opt", "mix=mean,last", "--dry-run"]);
    let plan = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{plan}");
    assert_eq!(plan.matches("on toy (mix=").count(), 2, "{plan}");
    assert!(
        plan.contains(&format!("~{} in memory", gib(expected.total()))),
        "{plan}"
    );

    // A value it does not take: refused before anything runs, naming the option.
    let out = run(&["--opt", "mix=median", "--dry-run"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("option mix=median: expected mean or last (toy)"),
        "{stderr}"
    );

    // Run, and the results file has its records.
    let results = dir.path().join("toy.jsonl");
    let out = run(&[
        "--opt",
        "mix=mean,last",
        "--results",
        results.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&results).unwrap();
    let tests: Vec<TestRecord> = text
        .lines()
        .filter_map(|l| match serde_json::from_str::<Record>(l).unwrap() {
            Record::Test(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(tests.len(), 4, "pp8 and tg4 for each mix: {text}");
    for t in &tests {
        assert_eq!(t.target.name, "toy");
        assert_eq!(t.status, Status::Ok, "{}: {:?}", t.test_id, t.status);
        assert!(t.target.description.is_empty(), "records leave it out");
        assert!(!t.summary.is_empty(), "{}", t.test_id);
    }
    for mix in ["mean", "last"] {
        assert_eq!(
            tests
                .iter()
                .filter(|t| t.parameters.options.get("mix").map(String::as_str) == Some(mix))
                .count(),
            2,
            "{mix}"
        );
    }
}
