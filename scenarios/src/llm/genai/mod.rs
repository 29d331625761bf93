//! Synthetic ONNX Runtime GenAI model folders: `genai_config.json`, `model.onnx` and its
//! external weights `model.onnx.data`, laid out as onnxruntime-genai's model builder lays out
//! the folders people download (Phi-3-mini-4k-instruct-onnx and the like), with the same
//! seeded weights as the synthetic GGUF of the same model and seed ([`crate::synth`]).
//!
//! The graph is in [`graph`]; the weights are streamed by [`data`], so full sizes are written in
//! bounded memory. Messages are ONNX's own protobuf schema (`proto/onnx.proto`) compiled by
//! prost. [`inspect`] reads a folder back (a user's or a synthetic one) and checks it before a
//! runtime sees it.

pub mod data;
pub mod genai_config;
pub mod graph;
pub mod proto;

use crate::catalog::{ModelSpec, Quant};
use anyhow::{bail, Context};
use genai_config::{GenaiError, GenaiModel, CONFIG_FILE};
use graph::Tensor;
use prost::Message;
use proto::tensor_proto::{DataLocation, DataType};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Version of the ONNX graph and file layout. Bump it whenever the folder written for a given
/// (spec, quant, seed) changes, so caches never reuse an old one.
pub const ONNX_GENERATOR_VERSION: u32 = 1;

/// The ONNX file of a synthetic folder (the builder's default `filename`).
pub const MODEL_FILE: &str = "model.onnx";
/// Its external weights: one file, as the builder saves them.
pub const DATA_FILE: &str = "model.onnx.data";

/// Tensors larger than this start at a multiple of [`DATA_ALIGNMENT`] in the data file, so
/// ONNX Runtime can map them from the file (onnx-ir's `save` uses the same numbers).
const ALIGN_THRESHOLD: u64 = 1 << 20;
const DATA_ALIGNMENT: u64 = 1 << 16;

/// Precisions of GenAI models, named as the model builder's `-p` option names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum OnnxQuant {
    Fp32,
    Fp16,
    /// MatMulNBits, 8 bits, block 32, symmetric.
    Int8,
    /// MatMulNBits, 4 bits, block 32, symmetric (the builder's `-p int4 -e cpu`).
    Int4,
}

impl OnnxQuant {
    pub const ALL: [OnnxQuant; 4] = [
        OnnxQuant::Fp32,
        OnnxQuant::Fp16,
        OnnxQuant::Int8,
        OnnxQuant::Int4,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OnnxQuant::Fp32 => "fp32",
            OnnxQuant::Fp16 => "fp16",
            OnnxQuant::Int8 => "int8",
            OnnxQuant::Int4 => "int4",
        }
    }

    pub fn parse(s: &str) -> Option<OnnxQuant> {
        let norm = s.trim().to_ascii_lowercase();
        OnnxQuant::ALL.into_iter().find(|q| q.name() == norm)
    }

    /// Element type of activations, KV cache and float weights: the builder keeps fp32 for
    /// int4/int8 on the CPU.
    pub fn io_dtype(self) -> DataType {
        match self {
            OnnxQuant::Fp16 => DataType::Float16,
            _ => DataType::Float,
        }
    }

    /// Bits of the MatMulNBits weights, `None` for float models.
    pub fn nbits(self) -> Option<u32> {
        match self {
            OnnxQuant::Int8 => Some(8),
            OnnxQuant::Int4 => Some(4),
            _ => None,
        }
    }

    /// The GenAI precision a user of ONNX Runtime would run where a llama.cpp user runs the
    /// GGUF quantization `q`: same width class (Q4_0 and Q4_K_M → int4, Q8_0 → int8). `None`
    /// where GenAI has no counterpart (Q5_K_M).
    pub fn counterpart_of(q: Quant) -> Option<OnnxQuant> {
        match q {
            Quant::F32 => Some(OnnxQuant::Fp32),
            Quant::F16 => Some(OnnxQuant::Fp16),
            Quant::Q8_0 => Some(OnnxQuant::Int8),
            Quant::Q4_0 | Quant::Q4KM => Some(OnnxQuant::Int4),
            Quant::Q5KM => None,
        }
    }
}

impl fmt::Display for OnnxQuant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where each initializer lies in the data file, computed before anything is written.
struct Layout {
    /// (offset, length) per tensor, in job order.
    spans: Vec<(u64, u64)>,
    data_bytes: u64,
}

fn layout(g: &graph::Graph) -> Layout {
    let mut spans = Vec::new();
    let mut pos = 0u64;
    for t in g.weights.iter().flat_map(|(_, ts)| ts) {
        let len = t.bytes();
        if len > ALIGN_THRESHOLD {
            pos = pos.div_ceil(DATA_ALIGNMENT) * DATA_ALIGNMENT;
        }
        spans.push((pos, len));
        pos += len;
    }
    Layout {
        spans,
        data_bytes: pos,
    }
}

fn model_proto(
    model: &ModelSpec,
    quant: OnnxQuant,
    seed: u64,
    g: &graph::Graph,
    l: &Layout,
) -> proto::ModelProto {
    let kv = |k: &str, v: &str| proto::StringStringEntryProto {
        key: Some(k.into()),
        value: Some(v.into()),
    };
    let initializer = g
        .weights
        .iter()
        .flat_map(|(_, ts)| ts)
        .zip(&l.spans)
        .map(|(t, &(offset, length))| proto::TensorProto {
            dims: t.dims.clone(),
            data_type: Some(t.dtype as i32),
            name: Some(t.name.clone()),
            data_location: Some(DataLocation::External as i32),
            external_data: vec![
                kv("location", DATA_FILE),
                kv("offset", &offset.to_string()),
                kv("length", &length.to_string()),
            ],
            ..Default::default()
        })
        .collect();
    let opset = |domain: &str, version| proto::OperatorSetIdProto {
        domain: Some(domain.into()),
        version: Some(version),
    };
    proto::ModelProto {
        ir_version: Some(10),
        opset_import: vec![opset("", 22), opset("com.microsoft", 1)],
        producer_name: Some("edgebench".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        graph: Some(proto::GraphProto {
            node: g.nodes.clone(),
            name: Some("main_graph".into()),
            initializer,
            input: g.inputs.clone(),
            output: g.outputs.clone(),
            ..Default::default()
        }),
        metadata_props: vec![
            kv("edgebench.synthetic", "true"),
            kv("edgebench.model", &model.name),
            kv("edgebench.quant", quant.name()),
            kv("edgebench.seed", &seed.to_string()),
            kv(
                "edgebench.generator_version",
                &format!(
                    "{}.{}",
                    crate::synth::GENERATOR_VERSION,
                    ONNX_GENERATOR_VERSION
                ),
            ),
        ],
        ..Default::default()
    }
}

/// `genai_config.json` as the builder writes it for this model (CPU, no provider options).
fn genai_config(model: &ModelSpec) -> anyhow::Result<String> {
    use genai_config::*;
    let cfg = GenaiConfig {
        model: ModelSection {
            // The synthetic vocabulary's <s> and </s> (see synth's tokenizer metadata).
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
pub fn planned_folder_bytes(model: &ModelSpec, quant: OnnxQuant, seed: u64) -> u64 {
    let g = graph::build(model, quant);
    let l = layout(&g);
    let proto_len = model_proto(model, quant, seed, &g, &l).encoded_len() as u64;
    let cfg_len = genai_config(model).map_or(0, |c| c.len() as u64);
    l.data_bytes + proto_len + cfg_len
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

struct DataSink<'a, W: Write> {
    out: W,
    hasher: Sha256,
    pos: u64,
    layout: &'a Layout,
    /// Index of the next tensor to begin, and the end of the current one.
    next: usize,
    end: u64,
    total: u64,
    next_report: u64,
    progress: &'a mut dyn FnMut(u64, u64),
}

impl<W: Write> DataSink<'_, W> {
    fn put(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.out.write_all(bytes)?;
        self.hasher.update(bytes);
        self.pos += bytes.len() as u64;
        if self.pos >= self.next_report {
            (self.progress)(self.pos, self.total);
            self.next_report = self.pos + (16 << 20);
        }
        Ok(())
    }

    fn finish_tensor(&self) -> anyhow::Result<()> {
        if self.next > 0 && self.pos != self.end {
            bail!(
                "internal error: tensor {} wrote {} bytes, planned {}",
                self.next - 1,
                self.pos + self.layout.spans[self.next - 1].1 - self.end,
                self.layout.spans[self.next - 1].1
            );
        }
        Ok(())
    }
}

impl<W: Write> data::Sink for DataSink<'_, W> {
    fn begin(&mut self, _tensor: &Tensor) -> anyhow::Result<()> {
        self.finish_tensor()?;
        let (offset, len) = self.layout.spans[self.next];
        let pad = offset - self.pos;
        self.put(&vec![0u8; pad as usize])?;
        self.next += 1;
        self.end = offset + len;
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        if self.pos + bytes.len() as u64 > self.end {
            bail!("internal error: a tensor wrote past its planned end");
        }
        self.put(bytes)
    }
}

/// Write a GenAI folder of `model` at `quant` with weights from `seed` into `dir` (created if
/// missing; existing files of the same names are replaced). `progress(done, total)` in bytes.
pub fn write_genai_folder(
    model: &ModelSpec,
    quant: OnnxQuant,
    seed: u64,
    dir: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<OnnxReport> {
    let start = Instant::now();
    model.validate().map_err(anyhow::Error::msg)?;
    let g = graph::build(model, quant);
    let l = layout(&g);
    let proto = model_proto(model, quant, seed, &g, &l).encode_to_vec();
    let config = genai_config(model)?;
    let total = l.data_bytes + proto.len() as u64 + config.len() as u64;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    progress(0, total);

    let data_path = dir.join(DATA_FILE);
    let file = std::fs::File::create(&data_path)
        .with_context(|| format!("creating {}", data_path.display()))?;
    let mut sink = DataSink {
        out: BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        pos: 0,
        layout: &l,
        next: 0,
        end: 0,
        total,
        next_report: 16 << 20,
        progress,
    };
    for (job, tensors) in &g.weights {
        data::write_job(model, seed, job, tensors, &mut sink)
            .with_context(|| format!("writing {}", data_path.display()))?;
    }
    sink.finish_tensor()?;
    if sink.pos != l.data_bytes || sink.next != l.spans.len() {
        bail!(
            "internal error: wrote {} bytes of weights, planned {}",
            sink.pos,
            l.data_bytes
        );
    }
    sink.out
        .flush()
        .with_context(|| format!("writing {}", data_path.display()))?;
    let mut hasher = sink.hasher;
    let progress = sink.progress;

    for (name, bytes) in [
        (MODEL_FILE, proto.as_slice()),
        (CONFIG_FILE, config.as_bytes()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        hasher.update(bytes);
    }
    progress(total, total);
    Ok(OnnxReport {
        folder: dir.to_path_buf(),
        bytes: total,
        sha256: hex::encode(hasher.finalize()),
        seconds: start.elapsed().as_secs_f64(),
    })
}

// ---------------------------------------------------------------------------------------------
// Cache

/// Where the cache keeps the folder of `model` at `quant` with `seed`:
/// `<dir>/<model>-<quant>-s<seed>-<hash>-genai/`.
pub fn cache_path(models_dir: &Path, model: &ModelSpec, quant: OnnxQuant, seed: u64) -> PathBuf {
    let key = format!(
        "{}|{}|{}",
        crate::synth::spec_hash(model, Quant::F32, seed),
        quant.name(),
        ONNX_GENERATOR_VERSION
    );
    let hash = hex::encode(&Sha256::digest(key.as_bytes())[..6]);
    models_dir.join(format!(
        "{}-{}-s{seed}-{hash}-genai",
        model.name,
        quant.name()
    ))
}

/// A synthetic folder in the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedFolder {
    pub folder: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    pub seed: u64,
    /// `Some` when this call wrote the folder.
    pub synthesized: Option<OnnxReport>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    sha256: String,
    bytes: u64,
    seed: u64,
    model: String,
    quant: OnnxQuant,
    generator_version: String,
}

fn folder_bytes(folder: &Path) -> Option<u64> {
    [DATA_FILE, MODEL_FILE, CONFIG_FILE]
        .iter()
        .map(|f| std::fs::metadata(folder.join(f)).ok().map(|m| m.len()))
        .sum()
}

fn generator_version() -> String {
    format!(
        "{}.{}",
        crate::synth::GENERATOR_VERSION,
        ONNX_GENERATOR_VERSION
    )
}

/// The cached folder of `model` at `quant` with `seed`, written first if missing or
/// incomplete (complete = its sidecar `<folder>.json`, written last, matches the files' sizes).
pub fn ensure_cached(
    models_dir: &Path,
    model: &ModelSpec,
    quant: OnnxQuant,
    seed: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<CachedFolder> {
    let folder = cache_path(models_dir, model, quant, seed);
    let sidecar = crate::synth::sidecar_path(&folder);
    if let Some(sc) = std::fs::read_to_string(&sidecar)
        .ok()
        .and_then(|t| serde_json::from_str::<Sidecar>(&t).ok())
    {
        if sc.seed == seed
            && sc.generator_version == generator_version()
            && folder_bytes(&folder) == Some(sc.bytes)
        {
            return Ok(CachedFolder {
                folder,
                sha256: sc.sha256,
                bytes: sc.bytes,
                seed,
                synthesized: None,
            });
        }
    }
    std::fs::create_dir_all(models_dir)
        .with_context(|| format!("creating model cache {}", models_dir.display()))?;
    let _ = std::fs::remove_file(&sidecar);
    let mut partial = folder.as_os_str().to_owned();
    partial.push(format!(".partial.{}", std::process::id()));
    let partial = PathBuf::from(partial);
    let mut report = match write_genai_folder(model, quant, seed, &partial, progress) {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    if folder.exists() {
        std::fs::remove_dir_all(&folder)
            .with_context(|| format!("replacing {}", folder.display()))?;
    }
    std::fs::rename(&partial, &folder)
        .with_context(|| format!("moving {} into place", folder.display()))?;
    report.folder = folder.clone();
    let sc = Sidecar {
        sha256: report.sha256.clone(),
        bytes: report.bytes,
        seed,
        model: model.name.clone(),
        quant,
        generator_version: generator_version(),
    };
    let mut tmp = sidecar.as_os_str().to_owned();
    tmp.push(format!(".partial.{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, serde_json::to_string_pretty(&sc)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &sidecar).with_context(|| format!("writing {}", sidecar.display()))?;
    Ok(CachedFolder {
        folder,
        sha256: report.sha256.clone(),
        bytes: report.bytes,
        seed,
        synthesized: Some(report),
    })
}

// ---------------------------------------------------------------------------------------------
// Reading a folder back

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

/// Read a GenAI folder: its config, and its model file's graph and external data references,
/// so a truncated or corrupt file gets an error naming it before a runtime loads it.
pub fn inspect(path: &Path) -> Result<FolderSummary, GenaiError> {
    let genai = GenaiModel::open(path)?;
    let bad = |p: &Path, m: String| GenaiError {
        path: p.display().to_string(),
        message: m,
    };
    let model_path = genai.model_path.clone();
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut file_bytes = size(&genai.folder.join(CONFIG_FILE)) + size(&model_path);
    let mut summary = FolderSummary {
        genai: genai.clone(),
        quant: "unknown".into(),
        parameters: None,
        weight_bytes: None,
        file_bytes,
        synthetic: false,
        seed: None,
    };
    if size(&model_path) > INSPECT_MAX_PROTO_BYTES {
        return Ok(summary);
    }
    let bytes =
        std::fs::read(&model_path).map_err(|e| bad(&model_path, format!("cannot read: {e}")))?;
    let model = proto::ModelProto::decode(bytes.as_slice()).map_err(|e| {
        bad(
            &model_path,
            format!("not a readable ONNX model (truncated or corrupt protobuf: {e})"),
        )
    })?;
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

    // External data: every span inside its file.
    let dir = model_path.parent().unwrap_or(Path::new("."));
    let mut data_files: Vec<PathBuf> = Vec::new();
    let mut weight_bytes = 0u64;
    // Tables only looked up (the data input of Gather, e.g. GenAI's fp32 embedding) are read
    // a row per token, not streamed: they do not count as bytes decode reads per token.
    let looked_up_only = |name: &str| {
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
    };
    for t in &graph.initializer {
        let name = t.name.clone().unwrap_or_default();
        let streamed = !looked_up_only(&name);
        if t.data_location == Some(DataLocation::External as i32) {
            let get = |k: &str| {
                t.external_data
                    .iter()
                    .find(|e| e.key.as_deref() == Some(k))
                    .and_then(|e| e.value.clone())
            };
            let location = get("location").ok_or_else(|| {
                bad(
                    &model_path,
                    format!("initializer {name} has external data without a location"),
                )
            })?;
            let offset: u64 = get("offset").and_then(|s| s.parse().ok()).unwrap_or(0);
            let file = dir.join(&location);
            let len = match get("length").and_then(|s| s.parse().ok()) {
                Some(l) => l,
                None => t.dims.iter().product::<i64>().max(0) as u64 * dtype_bytes(t.data_type),
            };
            let have = std::fs::metadata(&file)
                .map_err(|_| {
                    bad(
                        &file,
                        format!(
                            "missing (external data of {} names it)",
                            model_path.display()
                        ),
                    )
                })?
                .len();
            if offset + len > have {
                return Err(bad(
                    &file,
                    format!(
                        "truncated: initializer {name} needs bytes up to {} but the file has {have}",
                        offset + len
                    ),
                ));
            }
            if !data_files.contains(&file) {
                file_bytes += have;
                data_files.push(file);
            }
            if streamed {
                weight_bytes += len;
            }
        } else if streamed {
            weight_bytes += t.raw_data.as_ref().map_or(0, |r| r.len() as u64);
        }
    }

    // Precision and parameters.
    let attr = |n: &proto::NodeProto, k: &str| {
        n.attribute
            .iter()
            .find(|a| a.name.as_deref() == Some(k))
            .and_then(|a| a.i)
    };
    let nbits: Vec<&proto::NodeProto> = graph
        .node
        .iter()
        .filter(|n| n.op_type.as_deref() == Some("MatMulNBits"))
        .collect();
    let mut parameters: u64 = nbits
        .iter()
        .map(|n| (attr(n, "K").unwrap_or(0) * attr(n, "N").unwrap_or(0)) as u64)
        .sum();
    let not_weights: Vec<&str> = nbits
        .iter()
        .flat_map(|n| n.input.iter().skip(2).map(String::as_str))
        .chain(["cos_cache", "sin_cache"])
        .collect();
    parameters += graph
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
    summary.quant = if let Some(n) = nbits.first() {
        format!("int{}", attr(n, "bits").unwrap_or(4))
    } else {
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
    };
    summary.parameters = Some(parameters);
    summary.weight_bytes = Some(weight_bytes);
    summary.file_bytes = file_bytes;
    Ok(summary)
}

fn dtype_bytes(data_type: Option<i32>) -> u64 {
    match data_type.and_then(|t| DataType::try_from(t).ok()) {
        Some(DataType::Float | DataType::Int32 | DataType::Uint32) => 4,
        Some(DataType::Float16 | DataType::Bfloat16 | DataType::Int16 | DataType::Uint16) => 2,
        Some(DataType::Double | DataType::Int64 | DataType::Uint64) => 8,
        _ => 1,
    }
}

#[cfg(test)]
mod tests;
