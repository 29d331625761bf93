//! Our quantized Gemma (src/gemma.rs) against an independent implementation of the same model:
//! candle-transformers' `models::gemma`, the port of Hugging Face's Gemma, fed the same weights
//! renamed to Hugging Face's names. Norm weights are perturbed first so the test also checks
//! the GGUF convention (llama.cpp stores Gemma's `1 + w`; Hugging Face stores `w`).

mod common;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::gemma;
use common::*;
use edgebench_scenarios::{Catalog, Quant};
use edgebench_target_kit::target::Target;
use edgebench_target_kit::tokens::prompt_tokens;
use std::collections::HashMap;
use std::path::Path;

/// Hugging Face tensor name and whether the stored value carries llama.cpp's `+1`.
fn hf_name(gguf: &str) -> (String, bool) {
    let name = gguf.trim_end_matches(".weight");
    match name {
        "token_embd" => ("model.embed_tokens.weight".into(), false),
        "output_norm" => ("model.norm.weight".into(), true),
        _ => {
            let rest = name.strip_prefix("blk.").expect("layer tensor");
            let (layer, part) = rest.split_once('.').unwrap();
            let (hf, norm) = match part {
                "attn_q" => ("self_attn.q_proj", false),
                "attn_k" => ("self_attn.k_proj", false),
                "attn_v" => ("self_attn.v_proj", false),
                "attn_output" => ("self_attn.o_proj", false),
                "ffn_gate" => ("mlp.gate_proj", false),
                "ffn_up" => ("mlp.up_proj", false),
                "ffn_down" => ("mlp.down_proj", false),
                "attn_norm" => ("input_layernorm", true),
                "ffn_norm" => ("post_attention_layernorm", true),
                other => panic!("unexpected tensor {other}"),
            };
            (format!("model.layers.{layer}.{hf}.weight"), norm)
        }
    }
}

fn reference_model(name: &str, path: &Path) -> gemma::Model {
    let catalog = Catalog::builtin();
    let m = catalog.model(name).unwrap();
    let config: gemma::Config = serde_json::from_value(serde_json::json!({
        "attention_bias": false,
        "head_dim": m.head_dim,
        "hidden_act": "gelu_pytorch_tanh",
        "hidden_size": m.hidden_size,
        "intermediate_size": m.ffn_size,
        "num_attention_heads": m.heads,
        "num_hidden_layers": m.layers,
        "num_key_value_heads": m.kv_heads,
        "rms_norm_eps": m.rms_norm_eps,
        "rope_theta": m.rope_theta,
        "vocab_size": m.vocab_size,
        "max_position_embeddings": m.context_length,
    }))
    .unwrap();
    let mut reader = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let content = candle_core::quantized::gguf_file::Content::read(&mut reader).unwrap();
    let mut weights = HashMap::new();
    for gguf in content.tensor_infos.keys() {
        let t = content.tensor(&mut reader, gguf, &Device::Cpu).unwrap();
        let t = t.dequantize(&Device::Cpu).unwrap();
        let (hf, plus_one) = hf_name(gguf);
        let t = if plus_one { (t - 1.0).unwrap() } else { t };
        weights.insert(hf, t);
    }
    let vb = VarBuilder::from_tensors(weights, DType::F32, &Device::Cpu);
    gemma::Model::new(false, &config, vb).unwrap()
}

/// Norm weights of 1 ± 0.3, a different pattern per tensor.
fn perturb_norms(src: &Path, dst: &Path) {
    rewrite(src, dst, |_, tensors| {
        for (k, (name, t)) in tensors.iter_mut().enumerate() {
            if name.contains("norm") {
                let n = t.shape().elem_count();
                let v: Vec<f32> = (0..n)
                    .map(|i| 1.0 + 0.3 * ((i * 7 + k * 13) as f32 * 0.37).sin())
                    .collect();
                let v = Tensor::from_vec(v, n, &Device::Cpu).unwrap();
                *t = QTensor::quantize(&v, GgmlDType::F32).unwrap();
            }
        }
    });
}

fn compare(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let synth = tiny(name, Quant::F32, dir.path());
    let path = dir.path().join("perturbed.gguf");
    perturb_norms(&synth, &path);

    let (mut ours, info) = load(&path);
    let mut reference = reference_model(name, &path);
    let run_ref = |m: &mut gemma::Model, tokens: &[u32], pos: usize| -> Vec<f32> {
        let x = Tensor::new(tokens, &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        m.forward(&x, pos)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    };

    let prompt = prompt_tokens(4, 10, info.vocab_size);
    let a = ours.prefill(&prompt).unwrap();
    let b = run_ref(&mut reference, &prompt, 0);
    let scale = max_abs(&b).max(1.0);
    let diff = max_abs_diff(&a, &b);
    eprintln!("{name}: prefill max |diff| {diff} (logits up to {scale})");
    assert!(diff <= 1e-3 * scale, "{name}: prefill differs by {diff}");

    // Then a few decode steps, feeding both the same tokens.
    for (pos, tok) in (prompt.len()..).zip([300u32, 1500, 42, 2047]) {
        let a = ours.decode(tok).unwrap();
        let b = run_ref(&mut reference, &[tok], pos);
        let diff = max_abs_diff(&a, &b);
        assert!(
            diff <= 1e-3 * scale,
            "{name}: decode at {pos} differs by {diff}"
        );
    }
}

#[test]
fn gemma_2b_tiny_matches_reference() {
    compare("gemma-2b-tiny");
}

#[test]
fn gemma_7b_tiny_matches_reference() {
    compare("gemma-7b-tiny");
}
