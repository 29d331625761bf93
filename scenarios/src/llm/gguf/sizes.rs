//! Sizes of what GGUF (and ggml) files hold, counted one way for the writers, the targets and
//! the roofline.

use super::mixture::tensor_plan;
use crate::catalog::{ModelSpec, Quant};
use candle_core::quantized::gguf_file::{Content, TensorInfo};

pub use crate::weights::data_bytes;

/// Bytes of one tensor's data.
pub fn tensor_bytes(t: &TensorInfo) -> u64 {
    data_bytes(t.shape.elem_count() as u64, t.ggml_dtype)
}

/// Bytes of every tensor's data.
pub fn total_bytes(content: &Content) -> u64 {
    content.tensor_infos.values().map(tensor_bytes).sum()
}

/// Bytes decode streams from memory per token (the roofline's denominator): every tensor but
/// `token_embd.weight` when the model has its own `output.weight`, since the embedding is then
/// only looked up, a row per token. A tied model multiplies with it, so it counts.
pub fn streamed_bytes(content: &Content) -> u64 {
    streamed(
        content
            .tensor_infos
            .iter()
            .map(|(name, t)| (name.as_str(), tensor_bytes(t))),
    )
}

/// [`streamed_bytes`] of the file the synthesizer would write for `model` at `quant`, without
/// writing it (the device chooser's bytes per token).
pub fn planned_streamed_bytes(model: &ModelSpec, quant: Quant) -> u64 {
    static KEPT: Kept = Kept::new(Vec::new());
    remembered(&KEPT, model, quant, || {
        let plan = tensor_plan(model, quant);
        streamed(plan.iter().map(|t| (t.name.as_str(), t.bytes())))
    })
}

/// Elements of the matrices of `model`'s blocks (attention and feed-forward weights): the
/// multiply-adds one token costs, without attention over the context (the device chooser's
/// prompt FLOPs).
pub fn block_matrix_elements(model: &ModelSpec) -> u64 {
    static KEPT: Kept = Kept::new(Vec::new());
    remembered(&KEPT, model, Quant::F32, || {
        tensor_plan(model, Quant::F32)
            .iter()
            .filter(|t| t.shape.len() == 2 && t.name.starts_with("blk."))
            .map(|t| t.elements())
            .sum()
    })
}

/// Answers kept for the process, by model and quantization.
pub(crate) type Kept = std::sync::Mutex<Vec<(ModelSpec, Quant, u64)>>;

/// `compute`'s answer for `model` at `quant`, computed once per process: planning a model
/// lays out every tensor (and the metadata, its whole tokenizer), and reports and the device
/// chooser ask about the same few models thousands of times.
pub(crate) fn remembered(
    kept: &Kept,
    model: &ModelSpec,
    quant: Quant,
    compute: impl FnOnce() -> u64,
) -> u64 {
    let known = kept
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(m, q, _)| *q == quant && m == model)
        .map(|(_, _, v)| *v);
    if let Some(v) = known {
        return v;
    }
    let v = compute();
    kept.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((model.clone(), quant, v));
    v
}

/// The rule of [`streamed_bytes`] over `(name, bytes)` of every tensor.
fn streamed<'a>(tensors: impl Iterator<Item = (&'a str, u64)>) -> u64 {
    let mut total = 0;
    let mut embedding = None;
    let mut has_output = false;
    for (name, bytes) in tensors {
        total += bytes;
        match name {
            "token_embd.weight" => embedding = Some(bytes),
            "output.weight" => has_output = true,
            _ => {}
        }
    }
    match (embedding, has_output) {
        (Some(e), true) => total - e,
        _ => total,
    }
}

#[cfg(test)]
mod tests {
    use super::tensor_plan;
    use crate::catalog::{Catalog, Quant};

    /// Llama 3 8B Q4_K_M streams about 4.6 GB a token (the 4.58 GiB file less its Q4_K
    /// embedding table, which is only looked up).
    #[test]
    fn llama3_8b_q4_k_m_streams_about_4_6_gb() {
        let spec = Catalog::builtin().model("llama3-8b").unwrap().clone();
        let streamed = super::planned_streamed_bytes(&spec, Quant::Q4KM) as f64;
        assert!((4.5e9..4.75e9).contains(&streamed), "{streamed}");
        // A tied model streams its embedding: nothing is left out.
        let tied = Catalog::builtin().model("gemma-2b").unwrap().clone();
        let all: u64 = tensor_plan(&tied, Quant::Q8_0)
            .iter()
            .map(|t| t.bytes())
            .sum();
        assert_eq!(super::planned_streamed_bytes(&tied, Quant::Q8_0), all);
    }
}
