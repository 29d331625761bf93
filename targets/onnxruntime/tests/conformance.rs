//! The target kit's conformance suite on ONNX Runtime: GenAI folders, Optimum Whisper folders,
//! and the worker binary.

mod common;

use edgebench_onnxruntime::whisper::OrtWhisper;
use edgebench_onnxruntime::Ep;
use edgebench_scenarios::onnx::OnnxQuant;
use edgebench_scenarios::whisper::{cache, WhisperFormat, WhisperQuant};
use edgebench_scenarios::Catalog;
use edgebench_target_kit::conformance;
use edgebench_target_kit::protocol::{Request, RunSpec};

#[test]
fn onnxruntime_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let folder = common::tiny("llama3-8b-tiny", OnnxQuant::Int4, dir.path());
    conformance::llm(common::target, &folder, &common::spec(&folder, 64));
}

#[test]
fn onnxruntime_whisper_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Catalog::builtin()
        .whisper_model("whisper-tiny-test")
        .unwrap()
        .clone();
    let folder = dir.path().join("tiny-f32-onnx");
    cache::write(
        &spec,
        WhisperQuant::F32,
        WhisperFormat::Onnx,
        common::SEED,
        &folder,
        &mut |_, _| {},
    )
    .unwrap();
    conformance::speech(
        || OrtWhisper::new("onnxruntime", Ep::Cpu).unwrap(),
        &folder,
        &common::spec(&folder, 80),
    );
}

#[test]
fn onnxruntime_worker_reports_its_crash() {
    let dir = tempfile::tempdir().unwrap();
    let folder = common::tiny("phi3-mini-tiny", OnnxQuant::Int4, dir.path());
    conformance::worker_crash(
        env!("CARGO_BIN_EXE_edgebench-worker-onnxruntime").as_ref(),
        &[],
        &common::spec(&folder, 40),
        &Request::Run(RunSpec {
            prompt: 8,
            gen: 2,
            seed: 1,
        }),
    );
}
