//! Bad model files give one clear error naming the file, never a panic or a crash of the
//! process: what llama.cpp itself says. Missing, empty and foreign files, calls before a load
//! and the shared guards are the conformance suite's (tests/conformance.rs).

mod common;

use common::*;
use edgebench_llamacpp::LlamaCppTarget;
use edgebench_scenarios::Quant;
use edgebench_target_kit::conformance;
use edgebench_target_kit::target::Target;
use std::path::Path;

fn load_err(path: &Path) -> String {
    conformance::load_error(LlamaCppTarget::new().load(&spec(path)).map(|_| ()), path)
}

/// Tensor data cut short: llama.cpp itself sees it (the CLI's header check is not involved
/// here) and says which tensor.
#[test]
fn truncated_file_names_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let good = tiny("llama3-8b-tiny", Quant::Q4_0, dir.path());
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() - 1000]).unwrap();
    let msg = load_err(&cut);
    assert!(msg.contains("tensor"), "{msg}");
    let header = dir.path().join("header.gguf");
    std::fs::write(&header, &bytes[..200]).unwrap();
    load_err(&header);
}

#[test]
fn unknown_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let src = tiny("llama3-8b-tiny", Quant::Q8_0, dir.path());
    let dst = dir.path().join("bert-ish.gguf");
    rewrite(&src, &dst, |md| {
        md.insert(
            "general.architecture".into(),
            candle_core::quantized::gguf_file::Value::String("nonesuch".into()),
        );
    });
    let msg = load_err(&dst);
    assert!(msg.contains("nonesuch"), "{msg}");
}
