//! The tensors of each LLM architecture, named as llama.cpp names them
//! (`blk.0.attn_q.weight`), with their shapes and how their seeded weights are drawn. Every
//! LLM format is written from this list, so one seed gives the same function in each.

use crate::catalog::{Arch, ModelSpec};
use crate::weights::{Init, TensorWeights};

/// What a tensor is: decides its initial values and its type in a quantization mixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    TokenEmbd,
    Output,
    Norm,
    AttnQ,
    AttnK,
    AttnV,
    AttnQkv,
    AttnOutput,
    FfnGate,
    FfnUp,
    FfnDown,
}

/// One tensor of a model.
#[derive(Debug, Clone)]
pub(crate) struct LlmTensor {
    /// llama.cpp's name.
    pub name: String,
    /// Candle order: `[rows, cols]`, e.g. attn_q is `[hidden_out, hidden_in]`.
    pub shape: Vec<usize>,
    pub kind: Kind,
    /// The block it belongs to (0 for tensors outside blocks).
    pub layer: usize,
    pub init: Init,
}

/// Every tensor of `model` in the order llama.cpp's quantize writes them (its loader's
/// `weight_name_comparer`): tensors outside blocks first (`output.weight`,
/// `output_norm.weight`, `token_embd.weight`), then block by block, by name within each.
pub(crate) fn tensors(model: &ModelSpec) -> Vec<LlmTensor> {
    let mut out = Vec::new();
    let mut push = |name: String, shape: Vec<usize>, kind: Kind, layer: usize| {
        let init = init(model, kind, &shape);
        out.push(LlmTensor {
            name,
            shape,
            kind,
            layer,
            init,
        });
    };
    let (h, v) = (model.hidden_size, model.vocab_size);
    push("token_embd.weight".into(), vec![v, h], Kind::TokenEmbd, 0);
    for i in 0..model.layers {
        block(model, i, &mut push);
    }
    push("output_norm.weight".into(), vec![h], Kind::Norm, 0);
    if !model.tied_embeddings {
        push("output.weight".into(), vec![v, h], Kind::Output, 0);
    }
    out.sort_by_cached_key(|t| (layer_of(&t.name), t.name.clone()));
    out
}

/// The tensors of block `i`.
fn block(model: &ModelSpec, i: usize, push: &mut dyn FnMut(String, Vec<usize>, Kind, usize)) {
    let h = model.hidden_size;
    let q_dim = model.heads * model.head_dim;
    let kv_dim = model.kv_heads * model.head_dim;
    let f = model.ffn_size;
    let n = |s: &str| format!("blk.{i}.{s}.weight");
    push(n("attn_norm"), vec![h], Kind::Norm, i);
    match model.arch {
        Arch::Llama | Arch::Gemma => {
            push(n("attn_q"), vec![q_dim, h], Kind::AttnQ, i);
            push(n("attn_k"), vec![kv_dim, h], Kind::AttnK, i);
            push(n("attn_v"), vec![kv_dim, h], Kind::AttnV, i);
        }
        Arch::Phi3 => {
            push(n("attn_qkv"), vec![q_dim + 2 * kv_dim, h], Kind::AttnQkv, i);
        }
    }
    push(n("attn_output"), vec![h, q_dim], Kind::AttnOutput, i);
    push(n("ffn_norm"), vec![h], Kind::Norm, i);
    match model.arch {
        Arch::Llama | Arch::Gemma => {
            push(n("ffn_gate"), vec![f, h], Kind::FfnGate, i);
            push(n("ffn_up"), vec![f, h], Kind::FfnUp, i);
        }
        Arch::Phi3 => {
            // Fused gate|up, as llama.cpp's phi3 loader expects ({n_embd, 2*n_ff}).
            push(n("ffn_up"), vec![2 * f, h], Kind::FfnUp, i);
        }
    }
    push(n("ffn_down"), vec![h, f], Kind::FfnDown, i);
}

/// How the weights of a tensor of `kind` and `shape` are drawn.
fn init(model: &ModelSpec, kind: Kind, shape: &[usize]) -> Init {
    let h = model.hidden_size;
    let inv_sqrt = |n: usize| 1.0 / (n as f32).sqrt();
    // Output projections of residual branches are scaled down so the residual stream stays O(1).
    // With a tied output (Gemma) the input embedding, scaled by √hidden, is read back by the
    // output projection: the input token's own logit exceeds the others by about
    // √hidden·rms(embedding)/rms(residual) standard deviations. With small branches greedy
    // decoding repeats the input token forever. There the branches are scaled so the residual
    // is several times √hidden and the self-similarity falls below one standard deviation.
    let residual_scale = if model.tied_embeddings {
        6.0 * (h as f32).sqrt() * inv_sqrt(2 * model.layers)
    } else {
        inv_sqrt(2 * model.layers)
    };
    match kind {
        Kind::Norm => Init::Const(1.0),
        Kind::TokenEmbd if model.tied_embeddings => Init::Normal(inv_sqrt(h)),
        Kind::TokenEmbd => Init::Normal(1.0),
        Kind::AttnOutput | Kind::FfnDown => Init::Normal(inv_sqrt(shape[1]) * residual_scale),
        _ => Init::Normal(inv_sqrt(shape[1])),
    }
}

/// `blk.N.` → `Some(N)`, else `None` (sorts first).
fn layer_of(name: &str) -> Option<usize> {
    name.strip_prefix("blk.")?.split('.').next()?.parse().ok()
}

impl ModelSpec {
    /// Parameters of the model (weights only), counted from the shapes.
    pub fn parameter_count(&self) -> u64 {
        tensors(self)
            .iter()
            .map(|t| t.shape.iter().map(|&d| d as u64).product::<u64>())
            .sum()
    }
}

/// The weights of the tensor llama.cpp names `name` (`blk.0.attn_q.weight`) in `model` with
/// `seed`, or `None` if the model has no such tensor.
pub fn tensor_weights(model: &ModelSpec, seed: u64, name: &str) -> Option<TensorWeights> {
    let t = tensors(model).into_iter().find(|t| t.name == name)?;
    Some(TensorWeights::new(seed, name, t.shape, t.init))
}
