//! A look at a GGUF file before any backend loads it, so a bad file gets a clear one-line error
//! naming it, and a good one tells what it holds.

use anyhow::{bail, Context};
use candle_core::quantized::gguf_file::{Content, Value};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The shapes a memory estimate needs (layers, heads and sizes), from a GGUF file's metadata or
/// any other model description.
pub use edgebench_harness::describe::Shape;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GgufSummary {
    pub architecture: String,
    /// Quantization name as edgebench spells it (`q4_k_m`), or `unknown`.
    pub quant: String,
    pub parameters: u64,
    pub file_bytes: u64,
    pub synthetic: bool,
    pub seed: Option<u64>,
    /// Layers, heads and sizes from the metadata, for the memory estimate.
    pub shape: Option<Shape>,
}

/// Read the header and check every tensor's data lies inside the file.
pub fn inspect(path: &Path) -> anyhow::Result<GgufSummary> {
    let shown = path.display();
    let mut file =
        std::fs::File::open(path).with_context(|| format!("{shown}: cannot open model file"))?;
    let file_bytes = file
        .metadata()
        .with_context(|| format!("{shown}: cannot read file size"))?
        .len();
    let content =
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Content::read(&mut file))) {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => bail!(
                "{shown}: not a readable GGUF file: {}",
                first_line(&e.to_string())
            ),
            Err(_) => bail!("{shown}: not a readable GGUF file (its header is corrupt)"),
        };
    let text = |k: &str| {
        content
            .metadata
            .get(k)
            .and_then(|v| v.to_string().ok())
            .cloned()
    };
    let Some(architecture) = text("general.architecture") else {
        bail!("{shown}: GGUF file has no general.architecture key");
    };
    let mut parameters = 0u64;
    for (name, info) in &content.tensor_infos {
        let elements = info.shape.elem_count() as u64;
        parameters += elements;
        let bytes =
            elements * info.ggml_dtype.type_size() as u64 / info.ggml_dtype.block_size() as u64;
        let end = content.tensor_data_offset + info.offset + bytes;
        if end > file_bytes {
            bail!("{shown}: truncated: tensor {name} needs bytes up to {end} but the file has {file_bytes}");
        }
    }
    let file_type = content
        .metadata
        .get("general.file_type")
        .and_then(|v| v.to_u32().ok());
    let quant = file_type
        .and_then(quant_name)
        .unwrap_or("unknown")
        .to_string();
    let synthetic = matches!(
        content.metadata.get("edgebench.synthetic"),
        Some(Value::Bool(true))
    );
    let seed = content
        .metadata
        .get("edgebench.seed")
        .and_then(|v| v.to_u64().ok());
    let int = |key: &str| {
        content
            .metadata
            .get(&format!("{architecture}.{key}"))
            .and_then(|v| v.to_u64().ok())
            .map(|v| v as usize)
    };
    let shape = (|| {
        let hidden = int("embedding_length")?;
        let heads = int("attention.head_count")?;
        Some(Shape {
            layers: int("block_count")?,
            kv_heads: int("attention.head_count_kv").unwrap_or(heads),
            head_dim: int("attention.key_length").unwrap_or(hidden / heads.max(1)),
            // candle lists GGUF dimensions outermost first: [vocab, hidden].
            vocab: content
                .tensor_infos
                .get("token_embd.weight")
                .and_then(|t| t.shape.dims().first().copied())?,
            hidden,
        })
    })();
    Ok(GgufSummary {
        shape,
        architecture,
        quant,
        parameters,
        file_bytes,
        synthetic,
        seed,
    })
}

/// edgebench's name of llama.cpp's `general.file_type`.
fn quant_name(file_type: u32) -> Option<&'static str> {
    edgebench_scenarios::Quant::ALL
        .into_iter()
        .find(|q| q.gguf_file_type() == file_type)
        .map(|q| q.name())
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
