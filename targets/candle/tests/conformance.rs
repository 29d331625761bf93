//! The target kit's conformance suite on candle: the language-model target, its Whisper, and
//! the worker binary.

mod common;

use common::*;
use edgebench_candle::whisper::CandleWhisper;
use edgebench_candle::CandleTarget;
use edgebench_scenarios::whisper::{cache, WhisperFormat, WhisperQuant};
use edgebench_scenarios::{Catalog, Quant};
use edgebench_target_kit::conformance;
use edgebench_target_kit::protocol::{Request, RunSpec};

#[test]
fn candle_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny("llama3-8b-tiny", Quant::Q4_0, dir.path());
    conformance::llm(CandleTarget::new, &model, &spec(&model));
}

#[test]
fn candle_whisper_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let spec_w = Catalog::builtin()
        .whisper_model("whisper-tiny-test")
        .unwrap()
        .clone();
    let folder = dir.path().join("tiny-q8_0");
    cache::write(
        &spec_w,
        WhisperQuant::Q8_0,
        WhisperFormat::Gguf,
        SEED,
        &folder,
        &mut |_, _| {},
    )
    .unwrap();
    let mut load = spec(&folder);
    load.context = 80;
    conformance::speech(CandleWhisper::new, &folder, &load);
}

#[test]
fn candle_worker_reports_its_crash() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny("gemma-2b-tiny", Quant::Q8_0, dir.path());
    conformance::worker_crash(
        env!("CARGO_BIN_EXE_edgebench-worker-candle").as_ref(),
        &[],
        &spec(&model),
        &Request::Run(RunSpec {
            prompt: 8,
            gen: 2,
            seed: 1,
        }),
    );
}
