//! Bad model files give one clear error naming the file, never a panic: candle's own GGUF
//! checks. Missing, empty and foreign files, calls before a load and the shared guards are the
//! conformance suite's (tests/conformance.rs).

mod common;

use candle_core::quantized::gguf_file::Value;
use common::*;
use edgebench_candle::CandleTarget;
use edgebench_scenarios::Quant;
use edgebench_target_kit::conformance;
use edgebench_target_kit::target::{Target, TargetError};
use std::path::Path;

fn load_err(path: &Path) -> String {
    conformance::load_error(CandleTarget::new().load(&spec(path)).map(|_| ()), path)
}

#[test]
fn truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = tiny("llama3-8b-tiny", Quant::Q4_0, dir.path());
    let bytes = std::fs::read(&good).unwrap();

    // Cut in the tensor data: the header parses, the last tensor is missing.
    let cut = dir.path().join("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() - 1000]).unwrap();
    let msg = load_err(&cut);
    assert!(msg.contains("truncated: tensor "), "{msg}");
    assert!(
        msg.contains(&format!("but the file has {}", bytes.len() - 1000)),
        "{msg}"
    );

    // Cut in the header.
    let header = dir.path().join("header.gguf");
    std::fs::write(&header, &bytes[..200]).unwrap();
    let msg = load_err(&header);
    assert!(msg.contains("not a readable GGUF file"), "{msg}");

    // Empty, and not a GGUF at all.
    let empty = dir.path().join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    assert!(load_err(&empty).contains("empty file"));
    let text = dir.path().join("text.gguf");
    std::fs::write(&text, "this is not a model\n".repeat(100)).unwrap();
    let msg = load_err(&text);
    assert!(msg.contains("not a readable GGUF file"), "{msg}");
}

fn with_architecture(dir: &Path, model: &str, arch: Option<&str>) -> std::path::PathBuf {
    let src = tiny(model, Quant::Q8_0, dir);
    let dst = dir.join(format!("{model}-as-{}.gguf", arch.unwrap_or("none")));
    rewrite(&src, &dst, |md, _| match arch {
        Some(a) => {
            md.insert("general.architecture".into(), Value::String(a.into()));
        }
        None => {
            md.remove("general.architecture");
        }
    });
    dst
}

#[test]
fn wrong_architecture() {
    let dir = tempfile::tempdir().unwrap();

    let bert = with_architecture(dir.path(), "llama3-8b-tiny", Some("bert"));
    let mut target = CandleTarget::new();
    let err = target.load(&spec(&bert)).unwrap_err();
    assert!(matches!(err, TargetError::Unsupported(_)), "{err}");
    let msg = load_err(&bert);
    assert!(msg.contains("`bert`"), "{msg}");

    let none = with_architecture(dir.path(), "llama3-8b-tiny", None);
    let msg = load_err(&none);
    assert!(msg.contains("general.architecture"), "{msg}");

    // A known architecture whose keys and tensors are not in the file.
    let gemma_as_llama = with_architecture(dir.path(), "gemma-2b-tiny", Some("llama"));
    let msg = load_err(&gemma_as_llama);
    assert!(msg.contains("llama"), "{msg}");
    let llama_as_gemma = with_architecture(dir.path(), "llama3-8b-tiny", Some("gemma"));
    let msg = load_err(&llama_as_gemma);
    assert!(msg.contains("gemma"), "{msg}");
    let llama_as_phi3 = with_architecture(dir.path(), "llama3-8b-tiny", Some("phi3"));
    load_err(&llama_as_phi3);
}

/// A tensor of the wrong shape is caught at load (for the model written here).
#[test]
fn wrong_tensor_shape() {
    let dir = tempfile::tempdir().unwrap();
    let src = tiny("gemma-7b-tiny", Quant::F32, dir.path());
    let dst = dir.path().join("bad-shape.gguf");
    rewrite(&src, &dst, |md, _| {
        md.insert("gemma.attention.key_length".into(), Value::U32(64));
        md.insert("gemma.attention.value_length".into(), Value::U32(64));
        md.insert("gemma.rope.dimension_count".into(), Value::U32(64));
    });
    let msg = load_err(&dst);
    assert!(msg.contains("blk.0.attn_q.weight has shape"), "{msg}");
}

#[test]
fn too_long_sequences_are_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    for name in TINY {
        let path = tiny(name, Quant::Q4_0, dir.path());
        let mut target = CandleTarget::new();
        let mut long = spec(&path);
        long.context = 513;
        let err = target.load(&long).unwrap_err();
        assert!(matches!(err, TargetError::Unsupported(_)), "{name}: {err}");

        let (mut target, info) = load(&path);
        assert_eq!(info.max_context, Some(512));
        target.prefill(&vec![300; 500]).unwrap();
        let err = target.prefill(&[300; 13]).unwrap_err();
        assert!(matches!(err, TargetError::Unsupported(_)), "{name}: {err}");
        assert!(err.to_string().contains("up to 512"), "{err}");
        for _ in 0..12 {
            target.decode(301).unwrap();
        }
        assert!(matches!(
            target.decode(302).unwrap_err(),
            TargetError::Unsupported(_)
        ));
        target.reset().unwrap();
        target.decode(302).unwrap();
    }
}

#[test]
fn other_thread_counts_are_refused_in_the_same_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny("llama3-8b-tiny", Quant::Q4_0, dir.path());
    load(&path);
    let mut other = spec(&path);
    other.threads = THREADS + 1;
    let err = CandleTarget::new().load(&other).unwrap_err();
    assert!(err.to_string().contains("thread pools"), "{err}");
}
