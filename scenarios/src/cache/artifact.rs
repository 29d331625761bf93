//! The seam between the cache and the formats.

use crate::output::SynthReport;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What a cache entry's sidecar says it holds, besides its hash and size. `models list` and
/// `models prune` read these fields back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub seed: u64,
    /// The catalog name (`llama3-8b`, `whisper-tiny`).
    pub model: String,
    /// The quantization as the format names it (`q4_k_m`, `int4`, `q5_0`).
    pub quant: String,
    /// Whisper's format (`WhisperFormat` as serde writes it); absent for LLM entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<serde_json::Value>,
    /// The writer's version (a number, or `"4.1"` for GenAI folders): an entry written by
    /// another version is never reused.
    pub generator_version: serde_json::Value,
}

/// A model the cache can hold: one file or folder of one format, synthesized for one key.
pub trait Artifact {
    /// The file or folder name in the models directory; it changes whenever the bytes would.
    fn key(&self) -> String;
    /// What the sidecar records.
    fn label(&self) -> Label;
    /// Bytes the model takes, known before it is written (shown before synthesis).
    fn planned_bytes(&self) -> u64;
    /// Write the model at `path` (a file or a folder that does not exist yet).
    fn write(&self, path: &Path, progress: &mut dyn FnMut(u64, u64))
        -> anyhow::Result<SynthReport>;
    /// Whether the entry at `path`, whose sidecar recorded `recorded_bytes`, is complete.
    fn inspect(&self, path: &Path, recorded_bytes: u64) -> bool;
}
