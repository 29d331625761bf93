//! LLM entries of the catalog: architectures, their published shapes, GGUF quantizations,
//! workloads and suites.

use super::error::CatalogError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Model architectures edgebench knows how to synthesize and run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Llama 2/3 (`general.architecture = "llama"` in GGUF).
    Llama,
    /// Phi-3 (`phi3`): fused QKV and fused gate|up projections.
    Phi3,
    /// Gemma 1 (`gemma`): GELU MLP, embeddings scaled by √hidden, tied output.
    Gemma,
}

impl Arch {
    /// The `general.architecture` value llama.cpp uses.
    pub fn gguf_name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Phi3 => "phi3",
            Arch::Gemma => "gemma",
        }
    }
}

/// One LLM architecture at one size, with its published hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Catalog name used on the command line (`llama3-8b`, `phi3-mini`, `gemma-2b`, `llama3-8b-tiny`).
    pub name: String,
    /// Human name (`Llama 3 8B`).
    pub display_name: String,
    pub arch: Arch,
    pub hidden_size: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub ffn_size: usize,
    pub vocab_size: usize,
    pub context_length: usize,
    pub rope_theta: f64,
    pub rms_norm_eps: f64,
    /// Output projection shares the token embedding (Gemma).
    #[serde(default)]
    pub tied_embeddings: bool,
    /// A small variant for tests (a few layers, small width), not a published model.
    #[serde(default)]
    pub tiny: bool,
    /// Where the hyperparameters come from (model card / config.json URL).
    pub source: String,
}

/// Weight formats of GGUF models, named as llama.cpp's quantize tool names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Quant {
    F32,
    F16,
    Q8_0,
    Q4_0,
    #[serde(rename = "q4_k_m")]
    Q4KM,
    #[serde(rename = "q5_k_m")]
    Q5KM,
}

impl Quant {
    pub const ALL: [Quant; 6] = [
        Quant::F32,
        Quant::F16,
        Quant::Q8_0,
        Quant::Q4_0,
        Quant::Q4KM,
        Quant::Q5KM,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Quant::F32 => "f32",
            Quant::F16 => "f16",
            Quant::Q8_0 => "q8_0",
            Quant::Q4_0 => "q4_0",
            Quant::Q4KM => "q4_k_m",
            Quant::Q5KM => "q5_k_m",
        }
    }

    /// `general.file_type` (llama.cpp's `llama_ftype`).
    pub fn gguf_file_type(self) -> u32 {
        match self {
            Quant::F32 => 0,
            Quant::F16 => 1,
            Quant::Q4_0 => 2,
            Quant::Q8_0 => 7,
            Quant::Q4KM => 15,
            Quant::Q5KM => 17,
        }
    }

    pub fn parse(s: &str) -> Result<Quant, CatalogError> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        Quant::ALL
            .into_iter()
            .find(|q| q.name() == norm)
            .ok_or_else(|| CatalogError::Unknown {
                kind: "quantization",
                name: s.to_string(),
                known: Quant::ALL.iter().map(|q| q.name().to_string()).collect(),
            })
    }
}

impl fmt::Display for Quant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A unit of work: `prompt` tokens in one batch, then `gen` single-token decodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// `pp512`, `tg128`, `pp512+tg128`, `pp4096`.
    pub name: String,
    pub prompt: usize,
    pub gen: usize,
    pub description: String,
}

/// A named set of scenarios (`quick`, `standard`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    pub name: String,
    pub description: String,
    pub models: Vec<String>,
    pub quants: Vec<Quant>,
    pub workloads: Vec<String>,
    /// The suite's stopping rule where it differs from `edgebench run`'s defaults (the flags
    /// `--ci`, `--max-reps`, `--max-time` win): repeat until the 95% confidence interval is
    /// within ±this percent of the mean…
    #[serde(default)]
    pub ci_percent: Option<f64>,
    /// …or this many repetitions…
    #[serde(default)]
    pub max_reps: Option<usize>,
    /// …or this many seconds of measuring a test.
    #[serde(default)]
    pub max_time_s: Option<f64>,
}

impl ModelSpec {
    /// Check the shape is self-consistent.
    pub fn validate(&self) -> Result<(), String> {
        let bad = |m: String| Err(format!("model '{}': {m}", self.name));
        if self.layers == 0 || self.hidden_size == 0 || self.heads == 0 || self.kv_heads == 0 {
            return bad("layers, hidden_size, heads and kv_heads must be positive".into());
        }
        if !self.heads.is_multiple_of(self.kv_heads) {
            return bad(format!(
                "heads ({}) must be a multiple of kv_heads ({})",
                self.heads, self.kv_heads
            ));
        }
        if !self.head_dim.is_multiple_of(2) {
            return bad(format!(
                "head_dim ({}) must be even for rotary embeddings",
                self.head_dim
            ));
        }
        if !self.hidden_size.is_multiple_of(256) || !self.ffn_size.is_multiple_of(256) {
            return bad(
                "hidden_size and ffn_size must be multiples of 256 (k-quant super-blocks)".into(),
            );
        }
        if matches!(self.arch, Arch::Llama | Arch::Phi3)
            && self.heads * self.head_dim != self.hidden_size
        {
            // llama.cpp's llama/phi3 loaders and candle's derive head_dim = hidden / heads.
            return bad(format!(
                "heads ({}) × head_dim ({}) must equal hidden_size ({}) for {}",
                self.heads,
                self.head_dim,
                self.hidden_size,
                self.arch.gguf_name()
            ));
        }
        if self.vocab_size < 259 {
            return bad(format!(
                "vocab_size ({}) must hold the 3 special and 256 byte tokens",
                self.vocab_size
            ));
        }
        Ok(())
    }

    /// Bytes of KV cache for `tokens` positions at f16, as llama.cpp allocates by default.
    pub fn kv_cache_bytes(&self, tokens: usize) -> u64 {
        (2 * self.layers * self.kv_heads * self.head_dim * tokens * 2) as u64
    }
}
