//! Synthetic Whisper models in the model cache, one file or folder per (model, quantization,
//! format, seed): `ggml-<model>-<quant>-s<seed>-<hash>.bin` for whisper.cpp, a
//! `<model>-<quant>-s<seed>-<hash>.<kind>` folder for the others.

use super::{ggml, hf, optimum};
use crate::cache::{self, Artifact, CachedModel, Label};
use crate::catalog::{WhisperFormat, WhisperQuant, WhisperSpec};
use crate::output::SynthReport;
use anyhow::bail;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub use super::arch::GENERATOR_VERSION;

/// A Whisper model of one size, quantization, format and seed.
pub struct WhisperArtifact<'a> {
    pub spec: &'a WhisperSpec,
    pub quant: WhisperQuant,
    pub format: WhisperFormat,
    pub seed: u64,
}

impl WhisperArtifact<'_> {
    fn spec_hash(&self) -> String {
        let s = self.spec;
        let key = format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
            s.n_vocab,
            s.n_audio_ctx,
            s.n_audio_state,
            s.n_audio_head,
            s.n_audio_layer,
            s.n_text_ctx,
            s.n_text_state,
            s.n_text_head,
            s.n_text_layer,
            s.n_mels,
            self.quant.name(),
            self.format.name(),
            self.seed,
            GENERATOR_VERSION,
        );
        hex::encode(&Sha256::digest(key.as_bytes())[..6])
    }
}

impl Artifact for WhisperArtifact<'_> {
    fn key(&self) -> String {
        let stem = format!(
            "{}-{}-s{}-{}",
            self.spec.name,
            self.quant.name(),
            self.seed,
            self.spec_hash()
        );
        match self.format {
            WhisperFormat::Ggml => format!("ggml-{stem}.bin"),
            WhisperFormat::Safetensors => format!("{stem}.hf"),
            WhisperFormat::Gguf => format!("{stem}.candle-gguf"),
            WhisperFormat::Onnx => format!("{stem}.onnx"),
        }
    }

    fn label(&self) -> Label {
        Label {
            seed: self.seed,
            model: self.spec.name.clone(),
            quant: self.quant.name().into(),
            format: Some(serde_json::to_value(self.format).expect("an enum serializes")),
            generator_version: GENERATOR_VERSION.into(),
        }
    }

    fn planned_bytes(&self) -> u64 {
        planned_bytes(self.spec, self.quant, self.format)
    }

    fn write(
        &self,
        path: &Path,
        progress: &mut dyn FnMut(u64, u64),
    ) -> anyhow::Result<SynthReport> {
        write(
            self.spec,
            self.quant,
            self.format,
            self.seed,
            path,
            progress,
        )
    }

    /// Complete when the file or folder is there: the sidecar is written after it is moved
    /// into place.
    fn inspect(&self, path: &Path, _recorded_bytes: u64) -> bool {
        path.exists()
    }
}

/// Where the cache keeps `spec` at `quant` in `format`: `ggml-<model>-<quant>-s<seed>-<hash>.bin`
/// for whisper.cpp, a `<model>-<quant>-s<seed>-<hash>.<kind>` folder for the others.
pub fn cache_path(
    models_dir: &Path,
    spec: &WhisperSpec,
    quant: WhisperQuant,
    format: WhisperFormat,
    seed: u64,
) -> PathBuf {
    let artifact = WhisperArtifact {
        spec,
        quant,
        format,
        seed,
    };
    models_dir.join(artifact.key())
}

/// Bytes of weights the synthetic model will have (the file, or the folder's weights file).
pub fn planned_bytes(spec: &WhisperSpec, quant: WhisperQuant, format: WhisperFormat) -> u64 {
    match format {
        WhisperFormat::Ggml => ggml::planned_bytes(spec, quant),
        WhisperFormat::Onnx => optimum::planned_bytes(spec, quant),
        _ => hf::planned_bytes(spec, quant),
    }
}

/// Write a synthetic model at `path` (a file for whisper.cpp, else a folder).
pub fn write(
    spec: &WhisperSpec,
    quant: WhisperQuant,
    format: WhisperFormat,
    seed: u64,
    path: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<SynthReport> {
    if !quant.formats().contains(&format) {
        bail!(
            "{format} does not hold {quant} weights (it holds {})",
            format
                .quants()
                .iter()
                .map(|q| q.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    match format {
        WhisperFormat::Ggml => ggml::write(spec, quant, seed, path, progress),
        WhisperFormat::Safetensors => hf::write_safetensors(spec, quant, seed, path, progress),
        WhisperFormat::Gguf => hf::write_gguf(spec, quant, seed, path, progress),
        WhisperFormat::Onnx => optimum::write(spec, quant, seed, path, progress),
    }
}

/// The cached model, written first if missing or incomplete.
pub fn ensure_cached(
    models_dir: &Path,
    spec: &WhisperSpec,
    quant: WhisperQuant,
    format: WhisperFormat,
    seed: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<CachedModel> {
    let artifact = WhisperArtifact {
        spec,
        quant,
        format,
        seed,
    };
    cache::ensure(models_dir, &artifact, progress)
}
