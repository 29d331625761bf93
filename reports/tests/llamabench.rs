//! llama-bench JSON/JSONL in and out: import reads like results; export gives it back.

mod common;

use common::{check_golden, fixture_path};
use edgebench_harness::schema::metric;
use edgebench_reports::export::LlamaBenchExporter;
use edgebench_reports::llamabench::PG_TPS;
use edgebench_reports::{read_results, Exporter};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn llama_bench_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llama-bench.json")
}

#[test]
fn json_import_gives_one_test_per_object_with_samples_as_repetitions() {
    let tests = read_results(&[llama_bench_fixture()]).unwrap();
    assert_eq!(tests.len(), 3);
    let pp = &tests[0];
    assert_eq!(pp.scenario.model, "Meta-Llama-3-8B-Instruct-Q4_K_M");
    assert_eq!(pp.scenario.quant, "q4_k_m");
    assert_eq!(pp.scenario.workload, "pp512");
    assert_eq!(pp.target.name, "llamacpp");
    assert_eq!(pp.target.library_version, "b6302");
    assert_eq!(pp.target.device, "cpu");
    assert_eq!(pp.parameters.threads, 2);
    assert!(
        pp.parameters.options.is_empty(),
        "{:?}",
        pp.parameters.options
    );
    assert_eq!(
        pp.environment.device,
        "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz"
    );
    assert_eq!(pp.repetitions.len(), 3);
    // Rates from the exact nanoseconds, as llama-bench computes them.
    let first = pp.repetitions[0].metrics[metric::PP_TPS];
    assert_eq!(first, 512.0 * 1e9 / 34731129512.0);
    assert_eq!(pp.repetitions[0].timing.prefill_s, Some(34.731129512));
    assert!((pp.summary[metric::PP_TPS].mean - 14.830739).abs() < 1e-5);

    let tg = &tests[1];
    assert_eq!(tg.scenario.workload, "tg128");
    assert!(
        tg.repetitions[0].timing.decode_s.is_empty(),
        "no made-up per-token times"
    );
    assert!((tg.summary[metric::TG_TPS].mean - 5.352648).abs() < 1e-5);

    // Non-default settings become options, so they are a different test.
    let pg = &tests[2];
    assert_eq!(pg.scenario.workload, "pp512+tg128");
    let options: Vec<String> = pg
        .parameters
        .options
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    assert_eq!(
        options,
        ["batch=256", "flash_attn=1", "type_k=q8_0", "ubatch=256"]
    );
    assert!(pg.repetitions[0].metrics.contains_key(PG_TPS));
}

#[test]
fn jsonl_import_reads_the_same_tests() {
    let data: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(llama_bench_fixture()).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lb.jsonl");
    let lines: String = data.iter().map(|v| v.to_string() + "\n").collect();
    std::fs::write(&path, lines).unwrap();
    let from_jsonl = read_results(&[path]).unwrap();
    let from_json = read_results(&[llama_bench_fixture()]).unwrap();
    assert_eq!(from_jsonl.len(), 3);
    for (a, b) in from_jsonl.iter().zip(&from_json) {
        assert_eq!(a.summary, b.summary);
        assert_eq!(a.scenario, b.scenario);
        assert_eq!(a.parameters, b.parameters);
    }
}

#[test]
fn import_then_export_round_trips() {
    let original: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(llama_bench_fixture()).unwrap()).unwrap();
    let tests = read_results(&[llama_bench_fixture()]).unwrap();
    let exported: Vec<Value> =
        serde_json::from_str(&LlamaBenchExporter.export(&tests).unwrap()).unwrap();
    assert_eq!(exported.len(), original.len());
    for (o, e) in original.iter().zip(&exported) {
        let (o, e) = (o.as_object().unwrap(), e.as_object().unwrap());
        let mut keys_o: Vec<&String> = o.keys().collect();
        let mut keys_e: Vec<&String> = e.keys().collect();
        keys_o.sort();
        keys_e.sort();
        assert_eq!(keys_o, keys_e);
        for (k, v) in o {
            match k.as_str() {
                // Recomputed from the samples: equal to what llama-bench printed, to its
                // precision (6 decimals, 6 significant digits).
                "avg_ts" | "stddev_ts" => {
                    let (a, b) = (v.as_f64().unwrap(), e[k].as_f64().unwrap());
                    assert!((a - b).abs() < 2e-6, "{k}: {a} vs {b}");
                }
                "samples_ts" => {
                    for (a, b) in v.as_array().unwrap().iter().zip(e[k].as_array().unwrap()) {
                        let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
                        assert!((a - b).abs() / a < 1e-5, "{k}: {a} vs {b}");
                    }
                }
                _ => assert_eq!(v, &e[k], "{k}"),
            }
        }
    }
    // And the export reads back as the same tests.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("again.json");
    std::fs::write(&path, serde_json::to_string(&exported).unwrap()).unwrap();
    let again = read_results(&[path]).unwrap();
    for (a, b) in again.iter().zip(&tests) {
        assert_eq!(a.summary, b.summary);
        assert_eq!(a.scenario, b.scenario);
        assert_eq!(a.parameters, b.parameters);
    }
}

#[test]
fn edgebench_results_export_as_llama_bench_objects() {
    let tests = read_results(&[fixture_path()]).unwrap();
    let out = LlamaBenchExporter.export(&tests).unwrap();
    check_golden("results.llama-bench.json", &out);
    let objects: Vec<Value> = serde_json::from_str(&out).unwrap();
    // pp512, tg128, pp512+tg128 as a pp and a tg object, the interrupted gemma tg128.
    let shapes: Vec<(u64, u64)> = objects
        .iter()
        .map(|o| {
            (
                o["n_prompt"].as_u64().unwrap(),
                o["n_gen"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(shapes.len(), 5, "{shapes:?}");
    // The tg object's samples are the decode times of each repetition.
    let tg = tests
        .iter()
        .find(|t| t.scenario.workload == "tg128" && t.status.label() == "ok")
        .unwrap();
    let ns: Vec<u64> = tg
        .repetitions
        .iter()
        .map(|r| (r.timing.decode_s.iter().sum::<f64>() * 1e9).round() as u64)
        .collect();
    let found = objects
        .iter()
        .find(|o| o["samples_ns"] == serde_json::json!(ns))
        .expect("the tg128 samples");
    assert_eq!(found["model_type"], "phi3 4B Q4_K - Medium");
    assert_eq!(found["n_threads"], 4);
    assert_eq!(found["build_number"], 4589);
}

#[test]
fn a_llama_bench_object_with_bad_samples_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lb.jsonl");
    std::fs::write(
        &path,
        "{\"n_prompt\": 512, \"n_gen\": 0, \"avg_ts\": 1.0, \"samples_ns\": [1, \"x\"]}\n",
    )
    .unwrap();
    let err = read_results(&[path]).unwrap_err().to_string();
    assert!(
        err.contains("lb.jsonl:1") && err.contains("samples_ns"),
        "{err}"
    );
}

fn upstream(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/llama-bench-upstream")
        .join(name)
}

/// llama-bench's own published output at build 1275 (2023: `cuda`/`metal` flags, `mostly Q4_0`)
/// and build 5163 (2025: `backends`, `n_gpu_layers: -1`), as JSON and JSONL.
#[test]
fn upstream_llama_bench_files_of_two_schemas_import() {
    let old = read_results(&[upstream("b1275.jsonl")]).unwrap();
    assert_eq!(old.len(), 2);
    assert_eq!(old[0].scenario.model, "ggml-model-q4_0");
    assert_eq!(old[0].scenario.quant, "q4_0");
    assert_eq!(old[0].scenario.workload, "pp512");
    assert_eq!(old[1].scenario.workload, "tg128");
    assert_eq!(old[0].target.library_version, "b1275");
    assert_eq!(old[0].target.device, "cuda");
    assert_eq!(old[0].parameters.threads, 16);
    assert_eq!(old[0].repetitions.len(), 5);
    assert!((old[0].summary[metric::PP_TPS].mean - 2410.974041).abs() < 0.01);
    assert!((old[1].summary[metric::TG_TPS].mean - 130.965708).abs() < 0.01);

    let json = read_results(&[upstream("b5163.json")]).unwrap();
    let jsonl = read_results(&[upstream("b5163.jsonl")]).unwrap();
    assert_eq!(json.len(), 2);
    assert_eq!(jsonl.len(), 2);
    for new in [&json, &jsonl] {
        assert_eq!(new[0].scenario.model, "Qwen2.5-7B-Instruct-Q4_K_M");
        assert_eq!(new[0].scenario.quant, "q4_k_m");
        assert_eq!(new[0].target.library_version, "b5163");
        assert_eq!(
            new[0].target.device, "cuda",
            "n_gpu_layers -1 is all layers"
        );
        assert_eq!(new[0].scenario.workload, "pp512");
        assert_eq!(new[1].scenario.workload, "tg128");
        assert_eq!(new[0].repetitions.len(), 5);
    }
    assert!((json[0].summary[metric::PP_TPS].mean - 7100.0).abs() / 7100.0 < 0.005);
    assert!((jsonl[1].summary[metric::TG_TPS].mean - 119.84).abs() / 119.84 < 0.005);
}
