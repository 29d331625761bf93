//! Resolving what the user asked for into a strict plan: which model files, on which targets,
//! with which parameters and workloads, and what is skipped and why. Nothing runs here and
//! nothing is written, so `--dry-run` can print the plan.

use crate::gguf::GgufSummary;
use crate::sweep;
use crate::targets::{supports, FoundTarget, MissingTarget};
use edgebench_harness::target::TargetInfo;
use edgebench_scenarios::onnx::{FolderSummary, OnnxQuant};
use edgebench_scenarios::{Catalog, ModelSpec, Quant, WorkloadSpec};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Where a job's model file comes from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// Synthesized into the model cache before the job runs (if not cached already).
    Synthetic {
        spec: ModelSpec,
        quant: Quant,
        seed: u64,
    },
    /// The user's own file.
    File { path: PathBuf, summary: GgufSummary },
    /// A Whisper model (see [`crate::whisper`]).
    Whisper(Box<crate::whisper::WhisperSource>),
    /// A synthetic ONNX Runtime GenAI folder, synthesized into the cache like a GGUF.
    SyntheticOnnx {
        spec: ModelSpec,
        quant: OnnxQuant,
        seed: u64,
    },
    /// The user's own ONNX Runtime GenAI folder.
    Folder {
        path: PathBuf,
        summary: Box<FolderSummary>,
    },
}

impl ModelSource {
    pub fn model_name(&self) -> String {
        match self {
            ModelSource::Synthetic { spec, .. } | ModelSource::SyntheticOnnx { spec, .. } => {
                spec.name.clone()
            }
            ModelSource::File { path, .. } | ModelSource::Folder { path, .. } => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            ModelSource::Whisper(w) => w.model_name(),
        }
    }
    pub fn quant_name(&self) -> String {
        match self {
            ModelSource::Synthetic { quant, .. } => quant.name().to_string(),
            ModelSource::SyntheticOnnx { quant, .. } => quant.name().to_string(),
            ModelSource::File { summary, .. } => summary.quant.clone(),
            ModelSource::Whisper(w) => w.quant_name(),
            ModelSource::Folder { summary, .. } => summary.quant.clone(),
        }
    }
    pub fn architecture(&self) -> String {
        match self {
            ModelSource::Synthetic { spec, .. } | ModelSource::SyntheticOnnx { spec, .. } => {
                spec.arch.gguf_name().to_string()
            }
            ModelSource::File { summary, .. } => summary.architecture.clone(),
            ModelSource::Whisper(_) => "whisper".into(),
            ModelSource::Folder { summary, .. } => summary.genai.model_type.clone(),
        }
    }
    /// The format a target must read (`TargetInfo::formats`).
    pub fn format(&self) -> &'static str {
        match self {
            ModelSource::Synthetic { .. } | ModelSource::File { .. } => "gguf",
            ModelSource::SyntheticOnnx { .. } | ModelSource::Folder { .. } => "onnx-genai",
            ModelSource::Whisper(w) => w.format().map_or("whisper", |f| f.name()),
        }
    }
    /// Size of the model file (planned, for synthetic models not yet written).
    pub fn file_bytes(&self) -> u64 {
        match self {
            ModelSource::Synthetic { spec, quant, .. } => {
                edgebench_scenarios::synth::planned_file_bytes(spec, *quant)
            }
            ModelSource::SyntheticOnnx { spec, quant, seed } => {
                edgebench_scenarios::onnx::planned_folder_bytes(spec, *quant, *seed)
            }
            ModelSource::File { summary, .. } => summary.file_bytes,
            ModelSource::Whisper(w) => w.file_bytes(),
            ModelSource::Folder { summary, .. } => summary.file_bytes,
        }
    }

    /// This model in a format `formats` lists: a synthetic model is made in whichever format
    /// the target reads (a GGUF quantization becomes its ONNX Runtime GenAI counterpart, e.g.
    /// q4_k_m → int4); a user's file stays as it is. `Err` says why the target cannot run it.
    pub fn for_formats(&self, target: &str, formats: &[String]) -> Result<ModelSource, String> {
        let reads = |f: &str| formats.iter().any(|x| x == f);
        match self {
            ModelSource::Synthetic { spec, quant, seed }
                if !reads("gguf") && reads("onnx-genai") =>
            {
                match OnnxQuant::counterpart_of(*quant) {
                    Some(q) => Ok(ModelSource::SyntheticOnnx {
                        spec: spec.clone(),
                        quant: q,
                        seed: *seed,
                    }),
                    None => Err(format!(
                        "{target} reads ONNX Runtime GenAI folders, which have no counterpart of \
                         {quant} (they come in {})",
                        OnnxQuant::ALL.map(|q| q.name()).join(", ")
                    )),
                }
            }
            other => Ok(other.clone()),
        }
    }
}

/// A quantization the user named: a GGUF one (`q4_k_m`) or an ONNX Runtime GenAI precision
/// (`int4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynthQuant {
    Gguf(Quant),
    Onnx(OnnxQuant),
}

impl SynthQuant {
    pub fn parse(s: &str) -> anyhow::Result<SynthQuant> {
        if let Some(q) = OnnxQuant::parse(s) {
            return Ok(SynthQuant::Onnx(q));
        }
        Quant::parse(s).map(SynthQuant::Gguf).map_err(|_| {
            anyhow::anyhow!(
                "unknown quantization '{s}' (GGUF: {}; ONNX Runtime GenAI: {})",
                Quant::ALL.map(|q| q.name()).join(", "),
                OnnxQuant::ALL.map(|q| q.name()).join(", ")
            )
        })
    }
}

/// The user's model at `path`: an ONNX Runtime GenAI folder (or its genai_config.json), else a
/// GGUF file. A bad one is a one-line error naming the file at fault.
pub fn inspect_model(path: &std::path::Path) -> anyhow::Result<ModelSource> {
    let genai = path.is_dir()
        || path
            .file_name()
            .is_some_and(|n| n == edgebench_scenarios::onnx::genai_config::CONFIG_FILE);
    if genai {
        let summary = edgebench_scenarios::onnx::inspect(path)?;
        return Ok(ModelSource::Folder {
            path: summary.genai.folder.clone(),
            summary: Box::new(summary),
        });
    }
    Ok(ModelSource::File {
        path: path.to_path_buf(),
        summary: crate::gguf::inspect(path)?,
    })
}

/// One model on one target with one thread count, and the workloads to run on it.
#[derive(Debug, Clone)]
pub struct PlannedJob {
    pub model: ModelSource,
    pub target: String,
    pub worker: Option<PathBuf>,
    pub threads: usize,
    /// Backend options of this job (one combination of a sweep), only those the target reads.
    pub options: BTreeMap<String, String>,
    pub workloads: Vec<WorkloadSpec>,
    /// Estimated resident memory while running: weights + KV cache + what the backend adds
    /// + runtime (see `crate::memfit`).
    pub memory_estimate_bytes: u64,
    /// Set when the job will not run, with the reason recorded in the results.
    pub skip: Option<String>,
}

impl PlannedJob {
    pub fn context(&self) -> usize {
        self.workloads
            .iter()
            .map(|w| w.prompt + w.gen)
            .max()
            .unwrap_or(0)
            + 1
    }
}

/// Everything the user chose, already validated by name.
pub struct Selection {
    pub models: Vec<ModelSource>,
    pub targets: Vec<String>,
    pub threads: Vec<usize>,
    pub workloads: Vec<WorkloadSpec>,
    /// Every combination of the swept backend options (one empty map when none was given).
    pub options: Vec<BTreeMap<String, String>>,
    pub ram_bytes: u64,
    pub force: bool,
}

pub fn resolve(
    sel: &Selection,
    found: &[FoundTarget],
    missing: &[MissingTarget],
) -> Vec<PlannedJob> {
    let mut jobs = Vec::new();
    for model in &sel.models {
        for target in &sel.targets {
            let found_target = found.iter().find(|f| f.name == target);
            let combos = sweep::for_target(
                &sel.options,
                &found_target
                    .map(|f| load_options(&f.info))
                    .unwrap_or_default(),
            );
            for (&threads, options) in sel
                .threads
                .iter()
                .flat_map(|t| combos.iter().map(move |o| (t, o)))
            {
                let context = sel
                    .workloads
                    .iter()
                    .map(|w| w.prompt + w.gen)
                    .max()
                    .unwrap_or(0)
                    + 1;
                let (model, mut skip) = match found_target {
                    None => (
                        model.clone(),
                        Some(
                            missing
                                .iter()
                                .find(|m| m.name == target)
                                .map(|m| format!("target {target} is not available: {}", m.reason))
                                .unwrap_or_else(|| format!("unknown target {target}")),
                        ),
                    ),
                    Some(f) => match model.for_formats(target, &f.info.formats) {
                        Ok(m) => {
                            let skip =
                                supports(&f.info, m.format(), &m.architecture(), &m.quant_name())
                                    .err();
                            (m, skip)
                        }
                        Err(reason) => (model.clone(), Some(reason)),
                    },
                };
                let estimate =
                    crate::memfit::estimate(&model, found_target.and_then(|f| f.memory()), context);
                let memory_estimate_bytes = estimate.total();
                if skip.is_none() && !sel.force && memory_estimate_bytes > sel.ram_bytes {
                    skip = Some(format!(
                        "needs about {} of memory ({}), this device has {}: pick a smaller \
                         model or quantization, or use --force to try anyway",
                        gib(memory_estimate_bytes),
                        estimate.breakdown(),
                        gib(sel.ram_bytes)
                    ));
                }
                jobs.push(PlannedJob {
                    model,
                    target: target.clone(),
                    worker: found_target.map(|f| f.worker.clone()),
                    threads,
                    options: options.clone(),
                    workloads: sel.workloads.clone(),
                    memory_estimate_bytes,
                    skip,
                });
            }
        }
    }
    jobs
}

/// The load options a target reads (its description; see `TargetInfo::option_names`).
pub fn load_options(info: &TargetInfo) -> Vec<&str> {
    info.option_names()
}

pub fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// The plan as text, for `--dry-run` and the run's header.
pub fn describe(jobs: &[PlannedJob]) -> String {
    let mut out = String::new();
    for j in jobs {
        let what = match &j.model {
            ModelSource::Synthetic { quant, seed, .. } => format!(
                "{} {} (synthetic, seed {seed})",
                j.model.model_name(),
                quant
            ),
            ModelSource::SyntheticOnnx { quant, seed, .. } => format!(
                "{} {} (synthetic ONNX Runtime GenAI folder, seed {seed})",
                j.model.model_name(),
                quant
            ),
            ModelSource::File { path, summary } => format!(
                "{} {} ({}, {:.2}B parameters)",
                path.display(),
                summary.quant,
                summary.architecture,
                summary.parameters as f64 / 1e9
            ),
            ModelSource::Whisper(w) => w.describe(),
            ModelSource::Folder { path, summary } => format!(
                "{} {} ({} GenAI folder{})",
                path.display(),
                summary.quant,
                summary.genai.model_type,
                summary
                    .parameters
                    .map(|p| format!(", {:.2}B parameters", p as f64 / 1e9))
                    .unwrap_or_default()
            ),
        };
        let workloads: Vec<&str> = j.workloads.iter().map(|w| w.name.as_str()).collect();
        let options = if j.options.is_empty() {
            String::new()
        } else {
            format!(" ({})", sweep::describe(&j.options))
        };
        let _ = write!(
            out,
            "  {what} on {}{options} with {} thread{}: {} [{} file, ~{} in memory]",
            j.target,
            j.threads,
            if j.threads == 1 { "" } else { "s" },
            workloads.join(", "),
            gib(j.model.file_bytes()),
            gib(j.memory_estimate_bytes)
        );
        if let Some(reason) = &j.skip {
            let _ = write!(out, "\n      skipped: {reason}");
        }
        out.push('\n');
    }
    out
}

/// Workloads from `--workload` names and llama-bench style `-p`/`-n`/`--pg` numbers.
pub fn workloads_from_flags(
    catalog: &Catalog,
    names: &[String],
    prompts: &[usize],
    gens: &[usize],
    pg: &[(usize, usize)],
) -> anyhow::Result<Vec<WorkloadSpec>> {
    let mut out: Vec<WorkloadSpec> = Vec::new();
    for n in names {
        out.push(catalog.workload(n)?.clone());
    }
    let make = |prompt: usize, gen: usize| {
        let name = match (prompt, gen) {
            (p, 0) => format!("pp{p}"),
            (0, g) => format!("tg{g}"),
            (p, g) => format!("pp{p}+tg{g}"),
        };
        WorkloadSpec {
            name,
            prompt,
            gen,
            description: String::new(),
        }
    };
    out.extend(prompts.iter().filter(|&&p| p > 0).map(|&p| make(p, 0)));
    out.extend(gens.iter().filter(|&&g| g > 0).map(|&g| make(0, g)));
    out.extend(pg.iter().map(|&(p, g)| make(p, g)));
    let mut seen = std::collections::HashSet::new();
    out.retain(|w| seen.insert(w.name.clone()));
    Ok(out)
}
