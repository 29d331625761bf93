//! The GGUF metadata of a synthetic model: llama.cpp's keys for the architecture, edgebench's
//! own (`edgebench.synthetic`, `.seed`, `.generator_version`) and a SentencePiece vocabulary.

use crate::catalog::{Arch, ModelSpec, Quant};
use candle_core::quantized::gguf_file::Value;

/// Version of the weight generator and file layout. Bump it whenever the bytes written for a
/// given (spec, quant, seed) change, so caches never reuse an old file.
pub const GENERATOR_VERSION: u32 = 4;

/// `general.alignment` of the files written (candle's writer pads to 32 bytes).
pub const ALIGNMENT: u64 = 32;

/// The GGUF metadata of a synthetic model, in file order.
pub(crate) fn metadata(model: &ModelSpec, quant: Quant, seed: u64) -> Vec<(String, Value)> {
    let mut md = general(model, quant);
    md.extend(hyperparameters(model));
    md.push(("edgebench.synthetic".into(), Value::Bool(true)));
    md.push(("edgebench.seed".into(), Value::U64(seed)));
    md.push((
        "edgebench.generator_version".into(),
        Value::U32(GENERATOR_VERSION),
    ));
    md.extend(vocabulary(model));
    md
}

fn general(model: &ModelSpec, quant: Quant) -> Vec<(String, Value)> {
    vec![
        (
            "general.architecture".into(),
            Value::String(model.arch.gguf_name().into()),
        ),
        (
            "general.name".into(),
            Value::String(format!("synthetic {}", model.display_name)),
        ),
        (
            "general.file_type".into(),
            Value::U32(quant.gguf_file_type()),
        ),
        ("general.quantization_version".into(), Value::U32(2)),
        ("general.alignment".into(), Value::U32(ALIGNMENT as u32)),
    ]
}

/// `<arch>.*`: the shape as llama.cpp's loader for the architecture reads it.
fn hyperparameters(model: &ModelSpec) -> Vec<(String, Value)> {
    let arch = model.arch.gguf_name();
    let u = |x: usize| Value::U32(x as u32);
    let mut md = Vec::new();
    let mut a = |k: &str, v: Value| md.push((format!("{arch}.{k}"), v));
    a("context_length", u(model.context_length));
    a("embedding_length", u(model.hidden_size));
    a("block_count", u(model.layers));
    a("feed_forward_length", u(model.ffn_size));
    a("attention.head_count", u(model.heads));
    a("attention.head_count_kv", u(model.kv_heads));
    a(
        "attention.layer_norm_rms_epsilon",
        Value::F32(model.rms_norm_eps as f32),
    );
    a("rope.dimension_count", u(model.head_dim));
    a("rope.freq_base", Value::F32(model.rope_theta as f32));
    match model.arch {
        Arch::Gemma => {
            a("attention.key_length", u(model.head_dim));
            a("attention.value_length", u(model.head_dim));
        }
        Arch::Llama => a("vocab_size", u(model.vocab_size)),
        Arch::Phi3 => {}
    }
    md
}

/// SentencePiece ("llama") vocabulary: specials, the 256 byte tokens, then short fillers.
fn vocabulary(model: &ModelSpec) -> Vec<(String, Value)> {
    let n = model.vocab_size;
    let mut tokens = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    for (t, ty) in [("<unk>", 2), ("<s>", 3), ("</s>", 3)] {
        tokens.push(Value::String(t.into()));
        scores.push(Value::F32(0.0));
        types.push(Value::I32(ty));
    }
    for b in 0..=255u8 {
        tokens.push(Value::String(format!("<0x{b:02X}>")));
        scores.push(Value::F32(0.0));
        types.push(Value::I32(6));
    }
    let first = tokens.len();
    for i in first..n {
        tokens.push(Value::String(format!("t{i}")));
        scores.push(Value::F32(-((i - first) as f32)));
        types.push(Value::I32(1));
    }
    // llama.cpp gives Phi-3 vocabularies (recognised by "phi-3" in general.name) attributes for
    // `<|endoftext|>` and refuses to load one without it: put it where Phi-3 has it (id 32000),
    // or last in a smaller vocabulary.
    if model.arch == Arch::Phi3 && n > first {
        let id = 32000.min(n - 1);
        tokens[id] = Value::String("<|endoftext|>".into());
        scores[id] = Value::F32(0.0);
        types[id] = Value::I32(3);
    }
    tokens.truncate(n);
    scores.truncate(n);
    types.truncate(n);
    vec![
        ("tokenizer.ggml.model".into(), Value::String("llama".into())),
        ("tokenizer.ggml.tokens".into(), Value::Array(tokens)),
        ("tokenizer.ggml.scores".into(), Value::Array(scores)),
        ("tokenizer.ggml.token_type".into(), Value::Array(types)),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(1)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(2)),
        ("tokenizer.ggml.unknown_token_id".into(), Value::U32(0)),
    ]
}
