//! Writing an Optimum Whisper folder: `config.json`, `generation_config.json`, the encoder
//! graph over `encoder_model.onnx_data`, and the two decoder graphs over one
//! `decoder_model.onnx_data`.

use super::graph::{graphs, Graph, Source};
use crate::catalog::{WhisperQuant, WhisperSpec};
use crate::graph::proto::tensor_proto::DataType;
use crate::graph::{layout, model_proto, DataFile, ModelInfo, Sink};
use crate::output::SynthReport;
use crate::whisper::arch::{tensor_f32, tensors, TensorKind, WhisperTensor, GENERATOR_VERSION};
use crate::whisper::hf::{hf_config, CONFIG};
use anyhow::{bail, Context};
use prost::Message;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub const ENCODER: &str = "encoder_model.onnx";
pub const DECODER: &str = "decoder_model.onnx";
pub const DECODER_WITH_PAST: &str = "decoder_with_past_model.onnx";
/// Optimum's single decoder with an `If` on `use_cache_branch` (not written here).
pub const DECODER_MERGED: &str = "decoder_model_merged.onnx";
pub const ENCODER_DATA: &str = "encoder_model.onnx_data";
pub const DECODER_DATA: &str = "decoder_model.onnx_data";
pub const GENERATION_CONFIG: &str = "generation_config.json";

fn tensor_by_name(spec: &WhisperSpec, name: &str) -> WhisperTensor {
    tensors(spec)
        .into_iter()
        .find(|t| t.name == name)
        .expect("a Whisper tensor name")
}

/// Per-tensor symmetric int8 scale, as `quantize_dynamic` computes it for QInt8 weights:
/// `max|w| / 127`.
fn int8_scale(values: &[f32]) -> f32 {
    let m = values.iter().fold(0f32, |m, v| m.max(v.abs()));
    if m == 0.0 {
        1.0
    } else {
        m / 127.0
    }
}

/// The bytes of one initializer, of type `dtype`, made from `source`.
fn init_bytes(
    spec: &WhisperSpec,
    seed: u64,
    source: &Source,
    dtype: DataType,
) -> anyhow::Result<Vec<u8>> {
    let w = tensor_by_name(spec, source.tensor());
    let mut values = tensor_f32(spec, seed, &w)?;
    if matches!(source, Source::Transposed(_) | Source::Int8(_)) {
        let (rows, cols) = (w.shape[0], w.shape[1]);
        let mut out = vec![0f32; values.len()];
        for r in 0..rows {
            for c in 0..cols {
                out[c * rows + r] = values[r * cols + c];
            }
        }
        values = out;
    }
    Ok(match dtype {
        DataType::Float => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        DataType::Float16 => values
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect(),
        DataType::Int8 => {
            let s = int8_scale(&values);
            values
                .iter()
                .map(|v| (v / s).round_ties_even().clamp(-127.0, 127.0) as i8 as u8)
                .collect()
        }
        other => bail!("internal error: no initializer of type {other:?}"),
    })
}

/// Per-tensor int8 scales of every linear weight (int8 only; empty otherwise).
fn int8_scales(
    spec: &WhisperSpec,
    quant: WhisperQuant,
    seed: u64,
) -> anyhow::Result<HashMap<String, f32>> {
    let mut out = HashMap::new();
    if quant != WhisperQuant::Int8 {
        return Ok(out);
    }
    for t in tensors(spec) {
        if matches!(
            t.kind,
            TensorKind::Linear { .. } | TensorKind::TokenEmbedding
        ) {
            out.insert(t.name.clone(), int8_scale(&tensor_f32(spec, seed, &t)?));
        }
    }
    Ok(out)
}

/// Bytes of external weights the folder holds (both data files).
pub fn planned_bytes(spec: &WhisperSpec, quant: WhisperQuant) -> u64 {
    // Scales do not change sizes: any value works here.
    let scales: HashMap<String, f32> = tensors(spec).into_iter().map(|t| (t.name, 1.0)).collect();
    let [enc, dec, _] = graphs(spec, quant, &scales);
    layout(enc.tensors()).1 + layout(dec.tensors()).1
}

/// Write the folder; see the module documentation.
pub fn write(
    spec: &WhisperSpec,
    quant: WhisperQuant,
    seed: u64,
    dir: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<SynthReport> {
    let start = Instant::now();
    spec.validate().map_err(anyhow::Error::msg)?;
    if !matches!(
        quant,
        WhisperQuant::F32 | WhisperQuant::F16 | WhisperQuant::Int8
    ) {
        bail!("ONNX Whisper folders hold f32, f16 or int8, not {quant}");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut files = write_configs(spec, quant, dir)?;
    let scales = int8_scales(spec, quant, seed)?;
    let [enc, dec, dec_past] = graphs(spec, quant, &scales);
    let total = planned_bytes(spec, quant);
    progress(0, total);
    let model = Model {
        spec,
        quant,
        seed,
        dir,
    };
    let mut done = 0u64;
    for (graph_list, data_file) in [
        (vec![(&enc, ENCODER)], ENCODER_DATA),
        (
            vec![(&dec, DECODER), (&dec_past, DECODER_WITH_PAST)],
            DECODER_DATA,
        ),
    ] {
        let base = done;
        let mut file_progress = |d: u64, _: u64| progress(base + d, total);
        let (path, spans) =
            model.write_data(graph_list[0].0, data_file, total, &mut file_progress)?;
        done += std::fs::metadata(&path).map_or(0, |m| m.len());
        files.push(path);
        for (g, name) in graph_list {
            files.push(model.write_graph(g, name, data_file, &spans)?);
        }
    }
    progress(total, total);
    let (sha256, bytes) = hash_files(files)?;
    Ok(SynthReport {
        path: dir.to_path_buf(),
        bytes,
        sha256,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// `config.json` and `generation_config.json` as `transformers` writes them.
fn write_configs(
    spec: &WhisperSpec,
    quant: WhisperQuant,
    dir: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut config = hf_config(spec);
    if quant == WhisperQuant::F16 {
        config["torch_dtype"] = "float16".into();
    }
    let generation = serde_json::json!({
        "bos_token_id": config["bos_token_id"],
        "decoder_start_token_id": config["decoder_start_token_id"],
        "eos_token_id": config["eos_token_id"],
        "pad_token_id": config["pad_token_id"],
        "max_length": spec.n_text_ctx,
        "begin_suppress_tokens": config["begin_suppress_tokens"],
        // <|notimestamps|>: 50362 English-only, 50363 multilingual (+1 per extra language).
        "no_timestamps_token_id": spec.n_vocab - 1502,
    });
    let mut files = Vec::new();
    for (name, json) in [(CONFIG, &config), (GENERATION_CONFIG, &generation)] {
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_string_pretty(json)?)
            .with_context(|| format!("writing {}", path.display()))?;
        files.push(path);
    }
    Ok(files)
}

/// (offset, length) of each weight in its data file, by initializer name.
type Placement = HashMap<String, (u64, u64)>;

/// What the graphs of one folder are written for.
struct Model<'a> {
    spec: &'a WhisperSpec,
    quant: WhisperQuant,
    seed: u64,
    dir: &'a Path,
}

impl Model<'_> {
    /// Write every weight of `g` into `data_file`; returns its path and where each weight lies.
    fn write_data(
        &self,
        g: &Graph,
        data_file: &str,
        total: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> anyhow::Result<(PathBuf, Placement)> {
        let (spans, _) = layout(g.tensors());
        let path = self.dir.join(data_file);
        let file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut sink = DataFile::new(
            BufWriter::with_capacity(1 << 20, file),
            &spans,
            total,
            progress,
        );
        for (source, ts) in &g.weights {
            for t in ts {
                let bytes = init_bytes(self.spec, self.seed, source, t.dtype)?;
                sink.begin(t)
                    .and_then(|()| sink.write(&bytes))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        sink.finish()
            .with_context(|| format!("writing {}", path.display()))?;
        let by_name = g.tensors().map(|t| t.name.clone()).zip(spans).collect();
        Ok((path, by_name))
    }

    /// Write the graph `g` as `name`, its weights in `data_file` at `spans`.
    fn write_graph(
        &self,
        g: &Graph,
        name: &str,
        data_file: &str,
        spans: &Placement,
    ) -> anyhow::Result<PathBuf> {
        let info = ModelInfo {
            data_file,
            opsets: &[("", 22)],
            metadata: vec![
                ("edgebench.synthetic", "true".into()),
                ("edgebench.model", self.spec.name.clone()),
                ("edgebench.quant", self.quant.name().into()),
                ("edgebench.seed", self.seed.to_string()),
                ("edgebench.generator_version", GENERATOR_VERSION.to_string()),
            ],
        };
        let path = self.dir.join(name);
        std::fs::write(&path, model_proto(g, spans, &info).encode_to_vec())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

/// sha256 over the files in name order, each as its name then its bytes; and their bytes.
fn hash_files(mut files: Vec<PathBuf>) -> anyhow::Result<(String, u64)> {
    files.sort();
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    for f in &files {
        let mut file =
            std::fs::File::open(f).with_context(|| format!("reading {}", f.display()))?;
        hasher.update(f.file_name().unwrap_or_default().as_encoded_bytes());
        bytes += std::io::copy(&mut file, &mut hasher)
            .with_context(|| format!("reading {}", f.display()))?;
    }
    Ok((hex::encode(hasher.finalize()), bytes))
}
