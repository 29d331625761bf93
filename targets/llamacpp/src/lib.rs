//! The llama.cpp target: GGUF LLMs run by llama.cpp itself, through the `llama-cpp-2` crate
//! (which builds llama.cpp from source with cmake; see `.cargo/config.toml` for the CPU flags).
//!
//! Measured as `llama-bench` (llama.cpp's tools/llama-bench/llama-bench.cpp) measures: a prompt
//! is handed to `llama_decode` in batches of `n_batch` tokens (llama.cpp splits each into
//! `n_ubatch` graphs), a generated token is one `llama_decode` of one token, and only the last
//! position's logits are computed. The harness's shared loop ([`edgebench_target_kit::worker`])
//! does the timing. Load options ([`options`]) default to llama-bench's defaults.
//!
//! llama.cpp vendors its own ggml, as whisper.cpp does, so this target is its own worker binary
//! (`edgebench-worker-llamacpp`): a crash or an abort inside llama.cpp kills that worker only,
//! and the harness records it as a failed test with the worker's last stderr lines.

pub mod build_info;
mod log;
pub mod options;

use edgebench_target_kit::describe::{Description, MemoryModel};
use edgebench_target_kit::guards;
use edgebench_target_kit::target::{
    LoadSpec, ModelInfo, Target, TargetError, TargetInfo, TargetResult,
};
use llama_cpp_2::context::params::{KvCacheType, LlamaContextParams};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::LlamaBackendDeviceType;
use options::{FlashAttn, Options};
use std::collections::BTreeMap;
use std::mem::ManuallyDrop;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::ptr::NonNull;
use std::sync::OnceLock;

/// Version of llama-cpp-2 this target is built against (checked against Cargo.lock by a test).
pub const LLAMA_CPP_2_VERSION: &str = "0.1.160";

/// Where the llama.cpp sources come from (recorded by build.rs).
pub const SOURCE: &str = env!("EDGEBENCH_LLAMA_SOURCE");

/// Architectures run and tested here, plus the common ones llama.cpp runs as well
/// (`general.architecture` names from llama.cpp's src/llama-arch.cpp).
const ARCHITECTURES: [&str; 14] = [
    "llama",
    "phi3",
    "gemma",
    "gemma2",
    "gemma3",
    "qwen2",
    "qwen3",
    "qwen2moe",
    "qwen3moe",
    "mistral3",
    "phi2",
    "starcoder2",
    "granite",
    "olmo2",
];

/// `general.file_type` (llama.cpp's `llama_ftype`) as edgebench names quantizations.
const FILE_TYPES: [(u32, &str); 17] = [
    (0, "f32"),
    (1, "f16"),
    (2, "q4_0"),
    (3, "q4_1"),
    (7, "q8_0"),
    (8, "q5_0"),
    (9, "q5_1"),
    (10, "q2_k"),
    (11, "q3_k_s"),
    (12, "q3_k_m"),
    (13, "q3_k_l"),
    (14, "q4_k_s"),
    (15, "q4_k_m"),
    (16, "q5_k_s"),
    (17, "q5_k_m"),
    (18, "q6_k"),
    (32, "bf16"),
];

/// llama.cpp's global state: initialized once per process, after the CPU check.
fn backend() -> &'static LlamaBackend {
    static BACKEND: OnceLock<LlamaBackend> = OnceLock::new();
    BACKEND.get_or_init(|| {
        log::install();
        LlamaBackend::init().expect("the llama.cpp backend is initialized only here")
    })
}

/// A loaded model and its context. The context borrows the model, so the model lives in a box
/// of its own that this struct frees after the context.
struct Session {
    context: ManuallyDrop<LlamaContext<'static>>,
    model: NonNull<LlamaModel>,
    path: PathBuf,
    n_ctx: usize,
    /// Most tokens per `llama_decode` (llama.cpp clamps the requested batch to the context).
    n_batch: usize,
    vocab: usize,
    /// Tokens in the KV cache since the last reset.
    pos: usize,
}

impl Session {
    fn model(&self) -> &LlamaModel {
        // SAFETY: `model` comes from `Box::into_raw` and is freed only in `drop`.
        unsafe { self.model.as_ref() }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: the context borrows the model, so it goes first; neither is used after.
        unsafe {
            ManuallyDrop::drop(&mut self.context);
            drop(Box::from_raw(self.model.as_ptr()));
        }
    }
}

/// The llama.cpp backend behind the [`Target`] seam.
#[derive(Default)]
pub struct LlamaCppTarget {
    session: Option<Session>,
}

impl LlamaCppTarget {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Target for LlamaCppTarget {
    fn info(&self) -> TargetInfo {
        let mut extra = BTreeMap::new();
        extra.insert("llama_cpp_source".into(), SOURCE.into());
        extra.insert("llama_cpp_2".into(), LLAMA_CPP_2_VERSION.into());
        extra.insert("cpu_build".into(), build_info::cpu_build());
        extra.insert("c_flags".into(), build_info::C_FLAGS.into());
        extra.insert("compiler".into(), build_info::COMPILER.into());
        extra.insert("defaults".into(), Options::default().describe());
        extra.insert("load_options".into(), options::KEYS.join(","));
        let mut info = TargetInfo {
            name: "llamacpp".into(),
            library_version: format!("llama.cpp from {SOURCE}"),
            build_flags: Vec::new(),
            device: "cpu".into(),
            formats: vec!["gguf".into()],
            architectures: ARCHITECTURES.iter().map(|a| a.to_string()).collect(),
            quants: FILE_TYPES.iter().map(|(_, q)| q.to_string()).collect(),
            extra,
            description: Description {
                summary:
                    "llama.cpp (C++, via llama-cpp-2): GGUF LLMs, measured as llama-bench does"
                        .into(),
                options: options::describe(),
                // Embeddings stay quantized; the KV cache is f16 by default.
                memory: Some(MemoryModel {
                    kv_bytes: 2,
                    runtime_bytes: 300 << 20,
                    ..Default::default()
                }),
            },
        };
        info.extra.insert(
            "ggml_cpu_features".into(),
            edgebench_target_kit::ggml_compiled_features!().join(" "),
        );
        // Touch nothing of ggml on a CPU this build cannot run on.
        if let Some(why) = build_info::cpu_mismatch() {
            info.extra.insert("cpu_mismatch".into(), why);
            return info;
        }
        backend();
        let ggml_version = c_str(unsafe { llama_cpp_sys_2::ggml_version() });
        let ggml_commit = c_str(unsafe { llama_cpp_sys_2::ggml_commit() });
        info.library_version = format!("llama.cpp (ggml {ggml_version}) from {SOURCE}");
        info.extra.insert("ggml_version".into(), ggml_version);
        info.extra.insert("ggml_commit".into(), ggml_commit);
        let system_info = c_str(unsafe { llama_cpp_sys_2::llama_print_system_info() });
        let system_info = system_info.trim().trim_end_matches('|').trim().to_string();
        let devices = llama_cpp_2::list_llama_ggml_backend_devices();
        let mut flags: Vec<String> = Vec::new();
        for d in &devices {
            let backend = d.backend.to_ascii_lowercase();
            if !flags.contains(&backend) {
                flags.push(backend);
            }
        }
        flags.extend(build_info::enabled_features(&system_info));
        info.build_flags = flags;
        if let Some(gpu) = devices.iter().find(|d| is_gpu(d.device_type)) {
            info.device = gpu.name.to_ascii_lowercase();
        }
        info.extra.insert(
            "devices".into(),
            devices
                .iter()
                .map(|d| format!("{}: {}", d.name, d.description))
                .collect::<Vec<_>>()
                .join("; "),
        );
        info.extra.insert("system_info".into(), system_info);
        info
    }

    fn load(&mut self, spec: &LoadSpec) -> TargetResult<ModelInfo> {
        self.session = None; // free the old model before reading a new one
        if let Some(why) = build_info::cpu_mismatch() {
            return Err(TargetError::Unsupported(why));
        }
        let options = Options::parse(&spec.options).map_err(TargetError::Unsupported)?;
        let path = &spec.model_path;
        let bad = |message: String| TargetError::BadModel {
            path: path.clone(),
            message,
        };
        std::fs::File::open(path).map_err(|e| bad(format!("cannot open model file: {e}")))?;
        let needed = spec.context.max(1);
        let n_ctx = match options.ctx {
            Some(c) if (c as usize) < needed => {
                return Err(TargetError::Unsupported(format!(
                    "ctx={c}: the workloads need a context of {needed} tokens"
                )))
            }
            Some(c) => c,
            None => u32::try_from(needed)
                .map_err(|_| TargetError::Unsupported(format!("context of {needed} tokens")))?,
        };

        let backend = backend();
        let model_params = LlamaModelParams::default().with_n_gpu_layers(options.n_gpu_layers);
        log::clear_errors();
        let model = LlamaModel::load_from_file(backend, path, &model_params).map_err(|e| {
            bad(format!(
                "llama.cpp cannot load it: {}",
                reason(&e.to_string())
            ))
        })?;
        let model = NonNull::from(Box::leak(Box::new(model)));
        // SAFETY: the model stays boxed until the session that owns the context is dropped.
        let model_ref: &'static LlamaModel = unsafe { model.as_ref() };
        let threads = i32::try_from(spec.threads.max(1)).unwrap_or(i32::MAX);
        let context_params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(options.batch)
            .with_n_ubatch(options.ubatch)
            .with_n_threads(threads)
            .with_n_threads_batch(threads)
            .with_flash_attention_policy(match options.flash_attn {
                FlashAttn::Auto => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_AUTO,
                FlashAttn::On => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED,
                FlashAttn::Off => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED,
            })
            .with_type_k(cache_type(&options.cache_type_k))
            .with_type_v(cache_type(&options.cache_type_v));
        log::clear_errors();
        let context = match model_ref.new_context(backend, context_params) {
            Ok(c) => c,
            Err(e) => {
                // SAFETY: no context borrows the model.
                drop(unsafe { Box::from_raw(model.as_ptr()) });
                return Err(TargetError::Unsupported(format!(
                    "llama.cpp cannot make a context ({}): {}",
                    options.describe(),
                    reason(&e.to_string())
                )));
            }
        };
        let mut session = Session {
            n_ctx: context.n_ctx() as usize,
            n_batch: context.n_batch().max(1) as usize,
            context: ManuallyDrop::new(context),
            model,
            path: path.clone(),
            vocab: 0,
            pos: 0,
        };
        let m = session.model();
        let vocab = usize::try_from(m.n_vocab()).unwrap_or(0);
        let info = ModelInfo {
            architecture: m
                .meta_val_str("general.architecture")
                .unwrap_or_else(|_| "unknown".into()),
            vocab_size: vocab,
            parameters: Some(m.n_params()),
            weight_bytes: Some(streamed_bytes(path, m.size())),
            quant: m
                .meta_val_str("general.file_type")
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
                .and_then(|t| FILE_TYPES.iter().find(|(n, _)| *n == t))
                .map(|(_, q)| q.to_string()),
            max_context: Some(session.n_ctx),
        };
        session.vocab = vocab;
        self.session = Some(session);
        Ok(info)
    }

    fn prefill(&mut self, tokens: &[u32]) -> TargetResult<Vec<f32>> {
        let _ = self.session.as_ref().ok_or(TargetError::NotLoaded)?;
        guards::nonempty("prefill", tokens)?;
        self.forward(tokens)
    }

    fn decode(&mut self, token: u32) -> TargetResult<Vec<f32>> {
        self.forward(&[token])
    }

    fn reset(&mut self) -> TargetResult<()> {
        let session = self.session.as_mut().ok_or(TargetError::NotLoaded)?;
        session.context.clear_kv_cache();
        session.pos = 0;
        Ok(())
    }
}

impl LlamaCppTarget {
    /// Append `tokens` to the sequence, `n_batch` tokens per `llama_decode` as llama-bench's
    /// `test_prompt` does (`llama_batch_get_one`: positions follow the KV cache, logits of the
    /// last token only), and return the last position's logits.
    fn forward(&mut self, tokens: &[u32]) -> TargetResult<Vec<f32>> {
        let session = self.session.as_mut().ok_or(TargetError::NotLoaded)?;
        let end = guards::append(
            session.pos,
            tokens,
            session.n_ctx,
            session.vocab,
            format_args!("the llama.cpp context for {}", session.path.display()),
        )?;
        let tokens: Vec<LlamaToken> = tokens.iter().map(|&t| LlamaToken(t as i32)).collect();
        log::clear_errors();
        for chunk in tokens.chunks(session.n_batch) {
            let decoded = LlamaBatch::get_one(chunk)
                .map_err(|e| e.to_string())
                .and_then(|mut batch| {
                    session
                        .context
                        .decode(&mut batch)
                        .map_err(|e| reason(&e.to_string()))
                });
            if let Err(e) = decoded {
                // Leave a clean, empty sequence behind rather than a half-filled cache.
                session.context.clear_kv_cache();
                session.pos = 0;
                return Err(TargetError::Backend(format!("llama_decode failed: {e}")));
            }
        }
        session.pos = end;
        Ok(session.context.get_logits_ith(-1).to_vec())
    }
}

/// An error of llama-cpp-2 with what llama.cpp logged about it.
fn reason(error: &str) -> String {
    let logged = log::errors();
    if logged.is_empty() {
        error.to_string()
    } else {
        format!("{logged} ({error})")
    }
}

fn cache_type(name: &str) -> KvCacheType {
    match name {
        "f32" => KvCacheType::F32,
        "bf16" => KvCacheType::BF16,
        "q8_0" => KvCacheType::Q8_0,
        "q4_0" => KvCacheType::Q4_0,
        "q4_1" => KvCacheType::Q4_1,
        "iq4_nl" => KvCacheType::IQ4_NL,
        "q5_0" => KvCacheType::Q5_0,
        "q5_1" => KvCacheType::Q5_1,
        _ => KvCacheType::F16,
    }
}

fn is_gpu(t: LlamaBackendDeviceType) -> bool {
    matches!(
        t,
        LlamaBackendDeviceType::Gpu | LlamaBackendDeviceType::IntegratedGpu
    )
}

fn c_str(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: llama.cpp returns static NUL-terminated strings.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

/// Bytes decode streams per token ([`edgebench_scenarios::gguf::streamed_bytes`]: an untied
/// embedding is only looked up), as the candle and ONNX Runtime targets count them; llama.cpp's
/// own size of every tensor (`total`) when the header cannot be read here.
fn streamed_bytes(path: &std::path::Path, total: u64) -> u64 {
    use candle_core::quantized::gguf_file::Content;
    std::fs::File::open(path)
        .ok()
        .and_then(|f| Content::read(&mut std::io::BufReader::new(f)).ok())
        .map_or(total, |c| edgebench_scenarios::gguf::streamed_bytes(&c))
}
