//! The models a run can measure, of every kind: a catalog model synthesized into the cache (GGUF,
//! ONNX Runtime GenAI folder, or a Whisper file or folder) or the user's own file. A
//! [`ModelSource`] is plain data (serde), so a plan holding it can be printed, tested and sent
//! elsewhere; reading a user's file happens once, in [`inspect`].
//!
//! A model may exist in several formats: a synthetic language model is made as GGUF or as its
//! GenAI counterpart, a synthetic Whisper in whichever of `ggml-*.bin`, Hugging Face folder or
//! Optimum ONNX folder a target reads ([`ModelSource::for_formats`]).

use crate::gguf::{GgufSummary, Shape};
use edgebench_scenarios::onnx::genai_config::CONFIG_FILE as GENAI_CONFIG;
use edgebench_scenarios::onnx::OnnxQuant;
use edgebench_scenarios::whisper::{cache, ggml, hf, onnx, WhisperFormat, WhisperQuant};
use edgebench_scenarios::{ModelSpec, Quant, WhisperSpec};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a model does, and so which mode its worker serves: language models, or speech
/// (workers started with `--speech`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Text,
    Speech,
}

/// Where a job's model comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelSource {
    /// A GGUF file synthesized into the model cache before the job runs (if not cached).
    Synthetic {
        spec: ModelSpec,
        quant: Quant,
        seed: u64,
    },
    /// A synthetic ONNX Runtime GenAI folder, synthesized into the cache like a GGUF.
    SyntheticOnnx {
        spec: ModelSpec,
        quant: OnnxQuant,
        seed: u64,
    },
    /// The user's own GGUF file.
    File { path: PathBuf, summary: GgufSummary },
    /// The user's own ONNX Runtime GenAI folder.
    Folder { path: PathBuf, summary: FolderInfo },
    /// A synthetic Whisper in `format` (`None` until a target that reads one of the
    /// quantization's formats is chosen; a job left without one is skipped).
    SyntheticWhisper {
        spec: WhisperSpec,
        quant: WhisperQuant,
        format: Option<WhisperFormat>,
        seed: u64,
    },
    /// The user's own Whisper file or folder.
    WhisperFile {
        path: PathBuf,
        spec: WhisperSpec,
        quant: String,
        format: WhisperFormat,
        bytes: u64,
    },
}

/// What a user's ONNX Runtime GenAI folder holds (from `onnx::inspect`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FolderInfo {
    /// `llama`, `phi3`, `gemma`…
    pub model_type: String,
    /// `int4`, `int8`, `fp16`, `fp32` or `unknown`.
    pub quant: String,
    pub parameters: Option<u64>,
    pub file_bytes: u64,
    pub synthetic: bool,
    pub seed: Option<u64>,
    pub shape: Shape,
}

impl ModelSource {
    pub fn kind(&self) -> ModelKind {
        match self {
            ModelSource::SyntheticWhisper { .. } | ModelSource::WhisperFile { .. } => {
                ModelKind::Speech
            }
            _ => ModelKind::Text,
        }
    }

    pub fn model_name(&self) -> String {
        match self {
            ModelSource::Synthetic { spec, .. } | ModelSource::SyntheticOnnx { spec, .. } => {
                spec.name.clone()
            }
            ModelSource::SyntheticWhisper { spec, .. } => spec.name.clone(),
            ModelSource::File { path, .. }
            | ModelSource::Folder { path, .. }
            | ModelSource::WhisperFile { path, .. } => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }

    pub fn quant_name(&self) -> String {
        match self {
            ModelSource::Synthetic { quant, .. } => quant.name().to_string(),
            ModelSource::SyntheticOnnx { quant, .. } => quant.name().to_string(),
            ModelSource::SyntheticWhisper { quant, .. } => quant.name().to_string(),
            ModelSource::File { summary, .. } => summary.quant.clone(),
            ModelSource::Folder { summary, .. } => summary.quant.clone(),
            ModelSource::WhisperFile { quant, .. } => quant.clone(),
        }
    }

    pub fn architecture(&self) -> String {
        match self {
            ModelSource::Synthetic { spec, .. } | ModelSource::SyntheticOnnx { spec, .. } => {
                spec.arch.gguf_name().to_string()
            }
            ModelSource::File { summary, .. } => summary.architecture.clone(),
            ModelSource::Folder { summary, .. } => summary.model_type.clone(),
            ModelSource::SyntheticWhisper { .. } | ModelSource::WhisperFile { .. } => {
                "whisper".into()
            }
        }
    }

    /// The format a target must read (`TargetInfo::formats`).
    pub fn format(&self) -> &'static str {
        match self {
            ModelSource::Synthetic { .. } | ModelSource::File { .. } => "gguf",
            ModelSource::SyntheticOnnx { .. } | ModelSource::Folder { .. } => "onnx-genai",
            ModelSource::SyntheticWhisper { format, .. } => format.map_or("whisper", |f| f.name()),
            ModelSource::WhisperFile { format, .. } => format.name(),
        }
    }

    /// Size of the model file or folder (planned, for synthetic models not yet written).
    pub fn file_bytes(&self) -> u64 {
        match self {
            ModelSource::Synthetic { spec, quant, .. } => {
                edgebench_scenarios::synth::planned_file_bytes(spec, *quant)
            }
            ModelSource::SyntheticOnnx { spec, quant, seed } => {
                edgebench_scenarios::onnx::planned_folder_bytes(spec, *quant, *seed)
            }
            ModelSource::SyntheticWhisper {
                spec,
                quant,
                format,
                ..
            } => format.map_or(0, |f| cache::planned_bytes(spec, *quant, f)),
            ModelSource::File { summary, .. } => summary.file_bytes,
            ModelSource::Folder { summary, .. } => summary.file_bytes,
            ModelSource::WhisperFile { bytes, .. } => *bytes,
        }
    }

    /// Whether edgebench makes this model (seeded weights) rather than reading the user's.
    pub fn synthetic(&self) -> bool {
        matches!(
            self,
            ModelSource::Synthetic { .. }
                | ModelSource::SyntheticOnnx { .. }
                | ModelSource::SyntheticWhisper { .. }
        )
    }

    /// This model in a format `formats` lists: a synthetic model is made in whichever format
    /// the target reads (a GGUF quantization becomes its ONNX Runtime GenAI counterpart, e.g.
    /// q4_k_m → int4; a Whisper quantization the first of its formats the target reads); a
    /// user's file stays as it is. `Err` says why the target cannot run it.
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
            ModelSource::SyntheticWhisper {
                spec, quant, seed, ..
            } => match quant.formats().iter().copied().find(|f| reads(f.name())) {
                Some(format) => Ok(ModelSource::SyntheticWhisper {
                    spec: spec.clone(),
                    quant: *quant,
                    format: Some(format),
                    seed: *seed,
                }),
                None => Err(format!(
                    "{target} reads no format that holds {quant} Whisper weights (reads {})",
                    formats.join(", ")
                )),
            },
            other => Ok(other.clone()),
        }
    }

    /// One line for the plan: `llama3-8b q4_k_m (synthetic, seed 1)`, or the file and what it
    /// holds.
    pub fn describe(&self) -> String {
        let name = self.model_name();
        match self {
            ModelSource::Synthetic { quant, seed, .. } => {
                format!("{name} {quant} (synthetic, seed {seed})")
            }
            ModelSource::SyntheticOnnx { quant, seed, .. } => {
                format!("{name} {quant} (synthetic ONNX Runtime GenAI folder, seed {seed})")
            }
            ModelSource::File { path, summary } => format!(
                "{} {} ({}, {:.2}B parameters)",
                path.display(),
                summary.quant,
                summary.architecture,
                summary.parameters as f64 / 1e9
            ),
            ModelSource::Folder { path, summary } => format!(
                "{} {} ({} GenAI folder{})",
                path.display(),
                summary.quant,
                summary.model_type,
                summary
                    .parameters
                    .map(|p| format!(", {:.2}B parameters", p as f64 / 1e9))
                    .unwrap_or_default()
            ),
            ModelSource::SyntheticWhisper {
                quant,
                format,
                seed,
                ..
            } => format!(
                "{name} {quant} (synthetic, seed {seed}, {})",
                format.map_or("no format".into(), |f| f.name().to_string())
            ),
            ModelSource::WhisperFile {
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

    /// The catalog model `spec` in this quantization, synthesized with `seed`.
    pub fn synthetic(self, spec: &ModelSpec, seed: u64) -> ModelSource {
        match self {
            SynthQuant::Gguf(quant) => ModelSource::Synthetic {
                spec: spec.clone(),
                quant,
                seed,
            },
            SynthQuant::Onnx(quant) => ModelSource::SyntheticOnnx {
                spec: spec.clone(),
                quant,
                seed,
            },
        }
    }
}

/// The user's model at `path`, of either kind: a Whisper file or folder (see
/// [`is_whisper_model`]), an ONNX Runtime GenAI folder (or its genai_config.json), else a GGUF
/// file. A bad one is a one-line error naming the file at fault.
pub fn inspect(path: &Path) -> anyhow::Result<ModelSource> {
    if is_whisper_model(path) {
        return inspect_whisper(path);
    }
    let genai = path.is_dir() || path.file_name().is_some_and(|n| n == GENAI_CONFIG);
    if genai {
        let s = edgebench_scenarios::onnx::inspect(path)?;
        let g = &s.genai;
        return Ok(ModelSource::Folder {
            path: g.folder.clone(),
            summary: FolderInfo {
                model_type: g.model_type.clone(),
                quant: s.quant.clone(),
                parameters: s.parameters,
                file_bytes: s.file_bytes,
                synthetic: s.synthetic,
                seed: s.seed,
                shape: Shape {
                    layers: g.layers,
                    kv_heads: g.kv_heads,
                    head_dim: g.head_size,
                    vocab: g.vocab_size,
                    hidden: g.hidden_size,
                },
            },
        });
    }
    Ok(ModelSource::File {
        path: path.to_path_buf(),
        summary: crate::gguf::inspect(path)?,
    })
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

/// A user's Whisper model (a `ggml-*.bin` file or a model folder); one-line errors.
fn inspect_whisper(path: &Path) -> anyhow::Result<ModelSource> {
    let file = |spec, quant, format, bytes| ModelSource::WhisperFile {
        path: path.to_path_buf(),
        spec,
        quant,
        format,
        bytes,
    };
    if onnx::is_onnx_folder(path) {
        let f = onnx::inspect_folder(path)?;
        return Ok(file(f.spec, f.quant, WhisperFormat::Onnx, f.file_bytes));
    }
    if path.is_dir() {
        let s = hf::inspect_folder(path)?;
        let quant = match s.format {
            WhisperFormat::Gguf => "unknown".to_string(),
            _ => safetensors_dtype(&s.weights).unwrap_or_else(|| "unknown".into()),
        };
        return Ok(file(s.spec, quant, s.format, s.file_bytes));
    }
    let s = ggml::inspect(path)?;
    Ok(file(s.spec, s.quant, WhisperFormat::Ggml, s.file_bytes))
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
