//! Synthetic GGUF files in the model cache: `<model>-<quant>-s<seed>-<hash>.gguf`.

use super::metadata::GENERATOR_VERSION;
use super::write::{planned_file_bytes, write_gguf};
use crate::cache::{self, Artifact, CachedModel, Label};
use crate::catalog::{ModelSpec, Quant};
use crate::output::SynthReport;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Short hash of everything that decides a file's bytes.
pub(crate) fn spec_hash(model: &ModelSpec, quant: Quant, seed: u64) -> String {
    let key = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{:e}|{:e}|{}|{}|{}|{}",
        model.display_name,
        model.arch.gguf_name(),
        model.hidden_size,
        model.layers,
        model.heads,
        model.kv_heads,
        model.head_dim,
        model.ffn_size,
        model.vocab_size,
        model.context_length,
        model.rope_theta,
        model.rms_norm_eps,
        model.tied_embeddings,
        quant.name(),
        seed,
        GENERATOR_VERSION,
    );
    hex::encode(&Sha256::digest(key.as_bytes())[..6])
}

/// A GGUF file of one model, quantization and seed.
pub struct GgufArtifact<'a> {
    pub model: &'a ModelSpec,
    pub quant: Quant,
    pub seed: u64,
}

impl Artifact for GgufArtifact<'_> {
    fn key(&self) -> String {
        format!(
            "{}-{}-s{}-{}.gguf",
            self.model.name,
            self.quant.name(),
            self.seed,
            spec_hash(self.model, self.quant, self.seed)
        )
    }

    fn label(&self) -> Label {
        Label {
            seed: self.seed,
            model: self.model.name.clone(),
            quant: self.quant.name().into(),
            format: None,
            generator_version: GENERATOR_VERSION.into(),
        }
    }

    fn planned_bytes(&self) -> u64 {
        planned_file_bytes(self.model, self.quant)
    }

    fn write(
        &self,
        path: &Path,
        progress: &mut dyn FnMut(u64, u64),
    ) -> anyhow::Result<SynthReport> {
        write_gguf(self.model, self.quant, self.seed, path, progress)
    }

    /// Complete when the file has exactly the planned size, as the sidecar recorded.
    fn inspect(&self, path: &Path, recorded_bytes: u64) -> bool {
        let planned = self.planned_bytes();
        let len = std::fs::metadata(path).map(|m| m.len()).ok();
        recorded_bytes == planned && len == Some(planned)
    }
}

/// Where the cache keeps `model` at `quant` with `seed`:
/// `<dir>/<model>-<quant>-s<seed>-<hash>.gguf`.
pub fn cache_path(models_dir: &Path, model: &ModelSpec, quant: Quant, seed: u64) -> PathBuf {
    models_dir.join(GgufArtifact { model, quant, seed }.key())
}

/// The cached file of `model` at `quant` with `seed`, written first if it is missing or
/// incomplete.
pub fn ensure_cached(
    models_dir: &Path,
    model: &ModelSpec,
    quant: Quant,
    seed: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<CachedModel> {
    cache::ensure(models_dir, &GgufArtifact { model, quant, seed }, progress)
}
