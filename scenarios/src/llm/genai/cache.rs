//! Synthetic GenAI folders in the model cache: `<model>-<quant>-s<seed>-<hash>-genai/`.

use super::config::CONFIG_FILE;
use super::folder::{
    generator_version, planned_folder_bytes, write_genai_folder, OnnxReport, DATA_FILE, MODEL_FILE,
    ONNX_GENERATOR_VERSION,
};
use super::quant::OnnxQuant;
use crate::cache::{self, Artifact, Label};
use crate::catalog::{ModelSpec, Quant};
use crate::llm::gguf::cache::spec_hash;
use crate::output::SynthReport;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A GenAI folder of one model, precision and seed.
pub struct GenaiArtifact<'a> {
    pub model: &'a ModelSpec,
    pub quant: OnnxQuant,
    pub seed: u64,
}

impl Artifact for GenaiArtifact<'_> {
    fn key(&self) -> String {
        let (model, quant, seed) = (self.model, self.quant, self.seed);
        let key = format!(
            "{}|{}|{}",
            spec_hash(model, Quant::F32, seed),
            quant.name(),
            ONNX_GENERATOR_VERSION
        );
        let hash = hex::encode(&Sha256::digest(key.as_bytes())[..6]);
        format!("{}-{}-s{seed}-{hash}-genai", model.name, quant.name())
    }

    fn label(&self) -> Label {
        Label {
            seed: self.seed,
            model: self.model.name.clone(),
            quant: self.quant.name().into(),
            format: None,
            generator_version: generator_version().into(),
        }
    }

    fn planned_bytes(&self) -> u64 {
        planned_folder_bytes(self.model, self.quant, self.seed)
    }

    fn write(
        &self,
        path: &Path,
        progress: &mut dyn FnMut(u64, u64),
    ) -> anyhow::Result<SynthReport> {
        let r = write_genai_folder(self.model, self.quant, self.seed, path, progress)?;
        Ok(SynthReport {
            path: r.folder,
            bytes: r.bytes,
            sha256: r.sha256,
            seconds: r.seconds,
        })
    }

    /// Complete when the three files add up to the bytes the sidecar recorded.
    fn inspect(&self, path: &Path, recorded_bytes: u64) -> bool {
        let sizes: Option<u64> = [DATA_FILE, MODEL_FILE, CONFIG_FILE]
            .iter()
            .map(|f| std::fs::metadata(path.join(f)).ok().map(|m| m.len()))
            .sum();
        sizes == Some(recorded_bytes)
    }
}

/// Where the cache keeps the folder of `model` at `quant` with `seed`:
/// `<dir>/<model>-<quant>-s<seed>-<hash>-genai/`.
pub fn cache_path(models_dir: &Path, model: &ModelSpec, quant: OnnxQuant, seed: u64) -> PathBuf {
    models_dir.join(GenaiArtifact { model, quant, seed }.key())
}

/// A synthetic folder in the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedFolder {
    pub folder: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    pub seed: u64,
    /// `Some` when this call wrote the folder.
    pub synthesized: Option<OnnxReport>,
}

/// The cached folder of `model` at `quant` with `seed`, written first if missing or
/// incomplete.
pub fn ensure_cached(
    models_dir: &Path,
    model: &ModelSpec,
    quant: OnnxQuant,
    seed: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<CachedFolder> {
    let c = cache::ensure(models_dir, &GenaiArtifact { model, quant, seed }, progress)?;
    Ok(CachedFolder {
        synthesized: c.synthesized.map(|r| OnnxReport {
            folder: r.path,
            bytes: r.bytes,
            sha256: r.sha256,
            seconds: r.seconds,
        }),
        folder: c.path,
        sha256: c.sha256,
        bytes: c.bytes,
        seed: c.seed,
    })
}
