//! Writing a GenAI folder: `model.onnx.data` streamed in bounded memory, then `model.onnx`
//! and `genai_config.json`.

use super::config::{
    DecoderInputs, DecoderOutputs, DecoderSection, GenaiConfig, ModelSection, SearchSection,
    CONFIG_FILE,
};
use super::data;
use super::graph::{self, Graph};
use super::quant::OnnxQuant;
use crate::catalog::ModelSpec;
use crate::graph::{layout, model_proto, proto, DataFile, ModelInfo, Spans};
use crate::llm::gguf::GENERATOR_VERSION;
use anyhow::Context;
use prost::Message;
use std::collections::HashMap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Version of the ONNX graph and file layout. Bump it whenever the folder written for a given
/// (spec, quant, seed) changes, so caches never reuse an old one.
pub const ONNX_GENERATOR_VERSION: u32 = 1;

/// The ONNX file of a synthetic folder (the builder's default `filename`).
pub const MODEL_FILE: &str = "model.onnx";
/// Its external weights: one file, as the builder saves them.
pub const DATA_FILE: &str = "model.onnx.data";

/// `<GGUF generator>.<ONNX generator>`: the weights and the graph both decide the bytes.
pub(crate) fn generator_version() -> String {
    format!("{GENERATOR_VERSION}.{ONNX_GENERATOR_VERSION}")
}

fn model(
    model: &ModelSpec,
    quant: OnnxQuant,
    seed: u64,
    g: &Graph,
    l: &Spans,
) -> proto::ModelProto {
    let spans: HashMap<String, (u64, u64)> = g
        .tensors()
        .map(|t| t.name.clone())
        .zip(l.0.iter().copied())
        .collect();
    let info = ModelInfo {
        data_file: DATA_FILE,
        opsets: &[("", 22), ("com.microsoft", 1)],
        metadata: vec![
            ("edgebench.synthetic", "true".into()),
            ("edgebench.model", model.name.clone()),
            ("edgebench.quant", quant.name().into()),
            ("edgebench.seed", seed.to_string()),
            ("edgebench.generator_version", generator_version()),
        ],
    };
    model_proto(g, &spans, &info)
}

/// `genai_config.json` as the builder writes it for this model (CPU, no provider options).
fn synthetic_config(model: &ModelSpec) -> anyhow::Result<String> {
    let cfg = GenaiConfig {
        model: ModelSection {
            // The synthetic vocabulary's <s> and </s> (see the GGUF writer's vocabulary).
            bos_token_id: Some(1.into()),
            context_length: model.context_length,
            decoder: DecoderSection {
                session_options: serde_json::json!({
                    "log_id": "onnxruntime-genai",
                    "provider_options": []
                }),
                filename: MODEL_FILE.into(),
                head_size: model.head_dim,
                hidden_size: model.hidden_size,
                inputs: DecoderInputs {
                    input_ids: "input_ids".into(),
                    attention_mask: Some("attention_mask".into()),
                    position_ids: None,
                    past_key_names: "past_key_values.%d.key".into(),
                    past_value_names: "past_key_values.%d.value".into(),
                },
                outputs: DecoderOutputs {
                    logits: "logits".into(),
                    present_key_names: "present.%d.key".into(),
                    present_value_names: "present.%d.value".into(),
                },
                num_attention_heads: model.heads,
                num_hidden_layers: model.layers,
                num_key_value_heads: model.kv_heads,
            },
            eos_token_id: Some(2.into()),
            pad_token_id: Some(2.into()),
            model_type: model.arch.gguf_name().into(),
            vocab_size: model.vocab_size,
        },
        search: SearchSection {
            max_length: Some(model.context_length),
            // GroupQueryAttention models share past and present buffers.
            past_present_share_buffer: true,
            ..SearchSection::default()
        },
    };
    Ok(serde_json::to_string_pretty(&cfg)? + "\n")
}

/// Exact bytes of the folder [`write_genai_folder`] writes (all three files).
pub fn planned_folder_bytes(spec: &ModelSpec, quant: OnnxQuant, seed: u64) -> u64 {
    let g = graph::build(spec, quant);
    let l = layout(g.tensors());
    let proto_len = model(spec, quant, seed, &g, &l).encoded_len() as u64;
    let cfg_len = synthetic_config(spec).map_or(0, |c| c.len() as u64);
    l.1 + proto_len + cfg_len
}

/// What [`write_genai_folder`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxReport {
    pub folder: PathBuf,
    /// Bytes of the three files together.
    pub bytes: u64,
    /// sha256 of `model.onnx.data`, then `model.onnx`, then `genai_config.json`, as one stream.
    pub sha256: String,
    pub seconds: f64,
}

/// Write a GenAI folder of `model` at `quant` with weights from `seed` into `dir` (created if
/// missing; existing files of the same names are replaced). `progress(done, total)` in bytes.
pub fn write_genai_folder(
    spec: &ModelSpec,
    quant: OnnxQuant,
    seed: u64,
    dir: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<OnnxReport> {
    let start = Instant::now();
    spec.validate().map_err(anyhow::Error::msg)?;
    let g = graph::build(spec, quant);
    let l = layout(g.tensors());
    let proto = model(spec, quant, seed, &g, &l).encode_to_vec();
    let config = synthetic_config(spec)?;
    let total = l.1 + proto.len() as u64 + config.len() as u64;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    progress(0, total);

    let data_path = dir.join(DATA_FILE);
    let file = std::fs::File::create(&data_path)
        .with_context(|| format!("creating {}", data_path.display()))?;
    let mut sink = DataFile::new(
        BufWriter::with_capacity(1 << 20, file),
        &l.0,
        total,
        progress,
    );
    for (job, tensors) in &g.weights {
        data::write_job(spec, seed, job, tensors, &mut sink)
            .with_context(|| format!("writing {}", data_path.display()))?;
    }
    let written = sink
        .finish()
        .with_context(|| format!("writing {}", data_path.display()))?;
    let (mut hasher, progress) = (written.hasher, written.progress);
    for (name, bytes) in [
        (MODEL_FILE, proto.as_slice()),
        (CONFIG_FILE, config.as_bytes()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        sha2::Digest::update(&mut hasher, bytes);
    }
    progress(total, total);
    Ok(OnnxReport {
        folder: dir.to_path_buf(),
        bytes: total,
        sha256: hex::encode(sha2::Digest::finalize(hasher)),
        seconds: start.elapsed().as_secs_f64(),
    })
}
