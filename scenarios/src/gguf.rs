//! Sizes of what GGUF (and ggml) files hold, counted one way for the writers, the targets and
//! the roofline.

use candle_core::quantized::gguf_file::{Content, TensorInfo};
use candle_core::quantized::GgmlDType;

/// Bytes of `elements` values stored as `dtype` (whole blocks, without alignment padding).
pub fn data_bytes(elements: u64, dtype: GgmlDType) -> u64 {
    elements / dtype.block_size() as u64 * dtype.type_size() as u64
}

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
    let infos = &content.tensor_infos;
    let looked_up = match (
        infos.get("token_embd.weight"),
        infos.contains_key("output.weight"),
    ) {
        (Some(embd), true) => tensor_bytes(embd),
        _ => 0,
    };
    total_bytes(content) - looked_up
}
