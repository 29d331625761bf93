//! Hugging Face-layout Whisper folders, what candle-transformers loads:
//!
//! - F32/F16: `config.json` + `model.safetensors` with `transformers`' tensor names, as
//!   `openai/whisper-*` repositories ship them (`whisper::model::Whisper`);
//! - quantized: `config.json` + `model.gguf` with the same names and ggml block types, as
//!   candle's `tensor-tools quantize` writes them (`whisper::quantized_model::Whisper`).
//!
//! The weights are the ones [`super::ggml`] writes for the same seed.

use super::arch::{hf_name, tensor_data, tensors, WhisperTensor};
use crate::catalog::{WhisperFormat, WhisperQuant, WhisperSpec};
use crate::output::{hash_file, HashingWriter, SynthReport};
use crate::weights::data_bytes;
use anyhow::{bail, Context};
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use sha2::Digest;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

pub const CONFIG: &str = "config.json";
pub const SAFETENSORS: &str = "model.safetensors";
pub const GGUF: &str = "model.gguf";

/// Hugging Face `config.json` fields of `spec` (what candle's and Optimum's loaders read).
pub fn hf_config(spec: &WhisperSpec) -> serde_json::Value {
    let (sot, eot, decoder_start) = if spec.multilingual() {
        (50258, 50257, 50258)
    } else {
        (50257, 50256, 50257)
    };
    serde_json::json!({
        "_name_or_path": format!("edgebench synthetic {}", spec.display_name),
        "architectures": ["WhisperForConditionalGeneration"],
        "model_type": "whisper",
        "activation_function": "gelu",
        "num_mel_bins": spec.n_mels,
        "max_source_positions": spec.n_audio_ctx,
        "max_target_positions": spec.n_text_ctx,
        "d_model": spec.n_audio_state,
        "encoder_attention_heads": spec.n_audio_head,
        "encoder_layers": spec.n_audio_layer,
        "encoder_ffn_dim": 4 * spec.n_audio_state,
        "decoder_attention_heads": spec.n_text_head,
        "decoder_layers": spec.n_text_layer,
        "decoder_ffn_dim": 4 * spec.n_text_state,
        "vocab_size": spec.n_vocab,
        "num_hidden_layers": spec.n_audio_layer,
        "scale_embedding": false,
        "tie_word_embeddings": true,
        "use_cache": true,
        "bos_token_id": eot,
        "eos_token_id": eot,
        "pad_token_id": eot,
        "decoder_start_token_id": decoder_start,
        "begin_suppress_tokens": [220, eot],
        "suppress_tokens": [],
        "edgebench_sot_token_id": sot,
        "torch_dtype": "float32",
    })
}

fn write_config(spec: &WhisperSpec, dir: &Path) -> anyhow::Result<()> {
    let path = dir.join(CONFIG);
    std::fs::write(&path, serde_json::to_string_pretty(&hf_config(spec))?)
        .with_context(|| format!("writing {}", path.display()))
}

/// A tensor generated when the safetensors writer asks for its bytes, so only one tensor is
/// in memory at a time.
struct Lazy<'a, 'p> {
    spec: &'a WhisperSpec,
    seed: u64,
    tensor: WhisperTensor,
    dtype: safetensors::Dtype,
    bytes: usize,
    progress: &'a Progress<'p>,
}

/// Bytes done, bytes in all, and the callback.
type Progress<'p> = std::cell::RefCell<(u64, u64, &'p mut dyn FnMut(u64, u64))>;

impl safetensors::View for Lazy<'_, '_> {
    fn dtype(&self) -> safetensors::Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.tensor.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        let ggml = match self.dtype {
            safetensors::Dtype::F16 => GgmlDType::F16,
            _ => GgmlDType::F32,
        };
        // The View trait cannot fail; generation only fails on impossible shapes, which
        // `WhisperSpec::validate` has ruled out.
        let q = tensor_data(self.spec, self.seed, &self.tensor, ggml)
            .expect("synthetic tensor of a validated shape");
        let data = q.data().expect("CPU tensor data").into_owned();
        let mut p = self.progress.borrow_mut();
        p.0 += data.len() as u64;
        let (done, total) = (p.0, p.1);
        (p.2)(done, total);
        Cow::Owned(data)
    }
    fn data_len(&self) -> usize {
        self.bytes
    }
}

/// Bytes of tensor data in the folder written for `quant`.
pub fn planned_bytes(spec: &WhisperSpec, quant: WhisperQuant) -> u64 {
    match quant {
        WhisperQuant::F32 | WhisperQuant::F16 => {
            let per = if quant == WhisperQuant::F16 { 2 } else { 4 };
            tensors(spec).iter().map(|t| t.elements() * per).sum()
        }
        _ => tensors(spec)
            .iter()
            .map(|t| data_bytes(t.elements(), t.ggml_dtype(quant)))
            .sum(),
    }
}

/// Write `config.json` + `model.safetensors` (F32 or F16) into `dir`.
pub fn write_safetensors(
    spec: &WhisperSpec,
    quant: WhisperQuant,
    seed: u64,
    dir: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<SynthReport> {
    let start = Instant::now();
    spec.validate().map_err(anyhow::Error::msg)?;
    let (dtype, per) = match quant {
        WhisperQuant::F32 => (safetensors::Dtype::F32, 4),
        WhisperQuant::F16 => (safetensors::Dtype::F16, 2),
        other => bail!("safetensors Whisper folders hold f32 or f16, not {other}"),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_config(spec, dir)?;
    let total = planned_bytes(spec, quant);
    let cell: Progress = std::cell::RefCell::new((0u64, total, progress));
    let progress = &cell;
    let views: Vec<(String, Lazy)> = tensors(spec)
        .into_iter()
        .map(move |t| {
            let bytes = t.elements() as usize * per;
            (
                hf_name(&t.name),
                Lazy {
                    spec,
                    seed,
                    tensor: t,
                    dtype,
                    bytes,
                    progress,
                },
            )
        })
        .collect();
    let metadata: HashMap<String, String> = [
        ("format".to_string(), "pt".to_string()),
        ("edgebench.synthetic".to_string(), "true".to_string()),
        ("edgebench.seed".to_string(), seed.to_string()),
    ]
    .into();
    let path = dir.join(SAFETENSORS);
    safetensors::serialize_to_file(views, Some(metadata), &path)
        .with_context(|| format!("writing {}", path.display()))?;
    let (sha256, bytes) = hash_file(&path)?;
    Ok(SynthReport {
        path: dir.to_path_buf(),
        bytes,
        sha256,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Write `config.json` + `model.gguf` (a ggml block type) into `dir`.
pub fn write_gguf(
    spec: &WhisperSpec,
    quant: WhisperQuant,
    seed: u64,
    dir: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<SynthReport> {
    let start = Instant::now();
    spec.validate().map_err(anyhow::Error::msg)?;
    if !matches!(quant, WhisperQuant::Q8_0 | WhisperQuant::Q5_0) {
        bail!("GGUF Whisper folders hold q8_0 or q5_0 here, not {quant}");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_config(spec, dir)?;
    let total = planned_bytes(spec, quant);
    progress(0, total);
    let plan = tensors(spec);
    let qtensors: Vec<QTensor> = plan
        .iter()
        .map(|t| tensor_data(spec, seed, t, t.ggml_dtype(quant)))
        .collect::<anyhow::Result<_>>()?;
    let names: Vec<String> = plan.iter().map(|t| hf_name(&t.name)).collect();
    let u = |x: usize| Value::U32(x as u32);
    let md: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("whisper".into())),
        (
            "general.name",
            Value::String(format!("synthetic {}", spec.display_name)),
        ),
        ("general.quantization_version", Value::U32(2)),
        ("whisper.encoder.context_length", u(spec.n_audio_ctx)),
        ("whisper.encoder.embedding_length", u(spec.n_audio_state)),
        ("whisper.encoder.attention.head_count", u(spec.n_audio_head)),
        ("whisper.encoder.block_count", u(spec.n_audio_layer)),
        ("whisper.decoder.context_length", u(spec.n_text_ctx)),
        ("whisper.decoder.attention.head_count", u(spec.n_text_head)),
        ("whisper.decoder.block_count", u(spec.n_text_layer)),
        ("whisper.n_mels", u(spec.n_mels)),
        ("whisper.vocab_size", u(spec.n_vocab)),
        ("edgebench.synthetic", Value::Bool(true)),
        ("edgebench.seed", Value::U64(seed)),
    ];
    let md_refs: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (*k, v)).collect();
    let t_refs: Vec<(&str, &QTensor)> = names
        .iter()
        .zip(&qtensors)
        .map(|(n, t)| (n.as_str(), t))
        .collect();
    let path = dir.join(GGUF);
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = HashingWriter::new(BufWriter::with_capacity(1 << 20, file), total, progress);
    gguf_file::write(&mut w, &md_refs, &t_refs)
        .with_context(|| format!("writing {}", path.display()))?;
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    let bytes = w.pos;
    (w.progress)(total, total);
    Ok(SynthReport {
        path: dir.to_path_buf(),
        bytes,
        sha256: hex::encode(w.hasher.finalize()),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// A Hugging Face-layout Whisper folder as a backend would find it.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderSummary {
    pub spec: WhisperSpec,
    /// `model.safetensors` or the `.gguf` file.
    pub weights: std::path::PathBuf,
    pub format: WhisperFormat,
    pub file_bytes: u64,
}

/// The shape of a Hugging Face Whisper folder, from its `config.json`; one-line errors.
pub fn read_config(dir: &Path) -> anyhow::Result<WhisperSpec> {
    let shown = dir.display();
    let config_path = dir.join(CONFIG);
    let text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("{shown}: no readable {CONFIG}"))?;
    let c: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", config_path.display()))?;
    let field = |k: &str| -> anyhow::Result<usize> {
        c.get(k)
            .and_then(|v| v.as_u64())
            .map(|v| v as usize)
            .ok_or_else(|| anyhow::anyhow!("{}: no `{k}` number", config_path.display()))
    };
    let name = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(WhisperSpec {
        name: name.clone(),
        display_name: name,
        n_mels: field("num_mel_bins")?,
        n_audio_ctx: field("max_source_positions")?,
        n_audio_state: field("d_model")?,
        n_audio_head: field("encoder_attention_heads")?,
        n_audio_layer: field("encoder_layers")?,
        n_text_ctx: field("max_target_positions")?,
        n_text_state: field("d_model")?,
        n_text_head: field("decoder_attention_heads")?,
        n_text_layer: field("decoder_layers")?,
        n_vocab: field("vocab_size")?,
        tiny: false,
        source: dir.display().to_string(),
    })
}

/// Read `config.json` of a folder and find its weights (`model.safetensors`, or one `.gguf`).
pub fn inspect_folder(dir: &Path) -> anyhow::Result<FolderSummary> {
    let shown = dir.display();
    let spec = read_config(dir)?;
    let safetensors = dir.join(SAFETENSORS);
    let (weights, format) = if safetensors.is_file() {
        (safetensors, WhisperFormat::Safetensors)
    } else {
        let mut ggufs: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("{shown}: cannot list"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "gguf"))
            .collect();
        ggufs.sort();
        match ggufs.len() {
            0 => bail!("{shown}: holds neither {SAFETENSORS} nor a .gguf file"),
            1 => (ggufs.remove(0), WhisperFormat::Gguf),
            n => bail!("{shown}: holds {n} .gguf files; keep one"),
        }
    };
    let file_bytes = std::fs::metadata(&weights)
        .with_context(|| format!("{}: cannot read", weights.display()))?
        .len();
    Ok(FolderSummary {
        spec,
        weights,
        format,
        file_bytes,
    })
}
