//! Whisper entries of the catalog: sizes with OpenAI's dimensions, quantizations, the formats
//! each engine reads, workloads and suites.

use super::error::CatalogError;
use candle_core::quantized::GgmlDType;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A Whisper size with the dimensions of OpenAI's `ModelDimensions` (see `crate::whisper`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhisperSpec {
    pub name: String,
    pub display_name: String,
    pub n_mels: usize,
    pub n_audio_ctx: usize,
    pub n_audio_state: usize,
    pub n_audio_head: usize,
    pub n_audio_layer: usize,
    pub n_text_ctx: usize,
    pub n_text_state: usize,
    pub n_text_head: usize,
    pub n_text_layer: usize,
    pub n_vocab: usize,
    #[serde(default)]
    pub tiny: bool,
    pub source: String,
}

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

/// A speech workload on the first 30 s window of the clip (what the harness's speech runner times).
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
}
