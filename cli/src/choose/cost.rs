//! What a token (or an encoder pass) costs: bytes streamed from memory and arithmetic, counted
//! from the scenario catalog's shapes and quantization mixtures.
//!
//! - Generation streams every weight but an untied embedding once per token: the roofline's
//!   count, [`edgebench_scenarios::gguf::planned_streamed_bytes`].
//! - A prompt token costs 2 FLOPs per weight of the blocks' matrices (the output head runs once
//!   per prompt, for the last token's logits, as llama-bench measures it) plus attention,
//!   4 × layers × heads × head_dim × (prompt ÷ 2) (scores and weighted values over the average
//!   context of a causal prompt).
//! - Whisper's encoder over 30 s of audio: the two convolutions over 3000 and 1500 frames, then
//!   per layer 24 × width² FLOPs per position (Q, K, V, output and the 4× MLP) and attention,
//!   4 × 1500² × width.
//! - A Whisper decoder step streams the decoder's weights but the cross-attention keys and
//!   values (computed once from the encoder output) and the learned positions (looked up);
//!   the token embedding is the output projection, so it counts.

use edgebench_scenarios::gguf::{data_bytes, planned_streamed_bytes};
use edgebench_scenarios::whisper::{self, TensorKind, WhisperQuant};
use edgebench_scenarios::{Catalog, ModelSpec, Quant, WhisperSpec};

/// Decoder steps of `transcribe-30s`, the workload edgebench's Whisper RTF measures.
pub const WHISPER_DECODER_STEPS: usize = 64;
/// Seconds of audio in a Whisper window.
pub const WHISPER_WINDOW_S: f64 = 30.0;

/// A scenario model resolved from the catalog.
#[derive(Debug, Clone)]
pub enum Work {
    Llm {
        spec: ModelSpec,
        quant: Quant,
    },
    Whisper {
        spec: WhisperSpec,
        quant: WhisperQuant,
    },
}

impl Work {
    /// `model` at `quant` from the catalog (an LLM or a Whisper size).
    pub fn resolve(catalog: &Catalog, model: &str, quant: &str) -> anyhow::Result<Work> {
        if let Ok(spec) = catalog.whisper_model(model) {
            return Ok(Work::Whisper {
                spec: spec.clone(),
                quant: WhisperQuant::parse(quant)?,
            });
        }
        let spec = catalog.model(model)?;
        Ok(Work::Llm {
            spec: spec.clone(),
            quant: Quant::parse(quant)?,
        })
    }

    pub fn model(&self) -> &str {
        match self {
            Work::Llm { spec, .. } => &spec.name,
            Work::Whisper { spec, .. } => &spec.name,
        }
    }

    pub fn quant(&self) -> &'static str {
        match self {
            Work::Llm { quant, .. } => quant.name(),
            Work::Whisper { quant, .. } => quant.name(),
        }
    }

    pub fn is_whisper(&self) -> bool {
        matches!(self, Work::Whisper { .. })
    }

    /// Bytes streamed per generated token (LLM) or per decoder step (Whisper).
    pub fn bytes_per_token(&self) -> f64 {
        match self {
            Work::Llm { spec, quant } => planned_streamed_bytes(spec, *quant) as f64,
            Work::Whisper { spec, quant } => whisper_decoder_bytes(spec, *quant),
        }
    }

    /// FLOPs per prompt token over a prompt of `prompt` tokens (LLM), or of one encoder pass
    /// (Whisper).
    pub fn flops(&self, prompt: usize) -> f64 {
        match self {
            Work::Llm { spec, .. } => prompt_flops_per_token(spec, prompt),
            Work::Whisper { spec, .. } => whisper_encoder_flops(spec),
        }
    }
}

/// FLOPs per token of a `prompt`-token prompt (see the module documentation).
pub fn prompt_flops_per_token(spec: &ModelSpec, prompt: usize) -> f64 {
    let matrices = edgebench_scenarios::synth::block_matrix_elements(spec);
    let attention = 4.0 * (spec.layers * spec.heads * spec.head_dim) as f64 * (prompt as f64 / 2.0);
    2.0 * matrices as f64 + attention
}

/// FLOPs of one encoder pass over a 30 s window.
pub fn whisper_encoder_flops(spec: &WhisperSpec) -> f64 {
    let d = spec.n_audio_state as f64;
    let n = spec.n_audio_ctx as f64;
    let mels = spec.n_mels as f64;
    let conv1 = 2.0 * 3.0 * mels * d * (2.0 * n);
    let conv2 = 2.0 * 3.0 * d * d * n;
    let layer = 24.0 * d * d * n + 4.0 * n * n * d;
    conv1 + conv2 + spec.n_audio_layer as f64 * layer
}

/// Bytes one decoder step streams (see the module documentation).
pub fn whisper_decoder_bytes(spec: &WhisperSpec, quant: WhisperQuant) -> f64 {
    whisper::tensors(spec)
        .iter()
        .filter(|t| t.name.starts_with("decoder."))
        .filter(|t| t.kind != TensorKind::Positions)
        .filter(|t| !t.name.contains("cross_attn.key") && !t.name.contains("cross_attn.value"))
        .map(|t| data_bytes(t.elements(), t.ggml_dtype(quant)) as f64)
        .sum()
}

/// Bytes of every Whisper weight at `quant` (the model's memory, with whisper.cpp's layout).
pub fn whisper_weight_bytes(spec: &WhisperSpec, quant: WhisperQuant) -> u64 {
    whisper::tensors(spec)
        .iter()
        .map(|t| data_bytes(t.elements(), t.ggml_dtype(quant)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama3_8b_costs() {
        let c = Catalog::builtin();
        let w = Work::resolve(&c, "llama3-8b", "q4_k_m").unwrap();
        // About 4.6 GB a token: a 100 GB/s M2 cannot generate more than about 22 t/s.
        let bytes = w.bytes_per_token();
        assert!((100e9 / bytes - 21.6).abs() < 0.5, "{bytes}");
        // 2 FLOPs per weight of the blocks (6.98 B of the 8.03 B parameters) plus attention.
        let f = w.flops(512);
        assert!((1.39e10..1.42e10).contains(&f), "{f}");
        assert!(w.flops(4096) > f);
    }

    #[test]
    fn whisper_small_costs() {
        let c = Catalog::builtin();
        let w = Work::resolve(&c, "whisper-small.en", "f16").unwrap();
        assert!(w.is_whisper());
        let f = w.flops(0);
        // About 0.34 TFLOPs a 30 s window (twelve 768-wide layers over 1500 positions).
        assert!((3.3e11..3.6e11).contains(&f), "{f}");
        // Per layer 14 × 768² weights (self-attention, the cross-attention's query and output,
        // the MLP), 12 layers, plus the 51864 × 768 embedding as the output projection: 139 M
        // weights in f16.
        let b = w.bytes_per_token();
        assert!((2.7e8..2.85e8).contains(&b), "{b}");
        assert!(Work::resolve(&c, "whisper-small.en", "q4_k_m").is_err());
        assert!(Work::resolve(&c, "no-such-model", "f16").is_err());
    }
}
