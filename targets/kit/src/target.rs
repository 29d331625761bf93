//! The Target seam: one backend (candle, llama.cpp, ONNX Runtime…) seen through the few primitive
//! operations the harness times. The generation loop itself is shared ([`crate::worker`]), so
//! every backend is measured the same way.

use crate::describe::Description;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What a backend is and what it can run. Shown by `edgebench list targets` and stored in every
/// result, so a number can always be traced to the library build that produced it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TargetInfo {
    /// Short name used on the command line: `candle`, `llamacpp`, `onnxruntime`…
    pub name: String,
    /// Version of the backend library (crate version, llama.cpp build number…).
    pub library_version: String,
    /// Build flags that change speed: SIMD features, GPU backends, BLAS…
    pub build_flags: Vec<String>,
    /// Device the backend computes on (`cpu`, `cuda:0`, `metal`…).
    pub device: String,
    /// Model file formats it loads (`gguf`, `onnx-genai`…).
    pub formats: Vec<String>,
    /// Architectures it runs (`llama`, `phi3`, `gemma`…).
    pub architectures: Vec<String>,
    /// Quantizations it runs (`f32`, `f16`, `q8_0`, `q4_0`, `q4_k_m`, `q5_k_m`…).
    pub quants: Vec<String>,
    /// Anything else worth recording (threading library, execution provider…).
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// What the CLI plans with: summary, load options, memory model ([`crate::describe`]).
    /// Sent in the answer to `info`; the harness leaves it out of result records.
    #[serde(default, skip_serializing_if = "Description::is_empty")]
    pub description: Description,
}

impl TargetInfo {
    /// The names of the load options this target reads: from its description, or, for a
    /// worker that sends none, from `extra["load_options"]` (a comma list).
    pub fn option_names(&self) -> Vec<&str> {
        if !self.description.options.is_empty() {
            return self
                .description
                .options
                .iter()
                .map(|o| o.name.as_str())
                .collect();
        }
        self.extra
            .get("load_options")
            .map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// How to load a model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoadSpec {
    pub model_path: PathBuf,
    /// Compute threads. The harness also sets `RAYON_NUM_THREADS`/`OMP_NUM_THREADS` in the
    /// worker's environment, since some libraries only read those.
    pub threads: usize,
    /// Longest sequence (prompt + generated tokens) the run will need.
    pub context: usize,
    /// Backend-specific options (`batch`, `flash_attn`, `kv_type`…), as typed on the command line.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// What the backend found in the model file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ModelInfo {
    /// Architecture as the file names it (`llama`, `phi3`, `gemma`).
    pub architecture: String,
    pub vocab_size: usize,
    /// Total parameters, when the file tells.
    pub parameters: Option<u64>,
    /// Bytes of weights (what decode must stream from memory once per token).
    pub weight_bytes: Option<u64>,
    /// Quantization as the file names it.
    pub quant: Option<String>,
    /// Longest context the model supports in this backend.
    pub max_context: Option<usize>,
}

/// A failure inside a backend. The message is shown to the user and stored in the result.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{}: {}", .path.display(), one_line(.message))]
    BadModel { path: PathBuf, message: String },
    #[error("not supported by this target: {}", one_line(.0))]
    Unsupported(String),
    #[error("no model loaded")]
    NotLoaded,
    #[error("{}", one_line(.0))]
    Backend(String),
}

/// A backend's message as one line: a backtrace the backend library appends (candle does when
/// `RUST_BACKTRACE` is set) is dropped, and the message's own lines are joined with "; ".
pub fn one_line(message: &str) -> String {
    let is_frame = |l: &str| {
        l == "stack backtrace:"
            || l.split_once(':')
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            || l.starts_with("at ")
    };
    message
        .lines()
        .map(str::trim)
        .take_while(|l| !is_frame(l))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

pub type TargetResult<T> = Result<T, TargetError>;

/// The primitive operations of an LLM backend. Positions are implicit: `prefill` and
/// `decode` append to the current sequence, `reset` empties it (clears the KV cache).
pub trait Target {
    fn info(&self) -> TargetInfo;

    /// Load a model file; replaces any loaded model.
    fn load(&mut self, spec: &LoadSpec) -> TargetResult<ModelInfo>;

    /// Run `tokens` through the model in one batch (the backend may split it internally as it
    /// normally would) and return the logits of the last position.
    fn prefill(&mut self, tokens: &[u32]) -> TargetResult<Vec<f32>>;

    /// Append one token using the KV cache and return its logits.
    fn decode(&mut self, token: u32) -> TargetResult<Vec<f32>>;

    /// Forget the sequence (clear the KV cache) so the next prefill starts at position 0.
    fn reset(&mut self) -> TargetResult<()>;
}

/// The primitive operations of a speech-recognition backend (Whisper: log-mel, encoder, decoder
/// with a KV cache). The measuring loop is shared ([`crate::speech`]); a backend only exposes
/// these steps, each timed around its own call.
pub trait SpeechTarget {
    fn info(&self) -> TargetInfo;

    /// Load a model (file or folder); replaces any loaded model. `ModelInfo::max_context` is
    /// the decoder's context (`n_text_ctx`), `vocab_size` its vocabulary.
    fn load(&mut self, spec: &LoadSpec) -> TargetResult<ModelInfo>;

    /// Compute the log-mel spectrogram of 16 kHz mono `pcm` with the backend's own code and
    /// keep it as the encoder's input. `pcm` holds at most one 30 s window.
    fn mel(&mut self, pcm: &[f32]) -> TargetResult<()>;

    /// Use this log-mel spectrogram instead (`n_mels` rows of 3000 frames, row-major), so
    /// every backend can be given the same input (`check`).
    fn set_mel(&mut self, mel: &[f32], n_mels: usize) -> TargetResult<()>;

    /// Run the encoder on the current log-mel (its first 30 s window) and keep the output for
    /// the decoder's cross-attention. Empties the decoder's KV cache.
    fn encode(&mut self) -> TargetResult<()>;

    /// The last encoder output, `n_audio_ctx × n_audio_state` row-major, where the backend
    /// exposes it (`None` where it does not, e.g. whisper.cpp keeps it internal).
    fn encoder_output(&mut self) -> TargetResult<Option<Vec<f32>>>;

    /// Run `tokens` through the decoder after those already in its KV cache and return the
    /// logits of the last one (the first call after `reset_decoder` starts at position 0).
    fn decode(&mut self, tokens: &[u32]) -> TargetResult<Vec<f32>>;

    /// Empty the decoder's self-attention KV cache; the encoder output is kept.
    fn reset_decoder(&mut self) -> TargetResult<()>;
}

#[cfg(test)]
mod one_line_tests {
    use super::*;

    #[test]
    fn a_backtrace_is_dropped_and_lines_are_joined() {
        let e = TargetError::BadModel {
            path: "/m/x.gguf".into(),
            message: "not a GGUF file: unknown magic 0x73696874\n   0: candle_core::error::Error::bt\n             at ./src/x.rs:1:2\n   1: main".into(),
        };
        assert_eq!(
            e.to_string(),
            "/m/x.gguf: not a GGUF file: unknown magic 0x73696874"
        );
        let e = TargetError::Backend("first\n\nsecond".into());
        assert_eq!(e.to_string(), "first; second");
    }
}
