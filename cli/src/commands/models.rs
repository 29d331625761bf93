//! `edgebench models`: the model cache.

use crate::plan::gib;
use crate::plan::SynthQuant;
use crate::progress::synth_bar;
use anyhow::Context;
use clap::{Args, Subcommand};
use edgebench_scenarios::{onnx, synth, Catalog, ModelSpec};
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: ModelsCommand,
}

#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// Write a synthetic model of a catalog model's exact shape into the model cache: a GGUF
    /// for GGUF quantizations, an ONNX Runtime GenAI folder for fp32, fp16, int8, int4 (for a
    /// Whisper model: a ggml-*.bin and Hugging Face folders, see --format)
    Synth {
        /// Catalog model (see `edgebench list scenarios`)
        model: String,
        /// Whisper only: whisper-ggml, whisper-safetensors or whisper-gguf [default: every
        /// format that holds the quantization]
        #[arg(long)]
        format: Option<String>,
        /// Quantizations, comma-separated (see `edgebench list quants`)
        #[arg(long, short = 'q', value_delimiter = ',', default_value = "q4_k_m")]
        quant: Vec<String>,
        /// Seed of the weights
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Model cache folder [default: $XDG_CACHE_HOME/edgebench/models]
        #[arg(long)]
        models_dir: Option<PathBuf>,
    },
    /// List the models in the cache
    List {
        #[arg(long)]
        models_dir: Option<PathBuf>,
    },
}

pub fn run(args: ModelsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ModelsCommand::Synth {
            model,
            format,
            quant,
            seed,
            models_dir,
        } => {
            let catalog = Catalog::builtin();
            if let Ok(spec) = catalog.whisper_model(&model) {
                return synth_whisper(spec, format.as_deref(), &quant, seed, &models_dir);
            }
            let spec = catalog.model(&model)?;
            let quants = quant
                .iter()
                .map(|q| SynthQuant::parse(q))
                .collect::<Result<Vec<_>, _>>()
                .context("--quant")?;
            let dir = crate::models_dir(&models_dir);
            for q in quants {
                let q = match q {
                    SynthQuant::Gguf(q) => q,
                    SynthQuant::Onnx(q) => {
                        synth_onnx(&dir, spec, q, seed)?;
                        continue;
                    }
                };
                let bar = synth_bar(
                    &format!("{} {q}", spec.name),
                    synth::planned_file_bytes(spec, q),
                );
                let cached = synth::ensure_cached(&dir, spec, q, seed, &mut |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                });
                bar.finish_and_clear();
                let cached = cached?;
                match &cached.synthesized {
                    Some(r) => println!(
                        "{}  {}  written in {:.1} s ({:.2} GB/s)  sha256 {}",
                        cached.path.display(),
                        gib(cached.bytes),
                        r.seconds,
                        r.bytes as f64 / r.seconds.max(1e-9) / 1e9,
                        cached.sha256
                    ),
                    None => println!(
                        "{}  {}  already cached  sha256 {}",
                        cached.path.display(),
                        gib(cached.bytes),
                        cached.sha256
                    ),
                }
            }
        }
        ModelsCommand::List { models_dir } => {
            let dir = crate::models_dir(&models_dir);
            let mut files: Vec<_> = match std::fs::read_dir(&dir) {
                Ok(it) => it
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.extension().is_some_and(|x| x == "gguf")
                            || p.join(onnx::genai_config::CONFIG_FILE).is_file()
                    })
                    .collect(),
                Err(_) => Vec::new(),
            };
            files.sort();
            println!("{} ({} models)", dir.display(), files.len());
            for f in files {
                let size = if f.is_dir() {
                    std::fs::read_dir(&f)
                        .map(|it| {
                            it.filter_map(|e| e.ok()?.metadata().ok())
                                .map(|m| m.len())
                                .sum()
                        })
                        .unwrap_or(0)
                } else {
                    std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0)
                };
                println!(
                    "  {:>10}  {}",
                    gib(size),
                    f.file_name().unwrap_or_default().to_string_lossy()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `models synth` for a Whisper model: one file or folder per quantization and format.
fn synth_whisper(
    spec: &edgebench_scenarios::WhisperSpec,
    format: Option<&str>,
    quants: &[String],
    seed: u64,
    models_dir: &Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    use edgebench_scenarios::whisper::{cache, WhisperFormat, WhisperQuant};
    let format = format
        .map(|f| {
            WhisperFormat::from_name(f).ok_or_else(|| {
                let known: Vec<&str> = WhisperFormat::ALL.iter().map(|f| f.name()).collect();
                anyhow::anyhow!(
                    "--format: unknown format '{f}' (known: {})",
                    known.join(", ")
                )
            })
        })
        .transpose()?;
    // `q4_k_m` is the LLM default of --quant; a Whisper model defaults to f16.
    let quants: Vec<WhisperQuant> = if quants == ["q4_k_m"] {
        vec![WhisperQuant::F16]
    } else {
        quants
            .iter()
            .map(|q| WhisperQuant::parse(q))
            .collect::<Result<_, _>>()
            .context("--quant")?
    };
    let dir = crate::models_dir(models_dir);
    for q in quants {
        let formats: Vec<WhisperFormat> = match format {
            Some(f) => vec![f],
            None => q
                .formats()
                .iter()
                .copied()
                .filter(|f| *f != WhisperFormat::Onnx)
                .collect(),
        };
        for f in formats {
            let bar = synth_bar(
                &format!("{} {q} ({f})", spec.name),
                cache::planned_bytes(spec, q, f),
            );
            let cached = cache::ensure_cached(&dir, spec, q, f, seed, &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            });
            bar.finish_and_clear();
            let cached = cached?;
            println!(
                "{}  {}  {}  sha256 {}",
                cached.path.display(),
                gib(cached.bytes),
                if cached.synthesized.is_some() {
                    "written"
                } else {
                    "already cached"
                },
                cached.sha256
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Write (or find) the synthetic ONNX Runtime GenAI folder of `spec` at `quant` in the cache.
fn synth_onnx(
    dir: &Path,
    spec: &ModelSpec,
    quant: onnx::OnnxQuant,
    seed: u64,
) -> anyhow::Result<()> {
    let bar = synth_bar(
        &format!("{} {quant} (ONNX)", spec.name),
        onnx::planned_folder_bytes(spec, quant, seed),
    );
    let cached = onnx::ensure_cached(dir, spec, quant, seed, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    let cached = cached?;
    match &cached.synthesized {
        Some(r) => println!(
            "{}  {}  written in {:.1} s ({:.2} GB/s)  sha256 {}",
            cached.folder.display(),
            gib(cached.bytes),
            r.seconds,
            r.bytes as f64 / r.seconds.max(1e-9) / 1e9,
            cached.sha256
        ),
        None => println!(
            "{}  {}  already cached  sha256 {}",
            cached.folder.display(),
            gib(cached.bytes),
            cached.sha256
        ),
    }
    Ok(())
}
