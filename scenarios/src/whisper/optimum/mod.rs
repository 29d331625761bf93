//! Whisper as Hugging Face Optimum exports it for ONNX Runtime (`optimum-cli export onnx
//! --task automatic-speech-recognition-with-past`, the non-merged layout):
//!
//! - `encoder_model.onnx`: `input_features [batch, n_mels, 3000]` → `last_hidden_state
//!   [batch, 1500, d_model]`;
//! - `decoder_model.onnx` (first call): `input_ids`, `encoder_hidden_states` → `logits`,
//!   `present.N.decoder.{key,value}` and `present.N.encoder.{key,value}` (the cross-attention
//!   keys and values, `[batch, heads, 1500, head]`);
//! - `decoder_with_past_model.onnx` (every later call): `input_ids`,
//!   `past_key_values.N.{decoder,encoder}.{key,value}` → `logits`, `present.N.decoder.*`
//!   (the self-attention cache grows by `Concat`, as in the exported graph);
//! - `config.json` and `generation_config.json` as `transformers` writes them.
//!
//! The graphs use the standard ops the PyTorch exporter emits for `WhisperForConditionalGeneration`
//! (Conv, exact-erf `Gelu`, `LayerNormalization`, MatMul/Add projections, Reshape/Transpose head
//! split, MatMul–Softmax–MatMul attention with an additive causal mask, tied output projection);
//! ONNX Runtime's optimizer fuses them when it loads the model, as it does for a real export.
//!
//! Precisions:
//! - `f32`; `f16`: the whole graph in float16, inputs and outputs included (`--dtype fp16`);
//! - `int8`: the f32 graph after `onnxruntime.quantization.quantize_dynamic(op_types_to_quantize=
//!   ["MatMul"])` with its defaults (what Optimum's `ORTQuantizer` dynamic configs run): every
//!   MatMul with a constant weight becomes `DynamicQuantizeLinear` (uint8 activations) →
//!   `MatMulInteger` with symmetric per-tensor int8 weights → `Cast` → `Mul` by both scales.
//!   Convolutions, embeddings and the attention MatMuls stay f32.
//!
//! Weights are those of [`crate::whisper::arch::tensor_f32`] for the seed, the same values
//! every other format holds. They live in external data (`encoder_model.onnx_data`,
//! `decoder_model.onnx_data`); both decoder graphs reference the one decoder data file, so the
//! weights are on disk once. [`graph`] builds the three graphs on the shared builder
//! ([`crate::graph`]), [`folder`] writes the folder, [`inspect`] reads one back.

pub mod folder;
pub mod graph;
pub mod inspect;

pub use folder::{
    planned_bytes, write, DECODER, DECODER_DATA, DECODER_MERGED, DECODER_WITH_PAST, ENCODER,
    ENCODER_DATA, GENERATION_CONFIG,
};
pub use inspect::{inspect_folder, is_onnx_folder, model_folder, OnnxFolder};
