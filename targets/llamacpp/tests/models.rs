//! llama.cpp loads the tiny synthetic models of every architecture and runs them as the
//! harness does: prefill, decode with the KV cache, reset.

mod common;

use common::*;
use edgebench_scenarios::Quant;
use edgebench_target_kit::target::Target;
use edgebench_target_kit::tokens::{argmax, prompt_tokens};

const QUANTS: [Quant; 3] = [Quant::F16, Quant::Q8_0, Quant::Q4KM];

#[test]
fn every_tiny_model_loads_prefills_and_decodes() {
    let dir = tempfile::tempdir().unwrap();
    for name in TINY {
        for quant in QUANTS {
            let path = tiny(name, quant, dir.path());
            let (mut target, info) = load(&path);
            let what = format!("{name} {quant}");
            assert_eq!(info.architecture, arch_of(name), "{what}");
            assert_eq!(info.vocab_size, 2048, "{what}");
            assert_eq!(info.quant.as_deref(), Some(quant.name()), "{what}");
            assert!(info.parameters.unwrap() > 1_000_000, "{what}");
            assert!(info.weight_bytes.unwrap() > 0, "{what}");
            assert!(info.max_context.unwrap() >= 64, "{what}");

            let prompt = prompt_tokens(1, 16, info.vocab_size);
            let logits = target.prefill(&prompt).unwrap();
            assert_eq!(logits.len(), 2048, "{what}");
            assert!(logits.iter().all(|x| x.is_finite()), "{what}");
            assert!(max_abs(&logits) > 0.0, "{what}: all-zero logits");
            let mut next = argmax(&logits).unwrap();
            for _ in 0..4 {
                let l = target.decode(next).unwrap();
                assert_eq!(l.len(), 2048);
                next = argmax(&l).unwrap();
            }

            // After a reset the same prompt gives the same logits (a cleared cache), and the
            // cache is used: prefill of n-1 tokens then a decode of the last one gives the
            // logits of the whole prompt in one batch.
            target.reset().unwrap();
            let again = target.prefill(&prompt).unwrap();
            assert!(
                max_abs_diff(&logits, &again) <= 1e-4 * max_abs(&logits),
                "{what}"
            );
            target.reset().unwrap();
            target.prefill(&prompt[..15]).unwrap();
            let stepped = target.decode(prompt[15]).unwrap();
            // llama.cpp multiplies a batch and a single token with different kernels
            // (activation rounding differs); Gemma's large synthetic residual magnifies that
            // to about 3% at 4 bits.
            let d = max_abs_diff(&logits, &stepped);
            assert!(
                d <= 0.05 * max_abs(&logits),
                "{what}: {d} vs {}",
                max_abs(&logits)
            );
            assert_eq!(argmax(&stepped), argmax(&logits), "{what}");
        }
    }
}

fn arch_of(name: &str) -> &'static str {
    match name.split('-').next().unwrap() {
        "llama3" => "llama",
        "phi3" => "phi3",
        _ => "gemma",
    }
}

/// Q4_0 weights go through llama.cpp's repacked (interleaved) CPU kernels.
#[test]
fn q4_0_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (mut target, info) = load(&tiny("llama3-8b-tiny", Quant::Q4_0, dir.path()));
    assert_eq!(info.quant.as_deref(), Some("q4_0"));
    let logits = target
        .prefill(&prompt_tokens(2, 8, info.vocab_size))
        .unwrap();
    assert!(logits.iter().all(|x| x.is_finite()) && max_abs(&logits) > 0.0);
}

/// The roofline's bytes per token: every tensor, less an untied model's embedding (only looked
/// up); the same figure candle's target and the file itself give.
#[test]
fn weight_bytes_leave_out_an_untied_embedding() {
    use candle_core::quantized::gguf_file::Content;
    use edgebench_scenarios::gguf;
    let dir = tempfile::tempdir().unwrap();
    for name in TINY {
        let path = tiny(name, Quant::Q8_0, dir.path());
        let (_target, info) = load(&path);
        let content = Content::read(&mut std::fs::File::open(&path).unwrap()).unwrap();
        let total = gguf::total_bytes(&content);
        let embd = gguf::tensor_bytes(&content.tensor_infos["token_embd.weight"]);
        let tied = !content.tensor_infos.contains_key("output.weight");
        let expected = if tied { total } else { total - embd };
        assert_eq!(info.weight_bytes, Some(expected), "{name} (tied: {tied})");
        assert_eq!(tied, name.starts_with("gemma"), "{name}");
    }
}
