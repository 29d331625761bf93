//! Will a model fit? An estimate of the worker's peak resident memory before anything loads:
//! weights + KV cache for the run's longest context + what the backend adds + a runtime
//! allowance, compared with the device's RAM by the planner (`--force` runs it anyway).
//!
//! What backends add:
//! - candle (candle-transformers `quantized_llama.rs`, `quantized_phi3.rs`) dequantizes the
//!   token embedding table to f32 at load (`tok_embeddings.dequantize`; edgebench's Gemma,
//!   `targets/candle/src/gemma.rs`, keeps it quantized) and keeps its KV cache in f32. Its peak is higher still,
//!   while loading: measured here (candle 0.11, 2 threads), Phi-3 mini Q4_K_M (2.23 GiB file,
//!   0.37 GiB of f32 embeddings) peaked at 4.38 GiB and Llama 3 8B Q4_K_M (4.58 GiB, 1.96 GiB)
//!   at 10.55 GiB, a tiny model at 0.51 GiB. Half the weights and three quarters of the f32
//!   embeddings again, on top of a 512 MiB runtime, fit both within 3%.
//! - llama.cpp keeps embeddings quantized and its KV cache in f16 by default.
//! - ONNX Runtime (GenAI folders) keeps the KV cache in the model's I/O type (f32 for the
//!   builder's fp32/int8/int4 CPU models, f16 for fp16) and maps the external weights; its
//!   MatMulNBits kernels keep a repacked copy of part of them. Measured here (ONNX Runtime
//!   1.31, 2 threads): a Phi-3 mini int4 folder (2.54 GiB) peaked at 3.82 GiB with 0.47 GiB of
//!   KV cache (641 positions), i.e. 0.81 GiB beyond both: 0.3 of the weights and 0.5 GiB of
//!   runtime cover it.

pub use crate::gguf::Shape;
use crate::model::{ModelKind, ModelSource};
use crate::units::gib;
use edgebench_scenarios::onnx::proto::tensor_proto::DataType;
use edgebench_scenarios::whisper::WhisperQuant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    pub weights: u64,
    pub kv_cache: u64,
    /// The embedding table as the backend expands it (0 when it stays as stored).
    pub expanded_embeddings: u64,
    /// Copies the backend holds only while loading (its peak, not its steady state).
    pub load_copies: u64,
    /// Code, thread stacks, activations and logits buffers.
    pub runtime: u64,
    pub context: usize,
}

impl MemoryEstimate {
    pub fn total(&self) -> u64 {
        self.weights + self.kv_cache + self.expanded_embeddings + self.load_copies + self.runtime
    }

    /// `weights 2.20 GiB + KV cache 0.38 GiB for 4096 tokens + f32 embeddings 0.37 GiB +
    /// runtime 0.29 GiB`.
    pub fn breakdown(&self) -> String {
        let mut parts = vec![
            format!("weights {}", gib(self.weights)),
            format!(
                "KV cache {} for {} tokens",
                gib(self.kv_cache),
                self.context
            ),
        ];
        if self.expanded_embeddings > 0 {
            parts.push(format!("f32 embeddings {}", gib(self.expanded_embeddings)));
        }
        if self.load_copies > 0 {
            parts.push(format!("copies while loading {}", gib(self.load_copies)));
        }
        parts.push(format!("runtime {}", gib(self.runtime)));
        parts.join(" + ")
    }
}

/// How a backend holds a model (see the module documentation).
struct Backend {
    /// Bytes per KV-cache element.
    kv_bytes: u64,
    /// The token embedding table is expanded to f32.
    expands_embeddings: bool,
    /// Extra peak while loading, as fractions of the weights and of the f32 embeddings.
    load_weights: f64,
    load_embeddings: f64,
    runtime: u64,
}

fn backend(target: &str, architecture: &str) -> Backend {
    match target {
        "candle" => Backend {
            kv_bytes: 4,
            expands_embeddings: architecture != "gemma",
            load_weights: 0.5,
            load_embeddings: 0.75,
            runtime: 512 << 20,
        },
        "onnxruntime" | "coreml" => Backend {
            kv_bytes: 4,
            expands_embeddings: false,
            load_weights: 0.3,
            load_embeddings: 0.0,
            runtime: 512 << 20,
        },
        _ => Backend {
            kv_bytes: 2,
            expands_embeddings: false,
            load_weights: 0.0,
            load_embeddings: 0.0,
            runtime: 300 << 20,
        },
    }
}

/// The peak resident memory of `model` on `target` with `context` tokens (Whisper models:
/// [`speech_estimate`]).
pub fn estimate(model: &ModelSource, target: &str, context: usize) -> MemoryEstimate {
    if model.kind() == ModelKind::Speech {
        return speech_estimate(model, target, context);
    }
    let weights = model.file_bytes();
    let b = backend(target, &model.architecture());
    let kv_bytes = match model {
        // fp16 GenAI models keep their KV cache in fp16.
        ModelSource::SyntheticOnnx { quant, .. } if quant.io_dtype() == DataType::Float16 => 2,
        ModelSource::Folder { summary, .. } if summary.quant == "fp16" => 2,
        _ => b.kv_bytes,
    };
    let expands = b.expands_embeddings;
    let shape = match model {
        ModelSource::Synthetic { spec, .. } | ModelSource::SyntheticOnnx { spec, .. } => {
            Some(Shape {
                layers: spec.layers,
                kv_heads: spec.kv_heads,
                head_dim: spec.head_dim,
                vocab: spec.vocab_size,
                hidden: spec.hidden_size,
            })
        }
        ModelSource::File { summary, .. } => summary.shape,
        // Whisper models are estimated by `speech_estimate`.
        ModelSource::SyntheticWhisper { .. } | ModelSource::WhisperFile { .. } => None,
        ModelSource::Folder { summary, .. } => Some(summary.shape),
    };
    let (kv_cache, expanded_embeddings) = match shape {
        Some(s) => (
            2 * (s.layers * s.kv_heads * s.head_dim * context) as u64 * kv_bytes,
            if expands {
                (s.vocab * s.hidden) as u64 * 4
            } else {
                0
            },
        ),
        // A file without the usual metadata: a KV cache of 1/16 of the weights (typical at
        // 4k context).
        None => (weights / 16, 0),
    };
    MemoryEstimate {
        weights,
        kv_cache,
        expanded_embeddings,
        load_copies: (weights as f64 * b.load_weights
            + expanded_embeddings as f64 * b.load_embeddings) as u64,
        runtime: b.runtime,
        context,
    }
}

/// Runtime memory of a Whisper model beyond its weights (compute buffers, KV caches, the
/// audio), bytes.
pub const SPEECH_OVERHEAD_BYTES: u64 = 500 << 20;

/// A Whisper model: its weights as the target holds them, plus [`SPEECH_OVERHEAD_BYTES`].
fn speech_estimate(model: &ModelSource, target: &str, context: usize) -> MemoryEstimate {
    let weights = model.file_bytes();
    let in_memory = match (model, target) {
        // candle converts F16 weights to f32 when it loads them.
        (ModelSource::SyntheticWhisper { quant, .. }, "candle") if *quant == WhisperQuant::F16 => {
            2 * weights
        }
        // ONNX Runtime holds the decoder's weights in both decoder sessions and, on a CPU
        // without f16 kernels, f32 copies of an f16 graph's weights (measured RSS: whisper-base
        // f32 0.90 GiB, f16 1.18 GiB for 0.37 / 0.19 GiB folders).
        (ModelSource::SyntheticWhisper { quant, .. }, "onnxruntime") => {
            let factor = if *quant == WhisperQuant::F16 { 4 } else { 2 };
            factor * weights
        }
        _ => weights,
    };
    MemoryEstimate {
        weights,
        kv_cache: 0,
        expanded_embeddings: 0,
        load_copies: in_memory - weights,
        runtime: SPEECH_OVERHEAD_BYTES,
        context,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgebench_scenarios::{Catalog, Quant};

    #[test]
    fn llama3_8b_on_candle_and_elsewhere() {
        let spec = Catalog::builtin().model("llama3-8b").unwrap().clone();
        let model = ModelSource::Synthetic {
            spec,
            quant: Quant::Q4KM,
            seed: 1,
        };
        let candle = estimate(&model, "candle", 4096);
        // 32 layers × 8 KV heads × 128 × 4096 tokens × K and V × 4 bytes = 1 GiB.
        assert_eq!(candle.kv_cache, 1 << 30);
        // 128256 × 4096 × 4 bytes.
        assert_eq!(candle.expanded_embeddings, 128_256 * 4096 * 4);
        let other = estimate(&model, "llamacpp", 4096);
        assert_eq!(other.kv_cache, 512 << 20);
        assert_eq!(other.expanded_embeddings, 0);
        assert!(candle.total() > other.total() + (2 << 30));
        assert!(candle.breakdown().contains("f32 embeddings 1.96 GiB"));
        // The peak measured for this model on candle was 10.55 GiB (tg4, 5 tokens of context).
        let short = estimate(&model, "candle", 5);
        let measured = 10.55 * (1u64 << 30) as f64;
        assert!(
            (short.total() as f64 / measured - 1.0).abs() < 0.03,
            "{short:?}"
        );
        assert!(candle
            .breakdown()
            .contains("KV cache 1.00 GiB for 4096 tokens"));
    }

    #[test]
    fn phi3_mini_int4_on_onnxruntime() {
        use edgebench_scenarios::onnx::OnnxQuant;
        let spec = Catalog::builtin().model("phi3-mini").unwrap().clone();
        let int4 = ModelSource::SyntheticOnnx {
            spec: spec.clone(),
            quant: OnnxQuant::Int4,
            seed: 1,
        };
        let e = estimate(&int4, "onnxruntime", 641);
        // 32 layers × 32 KV heads × 96 × 641 positions × K and V × 4 bytes (f32 cache).
        assert_eq!(e.kv_cache, 2 * 32 * 32 * 96 * 641 * 4);
        // Measured peak of this folder on ONNX Runtime 1.31 at that context: 3.82 GiB.
        let measured = 3.82 * (1u64 << 30) as f64;
        let ratio = e.total() as f64 / measured;
        assert!((1.0..1.15).contains(&ratio), "{e:?}");
        let fp16 = ModelSource::SyntheticOnnx {
            spec,
            quant: OnnxQuant::Fp16,
            seed: 1,
        };
        assert_eq!(estimate(&fp16, "onnxruntime", 641).kv_cache, e.kv_cache / 2);
    }
}
