//! Whisper runs: which speech targets are built, which model file each one gets (the same
//! seeded weights in each engine's own format), and the speech tests the runner measures.
//!
//! A Whisper scenario is (size, quantization, workload); the file depends on the target too:
//! whisper.cpp reads `ggml-*.bin`, candle a Hugging Face folder (safetensors for f32/f16, GGUF
//! for q8_0/q5_0), ONNX Runtime an Optimum ONNX folder (f32, f16, int8). Each target gets the
//! first format of the quantization that it reads.

use crate::commands::run::RunArgs;
use crate::plan::{gib, ModelSource, PlannedJob};
use crate::targets::{self, FoundTarget, MissingTarget};
use anyhow::{bail, Context};
use edgebench_harness::client::WorkerCommand;
use edgebench_harness::protocol::{RunSpec, SpeechRunSpec};
use edgebench_harness::runner::{ModelJob, TestSpec};
use edgebench_harness::schema::{Parameters, ScenarioRef, Status};
use edgebench_harness::target::LoadSpec;
use edgebench_scenarios::onnx::genai_config::CONFIG_FILE as GENAI_CONFIG;
use edgebench_scenarios::whisper::{
    cache, ggml, hf, onnx, WhisperFormat, WhisperQuant, WhisperWorkload,
};
use edgebench_scenarios::{Catalog, WhisperSpec, WorkloadSpec};
use std::path::{Path, PathBuf};

/// The argument that makes a worker serve speech models (whisper.cpp's serves only those).
pub const SPEECH_ARG: &str = "--speech";

/// A Whisper model for one job.
#[derive(Debug, Clone)]
pub enum WhisperSource {
    /// Synthesized into the cache in `format` (`None` when the target reads no format of
    /// `quant`; the job is then skipped).
    Synthetic {
        spec: WhisperSpec,
        quant: WhisperQuant,
        format: Option<WhisperFormat>,
        seed: u64,
    },
    /// The user's own file or folder.
    File {
        path: PathBuf,
        spec: WhisperSpec,
        quant: String,
        format: WhisperFormat,
        bytes: u64,
    },
}

impl WhisperSource {
    pub fn model_name(&self) -> String {
        match self {
            WhisperSource::Synthetic { spec, .. } => spec.name.clone(),
            WhisperSource::File { path, .. } => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }

    pub fn quant_name(&self) -> String {
        match self {
            WhisperSource::Synthetic { quant, .. } => quant.name().to_string(),
            WhisperSource::File { quant, .. } => quant.clone(),
        }
    }

    pub fn file_bytes(&self) -> u64 {
        match self {
            WhisperSource::Synthetic {
                spec,
                quant,
                format,
                ..
            } => format.map_or(0, |f| cache::planned_bytes(spec, *quant, f)),
            WhisperSource::File { bytes, .. } => *bytes,
        }
    }

    pub fn format(&self) -> Option<WhisperFormat> {
        match self {
            WhisperSource::Synthetic { format, .. } => *format,
            WhisperSource::File { format, .. } => Some(*format),
        }
    }

    /// `whisper-tiny f16 (synthetic, seed 1, whisper-ggml)` or the file and what it holds.
    pub fn describe(&self) -> String {
        match self {
            WhisperSource::Synthetic {
                spec,
                quant,
                format,
                seed,
            } => format!(
                "{} {quant} (synthetic, seed {seed}, {})",
                spec.name,
                format.map_or("no format".into(), |f| f.name().to_string())
            ),
            WhisperSource::File {
                path,
                spec,
                quant,
                format,
                ..
            } => format!(
                "{} {quant} ({format}, {}+{} layers, width {})",
                path.display(),
                spec.n_audio_layer,
                spec.n_text_layer,
                spec.n_audio_state
            ),
        }
    }
}

/// Whether a path is a Whisper model (a `ggml-*.bin` file, a Hugging Face folder with
/// `config.json`, an Optimum ONNX folder or its `encoder_model*.onnx`) rather than an LLM's
/// GGUF file or GenAI folder.
pub fn is_whisper_model(path: &Path) -> bool {
    if onnx::is_onnx_folder(path) {
        return true;
    }
    if path.is_dir() {
        // A Hugging Face folder (config.json); an ONNX Runtime GenAI folder, or any other
        // folder, is taken for a language model.
        return path.join(hf::CONFIG).is_file() && !path.join(GENAI_CONFIG).is_file();
    }
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok_and(|_| u32::from_le_bytes(magic) == ggml::MAGIC)
}

/// Whether the run asks for Whisper: a Whisper suite, scenario or file, or `--audio`.
pub fn requested(args: &RunArgs, catalog: &Catalog) -> anyhow::Result<bool> {
    let by_suite = args
        .suite
        .as_ref()
        .is_some_and(|s| catalog.whisper_suite(s).is_ok());
    let by_scenario: Vec<bool> = args
        .scenario
        .iter()
        .map(|s| catalog.whisper_model(s).is_ok())
        .collect();
    let by_model: Vec<bool> = args.model.iter().map(|m| is_whisper_model(m)).collect();
    let any = by_suite
        || by_scenario.iter().any(|&b| b)
        || by_model.iter().any(|&b| b)
        || args.audio.is_some();
    if any && (by_scenario.iter().any(|&b| !b) || by_model.iter().any(|&b| !b)) {
        bail!("Whisper and language models cannot share a run; run them one after the other");
    }
    Ok(any)
}

/// Every known target that serves speech models, asked with `--speech`, and why others do not.
pub fn discover() -> (Vec<FoundTarget>, Vec<MissingTarget>) {
    let (all, mut missing) = targets::discover_with(&[SPEECH_ARG]);
    let mut found = Vec::new();
    for f in all {
        if f.info.architectures.iter().any(|a| a == "whisper") {
            found.push(f);
        } else {
            missing.push(MissingTarget {
                name: f.name,
                reason: "runs no speech models in this build".into(),
            });
        }
    }
    (found, missing)
}

/// Models and workloads chosen.
pub struct Selection {
    pub suite: Option<String>,
    /// Each model with its quantizations (a user's file has one).
    pub models: Vec<Candidate>,
    pub workloads: Vec<WhisperWorkload>,
}

#[derive(Debug, Clone)]
pub enum Candidate {
    Synthetic {
        spec: WhisperSpec,
        quant: WhisperQuant,
    },
    File(WhisperSource),
}

/// Read a user's Whisper model (a `ggml-*.bin` file or a model folder); one-line errors.
pub fn inspect_file(path: &Path) -> anyhow::Result<WhisperSource> {
    if onnx::is_onnx_folder(path) {
        let f = onnx::inspect_folder(path)?;
        return Ok(WhisperSource::File {
            path: path.to_path_buf(),
            spec: f.spec,
            quant: f.quant,
            format: WhisperFormat::Onnx,
            bytes: f.file_bytes,
        });
    }
    if path.is_dir() {
        let s = hf::inspect_folder(path)?;
        let quant = match s.format {
            WhisperFormat::Gguf => "unknown".to_string(),
            _ => safetensors_dtype(&s.weights).unwrap_or_else(|| "unknown".into()),
        };
        return Ok(WhisperSource::File {
            path: path.to_path_buf(),
            spec: s.spec,
            quant,
            format: s.format,
            bytes: s.file_bytes,
        });
    }
    let s = ggml::inspect(path)?;
    Ok(WhisperSource::File {
        path: path.to_path_buf(),
        spec: s.spec,
        quant: s.quant,
        format: WhisperFormat::Ggml,
        bytes: s.file_bytes,
    })
}

/// `f16`/`f32` from a safetensors header (the token embedding's type).
fn safetensors_dtype(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut n = [0u8; 8];
    std::io::Read::read_exact(&mut f, &mut n).ok()?;
    let len = u64::from_le_bytes(n).min(100 << 20) as usize;
    let mut header = vec![0u8; len];
    std::io::Read::read_exact(&mut f, &mut header).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&header).ok()?;
    let dtype = v
        .get("model.decoder.embed_tokens.weight")?
        .get("dtype")?
        .as_str()?;
    Some(dtype.to_ascii_lowercase())
}

/// Models, quantizations and workloads from `--model`, `--scenario`/`--quant` or the suite.
pub fn select(args: &RunArgs, catalog: &Catalog) -> anyhow::Result<Selection> {
    if !args.prompt.is_empty() || !args.gen.is_empty() || !args.pg.is_empty() {
        bail!("-p, -n and --pg are LLM workloads; Whisper takes --workload transcribe-30s, encode or decode-tN");
    }
    let quants = args
        .quant
        .iter()
        .map(|q| WhisperQuant::parse(q))
        .collect::<Result<Vec<_>, _>>()
        .context("--quant")?;
    let mut workloads = args
        .workload
        .iter()
        .map(|w| catalog.whisper_workload(w))
        .collect::<Result<Vec<_>, _>>()
        .context("--workload")?;
    let default_workloads = || -> anyhow::Result<Vec<WhisperWorkload>> {
        Ok(vec![catalog.whisper_workload("transcribe-30s")?])
    };
    if !args.model.is_empty() {
        if args.suite.is_some() || !args.scenario.is_empty() || !quants.is_empty() {
            bail!("--model runs your own file; it cannot be combined with --suite, --scenario or --quant");
        }
        let models = args
            .model
            .iter()
            .map(|p| inspect_file(p).map(Candidate::File))
            .collect::<anyhow::Result<_>>()?;
        if workloads.is_empty() {
            workloads = default_workloads()?;
        }
        return Ok(Selection {
            suite: None,
            models,
            workloads,
        });
    }
    let (suite, names, suite_quants, suite_workloads) = if args.scenario.is_empty() {
        let name = args.suite.clone().unwrap_or_else(|| "whisper".into());
        let suite = catalog.whisper_suite(&name).context("--suite")?;
        let w = suite
            .workloads
            .iter()
            .map(|w| catalog.whisper_workload(w))
            .collect::<Result<Vec<_>, _>>()?;
        (Some(name), suite.models.clone(), suite.quants.clone(), w)
    } else {
        if args.suite.is_some() {
            bail!("--scenario picks models itself; drop --suite or --scenario");
        }
        (
            None,
            args.scenario.clone(),
            vec![WhisperQuant::F16],
            default_workloads()?,
        )
    };
    let quants = if quants.is_empty() {
        suite_quants
    } else {
        quants
    };
    if workloads.is_empty() {
        workloads = suite_workloads;
    }
    let mut models = Vec::new();
    for name in &names {
        let spec = catalog.whisper_model(name).context("--scenario")?;
        for &quant in &quants {
            models.push(Candidate::Synthetic {
                spec: spec.clone(),
                quant,
            });
        }
    }
    Ok(Selection {
        suite,
        models,
        workloads,
    })
}

/// Runtime memory beyond the weights (compute buffers, KV caches, the audio), bytes.
pub const OVERHEAD_BYTES: u64 = 500 << 20;

/// One job per model × target × thread count, with the format each target reads and what is
/// skipped and why.
#[allow(clippy::too_many_arguments)]
pub fn resolve(
    sel: &Selection,
    target_names: &[String],
    found: &[FoundTarget],
    missing: &[MissingTarget],
    threads: &[usize],
    seed: u64,
    ram_bytes: u64,
    force: bool,
) -> Vec<PlannedJob> {
    let workloads: Vec<WorkloadSpec> = sel
        .workloads
        .iter()
        .map(|w| WorkloadSpec {
            name: w.name.clone(),
            prompt: 0,
            gen: w.decode,
            description: w.description.clone(),
        })
        .collect();
    let mut jobs = Vec::new();
    for candidate in &sel.models {
        for target in target_names {
            let found_target = found.iter().find(|f| f.name == target);
            let (source, mut skip) = match (candidate, found_target) {
                (Candidate::Synthetic { spec, quant }, Some(f)) => {
                    let format = quant
                        .formats()
                        .iter()
                        .copied()
                        .find(|fmt| f.info.formats.iter().any(|x| x == fmt.name()));
                    let skip = match format {
                        None => Some(format!(
                            "{target} reads no format that holds {quant} Whisper weights (reads {})",
                            f.info.formats.join(", ")
                        )),
                        Some(fmt) => {
                            targets::supports(&f.info, fmt.name(), "whisper", quant.name()).err()
                        }
                    };
                    (
                        WhisperSource::Synthetic {
                            spec: spec.clone(),
                            quant: *quant,
                            format,
                            seed,
                        },
                        skip,
                    )
                }
                (Candidate::File(source), Some(f)) => {
                    let fmt = source.format().expect("a file has a format");
                    let skip =
                        targets::supports(&f.info, fmt.name(), "whisper", &source.quant_name())
                            .err();
                    (source.clone(), skip)
                }
                (Candidate::Synthetic { spec, quant }, None) => (
                    WhisperSource::Synthetic {
                        spec: spec.clone(),
                        quant: *quant,
                        format: None,
                        seed,
                    },
                    None,
                ),
                (Candidate::File(source), None) => (source.clone(), None),
            };
            if found_target.is_none() {
                skip = Some(
                    missing
                        .iter()
                        .find(|m| m.name == target)
                        .map(|m| format!("target {target} is not available: {}", m.reason))
                        .unwrap_or_else(|| format!("unknown target {target}")),
                );
            }
            // Weights as the target holds them + its runtime (its own memory model).
            let memory_estimate_bytes = crate::memfit::speech_estimate(
                found_target.and_then(|f| f.memory()),
                source.file_bytes(),
                &source.quant_name(),
            );
            if skip.is_none() && !force && memory_estimate_bytes > ram_bytes {
                skip = Some(format!(
                    "needs about {} of memory, this device has {} (use --force to try anyway)",
                    gib(memory_estimate_bytes),
                    gib(ram_bytes)
                ));
            }
            for &t in threads {
                jobs.push(PlannedJob {
                    model: ModelSource::Whisper(Box::new(source.clone())),
                    target: target.clone(),
                    worker: found_target.map(|f| f.worker.clone()),
                    threads: t,
                    options: Default::default(),
                    workloads: workloads.clone(),
                    memory_estimate_bytes,
                    skip: skip.clone(),
                });
            }
        }
    }
    jobs
}

/// The model for a job (synthesized into the cache if needed) and its scenario fields.
pub fn prepare(
    source: &WhisperSource,
    models_dir: &Path,
) -> Result<(PathBuf, ScenarioRef), Status> {
    match source {
        WhisperSource::File {
            path, quant, bytes, ..
        } => Ok((
            path.clone(),
            ScenarioRef {
                model: source.model_name(),
                quant: quant.clone(),
                model_path: path.display().to_string(),
                model_bytes: *bytes,
                ..Default::default()
            },
        )),
        WhisperSource::Synthetic {
            spec,
            quant,
            format,
            seed,
        } => {
            let format = format.ok_or_else(|| Status::Skipped {
                reason: "no format for this quantization".into(),
            })?;
            crate::synthesis::prepare(
                models_dir,
                &cache::cache_path(models_dir, spec, *quant, format, *seed),
                source.file_bytes(),
                &format!("{} {quant} ({format})", spec.name),
                &spec.name,
                quant.name(),
                *seed,
                |progress| cache::ensure_cached(models_dir, spec, *quant, format, *seed, progress),
            )
        }
    }
}

/// The runner's job: a speech worker, the model, one speech test per workload on `audio`.
pub fn model_job(
    job: &PlannedJob,
    path: &Path,
    scenario: &ScenarioRef,
    catalog: &Catalog,
    audio: &Path,
) -> anyhow::Result<ModelJob> {
    let worker = job.worker.clone().context("a job that runs has a worker")?;
    let mut command = WorkerCommand::for_target(worker, job.threads);
    command.args.push(SPEECH_ARG.into());
    let mut options = std::collections::BTreeMap::new();
    options.insert("audio".to_string(), audio.display().to_string());
    let tests = job
        .workloads
        .iter()
        .map(|w| {
            let spec = catalog.whisper_workload(&w.name)?;
            Ok(TestSpec {
                scenario: ScenarioRef {
                    workload: w.name.clone(),
                    prompt_tokens: 0,
                    gen_tokens: spec.decode,
                    ..scenario.clone()
                },
                run: RunSpec::default(),
                speech: Some(SpeechRunSpec {
                    audio_path: audio.to_path_buf(),
                    mel: spec.mel,
                    encode: spec.encode,
                    decode: spec.decode,
                }),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let context = 4 + job.workloads.iter().map(|w| w.gen).max().unwrap_or(0);
    Ok(ModelJob {
        target: job.target.clone(),
        worker: command,
        load: LoadSpec {
            model_path: path.to_path_buf(),
            threads: job.threads,
            context,
            options: Default::default(),
        },
        parameters: Parameters {
            threads: job.threads,
            options,
        },
        tests,
    })
}

/// The audio clip of the run: the user's `--audio` (checked now, so a bad file is one line
/// before anything runs) or the standard synthetic clip, written into the cache on first use.
pub fn audio_clip(args: &RunArgs, models_dir: &Path) -> anyhow::Result<PathBuf> {
    match &args.audio {
        Some(path) => {
            let audio = edgebench_harness::audio::read_wav(path).context("--audio")?;
            if audio.seconds() < 1.0 {
                bail!(
                    "--audio: {}: only {:.2} s of audio",
                    path.display(),
                    audio.seconds()
                );
            }
            Ok(path.clone())
        }
        None => edgebench_scenarios::whisper::audio::ensure_clip(models_dir, args.seed),
    }
}
