//! Finding the graphs of an Optimum Whisper folder (a user's or a synthetic one) and what
//! they hold, before ONNX Runtime loads them.

use super::folder::{DECODER, DECODER_MERGED, DECODER_WITH_PAST, ENCODER};
use crate::catalog::WhisperSpec;
use crate::graph::proto::{self, tensor_proto::DataType};
use crate::whisper::hf::{read_config, CONFIG};
use anyhow::{bail, Context};
use prost::Message;
use std::path::{Path, PathBuf};

/// An Optimum-layout Whisper folder as a backend would find it.
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxFolder {
    pub spec: WhisperSpec,
    pub encoder: PathBuf,
    /// `decoder_model.onnx` and `decoder_with_past_model.onnx`.
    pub decoder: PathBuf,
    pub decoder_with_past: PathBuf,
    /// `f32`, `f16` or `int8` (see [`graph_quant`]), or `unknown`.
    pub quant: String,
    /// Bytes of every `.onnx` and `.onnx_data` file in the folder.
    pub file_bytes: u64,
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What an encoder graph holds: the synthetic folders say it in their metadata; for others it
/// is read from the graph (dynamic int8 ops, else the type of `input_features`). `unknown` for
/// other quantizations (MatMulNBits, static QDQ).
fn graph_quant(m: &proto::ModelProto) -> String {
    if let Some(q) = m
        .metadata_props
        .iter()
        .find(|p| p.key.as_deref() == Some("edgebench.quant"))
        .and_then(|p| p.value.clone())
    {
        return q;
    }
    let Some(g) = &m.graph else {
        return "unknown".into();
    };
    let has = |ops: &[&str]| {
        g.node
            .iter()
            .any(|n| ops.contains(&n.op_type.as_deref().unwrap_or_default()))
    };
    if has(&["MatMulInteger", "DynamicQuantizeMatMul", "ConvInteger"]) {
        return "int8".into();
    }
    if has(&[
        "MatMulNBits",
        "QuantizeLinear",
        "DequantizeLinear",
        "QLinearMatMul",
    ]) {
        return "unknown".into();
    }
    let input_type = g
        .input
        .iter()
        .find(|i| i.name.as_deref() == Some("input_features"))
        .and_then(|i| i.r#type.as_ref())
        .and_then(|t| match &t.value {
            Some(proto::type_proto::Value::TensorType(t)) => t.elem_type,
            _ => None,
        });
    match input_type {
        Some(t) if t == DataType::Float as i32 => "f32".into(),
        Some(t) if t == DataType::Float16 as i32 => "f16".into(),
        _ => "unknown".into(),
    }
}

/// The variant suffix of a model given as its encoder file: Hugging Face repositories such as
/// onnx-community's keep several exports side by side (`encoder_model_fp16.onnx`,
/// `decoder_model_fp16.onnx`, …); `--model …/encoder_model_fp16.onnx` picks `_fp16`.
fn variant(path: &Path) -> String {
    if !path.is_file() {
        return String::new();
    }
    file_name(path)
        .strip_prefix("encoder_model")
        .and_then(|r| r.strip_suffix(".onnx"))
        .unwrap_or_default()
        .to_string()
}

/// The folder of an ONNX model given as the folder, its `onnx/` subfolder or one of its files.
pub fn model_folder(path: &Path) -> PathBuf {
    let dir = if path.is_file() {
        path.parent().unwrap_or(path).to_path_buf()
    } else {
        path.to_path_buf()
    };
    if !dir.join(ENCODER).is_file() && dir.join("onnx").join(ENCODER).is_file() {
        return dir.join("onnx");
    }
    dir
}

/// Whether `path` looks like an ONNX Whisper folder (or its encoder file).
pub fn is_onnx_folder(path: &Path) -> bool {
    if path.is_file() && file_name(path).starts_with("encoder_model") {
        return true;
    }
    let dir = model_folder(path);
    [ENCODER, DECODER, DECODER_MERGED]
        .iter()
        .any(|f| dir.join(f).is_file())
}

/// Read `config.json` (in the folder or the one above, as Hugging Face repositories keep
/// `onnx/` apart) and find the graphs (of the variant `path` names when it is an encoder file,
/// see [`variant`]); one-line errors naming the file.
pub fn inspect_folder(path: &Path) -> anyhow::Result<OnnxFolder> {
    if !path.exists() {
        bail!("{}: no such file or folder", path.display());
    }
    let dir = model_folder(path);
    // Optimum puts config.json beside the ONNX files, or above them (an `onnx/` subfolder).
    let config_dir = [Some(dir.as_path()), dir.parent()]
        .into_iter()
        .flatten()
        .find(|d| d.join(CONFIG).is_file())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{}: no {CONFIG} here or in the folder above (an ONNX Whisper export has one)",
                dir.display()
            )
        })?;
    let summary = read_config(config_dir)?;
    let suffix = variant(path);
    let named = |file: &str| dir.join(file.replace(".onnx", &format!("{suffix}.onnx")));
    let encoder = named(ENCODER);
    if !encoder.is_file() {
        bail!(
            "{}: missing (an ONNX Whisper folder has one)",
            encoder.display()
        );
    }
    let (decoder, decoder_with_past) = (named(DECODER), named(DECODER_WITH_PAST));
    if !decoder.is_file() || !decoder_with_past.is_file() {
        if named(DECODER_MERGED).is_file() {
            bail!(
                "{}: only {DECODER_MERGED}; this version runs the non-merged export \
                 ({DECODER} + {DECODER_WITH_PAST}, optimum-cli export onnx --no-post-process)",
                dir.display()
            );
        }
        bail!(
            "{}: needs {} and {} next to {}",
            dir.display(),
            file_name(&decoder),
            file_name(&decoder_with_past),
            file_name(&encoder)
        );
    }
    let mut file_bytes = 0;
    for e in std::fs::read_dir(&dir).with_context(|| format!("{}: cannot list", dir.display()))? {
        let p = e?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.ends_with(".onnx") || name.ends_with(".onnx_data") || name.ends_with(".onnx.data") {
            file_bytes += std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        }
    }
    let quant = std::fs::read(&encoder)
        .ok()
        .and_then(|b| proto::ModelProto::decode(b.as_slice()).ok())
        .map_or_else(|| "unknown".to_string(), |m| graph_quant(&m));
    Ok(OnnxFolder {
        spec: summary,
        encoder,
        decoder,
        decoder_with_past,
        quant,
        file_bytes,
    })
}
