//! Whisper's tensors, named as in OpenAI's state dict (what whisper.cpp's `ggml-*.bin` keeps;
//! [`hf_name`] gives Hugging Face's names), with their shapes, their type in ggml formats and
//! their seeded weights. Every Whisper format is written from this list.
//!
//! The architecture is OpenAI's (`whisper/model.py`): two 1-D convolutions (the second with
//! stride 2), sinusoidal positions and pre-LN transformer blocks in the audio encoder; learned
//! positions, self-attention, cross-attention and an MLP per block in the text decoder, whose
//! output projection is the token embedding. Weights come from [`crate::weights`] keyed by
//! (seed, OpenAI tensor name), so the f32 values are identical in every format before
//! conversion; the encoder's positional embedding is the exact sinusoid table every
//! implementation uses.

use crate::catalog::{WhisperQuant, WhisperSpec};
use crate::weights::{self, Init, POOL_BLOCKS};
use candle_core::quantized::{GgmlDType, QStorage, QTensor};

/// Version of the Whisper weight generator and file layouts; bump when bytes change.
pub const GENERATOR_VERSION: u32 = 1;

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
    let mut push = |name: &str, shape: Vec<usize>, kind: TensorKind| {
        out.push(WhisperTensor {
            name: name.to_string(),
            shape,
            kind,
        });
    };
    push(
        "encoder.positional_embedding",
        vec![spec.n_audio_ctx, s],
        TensorKind::Sinusoids,
    );
    push(
        "encoder.conv1.weight",
        vec![s, spec.n_mels, 3],
        TensorKind::ConvWeight,
    );
    push("encoder.conv1.bias", vec![s], TensorKind::ConvBias);
    push(
        "encoder.conv2.weight",
        vec![s, s, 3],
        TensorKind::ConvWeight,
    );
    push("encoder.conv2.bias", vec![s], TensorKind::ConvBias);
    for i in 0..spec.n_audio_layer {
        block(&mut push, &format!("encoder.blocks.{i}"), s, false);
    }
    push("encoder.ln_post.weight", vec![s], TensorKind::NormWeight);
    push("encoder.ln_post.bias", vec![s], TensorKind::NormBias);
    push(
        "decoder.positional_embedding",
        vec![spec.n_text_ctx, s],
        TensorKind::Positions,
    );
    push(
        "decoder.token_embedding.weight",
        vec![spec.n_vocab, s],
        TensorKind::TokenEmbedding,
    );
    for i in 0..spec.n_text_layer {
        block(&mut push, &format!("decoder.blocks.{i}"), s, true);
    }
    push("decoder.ln.weight", vec![s], TensorKind::NormWeight);
    push("decoder.ln.bias", vec![s], TensorKind::NormBias);
    out
}

type Push<'a> = dyn FnMut(&str, Vec<usize>, TensorKind) + 'a;

/// A transformer block of width `s`: self-attention, cross-attention (decoder), MLP.
fn block(push: &mut Push, prefix: &str, s: usize, cross: bool) {
    attention(push, prefix, "attn", s);
    if cross {
        attention(push, prefix, "cross_attn", s);
    }
    let n = |x: &str| format!("{prefix}.{x}");
    let linear = |residual| TensorKind::Linear { residual };
    push(&n("mlp.0.weight"), vec![4 * s, s], linear(false));
    push(&n("mlp.0.bias"), vec![4 * s], TensorKind::Bias);
    push(&n("mlp.2.weight"), vec![s, 4 * s], linear(true));
    push(&n("mlp.2.bias"), vec![s], TensorKind::Bias);
    push(&n("mlp_ln.weight"), vec![s], TensorKind::NormWeight);
    push(&n("mlp_ln.bias"), vec![s], TensorKind::NormBias);
}

/// The attention `a` (`attn` or `cross_attn`) of a block: Q, K (no bias), V, out, its norm.
fn attention(push: &mut Push, prefix: &str, a: &str, s: usize) {
    let n = |x: &str| format!("{prefix}.{a}.{x}");
    let linear = |residual| TensorKind::Linear { residual };
    push(&n("query.weight"), vec![s, s], linear(false));
    push(&n("query.bias"), vec![s], TensorKind::Bias);
    push(&n("key.weight"), vec![s, s], linear(false));
    push(&n("value.weight"), vec![s, s], linear(false));
    push(&n("value.bias"), vec![s], TensorKind::Bias);
    push(&n("out.weight"), vec![s, s], linear(true));
    push(&n("out.bias"), vec![s], TensorKind::Bias);
    push(
        &format!("{prefix}.{a}_ln.weight"),
        vec![s],
        TensorKind::NormWeight,
    );
    push(
        &format!("{prefix}.{a}_ln.bias"),
        vec![s],
        TensorKind::NormBias,
    );
}

impl WhisperSpec {
    /// Parameters (weights only), counted from the shapes.
    pub fn parameter_count(&self) -> u64 {
        tensors(self).iter().map(|t| t.elements()).sum()
    }
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
        let src = weights::source(
            seed,
            &t.name,
            t.elements() as usize,
            init(spec, t),
            POOL_BLOCKS,
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
