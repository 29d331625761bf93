//! Whisper on ONNX Runtime: Hugging Face Optimum's export (`encoder_model.onnx`,
//! `decoder_model.onnx`, `decoder_with_past_model.onnx`), run the way Optimum's
//! `ORTModelForSpeechSeq2Seq` runs it, behind the [`SpeechTarget`] seam. The worker serves it
//! when started with `--speech`.
//!
//! - **log-mel**: the exported graphs take `input_features`, so the spectrogram is computed
//!   outside ONNX Runtime, as Optimum's pipelines compute it with `transformers`'
//!   `WhisperFeatureExtractor`. Here it is candle-transformers' `whisper::audio::pcm_to_mel`
//!   (a port of whisper.cpp's) with the filters of [`edgebench_scenarios::whisper::mel`]: the
//!   same code the candle target uses, so both engines encode the same input.
//! - **encoder**: one run, its `last_hidden_state` written into a bound tensor that the first
//!   decoder call reads as `encoder_hidden_states`.
//! - **decoder**: the first call after a reset runs `decoder_model.onnx`, which also returns the
//!   cross-attention keys and values (`present.N.encoder.*`); they are kept and bound as
//!   `past_key_values.N.encoder.*` of every later `decoder_with_past_model.onnx` call. The
//!   self-attention cache grows as the exported graph makes it (`Concat` of past and new): each
//!   step's `present.N.decoder.*` are bound to new tensors of the new length and become the next
//!   step's past, as in the LLM decoder's growing mode ([`crate::decoder`]). Logits of a step go
//!   into one reused bound `[1, 1, vocab]` tensor. Runs are `RunWithBinding` calls.
//! - **f16** exports run as ONNX Runtime runs them: on an x86 CPU its CPU provider has no f16
//!   kernel for several ops and inserts Casts around them (seen in the profile of whisper-tiny's
//!   encoder: 35 Casts, Gelu and Softmax expanded into primitive ops, no BiasGelu or
//!   SkipLayerNormalization fusion), so f16 is slower than f32 there.

use crate::{one_line, platform, profile, runtime::Runtime, Ep};
use candle_transformers::models::whisper::{audio as whisper_audio, Config, N_FRAMES};
use edgebench_scenarios::whisper::{mel, onnx, WhisperFormat};
use edgebench_scenarios::WhisperSpec;
use edgebench_target_kit::describe::{Description, MemoryModel};
use edgebench_target_kit::guards;
use edgebench_target_kit::target::{
    LoadSpec, ModelInfo, SpeechTarget, TargetError, TargetInfo, TargetResult,
};
use ort::memory::Allocator;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{IoBinding, Session};
use ort::value::{DynTensor, Tensor, TensorElementType};
use ort::AsPointer;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

fn err(e: impl std::fmt::Display) -> String {
    one_line(e)
}

/// One layer's (key, value).
type Kv = (DynTensor, DynTensor);

struct Loaded {
    spec: WhisperSpec,
    folder: PathBuf,
    encoder: Session,
    decoder: Session,
    decoder_past: Session,
    dec_binding: IoBinding,
    past_binding: IoBinding,
    /// Element type of inputs, outputs and caches (f32, or f16 for an f16 export).
    io: TensorElementType,
    filters: Vec<f32>,
    /// Encoder input `[1, n_mels, 3000]`, row-major f32.
    mel: Option<Vec<f32>>,
    /// `last_hidden_state`, `[1, 1500, d_model]`.
    audio: Option<DynTensor>,
    /// Cross-attention keys and values per layer, from the first decoder call.
    cross: Vec<Kv>,
    /// Self-attention cache per layer.
    past: Vec<Kv>,
    pos: usize,
    step_logits: DynTensor,
    prompt_logits: Option<(usize, DynTensor)>,
}

/// ONNX Runtime's Whisper behind the [`SpeechTarget`] seam.
pub struct OrtWhisper {
    name: &'static str,
    default_ep: Ep,
    rt: &'static Runtime,
    loaded: Option<Loaded>,
    session: Option<(Ep, usize)>,
    /// Which provider ran the nodes of each graph, from the profiler on the load's probe run.
    providers: Option<String>,
}

impl OrtWhisper {
    pub fn new(name: &'static str, default_ep: Ep) -> Result<Self, String> {
        Ok(Self {
            name,
            default_ep,
            rt: crate::runtime::runtime()?,
            loaded: None,
            session: None,
            providers: None,
        })
    }

    fn loaded(&mut self) -> TargetResult<&mut Loaded> {
        self.loaded.as_mut().ok_or(TargetError::NotLoaded)
    }
}

fn session(
    rt: &Runtime,
    ep: Ep,
    threads: usize,
    path: &Path,
    profile: &Path,
) -> TargetResult<Session> {
    let built = catch_unwind(AssertUnwindSafe(|| -> Result<Session, String> {
        let mut b = Session::builder(&rt.env)
            .map_err(err)?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(err)?
            .with_intra_threads(threads)
            .map_err(err)?
            .with_inter_threads(1)
            .map_err(err)?
            .with_profiling(profile)
            .map_err(err)?;
        b = match ep {
            Ep::Cpu => b,
            Ep::Cuda => b
                .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
                .map_err(err)?,
            Ep::CoreMl => b
                .with_execution_providers([ort::ep::CoreML::default().build().error_on_failure()])
                .map_err(err)?,
        };
        b.commit_from_file(path).map_err(err)
    }));
    let bad = |message: String| TargetError::BadModel {
        path: path.to_path_buf(),
        message,
    };
    match built {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(bad(format!("ONNX Runtime cannot load it: {e}"))),
        Err(_) => Err(bad("ONNX Runtime panicked while loading it".into())),
    }
}

/// The element type of `name` among the session's inputs (or outputs).
fn io_type(s: &Session, name: &str, outputs: bool, path: &Path) -> TargetResult<TensorElementType> {
    let list = if outputs { s.outputs() } else { s.inputs() };
    list.iter()
        .find(|o| o.name() == name)
        .and_then(|o| o.dtype().tensor_type())
        .ok_or_else(|| TargetError::BadModel {
            path: path.to_path_buf(),
            message: format!(
                "no {} tensor `{name}` (not an Optimum Whisper export)",
                if outputs { "output" } else { "input" }
            ),
        })
}

/// A tensor of `io` type from f32 values.
fn tensor_of(
    io: TensorElementType,
    shape: Vec<usize>,
    values: &[f32],
) -> Result<DynTensor, String> {
    Ok(match io {
        TensorElementType::Float16 => Tensor::from_array((
            shape,
            values
                .iter()
                .map(|&v| half::f16::from_f32(v))
                .collect::<Vec<_>>(),
        ))
        .map_err(err)?
        .upcast(),
        _ => Tensor::from_array((shape, values.to_vec()))
            .map_err(err)?
            .upcast(),
    })
}

/// All values of a float tensor, as f32.
fn values_of(t: &DynTensor, io: TensorElementType) -> Result<Vec<f32>, String> {
    match io {
        TensorElementType::Float16 => {
            let (_, d) = t.try_extract_tensor::<half::f16>().map_err(err)?;
            Ok(d.iter().map(|v| v.to_f32()).collect())
        }
        _ => {
            let (_, d) = t.try_extract_tensor::<f32>().map_err(err)?;
            Ok(d.to_vec())
        }
    }
}

fn run_binding(session: &Session, binding: &IoBinding) -> Result<(), String> {
    // SAFETY: the session and binding are alive for the call; every bound input and output is
    // held by the binding (and by `Loaded`) until the call returns.
    let status = unsafe {
        (ort::api().RunWithBinding)(session.ptr().cast_mut(), std::ptr::null(), binding.ptr())
    };
    // SAFETY: `status` comes from the C API call above.
    unsafe { ort::Error::result_from_status(status) }.map_err(err)
}

/// Run `f`, turning errors and panics into backend errors.
fn guarded<R>(what: &str, f: impl FnOnce() -> Result<R, String>) -> TargetResult<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(TargetError::Backend(format!("onnxruntime {what}: {e}"))),
        Err(_) => Err(TargetError::Backend(format!(
            "onnxruntime panicked in {what}"
        ))),
    }
}

impl Loaded {
    fn heads(&self) -> (usize, usize) {
        let h = self.spec.n_text_head;
        (h, self.spec.n_text_state / h)
    }

    fn encode(&mut self) -> Result<(), String> {
        let mel = self
            .mel
            .as_ref()
            .ok_or("encode before a log-mel was computed")?;
        let input = tensor_of(self.io, vec![1, self.spec.n_mels, N_FRAMES], mel)?;
        let mut out = DynTensor::new(
            &Allocator::default(),
            self.io,
            [1usize, self.spec.n_audio_ctx, self.spec.n_audio_state],
        )
        .map_err(err)?;
        let mut binding = self.encoder.create_binding().map_err(err)?;
        binding.bind_input("input_features", &input).map_err(err)?;
        binding
            .bind_output("last_hidden_state", &mut out)
            .map_err(err)?;
        run_binding(&self.encoder, &binding)?;
        self.audio = Some(out);
        self.cross.clear();
        self.past.clear();
        self.pos = 0;
        Ok(())
    }

    fn decode(&mut self, tokens: &[u32]) -> Result<Vec<f32>, String> {
        let n = tokens.len();
        let end = self.pos + n;
        let vocab = self.spec.n_vocab;
        let ids = Tensor::from_array((
            [1usize, n],
            tokens.iter().map(|&t| t as i64).collect::<Vec<_>>(),
        ))
        .map_err(err)?;
        let (h, dh) = self.heads();
        let alloc = Allocator::default();
        let first = self.pos == 0;
        let (session, binding) = if first {
            (&self.decoder, &mut self.dec_binding)
        } else {
            (&self.decoder_past, &mut self.past_binding)
        };
        binding.bind_input("input_ids", &ids).map_err(err)?;
        let mut cross = Vec::new();
        if first {
            let audio = self.audio.as_ref().ok_or("decode before the encoder ran")?;
            binding
                .bind_input("encoder_hidden_states", audio)
                .map_err(err)?;
            for i in 0..self.spec.n_text_layer {
                let shape = [1usize, h, self.spec.n_audio_ctx, dh];
                let mut k = DynTensor::new(&alloc, self.io, shape).map_err(err)?;
                let mut v = DynTensor::new(&alloc, self.io, shape).map_err(err)?;
                binding
                    .bind_output(format!("present.{i}.encoder.key"), &mut k)
                    .map_err(err)?;
                binding
                    .bind_output(format!("present.{i}.encoder.value"), &mut v)
                    .map_err(err)?;
                cross.push((k, v));
            }
        } else {
            for (i, ((pk, pv), (ck, cv))) in self.past.iter().zip(&self.cross).enumerate() {
                binding
                    .bind_input(format!("past_key_values.{i}.decoder.key"), pk)
                    .map_err(err)?;
                binding
                    .bind_input(format!("past_key_values.{i}.decoder.value"), pv)
                    .map_err(err)?;
                binding
                    .bind_input(format!("past_key_values.{i}.encoder.key"), ck)
                    .map_err(err)?;
                binding
                    .bind_input(format!("past_key_values.{i}.encoder.value"), cv)
                    .map_err(err)?;
            }
        }
        let mut presents = Vec::with_capacity(self.spec.n_text_layer);
        for i in 0..self.spec.n_text_layer {
            let shape = [1usize, h, end, dh];
            let mut k = DynTensor::new(&alloc, self.io, shape).map_err(err)?;
            let mut v = DynTensor::new(&alloc, self.io, shape).map_err(err)?;
            binding
                .bind_output(format!("present.{i}.decoder.key"), &mut k)
                .map_err(err)?;
            binding
                .bind_output(format!("present.{i}.decoder.value"), &mut v)
                .map_err(err)?;
            presents.push((k, v));
        }
        let logits = if n == 1 {
            &mut self.step_logits
        } else {
            if self.prompt_logits.as_ref().is_none_or(|(len, _)| *len != n) {
                let t = DynTensor::new(&alloc, self.io, [1usize, n, vocab]).map_err(err)?;
                self.prompt_logits = Some((n, t));
            }
            &mut self.prompt_logits.as_mut().expect("allocated above").1
        };
        binding.bind_output("logits", &mut *logits).map_err(err)?;
        run_binding(session, binding)?;
        let all = values_of(logits, self.io)?;
        if first {
            self.cross = cross;
        }
        self.past = presents;
        self.pos = end;
        Ok(all[all.len() - vocab..].to_vec())
    }
}

impl SpeechTarget for OrtWhisper {
    fn info(&self) -> TargetInfo {
        let ep = self.session.map_or(self.default_ep, |s| s.0);
        let mut extra = BTreeMap::new();
        extra.insert("library_path".into(), self.rt.path.display().to_string());
        extra.insert("execution_provider".into(), ep.provider().into());
        if let Some((_, threads)) = self.session {
            extra.insert("threads".into(), threads.to_string());
        }
        if let Some(p) = &self.providers {
            extra.insert("session_providers".into(), p.clone());
        }
        extra.insert("load_options".into(), "ep".into());
        extra.insert(
            "loop".into(),
            "Optimum layout: encoder, decoder_model (first call, returns cross-attention K/V), \
             decoder_with_past_model (later calls); IoBinding, RunWithBinding; self-attention \
             KV present→past each step (the graph's Concat)"
                .into(),
        );
        extra.insert(
            "mel".into(),
            "candle-transformers whisper::audio::pcm_to_mel (whisper.cpp's algorithm), computed \
             outside ONNX Runtime as Optimum pipelines do"
                .into(),
        );
        TargetInfo {
            name: self.name.into(),
            library_version: format!("onnxruntime {}", self.rt.version),
            build_flags: self.rt.providers.clone(),
            device: match ep {
                Ep::Cpu => "cpu".into(),
                Ep::Cuda => "cuda:0".into(),
                Ep::CoreMl => "coreml".into(),
            },
            formats: vec![WhisperFormat::Onnx.name().into()],
            architectures: vec!["whisper".into()],
            quants: ["f32", "f16", "int8"]
                .iter()
                .map(|q| q.to_string())
                .collect(),
            extra,
            description: Description {
                summary: "ONNX Runtime (official library): Whisper in Hugging Face Optimum's \
                          ONNX layout"
                    .into(),
                options: vec![crate::ep_option(self.default_ep)],
                // Both decoder sessions hold the decoder's weights and, on a CPU without f16
                // kernels, f32 copies of an f16 graph's weights (measured RSS: whisper-base
                // f32 0.90 GiB, f16 1.18 GiB for 0.37 / 0.19 GiB folders); about 500 MiB of
                // buffers, caches and audio beyond them.
                memory: Some(MemoryModel {
                    weights_factor: [("f16".to_string(), 4.0), ("*".to_string(), 2.0)].into(),
                    runtime_bytes: 500 << 20,
                    ..Default::default()
                }),
            },
        }
    }

    fn load(&mut self, spec: &LoadSpec) -> TargetResult<ModelInfo> {
        self.loaded = None;
        self.session = None;
        self.providers = None;
        let ep = match spec.options.get("ep") {
            None => self.default_ep,
            Some(e) => Ep::parse(e).ok_or_else(|| {
                TargetError::Unsupported(format!("execution provider `{e}` (cpu, cuda, coreml)"))
            })?,
        };
        if let Some(reason) = platform::unavailable(ep) {
            return Err(TargetError::Unsupported(reason.into()));
        }
        if !self.rt.providers.iter().any(|p| p == ep.provider()) {
            return Err(TargetError::Unsupported(format!(
                "{}: the ONNX Runtime library at {} has no {}",
                ep.name(),
                self.rt.path.display(),
                ep.provider()
            )));
        }
        let folder = onnx::inspect_folder(&spec.model_path)
            .map_err(|e| TargetError::Backend(format!("{e:#}")))?;
        let threads = spec.threads.max(1);
        // One profile prefix per load (a test process loads several at once); the files are
        // read after the probe run below, and deleted on every path.
        static LOADS: AtomicU64 = AtomicU64::new(0);
        let profile = std::env::temp_dir().join(format!(
            "edgebench-ort-whisper-profile-{}-{}-",
            std::process::id(),
            LOADS.fetch_add(1, Ordering::Relaxed)
        ));
        let loaded = self.open(ep, threads, &folder, &profile);
        crate::remove_profiles(&profile);
        let (loaded, providers) = loaded?;
        let w = &loaded.spec;
        let info = ModelInfo {
            architecture: "whisper".into(),
            vocab_size: w.n_vocab,
            parameters: Some(w.parameter_count()),
            weight_bytes: Some(folder.file_bytes),
            quant: Some(folder.quant.clone()),
            max_context: Some(w.n_text_ctx),
        };
        self.loaded = Some(loaded);
        self.session = Some((ep, threads));
        self.providers = Some(providers);
        Ok(info)
    }
    fn mel(&mut self, pcm: &[f32]) -> TargetResult<()> {
        let l = self.loaded()?;
        l.audio = None;
        let s = &l.spec;
        let config = Config {
            num_mel_bins: s.n_mels,
            max_source_positions: s.n_audio_ctx,
            d_model: s.n_audio_state,
            encoder_attention_heads: s.n_audio_head,
            encoder_layers: s.n_audio_layer,
            vocab_size: s.n_vocab,
            max_target_positions: s.n_text_ctx,
            decoder_attention_heads: s.n_text_head,
            decoder_layers: s.n_text_layer,
            suppress_tokens: Vec::new(),
        };
        let filters = &l.filters;
        let full = guarded("log-mel", || {
            Ok(whisper_audio::pcm_to_mel(&config, pcm, filters))
        })?;
        let n_mels = s.n_mels;
        l.mel = Some(first_frames(&full, n_mels).map_err(TargetError::Backend)?);
        Ok(())
    }

    fn set_mel(&mut self, mel: &[f32], n_mels: usize) -> TargetResult<()> {
        let l = self.loaded()?;
        if n_mels != l.spec.n_mels || !mel.len().is_multiple_of(n_mels) {
            return Err(TargetError::Backend(format!(
                "a log-mel of {} values in {n_mels} rows for a model with {} mel bins",
                mel.len(),
                l.spec.n_mels
            )));
        }
        l.mel = Some(first_frames(mel, n_mels).map_err(TargetError::Backend)?);
        l.audio = None;
        Ok(())
    }

    fn encode(&mut self) -> TargetResult<()> {
        let l = self.loaded()?;
        guarded("encoder", || l.encode())
    }

    fn encoder_output(&mut self) -> TargetResult<Option<Vec<f32>>> {
        let l = self.loaded()?;
        let io = l.io;
        match &l.audio {
            None => Ok(None),
            Some(a) => guarded("encoder output", || values_of(a, io)).map(Some),
        }
    }

    fn decode(&mut self, tokens: &[u32]) -> TargetResult<Vec<f32>> {
        let l = self.loaded()?;
        guards::nonempty("decoder call", tokens)?;
        guards::append(
            l.pos,
            tokens,
            l.spec.n_text_ctx,
            l.spec.n_vocab,
            format_args!("the decoder of {}", l.folder.display()),
        )?;
        if l.audio.is_none() {
            return Err(TargetError::Backend("decode before the encoder ran".into()));
        }
        guarded("decoder", || l.decode(tokens))
    }

    fn reset_decoder(&mut self) -> TargetResult<()> {
        // The cross-attention keys and values are recomputed by the first decoder call, as
        // Optimum's generation does after each new encoder output.
        let l = self.loaded()?;
        l.past.clear();
        l.pos = 0;
        Ok(())
    }
}

impl OrtWhisper {
    /// The three sessions of `folder`, checked, probed under the profiler.
    fn open(
        &self,
        ep: Ep,
        threads: usize,
        folder: &onnx::OnnxFolder,
        profile: &Path,
    ) -> TargetResult<(Loaded, String)> {
        // A prefix per graph: ONNX Runtime names profiles to the second.
        let prefix = |k: &str| PathBuf::from(format!("{}{k}-", profile.display()));
        let encoder = session(self.rt, ep, threads, &folder.encoder, &prefix("enc"))?;
        let decoder = session(self.rt, ep, threads, &folder.decoder, &prefix("dec"))?;
        let decoder_past = session(
            self.rt,
            ep,
            threads,
            &folder.decoder_with_past,
            &prefix("past"),
        )?;
        let io = io_type(&encoder, "input_features", false, &folder.encoder)?;
        if !matches!(io, TensorElementType::Float32 | TensorElementType::Float16) {
            return Err(TargetError::BadModel {
                path: folder.encoder.clone(),
                message: format!("input_features of {io:?} (edgebench runs f32 and f16 exports)"),
            });
        }
        for (s, p, name, out) in [
            (&encoder, &folder.encoder, "last_hidden_state", true),
            (&decoder, &folder.decoder, "encoder_hidden_states", false),
            (&decoder, &folder.decoder, "logits", true),
            (&decoder_past, &folder.decoder_with_past, "logits", true),
            (
                &decoder_past,
                &folder.decoder_with_past,
                "past_key_values.0.encoder.key",
                false,
            ),
        ] {
            let t = io_type(s, name, out, p)?;
            if t != io {
                return Err(TargetError::BadModel {
                    path: p.clone(),
                    message: format!("`{name}` is {t:?} but input_features is {io:?}"),
                });
            }
        }
        let w = &folder.spec;
        let bad = |message: String| TargetError::BadModel {
            path: folder.encoder.clone(),
            message,
        };
        let (dec_binding, past_binding) = (|| -> Result<_, String> {
            Ok((
                decoder.create_binding().map_err(err)?,
                decoder_past.create_binding().map_err(err)?,
            ))
        })()
        .map_err(bad)?;
        let step_logits = DynTensor::new(&Allocator::default(), io, [1usize, 1, w.n_vocab])
            .map_err(|e| bad(err(e)))?;
        let mut l = Loaded {
            filters: mel::filters(w.n_mels),
            spec: w.clone(),
            folder: folder
                .encoder
                .parent()
                .unwrap_or(Path::new("."))
                .to_path_buf(),
            encoder,
            decoder,
            decoder_past,
            dec_binding,
            past_binding,
            io,
            mel: None,
            audio: None,
            cross: Vec::new(),
            past: Vec::new(),
            pos: 0,
            step_logits,
            prompt_logits: None,
        };
        // The probe: one encoder run on silence and two decoder calls (both graphs), under the
        // profiler.
        let probe = guarded("probe run", || {
            l.mel = Some(vec![0.0; l.spec.n_mels * N_FRAMES]);
            l.encode()?;
            l.decode(&[0])?;
            l.decode(&[0])?;
            Ok(())
        });
        let mut described = Vec::new();
        for (what, s) in [
            ("encoder", &mut l.encoder),
            ("decoder", &mut l.decoder),
            ("decoder_with_past", &mut l.decoder_past),
        ] {
            let d = s
                .end_profiling()
                .map_err(err)
                .and_then(|file| std::fs::read_to_string(file).map_err(|e| e.to_string()))
                .and_then(|t| profile::nodes_per_provider(&t))
                .map(|c| profile::describe(&c))
                .unwrap_or_else(|e| format!("unknown ({e})"));
            described.push(format!("{what}: {d}"));
        }
        probe.map_err(|e| TargetError::Backend(format!("first run failed: {e}")))?;
        l.mel = None;
        l.audio = None;
        l.cross.clear();
        l.past.clear();
        l.pos = 0;
        Ok((l, described.join("; ")))
    }
}

/// The first 3000 frames of each of `n_mels` rows (`[n_mels, frames]` row-major).
fn first_frames(mel: &[f32], n_mels: usize) -> Result<Vec<f32>, String> {
    let frames = mel.len() / n_mels;
    if frames < N_FRAMES {
        return Err(format!(
            "a log-mel of {frames} frames: the encoder takes {N_FRAMES} (30 s)"
        ));
    }
    Ok((0..n_mels)
        .flat_map(|m| mel[m * frames..m * frames + N_FRAMES].iter().copied())
        .collect())
}
