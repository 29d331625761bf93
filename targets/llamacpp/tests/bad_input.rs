//! Bad model files and bad requests give one clear error naming the file, never a panic or a
//! crash of the process.

mod common;

use common::*;
use edgebench_harness::target::{Target, TargetError};
use edgebench_llamacpp::LlamaCppTarget;
use edgebench_scenarios::Quant;
use std::path::Path;

fn load_err(path: &Path) -> String {
    match LlamaCppTarget::new().load(&spec(path)) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => {
            let msg = e.to_string();
            eprintln!("error: {msg}");
            assert!(!msg.contains('\n'), "one line: {msg}");
            assert!(
                msg.contains(&path.display().to_string()),
                "names the file: {msg}"
            );
            msg
        }
    }
}

#[test]
fn missing_empty_and_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let msg = load_err(&dir.path().join("nope.gguf"));
    assert!(msg.contains("cannot open"), "{msg}");
    let empty = dir.path().join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    load_err(&empty);
    let text = dir.path().join("text.gguf");
    std::fs::write(&text, "this is not a model\n".repeat(100)).unwrap();
    load_err(&text);
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

#[test]
fn bad_calls() {
    let mut target = LlamaCppTarget::new();
    assert!(matches!(target.decode(1), Err(TargetError::NotLoaded)));
    assert!(matches!(target.reset(), Err(TargetError::NotLoaded)));

    let dir = tempfile::tempdir().unwrap();
    let (mut target, info) = load(&tiny("phi3-mini-tiny", Quant::Q4KM, dir.path()));
    let msg = target.prefill(&[]).unwrap_err().to_string();
    assert!(msg.contains("zero tokens"), "{msg}");
    let msg = target
        .prefill(&[300, info.vocab_size as u32])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("outside the vocabulary"), "{msg}");
    // The failed calls left the sequence empty and the target usable.
    target.decode(5).unwrap();
}
