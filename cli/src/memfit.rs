//! Will a model fit? An estimate of the worker's resident memory before anything loads:
//! weights + KV cache for the run's longest context + what the backend adds + a runtime
//! allowance, compared with the device's RAM by the planner (`--force` runs it anyway).
//!
//! What backends add, from their sources:
//! - candle (candle-transformers `quantized_llama.rs`, `quantized_phi3.rs`; edgebench's
//!   `targets/candle/src/gemma.rs`) dequantizes the token embedding table to f32 at load
//!   (`tok_embeddings.dequantize`) and keeps its KV cache in f32;
//! - llama.cpp keeps embeddings quantized and its KV cache in f16 by default.

use crate::plan::{gib, ModelSource};

/// Fixed allowance for the runtime: code, thread stacks, activations and logits buffers.
const RUNTIME_BYTES: u64 = 300 << 20;

/// The shapes the estimate needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub layers: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub vocab: usize,
    pub hidden: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    pub weights: u64,
    pub kv_cache: u64,
    /// The embedding table as the backend expands it (0 when it stays as stored).
    pub expanded_embeddings: u64,
    pub runtime: u64,
    pub context: usize,
}

impl MemoryEstimate {
    pub fn total(&self) -> u64 {
        self.weights + self.kv_cache + self.expanded_embeddings + self.runtime
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
        parts.push(format!("runtime {}", gib(self.runtime)));
        parts.join(" + ")
    }
}

/// Bytes per KV-cache element and whether the embedding table is expanded to f32.
fn backend_traits(target: &str) -> (u64, bool) {
    match target {
        "candle" => (4, true),
        _ => (2, false),
    }
}

pub fn estimate(model: &ModelSource, target: &str, context: usize) -> MemoryEstimate {
    let weights = model.file_bytes();
    let (kv_bytes, expands) = backend_traits(target);
    let shape = match model {
        ModelSource::Synthetic { spec, .. } => Some(Shape {
            layers: spec.layers,
            kv_heads: spec.kv_heads,
            head_dim: spec.head_dim,
            vocab: spec.vocab_size,
            hidden: spec.hidden_size,
        }),
        ModelSource::File { summary, .. } => summary.shape,
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
        runtime: RUNTIME_BYTES,
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
        assert!(candle
            .breakdown()
            .contains("KV cache 1.00 GiB for 4096 tokens"));
    }
}
