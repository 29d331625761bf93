//! The ONNX Runtime target: ONNX Runtime GenAI model folders (`genai_config.json`, the model
//! file and its external data) run with the official ONNX Runtime library through `ort`.
//!
//! Started with `--speech`, the same workers run Whisper in Hugging Face Optimum's ONNX layout
//! ([`whisper`]).
//!
//! Two workers share this crate: `onnxruntime` (CPU execution provider by default; `ep=cuda`
//! or `ep=coreml` as a load option where the loaded library has them) and `coreml` (ONNX
//! Runtime with the CoreML execution provider, which is how ONNX models reach Apple's Neural
//! Engine; macOS only, see [`platform`]).
//!
//! The generation loop is in [`decoder`]; which provider ran each node is read from ONNX
//! Runtime's profiler on a one-token probe run at load ([`profile`]) and reported in
//! [`TargetInfo::extra`] (`session_providers`), so a silent CPU fallback shows in every result;
//! the session options, onnxruntime-genai's for a CPU session, are in [`session_options`] and in
//! `TargetInfo::extra` (`session_options`).

pub mod decoder;
pub mod platform;
pub mod profile;
pub mod runtime;
pub mod session_options;
pub mod unavailable;
pub mod whisper;

use decoder::{Decoder, LoopStats};
use edgebench_scenarios::onnx::genai_config::GenaiError;
use edgebench_target_kit::describe::{Description, MemoryModel, OptionSpec};
use edgebench_target_kit::guards;
use edgebench_target_kit::target::{
    LoadSpec, ModelInfo, Target, TargetError, TargetInfo, TargetResult,
};
use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::Session;
use runtime::Runtime;
use session_options::SessionOptions;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Architectures (`model.type` of genai_config.json) whose synthetic folders are tested here;
/// any GenAI decoder with the standard inputs and outputs runs the same way.
const ARCHITECTURES: [&str; 3] = ["llama", "phi3", "gemma"];

/// An ONNX Runtime execution provider edgebench can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ep {
    Cpu,
    Cuda,
    CoreMl,
}

impl Ep {
    pub fn parse(s: &str) -> Option<Ep> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Some(Ep::Cpu),
            "cuda" => Some(Ep::Cuda),
            "coreml" => Some(Ep::CoreMl),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Ep::Cpu => "cpu",
            Ep::Cuda => "cuda",
            Ep::CoreMl => "coreml",
        }
    }

    /// ONNX Runtime's name for it.
    pub fn provider(self) -> &'static str {
        match self {
            Ep::Cpu => "CPUExecutionProvider",
            Ep::Cuda => "CUDAExecutionProvider",
            Ep::CoreMl => "CoreMLExecutionProvider",
        }
    }
}

/// What the last load set up, for [`Target::info`].
struct SessionDesc {
    ep: Ep,
    threads: usize,
    options: String,
    providers: String,
    kv: String,
}

/// ONNX Runtime behind the [`Target`] seam.
pub struct OnnxRuntimeTarget {
    name: &'static str,
    default_ep: Ep,
    rt: &'static Runtime,
    loaded: Option<Decoder>,
    session: Option<SessionDesc>,
}

impl OnnxRuntimeTarget {
    /// The target `name` (`onnxruntime`, `coreml`) using `default_ep` unless a load asks for
    /// another. Fails with a one-line reason when the ONNX Runtime library cannot be loaded.
    pub fn new(name: &'static str, default_ep: Ep) -> Result<Self, String> {
        Ok(Self {
            name,
            default_ep,
            rt: runtime::runtime()?,
            loaded: None,
            session: None,
        })
    }

    /// Where the time of every step since the last load went (see [`LoopStats`]).
    pub fn loop_stats(&self) -> Option<LoopStats> {
        self.loaded.as_ref().map(|d| d.stats)
    }

    pub fn reset_loop_stats(&mut self) {
        if let Some(d) = &mut self.loaded {
            d.stats = LoopStats::default();
        }
    }

    fn decoder(&mut self) -> TargetResult<&mut Decoder> {
        self.loaded.as_mut().ok_or(TargetError::NotLoaded)
    }
}

/// The `ep` load option (`--opt ep=cuda`, `--ep`).
pub fn ep_option(default: Ep) -> OptionSpec {
    OptionSpec::new(
        "ep",
        "execution provider, where the loaded ONNX Runtime library has it",
    )
    .words(&["cpu", "cuda", "coreml"])
    .default_value(default.name())
}

/// How ONNX Runtime holds a GenAI folder: the KV cache in the model's I/O type (f32 for the
/// builder's fp32/int8/int4 CPU models; the planner sees fp16 folders itself), the external
/// weights mapped, and a repacked copy of part of them kept by its MatMulNBits kernels.
/// Measured (ONNX Runtime 1.31, 2 threads): a Phi-3 mini int4 folder (2.54 GiB) peaked at
/// 3.82 GiB with 0.47 GiB of KV cache (641 positions), i.e. 0.81 GiB beyond both: 0.3 of the
/// weights and 0.5 GiB of runtime cover it.
pub fn llm_memory() -> MemoryModel {
    MemoryModel {
        kv_bytes: 4,
        load_weights: 0.3,
        runtime_bytes: 512 << 20,
        ..Default::default()
    }
}

fn bad_folder(e: GenaiError) -> TargetError {
    TargetError::BadModel {
        path: e.path.into(),
        message: e.message,
    }
}

fn one_line(e: impl std::fmt::Display) -> String {
    let s = e.to_string();
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

impl Target for OnnxRuntimeTarget {
    fn info(&self) -> TargetInfo {
        let mut extra = BTreeMap::new();
        extra.insert("library_path".into(), self.rt.path.display().to_string());
        extra.insert(
            "execution_provider".into(),
            self.session
                .as_ref()
                .map_or(self.default_ep, |s| s.ep)
                .provider()
                .into(),
        );
        if let Some(s) = &self.session {
            extra.insert("threads".into(), s.threads.to_string());
            extra.insert("session_options".into(), s.options.clone());
            extra.insert("session_providers".into(), s.providers.clone());
            extra.insert("kv_cache".into(), s.kv.clone());
        }
        // Options `edgebench run` passes to this target (`--ep`).
        extra.insert("load_options".into(), "ep".into());
        extra.insert(
            "loop".into(),
            "IoBinding, RunWithBinding; KV buffers bound once (shared past/present) or \
             present→past per step, as onnxruntime-genai"
                .into(),
        );
        TargetInfo {
            name: self.name.into(),
            library_version: format!("onnxruntime {}", self.rt.version),
            build_flags: self.rt.providers.clone(),
            device: match self.session.as_ref().map_or(self.default_ep, |s| s.ep) {
                Ep::Cpu => "cpu".into(),
                Ep::Cuda => "cuda:0".into(),
                Ep::CoreMl => "coreml".into(),
            },
            formats: vec!["onnx-genai".into()],
            architectures: ARCHITECTURES.iter().map(|a| a.to_string()).collect(),
            quants: edgebench_scenarios::onnx::OnnxQuant::ALL
                .iter()
                .map(|q| q.name().to_string())
                .collect(),
            extra,
            description: Description {
                summary: if self.default_ep == Ep::CoreMl {
                    "Core ML through ONNX Runtime's CoreML execution provider (macOS)".into()
                } else {
                    "ONNX Runtime (official library): GenAI model folders on CPU, CUDA if the \
                     library has it"
                        .into()
                },
                options: vec![ep_option(self.default_ep)],
                memory: Some(llm_memory()),
            },
        }
    }

    fn load(&mut self, spec: &LoadSpec) -> TargetResult<ModelInfo> {
        self.loaded = None;
        self.session = None;
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
                "{}: the ONNX Runtime library at {} has no {} (it has {}); point ORT_DYLIB_PATH \
                 at a build that does",
                ep.name(),
                self.rt.path.display(),
                ep.provider(),
                self.rt.providers.join(", ")
            )));
        }
        let summary = edgebench_scenarios::onnx::inspect(&spec.model_path).map_err(bad_folder)?;
        let genai = summary.genai.clone();
        if spec.context > genai.max_length {
            return Err(TargetError::Unsupported(format!(
                "context of {} tokens: {} holds up to {} (search.max_length)",
                spec.context,
                genai.folder.display(),
                genai.max_length
            )));
        }
        let capacity = spec.context.max(1).min(genai.max_length);
        let threads = spec.threads.max(1);
        let options = SessionOptions::decoder(threads);

        // One prefix per load: a test process loads several sessions at once.
        static LOADS: AtomicU64 = AtomicU64::new(0);
        let profile_prefix = std::env::temp_dir().join(format!(
            "edgebench-ort-profile-{}-{}-",
            std::process::id(),
            LOADS.fetch_add(1, Ordering::Relaxed)
        ));
        let model_path = genai.model_path.clone();
        let bad_model = |message: String| TargetError::BadModel {
            path: model_path.clone(),
            message,
        };
        let rt = self.rt;
        let built = catch_unwind(AssertUnwindSafe(|| -> Result<Session, String> {
            let b = Session::builder(&rt.env).map_err(one_line)?;
            let mut b = options
                .apply(b)
                .map_err(one_line)?
                .with_profiling(&profile_prefix)
                .map_err(one_line)?;
            b = match ep {
                Ep::Cpu => b,
                Ep::Cuda => b
                    .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
                    .map_err(one_line)?,
                Ep::CoreMl => b
                    .with_execution_providers([ort::ep::CoreML::default()
                        .build()
                        .error_on_failure()])
                    .map_err(one_line)?,
            };
            b.commit_from_file(&model_path).map_err(one_line)
        }));
        let session = match built {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(bad_model(format!("ONNX Runtime cannot load it: {e}"))),
            Err(_) => return Err(bad_model("ONNX Runtime panicked while loading it".into())),
        };
        // Whatever happens next, the profile the session writes (when profiling ends or when
        // the session is dropped) is read here or deleted.
        let prepared = prepare(session, ep, &genai, capacity);
        remove_profiles(&profile_prefix);
        let (decoder, providers) = prepared.map_err(|e| match e {
            Prepare::Model(m) => bad_model(m),
            Prepare::Run(m) => TargetError::Backend(m),
        })?;

        let io = if decoder.io == ort::value::TensorElementType::Float16 {
            "f16"
        } else {
            "f32"
        };
        let kv = if genai.past_present_share_buffer {
            format!(
                "shared past/present buffers: 2 per layer of [1, {}, {capacity}, {}] {io} ({} MiB)",
                genai.kv_heads,
                genai.head_size,
                decoder.kv_bytes() >> 20
            )
        } else {
            format!(
                "present→past each step, [1, {}, positions, {}] {io}",
                genai.kv_heads, genai.head_size
            )
        };
        self.session = Some(SessionDesc {
            ep,
            threads,
            options: options.describe(),
            providers,
            kv,
        });
        self.loaded = Some(decoder);
        Ok(ModelInfo {
            architecture: genai.model_type.clone(),
            vocab_size: genai.vocab_size,
            parameters: summary.parameters,
            weight_bytes: summary.weight_bytes,
            quant: Some(summary.quant.clone()),
            max_context: Some(genai.max_length),
        })
    }

    fn prefill(&mut self, tokens: &[u32]) -> TargetResult<Vec<f32>> {
        self.decoder()?;
        guards::nonempty("prefill", tokens)?;
        self.step(tokens)
    }

    fn decode(&mut self, token: u32) -> TargetResult<Vec<f32>> {
        self.step(&[token])
    }

    fn reset(&mut self) -> TargetResult<()> {
        self.decoder()?.reset().map_err(TargetError::Backend)
    }
}

impl OnnxRuntimeTarget {
    fn step(&mut self, tokens: &[u32]) -> TargetResult<Vec<f32>> {
        let decoder = self.decoder()?;
        guards::append(
            decoder.pos,
            tokens,
            decoder.capacity,
            decoder.model.vocab_size,
            format_args!("the session for {}", decoder.model.folder.display()),
        )?;
        match catch_unwind(AssertUnwindSafe(|| decoder.step(tokens))) {
            Ok(Ok(logits)) => Ok(logits),
            Ok(Err(e)) => Err(TargetError::Backend(format!("onnxruntime: {e}"))),
            Err(_) => Err(TargetError::Backend("onnxruntime panicked".into())),
        }
    }
}

enum Prepare {
    /// The model does not fit what genai_config.json says.
    Model(String),
    /// ONNX Runtime failed to run it.
    Run(String),
}

/// The generation state for a new session, after one token through the graph under the
/// profiler: the decoder and which provider ran which node.
fn prepare(
    session: Session,
    ep: Ep,
    genai: &edgebench_scenarios::onnx::genai_config::GenaiModel,
    capacity: usize,
) -> Result<(Decoder, String), Prepare> {
    let kv_alloc = match ep {
        Ep::Cuda => MemoryInfo::new(
            AllocationDevice::CUDA,
            0,
            AllocatorType::Device,
            MemoryType::Default,
        )
        .and_then(|info| Allocator::new(&session, info))
        .map_err(|e| Prepare::Run(one_line(e)))?,
        _ => Allocator::default(),
    };
    let mut decoder =
        Decoder::new(session, genai.clone(), kv_alloc, capacity).map_err(Prepare::Model)?;
    let probe = match catch_unwind(AssertUnwindSafe(|| decoder.step(&[0]))) {
        Ok(r) => r,
        Err(_) => Err("ONNX Runtime panicked".into()),
    };
    let trace = decoder.session.end_profiling();
    probe.map_err(|e| Prepare::Run(format!("first run failed: {e}")))?;
    let providers = trace
        .map_err(one_line)
        .and_then(|file| std::fs::read_to_string(file).map_err(|e| e.to_string()))
        .and_then(|t| profile::nodes_per_provider(&t))
        .map(|c| profile::describe(&c))
        .unwrap_or_else(|e| format!("unknown ({e})"));
    decoder.reset().map_err(Prepare::Run)?;
    decoder.stats = LoopStats::default();
    Ok((decoder, providers))
}

/// Delete the profiling files of `prefix` (ONNX Runtime appends a timestamp and `.json`).
pub(crate) fn remove_profiles(prefix: &Path) {
    let (Some(dir), Some(stem)) = (prefix.parent(), prefix.file_name().and_then(|n| n.to_str()))
    else {
        return;
    };
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(stem) && name.ends_with(".json") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A worker's `main`: serve the harness protocol with this target (Whisper when started with
/// `--speech`, [`whisper`]), or, when it cannot be used on this machine, answer every request
/// with the reason.
pub fn worker_main(name: &'static str, ep: Ep) -> ! {
    edgebench_target_kit::cpu_features::exit_if_this_cpu_cannot_run(&format!(
        "edgebench-worker-{name}"
    ));
    if let Some(reason) = platform::unavailable(ep) {
        unavailable::serve(reason)
    }
    if std::env::args().skip(1).any(|a| a == "--speech") {
        match whisper::OrtWhisper::new(name, ep) {
            Ok(target) => edgebench_target_kit::speech::main(target),
            Err(reason) => unavailable::serve(&reason),
        }
    }
    match OnnxRuntimeTarget::new(name, ep) {
        Ok(target) => edgebench_target_kit::worker::main(target),
        Err(reason) => unavailable::serve(&reason),
    }
}

#[cfg(test)]
mod memory_tests {
    use super::*;
    use edgebench_scenarios::onnx::{planned_folder_bytes, OnnxQuant};
    use edgebench_scenarios::Catalog;
    use edgebench_target_kit::describe::{ModelFacts, Shape};

    /// The memory model against the peak measured for a Phi-3 mini int4 folder on ONNX Runtime
    /// 1.31 at 641 positions: 3.82 GiB.
    #[test]
    fn the_memory_model_matches_the_measured_peak() {
        let spec = Catalog::builtin().model("phi3-mini").unwrap().clone();
        let facts = ModelFacts {
            file_bytes: planned_folder_bytes(&spec, OnnxQuant::Int4, 1),
            quant: "int4",
            architecture: "phi3",
            shape: Some(Shape {
                layers: spec.layers,
                kv_heads: spec.kv_heads,
                head_dim: spec.head_dim,
                vocab: spec.vocab_size,
                hidden: spec.hidden_size,
            }),
            kv_bytes: None,
        };
        let e = llm_memory().estimate(&facts, 641);
        assert_eq!(e.kv_cache, 2 * 32 * 32 * 96 * 641 * 4);
        let ratio = e.total() as f64 / (3.82 * (1u64 << 30) as f64);
        assert!((1.0..1.15).contains(&ratio), "{e:?}");
    }
}
