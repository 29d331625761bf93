//! `edgebench models`: the model cache.

use crate::model::SynthQuant;
use crate::synthesis::with_bar;
use crate::units::gib;
use anyhow::Context;
use clap::{Args, Subcommand};
use edgebench_scenarios::whisper::{cache as whisper_cache, WhisperFormat, WhisperQuant};
use edgebench_scenarios::{onnx, synth, Catalog};
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
    /// Delete synthetic models that this edgebench would not use: written by an older
    /// generator, or for a catalog shape that has changed since (their names' hashes differ)
    Prune {
        /// Say what would be deleted, delete nothing
        #[arg(long)]
        dry_run: bool,
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
            let dir = crate::meta::models_dir(&models_dir);
            for q in quants {
                let cached = match q {
                    SynthQuant::Gguf(q) => with_bar(
                        &format!("{} {q}", spec.name),
                        synth::planned_file_bytes(spec, q),
                        |progress| synth::ensure_cached(&dir, spec, q, seed, progress),
                    )?,
                    SynthQuant::Onnx(q) => with_bar(
                        &format!("{} {q} (ONNX)", spec.name),
                        onnx::planned_folder_bytes(spec, q, seed),
                        |progress| onnx::ensure_cached(&dir, spec, q, seed, progress),
                    )?,
                };
                cached.print();
            }
        }
        ModelsCommand::Prune {
            dry_run,
            models_dir,
        } => prune(&crate::meta::models_dir(&models_dir), dry_run)?,
        ModelsCommand::List { models_dir } => list(&crate::meta::models_dir(&models_dir)),
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
    let dir = crate::meta::models_dir(models_dir);
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
            with_bar(
                &format!("{} {q} ({f})", spec.name),
                cache::planned_bytes(spec, q, f),
                |progress| cache::ensure_cached(&dir, spec, q, f, seed, progress),
            )?
            .print();
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What a cache entry's sidecar (`<entry>.json`) says it holds.
#[derive(serde::Deserialize)]
struct EntrySidecar {
    model: String,
    quant: String,
    seed: u64,
    /// Whisper entries only.
    format: Option<WhisperFormat>,
}

/// Where this edgebench would cache the model a sidecar describes (`None`: not a catalog model).
fn current_path(dir: &Path, catalog: &Catalog, sc: &EntrySidecar) -> Option<PathBuf> {
    if let (Ok(spec), Some(format)) = (catalog.whisper_model(&sc.model), sc.format) {
        let quant = WhisperQuant::parse(&sc.quant).ok()?;
        return Some(whisper_cache::cache_path(dir, spec, quant, format, sc.seed));
    }
    let spec = catalog.model(&sc.model).ok()?;
    Some(match SynthQuant::parse(&sc.quant).ok()? {
        SynthQuant::Gguf(q) => synth::cache_path(dir, spec, q, sc.seed),
        SynthQuant::Onnx(q) => onnx::cache_path(dir, spec, q, sc.seed),
    })
}

/// `models prune`: every sidecar in `dir` whose entry is not where this version would write the
/// same model is stale; it and its entry (file or folder) are deleted. Entries of models not in
/// the catalog, and files without a sidecar (the user's own), are left alone.
fn prune(dir: &Path, dry_run: bool) -> anyhow::Result<()> {
    let catalog = Catalog::builtin();
    let entries = match std::fs::read_dir(dir) {
        Ok(it) => it,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("{}: no model cache", dir.display());
            return Ok(());
        }
        Err(e) => anyhow::bail!("{}: {e}", dir.display()),
    };
    let mut sidecars: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    sidecars.sort();
    let (mut count, mut freed) = (0usize, 0u64);
    for sidecar in sidecars {
        let Some(sc) = std::fs::read(&sidecar)
            .ok()
            .and_then(|b| serde_json::from_slice::<EntrySidecar>(&b).ok())
        else {
            continue;
        };
        let entry = sidecar.with_extension("");
        let Some(current) = current_path(dir, &catalog, &sc) else {
            continue;
        };
        if current == entry {
            continue;
        }
        let bytes = path_bytes(&entry);
        println!(
            "{} {}  {}",
            if dry_run { "would delete" } else { "deleted" },
            gib(bytes),
            entry.file_name().unwrap_or_default().to_string_lossy()
        );
        if !dry_run {
            let removed = if entry.is_dir() {
                std::fs::remove_dir_all(&entry)
            } else if entry.exists() {
                std::fs::remove_file(&entry)
            } else {
                Ok(())
            };
            removed.with_context(|| format!("{}", entry.display()))?;
            std::fs::remove_file(&sidecar).with_context(|| format!("{}", sidecar.display()))?;
        }
        count += 1;
        freed += bytes;
    }
    println!(
        "{count} stale model{} ({}){}",
        if count == 1 { "" } else { "s" },
        gib(freed),
        if dry_run {
            ", nothing deleted"
        } else {
            " deleted"
        }
    );
    Ok(())
}

/// `models list`: every model in the cache (GGUF files, GenAI folders, and whatever else has a
/// synthesis sidecar, e.g. Whisper files and folders), stale ones marked.
fn list(dir: &Path) {
    let catalog = Catalog::builtin();
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(it) => it
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_none_or(|x| x != "json")
                    && (p.extension().is_some_and(|x| x == "gguf")
                        || p.join(onnx::genai_config::CONFIG_FILE).is_file()
                        || synth::sidecar_path(p).is_file())
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    entries.sort();
    println!("{} ({} models)", dir.display(), entries.len());
    let mut stale = 0;
    for entry in entries {
        let is_stale = std::fs::read(synth::sidecar_path(&entry))
            .ok()
            .and_then(|b| serde_json::from_slice::<EntrySidecar>(&b).ok())
            .and_then(|sc| current_path(dir, &catalog, &sc))
            .is_some_and(|current| current != entry);
        stale += usize::from(is_stale);
        println!(
            "  {:>10}  {}{}",
            gib(path_bytes(&entry)),
            entry.file_name().unwrap_or_default().to_string_lossy(),
            if is_stale { "  (stale)" } else { "" }
        );
    }
    if stale > 0 {
        println!(
            "{stale} stale: written by an older generator, never used again \
             (`edgebench models prune` deletes them)"
        );
    }
}

/// Bytes of a file, or of the files directly inside a folder.
fn path_bytes(path: &Path) -> u64 {
    if path.is_dir() {
        std::fs::read_dir(path)
            .map(|it| {
                it.filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    } else {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }
}
