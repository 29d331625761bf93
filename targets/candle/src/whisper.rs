//! Whisper on candle: candle-transformers 0.11.1's `whisper::model` (Hugging Face safetensors,
//! F32 or F16) and `whisper::quantized_model` (GGUF with ggml block types), behind the
//! [`SpeechTarget`] seam. The worker serves it when started with `--speech`.
//!
//! A model is a Hugging Face-layout folder: `config.json` and `model.safetensors` or one
//! `.gguf` file (candle's quantized Whisper files come that way too).
//!
//! What candle-transformers' Whisper does, and this target keeps as it is:
//! - it computes in f32 (`whisper::DTYPE`); an F16 file is converted when loaded, as candle's
//!   whisper example does;
//! - its decoder caches the cross-attention keys and values but has **no self-attention KV
//!   cache**: every step runs the whole token sequence again, as candle's example decodes. So
//!   candle's decoder t/s falls as the sequence grows.
//! - the log-mel is `whisper::audio::pcm_to_mel` (a port of whisper.cpp's), with the filters
//!   of [`edgebench_scenarios::whisper::mel`].

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_transformers::models::whisper::{self as m, audio, model, quantized_model, Config};
use edgebench_scenarios::whisper::{hf, mel, WhisperFormat};
use edgebench_target_kit::describe::{Description, MemoryModel};
use edgebench_target_kit::guards;
use edgebench_target_kit::target::{
    LoadSpec, ModelInfo, SpeechTarget, TargetError, TargetInfo, TargetResult,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

enum Model {
    Full(model::Whisper),
    Quantized(quantized_model::Whisper),
}

impl Model {
    fn encode(&mut self, mel: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Model::Full(w) => w.encoder.forward(mel, true),
            Model::Quantized(w) => w.encoder.forward(mel, true),
        }
    }

    /// Logits of the last of `tokens` (the whole sequence so far).
    fn decode(
        &mut self,
        tokens: &Tensor,
        audio: &Tensor,
        flush: bool,
    ) -> candle_core::Result<Tensor> {
        let ys = match self {
            Model::Full(w) => w.decoder.forward(tokens, audio, flush)?,
            Model::Quantized(w) => w.decoder.forward(tokens, audio, flush)?,
        };
        let (_, seq_len, _) = ys.dims3()?;
        let last = ys.i((..1, seq_len - 1..))?;
        let logits = match self {
            Model::Full(w) => w.decoder.final_linear(&last)?,
            Model::Quantized(w) => w.decoder.final_linear(&last)?,
        };
        logits.i(0)?.i(0)
    }
}

struct Loaded {
    model: Model,
    config: Config,
    path: PathBuf,
    device: Device,
    filters: Vec<f32>,
    /// Encoder input, `(1, n_mels, 3000)`.
    mel: Option<Tensor>,
    /// Encoder output, `(1, 1500, d_model)`.
    audio: Option<Tensor>,
    /// Decoder tokens since the last reset.
    tokens: Vec<u32>,
    /// Recompute the cross-attention keys and values at the next decode (new encoder output).
    flush: bool,
}

/// candle's Whisper behind the [`SpeechTarget`] seam.
#[derive(Default)]
pub struct CandleWhisper {
    loaded: Option<Loaded>,
}

impl CandleWhisper {
    pub fn new() -> Self {
        Self::default()
    }

    fn loaded(&mut self) -> TargetResult<&mut Loaded> {
        self.loaded.as_mut().ok_or(TargetError::NotLoaded)
    }
}

/// The folder of a model given as the folder itself or as its weights file.
fn model_folder(path: &Path) -> PathBuf {
    if path.is_file() && path.parent().is_some_and(|p| p.join(hf::CONFIG).is_file()) {
        path.parent().expect("checked").to_path_buf()
    } else {
        path.to_path_buf()
    }
}

/// Run `f` on candle's CPU pool, turning errors and panics into one-line messages.
fn run<R: Send>(
    device: &Device,
    what: &str,
    f: impl FnOnce() -> candle_core::Result<R> + Send,
) -> TargetResult<R> {
    match catch_unwind(AssertUnwindSafe(|| device.with_context(f))) {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(TargetError::Backend(format!(
            "candle {what}: {}",
            crate::one_line(&e)
        ))),
        Err(panic) => Err(TargetError::Backend(format!(
            "candle panicked in {what}: {}",
            crate::panic_text(&panic)
        ))),
    }
}

impl SpeechTarget for CandleWhisper {
    fn info(&self) -> TargetInfo {
        let mut info = edgebench_target_kit::target::Target::info(&crate::CandleTarget::new());
        info.formats = vec![
            WhisperFormat::Safetensors.name().into(),
            WhisperFormat::Gguf.name().into(),
        ];
        info.architectures = vec!["whisper".into()];
        info.quants = ["f32", "f16", "q8_0", "q5_0"]
            .iter()
            .map(|q| q.to_string())
            .collect();
        info.library_version = format!(
            "candle-core {} (candle-transformers whisper)",
            crate::CANDLE_VERSION
        );
        info.extra.insert(
            "decoder".into(),
            "no self-attention KV cache in candle-transformers' Whisper: each step re-runs \
             every token (cross-attention K/V cached), as candle's whisper example decodes"
                .into(),
        );
        info.extra.insert(
            "compute".into(),
            "f32 (candle-transformers whisper::DTYPE); f16 files are converted at load".into(),
        );
        info.description = Description {
            summary: "Hugging Face candle (Rust): Whisper in safetensors and GGUF folders".into(),
            options: Vec::new(),
            // f16 weights are converted to f32 at load; compute buffers, caches and the audio
            // take about 500 MiB beyond the weights.
            memory: Some(MemoryModel {
                weights_factor: [("f16".to_string(), 2.0)].into(),
                runtime_bytes: 500 << 20,
                ..Default::default()
            }),
        };
        info
    }

    fn load(&mut self, spec: &LoadSpec) -> TargetResult<ModelInfo> {
        self.loaded = None;
        let folder = model_folder(&spec.model_path);
        let bad = |message: String| TargetError::BadModel {
            path: folder.clone(),
            message,
        };
        let summary =
            hf::inspect_folder(&folder).map_err(|e| TargetError::Backend(format!("{e:#}")))?;
        let config_path = folder.join(hf::CONFIG);
        let config: Config = std::fs::read_to_string(&config_path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
            .map_err(|e| TargetError::BadModel {
                path: config_path.clone(),
                message: format!("not a Whisper config: {e}"),
            })?;
        crate::configure_threads(spec.threads)?;
        let device = crate::device_for(spec)?;
        let weights = summary.weights.clone();
        let (model, quant, parameters) = match summary.format {
            WhisperFormat::Safetensors => {
                let st = unsafe { candle_core::safetensors::MmapedSafetensors::new(&weights) }
                    .map_err(|e| {
                        bad(format!(
                            "not a readable safetensors file: {}",
                            crate::one_line(&e)
                        ))
                    })?;
                let mut parameters = 0u64;
                let mut dtype = None;
                for (name, view) in st.tensors() {
                    parameters += view.shape().iter().product::<usize>() as u64;
                    if name == "model.decoder.embed_tokens.weight" {
                        dtype = Some(view.dtype());
                    }
                }
                let quant = match dtype {
                    Some(safetensors::Dtype::F16) => "f16",
                    Some(safetensors::Dtype::F32) => "f32",
                    Some(safetensors::Dtype::BF16) => "bf16",
                    _ => "unknown",
                };
                let built = catch_unwind(AssertUnwindSafe(|| {
                    // SAFETY: the file is mapped read-only and not modified while loaded.
                    let vb = unsafe {
                        candle_nn::VarBuilder::from_mmaped_safetensors(
                            &[&weights],
                            m::DTYPE,
                            &device,
                        )
                    }?;
                    model::Whisper::load(&vb, config.clone())
                }));
                let model = match built {
                    Ok(Ok(w)) => Model::Full(w),
                    Ok(Err(e)) => return Err(bad(format!("whisper: {}", crate::one_line(&e)))),
                    Err(p) => {
                        return Err(bad(format!("candle panicked: {}", crate::panic_text(&p))))
                    }
                };
                (model, quant.to_string(), parameters)
            }
            WhisperFormat::Gguf => {
                let mut file = std::fs::File::open(&weights)
                    .map_err(|e| bad(format!("cannot open {}: {e}", weights.display())))?;
                let content = catch_unwind(AssertUnwindSafe(|| {
                    candle_core::quantized::gguf_file::Content::read(&mut file)
                }))
                .map_err(|_| bad("corrupt GGUF header".into()))?
                .map_err(|e| bad(format!("not a readable GGUF file: {}", crate::one_line(&e))))?;
                let parameters = content
                    .tensor_infos
                    .values()
                    .map(|t| t.shape.elem_count() as u64)
                    .sum();
                let quant = content
                    .tensor_infos
                    .get("model.encoder.layers.0.fc1.weight")
                    .map(|t| format!("{:?}", t.ggml_dtype).to_ascii_lowercase())
                    .unwrap_or_else(|| "unknown".into());
                let built = catch_unwind(AssertUnwindSafe(|| {
                    let vb = candle_transformers::quantized_var_builder::VarBuilder::from_gguf(
                        &weights, &device,
                    )?;
                    quantized_model::Whisper::load(&vb, config.clone())
                }));
                let model = match built {
                    Ok(Ok(w)) => Model::Quantized(w),
                    Ok(Err(e)) => return Err(bad(format!("whisper: {}", crate::one_line(&e)))),
                    Err(p) => {
                        return Err(bad(format!("candle panicked: {}", crate::panic_text(&p))))
                    }
                };
                (model, quant, parameters)
            }
            other => {
                return Err(TargetError::Unsupported(format!(
                "{other} models ({}): candle reads whisper-safetensors and whisper-gguf folders",
                folder.display()
            )))
            }
        };
        let info = ModelInfo {
            architecture: "whisper".into(),
            vocab_size: config.vocab_size,
            parameters: Some(parameters),
            weight_bytes: Some(summary.file_bytes),
            quant: Some(quant),
            max_context: Some(config.max_target_positions),
        };
        self.loaded = Some(Loaded {
            filters: mel::filters(config.num_mel_bins),
            model,
            config,
            path: folder.clone(),
            device,
            mel: None,
            audio: None,
            tokens: Vec::new(),
            flush: true,
        });
        Ok(info)
    }

    fn mel(&mut self, pcm: &[f32]) -> TargetResult<()> {
        let l = self.loaded()?;
        l.audio = None;
        let (config, filters, device) = (&l.config, &l.filters, &l.device);
        let n_mels = config.num_mel_bins;
        let mel = run(device, "log-mel", || {
            let mel = audio::pcm_to_mel(config, pcm, filters);
            let frames = mel.len() / n_mels;
            Tensor::from_vec(mel, (1, n_mels, frames), device)?
                .narrow(2, 0, m::N_FRAMES.min(frames))?
                .contiguous()
        })?;
        l.mel = Some(mel);
        Ok(())
    }

    fn set_mel(&mut self, mel: &[f32], n_mels: usize) -> TargetResult<()> {
        let l = self.loaded()?;
        if n_mels != l.config.num_mel_bins || !mel.len().is_multiple_of(n_mels) {
            return Err(TargetError::Backend(format!(
                "a log-mel of {} values in {n_mels} rows for a model with {} mel bins",
                mel.len(),
                l.config.num_mel_bins
            )));
        }
        let t = Tensor::from_vec(mel.to_vec(), (1, n_mels, mel.len() / n_mels), &l.device)
            .map_err(|e| TargetError::Backend(crate::one_line(&e)))?;
        l.mel = Some(t);
        l.audio = None;
        Ok(())
    }

    fn encode(&mut self) -> TargetResult<()> {
        let l = self.loaded()?;
        let mel = l
            .mel
            .clone()
            .ok_or_else(|| TargetError::Backend("encode before a log-mel was computed".into()))?;
        let Loaded { model, device, .. } = &mut *l;
        let audio = run(device, "encoder", || model.encode(&mel))?;
        l.audio = Some(audio);
        l.tokens.clear();
        l.flush = true;
        Ok(())
    }

    fn encoder_output(&mut self) -> TargetResult<Option<Vec<f32>>> {
        let l = self.loaded()?;
        let Some(audio) = &l.audio else {
            return Ok(None);
        };
        let v = audio
            .to_dtype(DType::F32)
            .and_then(|a| a.flatten_all())
            .and_then(|a| a.to_vec1::<f32>())
            .map_err(|e| TargetError::Backend(crate::one_line(&e)))?;
        Ok(Some(v))
    }

    fn decode(&mut self, tokens: &[u32]) -> TargetResult<Vec<f32>> {
        let l = self.loaded()?;
        let audio = l
            .audio
            .clone()
            .ok_or_else(|| TargetError::Backend("decode before the encoder ran".into()))?;
        guards::nonempty("decoder call", tokens)?;
        guards::append(
            l.tokens.len(),
            tokens,
            l.config.max_target_positions,
            l.config.vocab_size,
            format_args!("the decoder of {}", l.path.display()),
        )?;
        l.tokens.extend_from_slice(tokens);
        let Loaded {
            model,
            device,
            tokens: all,
            flush,
            ..
        } = &mut *l;
        let flush_now = *flush;
        let logits = run(device, "decoder", || {
            let input = Tensor::new(all.as_slice(), device)?.unsqueeze(0)?;
            model
                .decode(&input, &audio, flush_now)?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()
        });
        match logits {
            Ok(l2) => {
                *flush = false;
                Ok(l2)
            }
            Err(e) => {
                all.truncate(all.len() - tokens.len());
                Err(e)
            }
        }
    }

    fn reset_decoder(&mut self) -> TargetResult<()> {
        // Only the token sequence: the cross-attention cache belongs to the encoder output.
        self.loaded()?.tokens.clear();
        Ok(())
    }
}
