//! The quantization mixture of a GGUF file: which ggml type each tensor gets.
//!
//! As llama.cpp's `llama_tensor_get_type` (src/llama-quant.cpp) chooses for each file type:
//! Q4_K_M is Q4_K with the output projection (or the tied token embedding) in Q6_K, and attn_v
//! and ffn_down in Q6_K on the layers `use_more_bits` picks, Phi-3's fused attn_qkv in Q5_K;
//! Q5_K_M is the same on a Q5_K base (attn_qkv Q6_K); Q4_0 and Q8_0 have the output in Q6_K
//! (Q4_0) or Q8_0; F16 and F32 convert everything. 1-D tensors (norms) stay F32. A row length
//! that is not a multiple of the block size falls back as llama.cpp does (Q4_K→Q5_0, Q5_K→Q5_1,
//! Q6_K→Q8_0, then F16).

use crate::catalog::{ModelSpec, Quant};
use crate::llm::arch::{self, Kind, LlmTensor};
use crate::weights::data_bytes;
use candle_core::quantized::GgmlDType;

/// One tensor of a model file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorPlan {
    /// llama.cpp's name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Candle order: `[rows, cols]`, e.g. attn_q is `[hidden_out, hidden_in]` (GGUF stores the
    /// reverse, `ne = [cols, rows]`).
    pub shape: Vec<usize>,
    pub dtype: GgmlDType,
}

impl TensorPlan {
    pub fn elements(&self) -> u64 {
        self.shape.iter().map(|&d| d as u64).product()
    }

    /// Bytes of the tensor's data (without alignment padding).
    pub fn bytes(&self) -> u64 {
        data_bytes(self.elements(), self.dtype)
    }
}

/// llama.cpp's `use_more_bits` (src/llama-quant.cpp).
pub(crate) fn use_more_bits(i: usize, n: usize) -> bool {
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}

/// The ggml type llama.cpp's quantize would give a 2-D tensor (`llama_tensor_get_type`, then
/// the fallback for rows that are not a multiple of the block size).
fn tensor_type(
    model: &ModelSpec,
    quant: Quant,
    kind: Kind,
    layer: usize,
    row_len: usize,
) -> GgmlDType {
    use GgmlDType as T;
    let base = match quant {
        Quant::F32 => return T::F32,
        // llama.cpp converts to F16 directly (no mixture), and keeps 1-D tensors F32.
        Quant::F16 => return T::F16,
        Quant::Q8_0 => T::Q8_0,
        Quant::Q4_0 => T::Q4_0,
        Quant::Q4KM => T::Q4K,
        Quant::Q5KM => T::Q5K,
    };
    let km = matches!(quant, Quant::Q4KM | Quant::Q5KM);
    let is_output = kind == Kind::Output || (kind == Kind::TokenEmbd && model.tied_embeddings);
    let mut t = base;
    if is_output {
        if !row_len.is_multiple_of(base.block_size()) {
            t = T::Q8_0;
        } else if base != T::Q8_0 {
            t = T::Q6K;
        }
    } else {
        match kind {
            Kind::AttnV | Kind::FfnDown if km && use_more_bits(layer, model.layers) => t = T::Q6K,
            Kind::AttnQkv if quant == Quant::Q4KM => t = T::Q5K,
            Kind::AttnQkv if quant == Quant::Q5KM => t = T::Q6K,
            _ => {}
        }
    }
    if !row_len.is_multiple_of(t.block_size()) {
        t = match t {
            T::Q4K => T::Q5_0,
            T::Q5K => T::Q5_1,
            T::Q6K => T::Q8_0,
            // llama.cpp refuses other types; F16 keeps the file loadable.
            other => other,
        };
        if !row_len.is_multiple_of(t.block_size()) {
            t = T::F16;
        }
    }
    t
}

/// The type of `t` in a file of `model` at `quant`: 1-D tensors F32, the others by
/// [`tensor_type`].
fn dtype_of(model: &ModelSpec, quant: Quant, t: &LlmTensor) -> GgmlDType {
    if t.shape.len() == 1 {
        GgmlDType::F32
    } else {
        tensor_type(model, quant, t.kind, t.layer, t.shape[t.shape.len() - 1])
    }
}

/// The tensors of `model` at `quant`, in file order, with llama.cpp's names, shapes and types.
/// The order is llama.cpp quantize's: `output.weight`, `output_norm.weight`, `token_embd.weight`,
/// then each block's tensors sorted by name.
pub fn tensor_plan(model: &ModelSpec, quant: Quant) -> Vec<TensorPlan> {
    arch::tensors(model)
        .into_iter()
        .map(|t| TensorPlan {
            dtype: dtype_of(model, quant, &t),
            name: t.name,
            shape: t.shape,
        })
        .collect()
}
