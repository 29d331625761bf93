//! The load options (batch, ubatch, ctx, flash attention, KV cache types, GPU layers) change how
//! llama.cpp computes, not what: the logits stay those of the same model.

mod common;

use common::*;
use edgebench_llamacpp::LlamaCppTarget;
use edgebench_scenarios::Quant;
use edgebench_target_kit::target::{Target, TargetError};
use edgebench_target_kit::tokens::{argmax, prompt_tokens};

fn logits_with(path: &std::path::Path, options: &[(&str, &str)], prompt: &[u32]) -> Vec<f32> {
    let mut target = LlamaCppTarget::new();
    target
        .load(&spec_with(path, options))
        .unwrap_or_else(|e| panic!("{options:?}: {e}"));
    target.prefill(prompt).unwrap()
}

#[test]
fn batch_splits_and_attention_variants_compute_the_same_logits() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny("llama3-8b-tiny", Quant::F16, dir.path());
    let prompt = prompt_tokens(3, 40, 2048);
    let base = logits_with(&path, &[], &prompt);
    let scale = max_abs(&base);
    for options in [
        // 40 tokens in 10 llama_decode calls of 4, each split into graphs of 2 tokens.
        vec![("batch", "4"), ("ubatch", "2")],
        vec![("ubatch", "8")],
        vec![("flash_attn", "0")],
        vec![("flash_attn", "1")],
        vec![
            ("flash_attn", "1"),
            ("cache_type_k", "q8_0"),
            ("cache_type_v", "q8_0"),
        ],
        vec![("ctx", "256"), ("n_gpu_layers", "0")],
    ] {
        let l = logits_with(&path, &options, &prompt);
        let d = max_abs_diff(&base, &l);
        assert!(d <= 0.02 * scale, "{options:?}: {d} vs scale {scale}");
        assert_eq!(argmax(&l), argmax(&base), "{options:?}");
    }
}

#[test]
fn bad_options_are_refused_at_load_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny("phi3-mini-tiny", Quant::Q8_0, dir.path());
    for (options, needle) in [
        (vec![("batch", "0")], "batch=0"),
        (vec![("flash_attn", "maybe")], "flash_attn=maybe"),
        (vec![("cache_type_v", "q2_k")], "cache_type_v=q2_k"),
        (vec![("device", "cpu")], "unknown option `device`"),
        (vec![("ctx", "32")], "ctx=32"),
    ] {
        let err = LlamaCppTarget::new()
            .load(&spec_with(&path, &options))
            .unwrap_err();
        assert!(matches!(err, TargetError::Unsupported(_)), "{err}");
        assert!(err.to_string().contains(needle), "{options:?}: {err}");
    }
}

#[test]
fn sequences_longer_than_the_context_are_refused_not_crashed() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny("gemma-2b-tiny", Quant::Q4KM, dir.path());
    let (mut target, info) = load(&path);
    let n_ctx = info.max_context.unwrap();
    target.prefill(&vec![300; n_ctx - 1]).unwrap();
    target.decode(301).unwrap();
    let err = target.decode(302).unwrap_err();
    assert!(matches!(err, TargetError::Unsupported(_)), "{err}");
    target.reset().unwrap();
    target.decode(302).unwrap();
}
