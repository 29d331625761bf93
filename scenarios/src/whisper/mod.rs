//! Whisper: sizes, quantizations, workloads, and synthetic models in every format a speech
//! target reads, all with the same weights for one seed.
//!
//! The architecture is OpenAI's (`whisper/model.py`): two 1-D convolutions (the second with
//! stride 2), sinusoidal positions and pre-LN transformer blocks in the audio encoder; learned
//! positions, self-attention, cross-attention and an MLP per block in the text decoder, whose
//! output projection is the token embedding. Tensors are named here as in OpenAI's state dict
//! (what whisper.cpp's `ggml-*.bin` keeps); [`hf_name`] gives Hugging Face's names.
//!
//! Formats ([`WhisperFormat`]):
//! - `whisper-ggml`: whisper.cpp's `ggml-*.bin` ([`ggml`]), F16 or quantized as its
//!   `quantize` tool writes them;
//! - `whisper-safetensors`: a Hugging Face folder (`config.json` + `model.safetensors`, F32
//!   or F16), what candle-transformers' `whisper::model` loads ([`hf`]);
//! - `whisper-gguf`: `config.json` + `model.gguf` with candle's names, what
//!   candle-transformers' `whisper::quantized_model` loads ([`hf`]);
//! - `whisper-onnx`: a Hugging Face Optimum export folder for ONNX Runtime (`encoder_model.onnx`,
//!   `decoder_model.onnx`, `decoder_with_past_model.onnx`), f32, f16 or dynamic int8 ([`onnx`]).
//!
//! Weights come from [`crate::synth`]'s generator keyed by (seed, OpenAI tensor name), so the
//! f32 values are identical in every format before conversion; the encoder's positional
//! embedding is the exact sinusoid table every implementation uses.

pub mod audio;
pub mod cache;
pub mod ggml;
pub mod hf;
pub mod mel;
pub mod onnx;

use crate::catalog::{Catalog, CatalogError, WhisperSpec};
use crate::synth::{self, Init};
use candle_core::quantized::{GgmlDType, QStorage, QTensor};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Weight formats of Whisper models across engines, named as each engine's tools name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum WhisperQuant {
    F32,
    F16,
    Q8_0,
    Q5_0,
    /// ONNX Runtime's dynamic int8 quantization (MatMulInteger).
    Int8,
}

impl WhisperQuant {
    pub const ALL: [WhisperQuant; 5] = [
        WhisperQuant::F32,
        WhisperQuant::F16,
        WhisperQuant::Q8_0,
        WhisperQuant::Q5_0,
        WhisperQuant::Int8,
    ];

    pub fn name(self) -> &'static str {
        match self {
            WhisperQuant::F32 => "f32",
            WhisperQuant::F16 => "f16",
            WhisperQuant::Q8_0 => "q8_0",
            WhisperQuant::Q5_0 => "q5_0",
            WhisperQuant::Int8 => "int8",
        }
    }

    pub fn parse(s: &str) -> Result<WhisperQuant, CatalogError> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        let norm = match norm.as_str() {
            "fp32" => "f32",
            "fp16" => "f16",
            other => other,
        };
        WhisperQuant::ALL
            .into_iter()
            .find(|q| q.name() == norm)
            .ok_or_else(|| CatalogError::Unknown {
                kind: "Whisper quantization",
                name: s.to_string(),
                known: WhisperQuant::ALL
                    .iter()
                    .map(|q| q.name().to_string())
                    .collect(),
            })
    }

    /// Formats that hold this quantization, in order of preference.
    pub fn formats(self) -> &'static [WhisperFormat] {
        use WhisperFormat as F;
        match self {
            WhisperQuant::F32 | WhisperQuant::F16 => &[F::Ggml, F::Safetensors, F::Onnx],
            WhisperQuant::Q8_0 | WhisperQuant::Q5_0 => &[F::Ggml, F::Gguf],
            WhisperQuant::Int8 => &[F::Onnx],
        }
    }

    /// The ggml type of the big 2-D weights (`None` for int8, which is ONNX only).
    pub fn matrix_dtype(self) -> Option<GgmlDType> {
        match self {
            WhisperQuant::F32 => Some(GgmlDType::F32),
            WhisperQuant::F16 => Some(GgmlDType::F16),
            WhisperQuant::Q8_0 => Some(GgmlDType::Q8_0),
            WhisperQuant::Q5_0 => Some(GgmlDType::Q5_0),
            WhisperQuant::Int8 => None,
        }
    }
}

impl fmt::Display for WhisperQuant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Whisper model format; the name is what targets list in `TargetInfo::formats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum WhisperFormat {
    /// whisper.cpp's `ggml-*.bin`.
    Ggml,
    /// Hugging Face folder: `config.json` + `model.safetensors`.
    Safetensors,
    /// `config.json` + `model.gguf` with Hugging Face tensor names (candle's quantized Whisper).
    Gguf,
    /// Hugging Face Optimum ONNX export folder (`encoder_model.onnx`, `decoder_model_merged.onnx`).
    Onnx,
}

impl WhisperFormat {
    pub const ALL: [WhisperFormat; 4] = [
        WhisperFormat::Ggml,
        WhisperFormat::Safetensors,
        WhisperFormat::Gguf,
        WhisperFormat::Onnx,
    ];

    pub fn name(self) -> &'static str {
        match self {
            WhisperFormat::Ggml => "whisper-ggml",
            WhisperFormat::Safetensors => "whisper-safetensors",
            WhisperFormat::Gguf => "whisper-gguf",
            WhisperFormat::Onnx => "whisper-onnx",
        }
    }

    pub fn from_name(name: &str) -> Option<WhisperFormat> {
        WhisperFormat::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Quantizations this format holds.
    pub fn quants(self) -> Vec<WhisperQuant> {
        WhisperQuant::ALL
            .into_iter()
            .filter(|q| q.formats().contains(&self))
            .collect()
    }
}

impl fmt::Display for WhisperFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A speech workload on the first 30 s window of the clip (see `edgebench_harness::speech`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhisperWorkload {
    /// `transcribe-30s`, `encode`, `decode-t64`.
    pub name: String,
    /// Time the log-mel spectrogram.
    pub mel: bool,
    /// Time the encoder.
    pub encode: bool,
    /// Single-token decoder steps after the start-of-transcript prompt.
    pub decode: usize,
    pub description: String,
}

/// A named set of Whisper scenarios.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhisperSuite {
    pub name: String,
    pub description: String,
    pub models: Vec<String>,
    pub quants: Vec<WhisperQuant>,
    pub workloads: Vec<String>,
}

impl Catalog {
    pub fn whisper_model(&self, name: &str) -> Result<&WhisperSpec, CatalogError> {
        self.whisper
            .iter()
            .find(|w| w.name == name)
            .ok_or_else(|| CatalogError::Unknown {
                kind: "Whisper model",
                name: name.to_string(),
                known: self.whisper.iter().map(|w| w.name.clone()).collect(),
            })
    }

    /// A catalog workload, or `decode-tN` for any N.
    pub fn whisper_workload(&self, name: &str) -> Result<WhisperWorkload, CatalogError> {
        if let Some(w) = self.whisper_workloads.iter().find(|w| w.name == name) {
            return Ok(w.clone());
        }
        if let Some(n) = name
            .strip_prefix("decode-t")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n > 0)
        {
            return Ok(WhisperWorkload {
                name: name.to_string(),
                mel: false,
                encode: false,
                decode: n,
                description: format!("{n} single-token decoder steps with the KV cache"),
            });
        }
        let mut known: Vec<String> = self
            .whisper_workloads
            .iter()
            .map(|w| w.name.clone())
            .collect();
        known.push("decode-tN".into());
        Err(CatalogError::Unknown {
            kind: "Whisper workload",
            name: name.to_string(),
            known,
        })
    }

    pub fn whisper_suite(&self, name: &str) -> Result<&WhisperSuite, CatalogError> {
        self.whisper_suites
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| CatalogError::Unknown {
                kind: "Whisper suite",
                name: name.to_string(),
                known: self.whisper_suites.iter().map(|s| s.name.clone()).collect(),
            })
    }
}

impl WhisperSpec {
    /// Check the shape is one whisper.cpp and the others accept.
    pub fn validate(&self) -> Result<(), String> {
        let bad = |m: String| Err(format!("whisper model '{}': {m}", self.name));
        if self.n_audio_state != self.n_text_state {
            return bad(
                "n_audio_state and n_text_state must be equal (whisper.cpp asserts it)".into(),
            );
        }
        if self.n_audio_head == 0
            || !self.n_audio_state.is_multiple_of(self.n_audio_head)
            || self.n_text_head == 0
            || !self.n_text_state.is_multiple_of(self.n_text_head)
        {
            return bad("the width must be a multiple of the head counts".into());
        }
        if !self.n_audio_state.is_multiple_of(32) {
            return bad("the width must be a multiple of 32 (quantization blocks)".into());
        }
        if self.n_audio_ctx != 1500 || self.n_mels != 80 && self.n_mels != 128 {
            return bad("n_audio_ctx must be 1500 (30 s) and n_mels 80 or 128".into());
        }
        if self.n_vocab < 51864 {
            return bad(format!(
                "n_vocab ({}) must be Whisper's (51864 English, 51865+ multilingual)",
                self.n_vocab
            ));
        }
        Ok(())
    }

    /// Whether the vocabulary is multilingual (51865+ tokens).
    pub fn multilingual(&self) -> bool {
        self.n_vocab >= 51865
    }

    /// Parameters (weights only), counted from the shapes.
    pub fn parameter_count(&self) -> u64 {
        tensors(self).iter().map(|t| t.elements()).sum()
    }
}

/// What a tensor is: decides its initial values and its type in each format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorKind {
    /// Encoder positions: the sinusoid table.
    Sinusoids,
    /// Decoder positions (learned).
    Positions,
    TokenEmbedding,
    ConvWeight,
    ConvBias,
    /// A linear layer's weight; `residual` for the outputs that add into the residual stream.
    Linear {
        residual: bool,
    },
    Bias,
    NormWeight,
    NormBias,
}

/// One tensor with OpenAI's name and PyTorch shape (outermost first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhisperTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub kind: TensorKind,
}

impl WhisperTensor {
    pub fn elements(&self) -> u64 {
        self.shape.iter().map(|&d| d as u64).product()
    }

    /// The ggml type of this tensor in whisper.cpp's files and candle's GGUF at `quant`:
    /// as whisper.cpp's converter and `quantize` tool write them: positions and 1-D tensors
    /// F32, convolutions F16 (F32 in an all-F32 file), other 2-D tensors in the quant type.
    pub fn ggml_dtype(&self, quant: WhisperQuant) -> GgmlDType {
        let matrix = quant.matrix_dtype().unwrap_or(GgmlDType::F32);
        if matrix == GgmlDType::F32 {
            return GgmlDType::F32;
        }
        match self.kind {
            TensorKind::Sinusoids
            | TensorKind::Positions
            | TensorKind::ConvBias
            | TensorKind::Bias
            | TensorKind::NormWeight
            | TensorKind::NormBias => GgmlDType::F32,
            TensorKind::ConvWeight => GgmlDType::F16,
            TensorKind::TokenEmbedding | TensorKind::Linear { .. } => matrix,
        }
    }
}

/// Every tensor of `spec`, in the order of OpenAI's state dict (what whisper.cpp's converter
/// writes and its quantize tool keeps).
pub fn tensors(spec: &WhisperSpec) -> Vec<WhisperTensor> {
    let s = spec.n_audio_state;
    let mut out = Vec::new();
    let mut push = |name: String, shape: Vec<usize>, kind: TensorKind| {
        out.push(WhisperTensor { name, shape, kind });
    };
    let block =
        |push: &mut dyn FnMut(String, Vec<usize>, TensorKind), prefix: &str, cross: bool| {
            let attn = |push: &mut dyn FnMut(String, Vec<usize>, TensorKind), a: &str| {
                let n = |x: &str| format!("{prefix}.{a}.{x}");
                push(
                    n("query.weight"),
                    vec![s, s],
                    TensorKind::Linear { residual: false },
                );
                push(n("query.bias"), vec![s], TensorKind::Bias);
                push(
                    n("key.weight"),
                    vec![s, s],
                    TensorKind::Linear { residual: false },
                );
                push(
                    n("value.weight"),
                    vec![s, s],
                    TensorKind::Linear { residual: false },
                );
                push(n("value.bias"), vec![s], TensorKind::Bias);
                push(
                    n("out.weight"),
                    vec![s, s],
                    TensorKind::Linear { residual: true },
                );
                push(n("out.bias"), vec![s], TensorKind::Bias);
                push(
                    format!("{prefix}.{a}_ln.weight"),
                    vec![s],
                    TensorKind::NormWeight,
                );
                push(
                    format!("{prefix}.{a}_ln.bias"),
                    vec![s],
                    TensorKind::NormBias,
                );
            };
            attn(push, "attn");
            if cross {
                attn(push, "cross_attn");
            }
            let n = |x: &str| format!("{prefix}.{x}");
            push(
                n("mlp.0.weight"),
                vec![4 * s, s],
                TensorKind::Linear { residual: false },
            );
            push(n("mlp.0.bias"), vec![4 * s], TensorKind::Bias);
            push(
                n("mlp.2.weight"),
                vec![s, 4 * s],
                TensorKind::Linear { residual: true },
            );
            push(n("mlp.2.bias"), vec![s], TensorKind::Bias);
            push(n("mlp_ln.weight"), vec![s], TensorKind::NormWeight);
            push(n("mlp_ln.bias"), vec![s], TensorKind::NormBias);
        };
    push(
        "encoder.positional_embedding".into(),
        vec![spec.n_audio_ctx, s],
        TensorKind::Sinusoids,
    );
    push(
        "encoder.conv1.weight".into(),
        vec![s, spec.n_mels, 3],
        TensorKind::ConvWeight,
    );
    push("encoder.conv1.bias".into(), vec![s], TensorKind::ConvBias);
    push(
        "encoder.conv2.weight".into(),
        vec![s, s, 3],
        TensorKind::ConvWeight,
    );
    push("encoder.conv2.bias".into(), vec![s], TensorKind::ConvBias);
    for i in 0..spec.n_audio_layer {
        block(&mut push, &format!("encoder.blocks.{i}"), false);
    }
    push(
        "encoder.ln_post.weight".into(),
        vec![s],
        TensorKind::NormWeight,
    );
    push("encoder.ln_post.bias".into(), vec![s], TensorKind::NormBias);
    push(
        "decoder.positional_embedding".into(),
        vec![spec.n_text_ctx, s],
        TensorKind::Positions,
    );
    push(
        "decoder.token_embedding.weight".into(),
        vec![spec.n_vocab, s],
        TensorKind::TokenEmbedding,
    );
    for i in 0..spec.n_text_layer {
        block(&mut push, &format!("decoder.blocks.{i}"), true);
    }
    push("decoder.ln.weight".into(), vec![s], TensorKind::NormWeight);
    push("decoder.ln.bias".into(), vec![s], TensorKind::NormBias);
    out
}

/// Hugging Face's name of an OpenAI Whisper tensor (`transformers`' `WhisperForConditionalGeneration`
/// checkpoint, what candle loads): `encoder.blocks.0.attn.query.weight` →
/// `model.encoder.layers.0.self_attn.q_proj.weight`.
pub fn hf_name(openai: &str) -> String {
    let fixed = match openai {
        "encoder.positional_embedding" => Some("model.encoder.embed_positions.weight"),
        "decoder.positional_embedding" => Some("model.decoder.embed_positions.weight"),
        "decoder.token_embedding.weight" => Some("model.decoder.embed_tokens.weight"),
        "encoder.ln_post.weight" => Some("model.encoder.layer_norm.weight"),
        "encoder.ln_post.bias" => Some("model.encoder.layer_norm.bias"),
        "decoder.ln.weight" => Some("model.decoder.layer_norm.weight"),
        "decoder.ln.bias" => Some("model.decoder.layer_norm.bias"),
        _ => None,
    };
    if let Some(f) = fixed {
        return f.to_string();
    }
    let name = openai
        .replacen(".blocks.", ".layers.", 1)
        .replace(".cross_attn_ln.", ".encoder_attn_layer_norm.")
        .replace(".attn_ln.", ".self_attn_layer_norm.")
        .replace(".mlp_ln.", ".final_layer_norm.")
        .replace(".cross_attn.", ".encoder_attn.")
        .replace(".attn.", ".self_attn.")
        .replace(".query.", ".q_proj.")
        .replace(".key.", ".k_proj.")
        .replace(".value.", ".v_proj.")
        .replace(".out.", ".out_proj.")
        .replace(".mlp.0.", ".fc1.")
        .replace(".mlp.2.", ".fc2.");
    format!("model.{name}")
}

/// The sinusoid table of the encoder's positions, `[length, channels]` row-major, computed in
/// f32 as candle-transformers does (the same formula as OpenAI's `sinusoids`).
pub fn sinusoids(length: usize, channels: usize) -> Vec<f32> {
    let half = channels / 2;
    let increment = 10000f32.ln() / (half - 1) as f32;
    let inv: Vec<f32> = (0..half).map(|i| (i as f32 * -increment).exp()).collect();
    let mut out = Vec::with_capacity(length * channels);
    for t in 0..length {
        let row: Vec<f32> = inv.iter().map(|&v| t as f32 * v).collect();
        out.extend(row.iter().map(|x| x.sin()));
        out.extend(row.iter().map(|x| x.cos()));
    }
    out
}

fn init(spec: &WhisperSpec, t: &WhisperTensor) -> Init {
    let inv_sqrt = |n: usize| 1.0 / (n as f32).sqrt();
    let layers = spec.n_audio_layer.max(spec.n_text_layer);
    match t.kind {
        TensorKind::Sinusoids => unreachable!("computed, not drawn"),
        TensorKind::Positions => Init::Normal(0.02),
        TensorKind::TokenEmbedding => Init::Normal(inv_sqrt(t.shape[1])),
        TensorKind::ConvWeight => Init::Normal(inv_sqrt(t.shape[1] * t.shape[2])),
        TensorKind::ConvBias | TensorKind::Bias => Init::Normal(0.02),
        TensorKind::Linear { residual } => {
            let scale = if residual { inv_sqrt(2 * layers) } else { 1.0 };
            Init::Normal(inv_sqrt(t.shape[1]) * scale)
        }
        TensorKind::NormWeight => Init::Const(1.0),
        TensorKind::NormBias => Init::Const(0.0),
    }
}

/// The weights of `t` for `seed`, stored as `dtype` (F32, F16 or a ggml block type), with the
/// tensor's PyTorch shape. The f32 values depend only on (seed, OpenAI name, shape).
pub fn tensor_data(
    spec: &WhisperSpec,
    seed: u64,
    t: &WhisperTensor,
    dtype: GgmlDType,
) -> anyhow::Result<QTensor> {
    let storage = if t.kind == TensorKind::Sinusoids {
        let values = sinusoids(t.shape[0], t.shape[1]);
        let f = QTensor::quantize(
            &candle_core::Tensor::from_vec(values, t.shape.as_slice(), &candle_core::Device::Cpu)?,
            GgmlDType::F32,
        )?;
        if dtype == GgmlDType::F32 {
            return Ok(f);
        }
        let dense = f.dequantize(&candle_core::Device::Cpu)?;
        return Ok(QTensor::quantize(&dense, dtype)?);
    } else {
        let src = synth::source(
            seed,
            &t.name,
            t.elements() as usize,
            init(spec, t),
            synth::POOL_BLOCKS,
        );
        src.quantize_dyn(dtype)
            .map_err(|e| anyhow::anyhow!("synthesizing {}: {e}", t.name))?
    };
    Ok(QTensor::new(QStorage::Cpu(storage), t.shape.as_slice())?)
}

/// The f32 values of `t` (for tests and the check of encoder outputs).
pub fn tensor_f32(spec: &WhisperSpec, seed: u64, t: &WhisperTensor) -> anyhow::Result<Vec<f32>> {
    let q = tensor_data(spec, seed, t, GgmlDType::F32)?;
    Ok(q.dequantize(&candle_core::Device::Cpu)?
        .flatten_all()?
        .to_vec1()?)
}

/// Hugging Face `config.json` fields of `spec` (what candle's and Optimum's loaders read).
pub fn hf_config(spec: &WhisperSpec) -> serde_json::Value {
    let (sot, eot, decoder_start) = if spec.multilingual() {
        (50258, 50257, 50258)
    } else {
        (50257, 50256, 50257)
    };
    serde_json::json!({
        "_name_or_path": format!("edgebench synthetic {}", spec.display_name),
        "architectures": ["WhisperForConditionalGeneration"],
        "model_type": "whisper",
        "activation_function": "gelu",
        "num_mel_bins": spec.n_mels,
        "max_source_positions": spec.n_audio_ctx,
        "max_target_positions": spec.n_text_ctx,
        "d_model": spec.n_audio_state,
        "encoder_attention_heads": spec.n_audio_head,
        "encoder_layers": spec.n_audio_layer,
        "encoder_ffn_dim": 4 * spec.n_audio_state,
        "decoder_attention_heads": spec.n_text_head,
        "decoder_layers": spec.n_text_layer,
        "decoder_ffn_dim": 4 * spec.n_text_state,
        "vocab_size": spec.n_vocab,
        "num_hidden_layers": spec.n_audio_layer,
        "scale_embedding": false,
        "tie_word_embeddings": true,
        "use_cache": true,
        "bos_token_id": eot,
        "eos_token_id": eot,
        "pad_token_id": eot,
        "decoder_start_token_id": decoder_start,
        "begin_suppress_tokens": [220, eot],
        "suppress_tokens": [],
        "edgebench_sot_token_id": sot,
        "torch_dtype": "float32",
    })
}

#[cfg(test)]
mod tests;
