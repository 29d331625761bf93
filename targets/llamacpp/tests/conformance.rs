//! The target kit's conformance suite on llama.cpp and its worker binary.

mod common;

use common::*;
use edgebench_llamacpp::LlamaCppTarget;
use edgebench_scenarios::Quant;
use edgebench_target_kit::conformance;
use edgebench_target_kit::protocol::{Request, RunSpec};

#[test]
fn llamacpp_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny("llama3-8b-tiny", Quant::Q4_0, dir.path());
    conformance::llm(LlamaCppTarget::new, &model, &spec(&model));
}

#[test]
fn llamacpp_worker_reports_its_crash() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny("phi3-mini-tiny", Quant::Q8_0, dir.path());
    conformance::worker_crash(
        env!("CARGO_BIN_EXE_edgebench-worker-llamacpp").as_ref(),
        &[],
        &spec(&model),
        &Request::Run(RunSpec {
            prompt: 8,
            gen: 2,
            seed: 1,
        }),
    );
}
