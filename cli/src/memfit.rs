//! Will a model fit? An estimate of the worker's peak resident memory before anything loads:
//! weights + KV cache for the run's longest context + what the backend adds + a runtime
//! allowance, compared with the device's RAM by the planner (`--force` runs it anyway).
//!
//! How a backend holds a model is the target's to say: its memory model comes in its answer to
//! `info` (`TargetInfo::description.memory`, documented and calibrated with each target, e.g.
//! `targets/candle/src/lib.rs`). This module only reads the model's shapes from what the plan
//! knows about it. A target that describes no memory model gets the weights alone, and the
//! estimate says so; it never borrows another target's.

use crate::model::{ModelKind, ModelSource};
use edgebench_harness::describe::{MemoryModel, ModelFacts};
use edgebench_scenarios::onnx::proto::tensor_proto::DataType;

pub use edgebench_harness::describe::{MemoryEstimate, Shape};

/// Runtime memory of a Whisper model beyond its weights (compute buffers, KV caches, the
/// audio), bytes: what the in-tree targets describe, for estimates made without a worker
/// (`choose`).
pub const SPEECH_OVERHEAD_BYTES: u64 = 500 << 20;

/// How a typical engine holds a language model, for estimates where no worker can be asked
/// (the chooser's engines that edgebench does not run, or whose worker is not built here): as
/// llama.cpp describes itself: weights as stored, an f16 KV cache, 300 MiB of runtime.
pub fn typical() -> MemoryModel {
    MemoryModel {
        kv_bytes: 2,
        runtime_bytes: 300 << 20,
        ..Default::default()
    }
}

/// The estimate for `model` on a target whose memory model is `memory`, at `context` tokens.
pub fn estimate(
    model: &ModelSource,
    memory: Option<&MemoryModel>,
    context: usize,
) -> MemoryEstimate {
    let Some(memory) = memory else {
        return MemoryEstimate::weights_only(model.file_bytes(), context);
    };
    if model.kind() == ModelKind::Speech {
        return speech_estimate(model, memory, context);
    }
    // fp16 GenAI models keep their KV cache in fp16, whatever runs them.
    let kv_bytes = match model {
        ModelSource::SyntheticOnnx { quant, .. } if quant.io_dtype() == DataType::Float16 => {
            Some(2)
        }
        ModelSource::Folder { summary, .. } if summary.quant == "fp16" => Some(2),
        _ => None,
    };
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
    let quant = model.quant_name();
    let architecture = model.architecture();
    memory.estimate(
        &ModelFacts {
            file_bytes: model.file_bytes(),
            quant: &quant,
            architecture: &architecture,
            shape,
            kv_bytes,
        },
        context,
    )
}

/// A speech model: its weights as the target holds them (more than the file where it converts
/// them, counted as copies) + the target's runtime.
fn speech_estimate(model: &ModelSource, memory: &MemoryModel, context: usize) -> MemoryEstimate {
    let weights = model.file_bytes();
    let total = memory.speech_estimate(weights, &model.quant_name());
    MemoryEstimate {
        weights,
        kv_cache: 0,
        expanded_embeddings: 0,
        load_copies: total.saturating_sub(weights + memory.runtime_bytes),
        runtime: memory.runtime_bytes,
        context,
        described: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgebench_scenarios::{Catalog, Quant};

    /// A memory model as a target would describe it (values only for the arithmetic here;
    /// each target calibrates its own against measured peaks in its tests).
    fn expanding() -> MemoryModel {
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

    #[test]
    fn shapes_come_from_the_model_and_parameters_from_the_target() {
        let spec = Catalog::builtin().model("llama3-8b").unwrap().clone();
        let model = ModelSource::Synthetic {
            spec,
            quant: Quant::Q4KM,
            seed: 1,
        };
        let e = estimate(&model, Some(&expanding()), 4096);
        // 32 layers × 8 KV heads × 128 × 4096 tokens × K and V × 4 bytes = 1 GiB.
        assert_eq!(e.kv_cache, 1 << 30);
        // 128256 × 4096 × 4 bytes.
        assert_eq!(e.expanded_embeddings, 128_256 * 4096 * 4);
        assert!(e.breakdown().contains("f32 embeddings 1.96 GiB"));
        assert!(e.breakdown().contains("KV cache 1.00 GiB for 4096 tokens"));
        // No memory model: the weights alone, and the estimate says so.
        let none = estimate(&model, None, 4096);
        assert_eq!(none.total(), model.file_bytes());
        assert!(none.breakdown().contains("describes no memory model"));
    }

    #[test]
    fn fp16_genai_folders_keep_an_fp16_cache() {
        use edgebench_scenarios::onnx::OnnxQuant;
        let spec = Catalog::builtin().model("phi3-mini").unwrap().clone();
        let source = |quant| ModelSource::SyntheticOnnx {
            spec: spec.clone(),
            quant,
            seed: 1,
        };
        let m = expanding();
        let int4 = estimate(&source(OnnxQuant::Int4), Some(&m), 641);
        // 32 layers × 32 KV heads × 96 × 641 positions × K and V × 4 bytes (f32 cache).
        assert_eq!(int4.kv_cache, 2 * 32 * 32 * 96 * 641 * 4);
        let fp16 = estimate(&source(OnnxQuant::Fp16), Some(&m), 641);
        assert_eq!(fp16.kv_cache, int4.kv_cache / 2);
    }
}
