//! Synthesizing a model into the cache behind a progress bar: one path for every format (GGUF,
//! ONNX Runtime GenAI folders, Whisper files and folders), used by `run` and `models synth`.

use crate::progress::synth_bar;
use crate::units::gib;
use edgebench_harness::schema::{ScenarioRef, Status};
use edgebench_scenarios::onnx::CachedFolder;
use edgebench_scenarios::synth::CachedModel;
use std::path::{Path, PathBuf};

/// A model in the cache, whatever its format.
pub struct Cached {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    /// Seconds it took when this call wrote it; `None` when it was already cached.
    pub written_in_s: Option<f64>,
}

impl From<CachedModel> for Cached {
    fn from(c: CachedModel) -> Self {
        Cached {
            written_in_s: c.synthesized.map(|r| r.seconds),
            path: c.path,
            sha256: c.sha256,
            bytes: c.bytes,
        }
    }
}

impl From<CachedFolder> for Cached {
    fn from(c: CachedFolder) -> Self {
        Cached {
            written_in_s: c.synthesized.map(|r| r.seconds),
            path: c.folder,
            sha256: c.sha256,
            bytes: c.bytes,
        }
    }
}

impl Cached {
    /// Seconds and GB/s of the write, when this call wrote it.
    pub fn write_rate(&self) -> Option<(f64, f64)> {
        self.written_in_s
            .map(|s| (s, self.bytes as f64 / s.max(1e-9) / 1e9))
    }

    /// `models synth`'s line: path, size, how, hash.
    pub fn print(&self) {
        println!(
            "{}  {}  {}  sha256 {}",
            self.path.display(),
            gib(self.bytes),
            match self.write_rate() {
                Some((s, gbs)) => format!("written in {s:.1} s ({gbs:.2} GB/s)"),
                None => "already cached".into(),
            },
            self.sha256
        );
    }
}

/// Run a cache's `ensure_cached` (given the progress callback) behind a bar showing `label`
/// and `planned_bytes`.
pub fn with_bar<C: Into<Cached>>(
    label: &str,
    planned_bytes: u64,
    ensure: impl FnOnce(&mut dyn FnMut(u64, u64)) -> anyhow::Result<C>,
) -> anyhow::Result<Cached> {
    let bar = synth_bar(label, planned_bytes);
    let cached = ensure(&mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    cached.map(Into::into)
}

/// The model of a job, synthesized into `models_dir` unless already at `cache_path`: skipped
/// when the disk cannot take it, failed (with the reason) when writing fails. Returns where it
/// is and the scenario fields of its results.
#[allow(clippy::too_many_arguments)]
pub fn prepare<C: Into<Cached>>(
    models_dir: &Path,
    cache_path: &Path,
    planned_bytes: u64,
    label: &str,
    model: &str,
    quant: &str,
    seed: u64,
    ensure: impl FnOnce(&mut dyn FnMut(u64, u64)) -> anyhow::Result<C>,
) -> Result<(PathBuf, ScenarioRef), Status> {
    if !cache_path.exists() {
        check_disk_space(models_dir, planned_bytes)?;
    }
    let cached = with_bar(label, planned_bytes, ensure).map_err(|e| Status::Failed {
        reason: format!("cannot synthesize the model: {e:#}"),
    })?;
    if let Some((seconds, gbs)) = cached.write_rate() {
        eprintln!(
            "synthesized {} ({}) in {seconds:.1} s, {gbs:.2} GB/s",
            cached.path.display(),
            gib(cached.bytes),
        );
    }
    Ok((
        cached.path.clone(),
        ScenarioRef {
            model: model.to_string(),
            quant: quant.to_string(),
            model_path: cached.path.display().to_string(),
            model_sha256: Some(cached.sha256),
            model_bytes: cached.bytes,
            synthetic: true,
            seed: Some(seed),
            ..Default::default()
        },
    ))
}

/// Skip the job when the model cache's disk cannot take `bytes` more (and 1 GiB to spare).
fn check_disk_space(models_dir: &Path, bytes: u64) -> Result<(), Status> {
    match free_disk_bytes(models_dir) {
        Some(free) if free < bytes + (1 << 30) => Err(Status::Skipped {
            reason: format!(
                "not enough disk space in {} for the synthetic model: needs {}, {} free",
                models_dir.display(),
                gib(bytes),
                gib(free)
            ),
        }),
        _ => Ok(()),
    }
}

/// Free space on the disk holding `dir` (or its nearest existing parent).
fn free_disk_bytes(dir: &Path) -> Option<u64> {
    let mut probe = dir.to_path_buf();
    while !probe.exists() {
        probe = probe.parent()?.to_path_buf();
    }
    let probe = probe.canonicalize().ok()?;
    let disks = sysinfo::Disks::new_with_refreshed_list();
    disks
        .list()
        .iter()
        .filter(|d| probe.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len())
        .map(|d| d.available_space())
}
