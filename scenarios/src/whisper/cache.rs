//! Synthetic Whisper models in the model cache, one file or folder per (model, quantization,
//! format, seed), written once and reused. A model counts as complete when its sidecar
//! `<path>.json` (written last, after the file or folder was renamed into place) matches.

use super::{ggml, hf, onnx, WhisperFormat, WhisperQuant, WhisperSpec};
use crate::synth::{CachedModel, SynthReport};
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Version of the Whisper weight generator and file layouts; bump when bytes change.
pub const GENERATOR_VERSION: u32 = 1;

fn spec_hash(spec: &WhisperSpec, quant: WhisperQuant, format: WhisperFormat, seed: u64) -> String {
    let key = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        spec.n_vocab,
        spec.n_audio_ctx,
        spec.n_audio_state,
        spec.n_audio_head,
        spec.n_audio_layer,
        spec.n_text_ctx,
        spec.n_text_state,
        spec.n_text_head,
        spec.n_text_layer,
        spec.n_mels,
        quant.name(),
        format.name(),
        seed,
        GENERATOR_VERSION,
    );
    hex::encode(&Sha256::digest(key.as_bytes())[..6])
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
    let stem = format!(
        "{}-{}-s{seed}-{}",
        spec.name,
        quant.name(),
        spec_hash(spec, quant, format, seed)
    );
    models_dir.join(match format {
        WhisperFormat::Ggml => format!("ggml-{stem}.bin"),
        WhisperFormat::Safetensors => format!("{stem}.hf"),
        WhisperFormat::Gguf => format!("{stem}.candle-gguf"),
        WhisperFormat::Onnx => format!("{stem}.onnx"),
    })
}

/// Bytes of weights the synthetic model will have (the file, or the folder's weights file).
pub fn planned_bytes(spec: &WhisperSpec, quant: WhisperQuant, format: WhisperFormat) -> u64 {
    match format {
        WhisperFormat::Ggml => ggml::planned_bytes(spec, quant),
        WhisperFormat::Onnx => onnx::planned_bytes(spec, quant),
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
        WhisperFormat::Onnx => onnx::write(spec, quant, seed, path, progress),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    sha256: String,
    bytes: u64,
    seed: u64,
    model: String,
    quant: WhisperQuant,
    format: WhisperFormat,
    generator_version: u32,
}

fn remove(path: &Path) {
    if path.is_dir() {
        let _ = std::fs::remove_dir_all(path);
    } else {
        let _ = std::fs::remove_file(path);
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
    let path = cache_path(models_dir, spec, quant, format, seed);
    let sidecar = crate::synth::sidecar_path(&path);
    if let Some(sc) = std::fs::read_to_string(&sidecar)
        .ok()
        .and_then(|t| serde_json::from_str::<Sidecar>(&t).ok())
        .filter(|sc| sc.seed == seed && sc.generator_version == GENERATOR_VERSION)
        .filter(|_| path.exists())
    {
        return Ok(CachedModel {
            path,
            sha256: sc.sha256,
            bytes: sc.bytes,
            seed,
            synthesized: None,
        });
    }
    std::fs::create_dir_all(models_dir)
        .with_context(|| format!("creating model cache {}", models_dir.display()))?;
    let _ = std::fs::remove_file(&sidecar);
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".partial.{}", std::process::id()));
    let partial = PathBuf::from(partial);
    remove(&partial);
    let mut report = match write(spec, quant, format, seed, &partial, progress) {
        Ok(r) => r,
        Err(e) => {
            remove(&partial);
            return Err(e);
        }
    };
    remove(&path);
    std::fs::rename(&partial, &path)
        .with_context(|| format!("moving {} into place", path.display()))?;
    report.path = path.clone();
    let sc = Sidecar {
        sha256: report.sha256.clone(),
        bytes: report.bytes,
        seed,
        model: spec.name.clone(),
        quant,
        format,
        generator_version: GENERATOR_VERSION,
    };
    let mut tmp = sidecar.as_os_str().to_owned();
    tmp.push(format!(".partial.{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, serde_json::to_string_pretty(&sc)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &sidecar).with_context(|| format!("writing {}", sidecar.display()))?;
    Ok(CachedModel {
        path,
        sha256: report.sha256.clone(),
        bytes: report.bytes,
        seed,
        synthesized: Some(report),
    })
}
