//! Reading a GenAI folder back (a user's or a synthetic one) and checking it before a runtime
//! sees it.

use super::config::{GenaiError, GenaiModel, CONFIG_FILE};
use crate::graph::proto::{self, tensor_proto::DataLocation, tensor_proto::DataType};
use prost::Message;
use std::path::{Path, PathBuf};

/// What a GenAI folder holds, read without a runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderSummary {
    pub genai: GenaiModel,
    /// `int4`, `int8` (MatMulNBits bits), `fp16`, `fp32`, or `unknown`.
    pub quant: String,
    /// Weights counted from the graph (MatMulNBits K·N plus float initializers), when read.
    pub parameters: Option<u64>,
    /// Bytes of the initializers decode streams once per token: all but the tables only looked
    /// up by Gather (GenAI's fp32 embedding), the roofline's denominator.
    pub weight_bytes: Option<u64>,
    /// Bytes of `genai_config.json`, the model file and its external data files.
    pub file_bytes: u64,
    pub synthetic: bool,
    pub seed: Option<u64>,
}

/// Larger model files (weights inside the protobuf) are not decoded by [`inspect`].
const INSPECT_MAX_PROTO_BYTES: u64 = 512 << 20;

fn bad(p: &Path, message: String) -> GenaiError {
    GenaiError {
        path: p.display().to_string(),
        message,
    }
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Read a GenAI folder: its config, and its model file's graph and external data references,
/// so a truncated or corrupt file gets an error naming it before a runtime loads it.
pub fn inspect(path: &Path) -> Result<FolderSummary, GenaiError> {
    let genai = GenaiModel::open(path)?;
    let model_path = genai.model_path.clone();
    let mut summary = FolderSummary {
        genai: genai.clone(),
        quant: "unknown".into(),
        parameters: None,
        weight_bytes: None,
        file_bytes: size(&genai.folder.join(CONFIG_FILE)) + size(&model_path),
        synthetic: false,
        seed: None,
    };
    if size(&model_path) > INSPECT_MAX_PROTO_BYTES {
        return Ok(summary);
    }
    let model = read_model(&model_path)?;
    let graph = model
        .graph
        .as_ref()
        .filter(|g| !g.node.is_empty())
        .ok_or_else(|| {
            bad(
                &model_path,
                "not a readable ONNX model (it has no graph)".into(),
            )
        })?;
    let meta = |k: &str| {
        model
            .metadata_props
            .iter()
            .find(|p| p.key.as_deref() == Some(k))
            .and_then(|p| p.value.clone())
    };
    summary.synthetic = meta("edgebench.synthetic").as_deref() == Some("true");
    summary.seed = meta("edgebench.seed").and_then(|s| s.parse().ok());
    let (data_bytes, weight_bytes) = external_data(graph, &model_path)?;
    summary.file_bytes += data_bytes;
    summary.weight_bytes = Some(weight_bytes);
    summary.parameters = Some(parameters(graph));
    summary.quant = precision(graph, &genai);
    Ok(summary)
}

fn read_model(model_path: &Path) -> Result<proto::ModelProto, GenaiError> {
    let bytes =
        std::fs::read(model_path).map_err(|e| bad(model_path, format!("cannot read: {e}")))?;
    proto::ModelProto::decode(bytes.as_slice()).map_err(|e| {
        bad(
            model_path,
            format!("not a readable ONNX model (truncated or corrupt protobuf: {e})"),
        )
    })
}

/// Whether `name` is a table only looked up (the data input of Gather, e.g. GenAI's fp32
/// embedding): read a row per token, not streamed, so not bytes decode reads per token.
fn looked_up_only(graph: &proto::GraphProto, name: &str) -> bool {
    let mut gathered = false;
    for n in &graph.node {
        for (i, input) in n.input.iter().enumerate() {
            if input == name {
                if n.op_type.as_deref() == Some("Gather") && i == 0 {
                    gathered = true;
                } else {
                    return false;
                }
            }
        }
    }
    gathered
}

/// Check every external span lies inside its file. Returns the bytes of the data files and
/// the bytes of the initializers decode streams.
fn external_data(graph: &proto::GraphProto, model_path: &Path) -> Result<(u64, u64), GenaiError> {
    let mut data_files: Vec<PathBuf> = Vec::new();
    let (mut file_bytes, mut weight_bytes) = (0u64, 0u64);
    for t in &graph.initializer {
        let name = t.name.clone().unwrap_or_default();
        let streamed = !looked_up_only(graph, &name);
        if t.data_location != Some(DataLocation::External as i32) {
            if streamed {
                weight_bytes += t.raw_data.as_ref().map_or(0, |r| r.len() as u64);
            }
            continue;
        }
        let (file, have, len) = external_span(t, &name, model_path)?;
        if !data_files.contains(&file) {
            file_bytes += have;
            data_files.push(file);
        }
        if streamed {
            weight_bytes += len;
        }
    }
    Ok((file_bytes, weight_bytes))
}

/// The data file of an external initializer, its length, and the initializer's length, checked
/// to lie inside the file.
fn external_span(
    t: &proto::TensorProto,
    name: &str,
    model_path: &Path,
) -> Result<(PathBuf, u64, u64), GenaiError> {
    let get = |k: &str| {
        t.external_data
            .iter()
            .find(|e| e.key.as_deref() == Some(k))
            .and_then(|e| e.value.clone())
    };
    let location = get("location").ok_or_else(|| {
        bad(
            model_path,
            format!("initializer {name} has external data without a location"),
        )
    })?;
    let offset: u64 = get("offset").and_then(|s| s.parse().ok()).unwrap_or(0);
    let file = model_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(&location);
    let len = match get("length").and_then(|s| s.parse().ok()) {
        Some(l) => l,
        None => t.dims.iter().product::<i64>().max(0) as u64 * dtype_bytes(t.data_type),
    };
    let missing = || {
        let m = format!(
            "missing (external data of {} names it)",
            model_path.display()
        );
        bad(&file, m)
    };
    let have = std::fs::metadata(&file).map_err(|_| missing())?.len();
    if offset + len > have {
        return Err(bad(
            &file,
            format!(
                "truncated: initializer {name} needs bytes up to {} but the file has {have}",
                offset + len
            ),
        ));
    }
    Ok((file, have, len))
}

fn attr(n: &proto::NodeProto, k: &str) -> Option<i64> {
    n.attribute
        .iter()
        .find(|a| a.name.as_deref() == Some(k))
        .and_then(|a| a.i)
}

fn nbits_nodes(graph: &proto::GraphProto) -> Vec<&proto::NodeProto> {
    graph
        .node
        .iter()
        .filter(|n| n.op_type.as_deref() == Some("MatMulNBits"))
        .collect()
}

/// Weights counted from the graph: MatMulNBits K·N plus the float initializers that are not
/// scales, zero points or rotary caches.
fn parameters(graph: &proto::GraphProto) -> u64 {
    let nbits = nbits_nodes(graph);
    let quantized: u64 = nbits
        .iter()
        .map(|n| (attr(n, "K").unwrap_or(0) * attr(n, "N").unwrap_or(0)) as u64)
        .sum();
    let not_weights: Vec<&str> = nbits
        .iter()
        .flat_map(|n| n.input.iter().skip(2).map(String::as_str))
        .chain(["cos_cache", "sin_cache"])
        .collect();
    let float = graph
        .initializer
        .iter()
        .filter(|t| {
            matches!(
                DataType::try_from(t.data_type.unwrap_or(0)),
                Ok(DataType::Float | DataType::Float16 | DataType::Bfloat16)
            ) && !not_weights.contains(&t.name.as_deref().unwrap_or(""))
        })
        .map(|t| t.dims.iter().product::<i64>().max(0) as u64)
        .sum::<u64>();
    quantized + float
}

/// `int<bits>` of the MatMulNBits weights, else the logits' float type.
fn precision(graph: &proto::GraphProto, genai: &GenaiModel) -> String {
    if let Some(n) = nbits_nodes(graph).first() {
        return format!("int{}", attr(n, "bits").unwrap_or(4));
    }
    let logits_type = graph
        .output
        .iter()
        .find(|o| o.name.as_deref() == Some(genai.logits.as_str()))
        .and_then(|o| match o.r#type.as_ref()?.value.as_ref()? {
            proto::type_proto::Value::TensorType(t) => t.elem_type,
            _ => None,
        });
    match logits_type.and_then(|t| DataType::try_from(t).ok()) {
        Some(DataType::Float) => "fp32".into(),
        Some(DataType::Float16) => "fp16".into(),
        Some(DataType::Bfloat16) => "bf16".into(),
        _ => "unknown".into(),
    }
}

fn dtype_bytes(data_type: Option<i32>) -> u64 {
    match data_type.and_then(|t| DataType::try_from(t).ok()) {
        Some(DataType::Float | DataType::Int32 | DataType::Uint32) => 4,
        Some(DataType::Float16 | DataType::Bfloat16 | DataType::Int16 | DataType::Uint16) => 2,
        Some(DataType::Double | DataType::Int64 | DataType::Uint64) => 8,
        _ => 1,
    }
}
