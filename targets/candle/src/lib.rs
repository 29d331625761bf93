//! The candle target: GGUF LLMs run with Hugging Face's candle (`candle-core`,
//! `candle-transformers` 0.11.1).
//!
//! Architectures, dispatched on `general.architecture`:
//! - `llama`: `candle_transformers::models::quantized_llama`
//! - `phi3`: `candle_transformers::models::quantized_phi3`
//! - `gemma` (Gemma 1): [`gemma`], written here on candle's blocks since candle-transformers
//!   has no quantized Gemma 1.
//!
//! The device is the CPU, or the GPU when built with the `cuda` or `metal` feature (the load
//! option `device=cpu` forces the CPU).
//!
//! The same worker runs Whisper ([`whisper`]) when started with `--speech`.

pub mod gemma;
mod gguf;
pub mod whisper;

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_phi3};
use edgebench_target_kit::describe::{Description, MemoryModel, OptionSpec};
use edgebench_target_kit::guards;
use edgebench_target_kit::target::{
    LoadSpec, ModelInfo, Target, TargetError, TargetInfo, TargetResult,
};
use gguf::GgufFile;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::OnceLock;

/// Version of candle this target is built against (checked against Cargo.lock by a test).
pub const CANDLE_VERSION: &str = "0.11.1";

const ARCHITECTURES: [&str; 3] = ["llama", "phi3", "gemma"];

enum Model {
    Llama(quantized_llama::ModelWeights),
    Phi3(quantized_phi3::ModelWeights),
    Gemma(gemma::ModelWeights),
}

impl Model {
    fn forward(&mut self, tokens: &Tensor, index_pos: usize) -> candle_core::Result<Tensor> {
        match self {
            Model::Llama(m) => m.forward(tokens, index_pos),
            Model::Phi3(m) => m.forward(tokens, index_pos),
            Model::Gemma(m) => m.forward(tokens, index_pos),
        }
    }

    fn clear_kv_cache(&mut self) {
        match self {
            Model::Llama(m) => m.clear_kv_cache(),
            // quantized_phi3 has no clear method, but it resets its KV cache itself whenever
            // a forward starts at position 0, which is what the next prefill does.
            Model::Phi3(_) => {}
            Model::Gemma(m) => m.clear_kv_cache(),
        }
    }
}

struct Loaded {
    model: Model,
    path: PathBuf,
    device: Device,
    /// Next position: tokens seen since the last reset.
    pos: usize,
    max_context: usize,
    vocab: usize,
}

/// The candle backend behind the [`Target`] seam.
#[derive(Default)]
pub struct CandleTarget {
    loaded: Option<Loaded>,
}

impl CandleTarget {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Why candle cannot run a `quant` model on this CPU, if it cannot. candle's NEON kernels for
/// quantized blocks (`candle_core::quantized::neon`) use the dot-product instruction (`sdot`)
/// whatever the build's target features, so on an ARM CPU without it (a Cortex-A72, as in a
/// Raspberry Pi 4) they die with SIGILL: found running the armv8-a build under QEMU's
/// Cortex-A72. F16 and F32 models do not use them.
fn quantized_kernels_unsupported(quant: Option<&str>) -> Option<String> {
    if !cfg!(target_arch = "aarch64") || matches!(quant, Some("f32" | "f16")) {
        return None;
    }
    let cpu = edgebench_target_kit::cpu_features::this_cpu()?;
    (!cpu.iter().any(|f| f == "asimddp")).then(|| {
        format!(
            "candle's {} kernels on ARM use the dot-product instruction, which this CPU lacks \
             (asimddp): run F16 or F32 models on candle here, or this one on llama.cpp",
            quant.unwrap_or("quantized")
        )
    })
}

impl Target for CandleTarget {
    fn info(&self) -> TargetInfo {
        use candle_core::utils;
        let flags = [
            ("avx2", utils::with_avx()),
            ("neon", utils::with_neon()),
            ("simd128", utils::with_simd128()),
            ("f16c", utils::with_f16c()),
            ("mkl", utils::has_mkl()),
            ("accelerate", utils::has_accelerate()),
            ("cuda", utils::cuda_is_available()),
            ("metal", utils::metal_is_available()),
        ];
        let mut extra = BTreeMap::new();
        // Before the first load: what candle's barrier pool would pick.
        let threads = configured_threads().unwrap_or_else(|| {
            std::env::var("CANDLE_NUM_THREADS")
                .ok()
                .and_then(|n| n.parse().ok())
                .filter(|&n| n > 0)
                .unwrap_or_else(utils::get_num_threads)
        });
        extra.insert("threads".into(), threads.to_string());
        extra.insert(
            "threading".into(),
            "candle barrier pool (quantized matmul) + rayon".into(),
        );
        TargetInfo {
            name: "candle".into(),
            library_version: format!("candle-core {CANDLE_VERSION}"),
            build_flags: flags
                .iter()
                .filter(|(_, on)| *on)
                .map(|(name, _)| name.to_string())
                .collect(),
            device: default_device_name().into(),
            formats: vec!["gguf".into()],
            architectures: ARCHITECTURES.iter().map(|a| a.to_string()).collect(),
            quants: ["f32", "f16", "q8_0", "q4_0", "q4_k_m", "q5_k_m"]
                .iter()
                .map(|q| q.to_string())
                .collect(),
            extra,
            description: description(),
        }
    }

    fn load(&mut self, spec: &LoadSpec) -> TargetResult<ModelInfo> {
        self.loaded = None; // free the old weights before reading new ones
        let path = &spec.model_path;
        let bad = |message: String| TargetError::BadModel {
            path: path.clone(),
            message,
        };
        let file = GgufFile::open(path).map_err(bad)?;
        let arch = file.architecture().map_err(bad)?;
        if let Some(why) = quantized_kernels_unsupported(file.quant().as_deref()) {
            return Err(TargetError::Unsupported(why));
        }
        if !ARCHITECTURES.contains(&arch.as_str()) {
            return Err(TargetError::Unsupported(format!(
                "architecture `{arch}` of {} (candle runs {})",
                path.display(),
                ARCHITECTURES.join(", ")
            )));
        }
        let context_length = file.arch_u64(&arch, "context_length").map(|c| c as usize);
        let max_context = match arch.as_str() {
            // RoPE tables of a fixed length.
            "llama" => context_length.map_or(quantized_llama::MAX_SEQ_LEN, |c| {
                c.min(quantized_llama::MAX_SEQ_LEN)
            }),
            // RoPE tables as long as the file's context (which both loaders require).
            _ => context_length
                .ok_or_else(|| bad(format!("no {arch}.context_length in the metadata")))?,
        };
        if spec.context > max_context {
            return Err(TargetError::Unsupported(format!(
                "context of {} tokens: candle runs {} up to {max_context}",
                spec.context,
                path.display()
            )));
        }
        // Logits come from `output.weight`, or from the tied token embedding (always for gemma).
        let vocab = match arch.as_str() {
            "gemma" => file.rows("token_embd.weight"),
            _ => file
                .rows("output.weight")
                .or_else(|| file.rows("token_embd.weight")),
        }
        .ok_or_else(|| bad("no token_embd.weight tensor".into()))?;
        let (parameters, _) = file.sizes();
        let weight_bytes = file.streamed_bytes();
        let info = ModelInfo {
            architecture: arch.clone(),
            vocab_size: vocab,
            parameters: Some(parameters),
            weight_bytes: Some(weight_bytes),
            quant: file.quant(),
            max_context: Some(max_context),
        };

        configure_threads(spec.threads)?;
        let device = device_for(spec)?;
        let GgufFile {
            content,
            mut reader,
            ..
        } = file;
        let reader = &mut reader;
        // candle reports most problems as errors, but a malformed file can still reach an
        // assertion; either way the user gets one line naming the file.
        let built = catch_unwind(AssertUnwindSafe(|| match arch.as_str() {
            "llama" => {
                quantized_llama::ModelWeights::from_gguf(content, reader, &device).map(Model::Llama)
            }
            "phi3" => quantized_phi3::ModelWeights::from_gguf(false, content, reader, &device)
                .map(Model::Phi3),
            _ => gemma::ModelWeights::from_gguf(content, reader, &device).map(Model::Gemma),
        }));
        let model = match built {
            Ok(Ok(model)) => model,
            Ok(Err(e)) => return Err(bad(format!("{arch}: {}", one_line(&e)))),
            Err(panic) => {
                return Err(bad(format!(
                    "{arch}: candle panicked: {}",
                    panic_text(&panic)
                )))
            }
        };
        self.loaded = Some(Loaded {
            model,
            path: path.clone(),
            device,
            pos: 0,
            max_context,
            vocab,
        });
        Ok(info)
    }

    fn prefill(&mut self, tokens: &[u32]) -> TargetResult<Vec<f32>> {
        let _ = self.loaded.as_ref().ok_or(TargetError::NotLoaded)?;
        guards::nonempty("prefill", tokens)?;
        self.forward(tokens)
    }

    fn decode(&mut self, token: u32) -> TargetResult<Vec<f32>> {
        self.forward(&[token])
    }

    fn reset(&mut self) -> TargetResult<()> {
        let loaded = self.loaded.as_mut().ok_or(TargetError::NotLoaded)?;
        loaded.model.clear_kv_cache();
        loaded.pos = 0;
        Ok(())
    }
}

impl CandleTarget {
    /// One forward pass over `tokens` at the current position; logits of the last one.
    fn forward(&mut self, tokens: &[u32]) -> TargetResult<Vec<f32>> {
        let loaded = self.loaded.as_mut().ok_or(TargetError::NotLoaded)?;
        let end = guards::append(
            loaded.pos,
            tokens,
            loaded.max_context,
            loaded.vocab,
            format_args!("candle's context for {}", loaded.path.display()),
        )?;
        let pos = loaded.pos;
        let Loaded { model, device, .. } = loaded;
        let run = || -> candle_core::Result<Vec<f32>> {
            let input = Tensor::new(tokens, device)?.unsqueeze(0)?;
            let logits = model.forward(&input, pos)?;
            logits.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
        };
        // On the CPU this runs inside candle's own thread pool (see `configure_threads`).
        let logits = match catch_unwind(AssertUnwindSafe(|| device.with_context(run))) {
            Ok(Ok(logits)) => logits,
            Ok(Err(e)) => return Err(TargetError::Backend(format!("candle: {}", one_line(&e)))),
            Err(panic) => {
                return Err(TargetError::Backend(format!(
                    "candle panicked: {}",
                    panic_text(&panic)
                )))
            }
        };
        loaded.pos = end;
        Ok(logits)
    }
}

/// What the CLI plans with (see `edgebench_target_kit::describe`).
fn description() -> Description {
    Description {
        summary: "Hugging Face candle (Rust): GGUF llama, phi3, gemma, and Whisper, on CPU".into(),
        options: vec![OptionSpec::new(
            "device",
            "where candle computes (cuda:0 and metal need a GPU build)",
        )
        .words(&["cpu", "cuda", "cuda:0", "metal"])
        .default_value(default_device_name())],
        memory: Some(llm_memory()),
    }
}

/// How candle holds a GGUF LLM (candle-transformers `quantized_llama.rs`, `quantized_phi3.rs`):
/// it dequantizes the token embedding table to f32 at load (`tok_embeddings.dequantize`; this
/// crate's Gemma, [`gemma`], keeps it quantized) and keeps its KV cache in f32. Its peak is
/// higher still while loading: measured (candle 0.11, 2 threads), Phi-3 mini Q4_K_M (2.23 GiB
/// file, 0.37 GiB of f32 embeddings) peaked at 4.38 GiB and Llama 3 8B Q4_K_M (4.58 GiB,
/// 1.96 GiB) at 10.55 GiB, a tiny model at 0.51 GiB. Half the weights and three quarters of the
/// f32 embeddings again, on top of a 512 MiB runtime, fit both within 3%.
pub fn llm_memory() -> MemoryModel {
    MemoryModel {
        kv_bytes: 4,
        f32_embeddings: true,
        f32_embeddings_except: vec!["gemma".into()],
        load_weights: 0.5,
        load_embeddings: 0.75,
        runtime_bytes: 512 << 20,
        ..Default::default()
    }
}

fn default_device_name() -> &'static str {
    if cfg!(feature = "cuda") {
        "cuda:0"
    } else if cfg!(feature = "metal") {
        "metal"
    } else {
        "cpu"
    }
}

fn device_for(spec: &LoadSpec) -> TargetResult<Device> {
    let name = spec
        .options
        .get("device")
        .map_or(default_device_name(), String::as_str);
    let device = match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" | "cuda:0" => Device::new_cuda(0),
        "metal" => Device::new_metal(0),
        other => {
            return Err(TargetError::Unsupported(format!(
                "device `{other}` (candle: cpu, cuda:0, metal)"
            )))
        }
    };
    device.map_err(|e| TargetError::Unsupported(format!("device {name}: {e}")))
}

static THREADS: OnceLock<usize> = OnceLock::new();

fn configured_threads() -> Option<usize> {
    THREADS.get().copied()
}

/// Size candle's thread pools once per process, before the first load touches them.
///
/// candle 0.11.1 does not use rayon's global pool for its heavy kernels: quantized matmuls run
/// on its own barrier pool (sized by `CANDLE_NUM_THREADS`, else `RAYON_NUM_THREADS`, else the
/// physical cores) and `Device::with_context` runs forwards in a private rayon pool
/// (`RAYON_NUM_THREADS`). Both read the environment once, so the variables are set here; the
/// global rayon pool is built too for the few kernels that use it. 0 keeps candle's default.
fn configure_threads(requested: usize) -> TargetResult<()> {
    let actual = *THREADS.get_or_init(|| {
        if requested > 0 {
            let n = requested.to_string();
            for var in ["CANDLE_NUM_THREADS", "RAYON_NUM_THREADS"] {
                if std::env::var(var).ok().as_deref() != Some(n.as_str()) {
                    std::env::set_var(var, &n);
                }
            }
            // Fails only if the global pool already exists, which then keeps its size.
            let _ = rayon::ThreadPoolBuilder::new()
                .num_threads(requested)
                .build_global();
        }
        // The calling thread works too: the pool has threads - 1 workers.
        candle_core::utils::barrier_pool().n_workers() + 1
    });
    if requested > 0 && requested != actual {
        return Err(TargetError::Unsupported(format!(
            "{requested} threads: candle's thread pools were already built for {actual} in this \
             process (start a new worker per thread count)"
        )));
    }
    Ok(())
}

/// A candle error as one line: without the backtrace candle appends when `RUST_BACKTRACE` is set.
pub(crate) fn one_line(e: &candle_core::Error) -> String {
    use candle_core::Error;
    match e {
        Error::WithBacktrace { inner, .. } => one_line(inner),
        Error::Context { inner, context } => format!("{context}: {}", one_line(inner)),
        Error::WithPath { inner, path } => format!("{}: {}", path.display(), one_line(inner)),
        other => other
            .to_string()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod memory_tests {
    use super::*;
    use edgebench_scenarios::{synth, Catalog, Quant};
    use edgebench_target_kit::describe::{ModelFacts, Shape};

    /// The memory model against the peak measured for Llama 3 8B Q4_K_M on candle (tg4, 5
    /// tokens of context): 10.55 GiB.
    #[test]
    fn the_memory_model_matches_the_measured_peak() {
        let spec = Catalog::builtin().model("llama3-8b").unwrap().clone();
        let facts = ModelFacts {
            file_bytes: synth::planned_file_bytes(&spec, Quant::Q4KM),
            quant: "q4_k_m",
            architecture: "llama",
            shape: Some(Shape {
                layers: spec.layers,
                kv_heads: spec.kv_heads,
                head_dim: spec.head_dim,
                vocab: spec.vocab_size,
                hidden: spec.hidden_size,
            }),
            kv_bytes: None,
        };
        let e = llm_memory().estimate(&facts, 5);
        let measured = 10.55 * (1u64 << 30) as f64;
        assert!((e.total() as f64 / measured - 1.0).abs() < 0.03, "{e:?}");
        // Gemma keeps its embeddings quantized here.
        let gemma = ModelFacts {
            architecture: "gemma",
            ..facts
        };
        assert_eq!(llm_memory().estimate(&gemma, 5).expanded_embeddings, 0);
    }
}
