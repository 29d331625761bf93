//! Whisper: sizes, quantizations, workloads, and synthetic models in every format a speech
//! target reads, all with the same weights for one seed ([`arch`]).
//!
//! Formats ([`WhisperFormat`]), one module each:
//! - `whisper-ggml`: whisper.cpp's `ggml-*.bin` ([`ggml`]), F16 or quantized as its
//!   `quantize` tool writes them;
//! - `whisper-safetensors`: a Hugging Face folder (`config.json` + `model.safetensors`, F32
//!   or F16), what candle-transformers' `whisper::model` loads ([`hf`]);
//! - `whisper-gguf`: `config.json` + `model.gguf` with candle's names, what
//!   candle-transformers' `whisper::quantized_model` loads ([`hf`]);
//! - `whisper-onnx`: a Hugging Face Optimum export folder for ONNX Runtime (`encoder_model.onnx`,
//!   `decoder_model.onnx`, `decoder_with_past_model.onnx`), f32, f16 or dynamic int8
//!   ([`optimum`], also reachable as `whisper::onnx`).
//!
//! [`cache`] keeps any of them in the model cache; [`audio`] is the standard clip and [`mel`]
//! the filterbank the speech targets compute log-mel spectrograms with.

pub mod arch;
pub mod audio;
pub mod cache;
pub mod ggml;
pub mod hf;
pub mod mel;
pub mod optimum;

/// The Optimum folders under their former name.
pub use optimum as onnx;

pub use crate::catalog::{WhisperFormat, WhisperQuant, WhisperSuite, WhisperWorkload};
pub use arch::{hf_name, sinusoids, tensor_data, tensor_f32, tensors, TensorKind, WhisperTensor};
pub use hf::hf_config;

#[cfg(test)]
mod tests;
