//! The cache directory: where entries live, how they are written and found again.

use super::artifact::{Artifact, Label};
use crate::output::SynthReport;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `$EDGEBENCH_MODELS_DIR`, else `$XDG_CACHE_HOME/edgebench/models`, else
/// `~/.cache/edgebench/models`.
pub fn default_models_dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = var("EDGEBENCH_MODELS_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = var("XDG_CACHE_HOME").map(PathBuf::from) {
        if d.is_absolute() {
            return d.join("edgebench").join("models");
        }
    }
    if let Some(home) = var("HOME") {
        return PathBuf::from(home)
            .join(".cache")
            .join("edgebench")
            .join("models");
    }
    std::env::temp_dir().join("edgebench").join("models")
}

/// A model in the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedModel {
    /// The file or folder.
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    pub seed: u64,
    /// `Some` when this call wrote the model, `None` when it was already there.
    pub synthesized: Option<SynthReport>,
}

/// The sidecar of a cache entry (`<entry>.json`, written last): what the entry holds and that
/// it is complete.
pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

/// The sidecar's JSON: `sha256`, `bytes`, then the [`Label`]'s fields, in this order.
#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    sha256: String,
    bytes: u64,
    #[serde(flatten)]
    label: Label,
}

/// The cached model `artifact` describes, written first if it is missing or incomplete.
pub fn ensure(
    models_dir: &Path,
    artifact: &dyn Artifact,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<CachedModel> {
    let path = models_dir.join(artifact.key());
    let label = artifact.label();
    if let Some(sc) = complete_entry(&path, artifact, &label) {
        return Ok(CachedModel {
            path,
            sha256: sc.sha256,
            bytes: sc.bytes,
            seed: label.seed,
            synthesized: None,
        });
    }
    std::fs::create_dir_all(models_dir)
        .with_context(|| format!("creating model cache {}", models_dir.display()))?;
    let _ = std::fs::remove_file(sidecar_path(&path));
    let report = synthesize(&path, artifact, progress)?;
    let sc = Sidecar {
        sha256: report.sha256.clone(),
        bytes: report.bytes,
        label,
    };
    write_sidecar(&path, &sc)?;
    Ok(CachedModel {
        path,
        sha256: sc.sha256,
        bytes: sc.bytes,
        seed: sc.label.seed,
        synthesized: Some(report),
    })
}

/// The sidecar of a complete entry at `path` written for `label`'s seed and generator.
fn complete_entry(path: &Path, artifact: &dyn Artifact, label: &Label) -> Option<Sidecar> {
    let text = std::fs::read_to_string(sidecar_path(path)).ok()?;
    let sc: Sidecar = serde_json::from_str(&text).ok()?;
    (sc.label.seed == label.seed
        && sc.label.generator_version == label.generator_version
        && artifact.inspect(path, sc.bytes))
    .then_some(sc)
}

/// Write the model at a temp path next to `path`, then move it into place.
fn synthesize(
    path: &Path,
    artifact: &dyn Artifact,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<SynthReport> {
    let partial = temp_path(path);
    remove(&partial);
    let mut report = match artifact.write(&partial, progress) {
        Ok(r) => r,
        Err(e) => {
            remove(&partial);
            return Err(e);
        }
    };
    remove(path);
    std::fs::rename(&partial, path)
        .with_context(|| format!("moving {} into place", path.display()))?;
    report.path = path.to_path_buf();
    Ok(report)
}

fn write_sidecar(path: &Path, sc: &Sidecar) -> anyhow::Result<()> {
    let sidecar = sidecar_path(path);
    let tmp = temp_path(&sidecar);
    std::fs::write(&tmp, serde_json::to_string_pretty(sc)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &sidecar).with_context(|| format!("writing {}", sidecar.display()))
}

/// `<path>.partial.<pid>`: a write in progress, never mistaken for an entry.
fn temp_path(path: &Path) -> PathBuf {
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".partial.{}", std::process::id()));
    PathBuf::from(partial)
}

/// Remove a file or folder, if there is one.
fn remove(path: &Path) {
    if path.is_dir() {
        let _ = std::fs::remove_dir_all(path);
    } else {
        let _ = std::fs::remove_file(path);
    }
}
