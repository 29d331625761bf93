//! Weights in an external data file, and the model that points at them.

use super::builder::{Graph, Tensor};
use super::proto::{self, tensor_proto::DataLocation, TensorProto};
use crate::output::HashingWriter;
use anyhow::bail;
use std::collections::HashMap;
use std::io::Write;

/// Tensors larger than this start at a multiple of [`DATA_ALIGNMENT`] in the data file, so
/// ONNX Runtime can map them from the file (onnx-ir's `save` uses the same numbers).
const ALIGN_THRESHOLD: u64 = 1 << 20;
const DATA_ALIGNMENT: u64 = 1 << 16;

/// (offset, length) of each tensor in the data file, in order, and the file's length.
pub type Spans = (Vec<(u64, u64)>, u64);

/// Where each of `tensors` lies in one data file, computed before anything is written.
pub fn layout<'a>(tensors: impl IntoIterator<Item = &'a Tensor>) -> Spans {
    let mut spans = Vec::new();
    let mut pos = 0u64;
    for t in tensors {
        let len = t.bytes();
        if len > ALIGN_THRESHOLD {
            pos = pos.div_ceil(DATA_ALIGNMENT) * DATA_ALIGNMENT;
        }
        spans.push((pos, len));
        pos += len;
    }
    (spans, pos)
}

/// What a model says besides its graph.
pub struct ModelInfo<'a> {
    /// The external data file, relative to the model.
    pub data_file: &'a str,
    /// Operator sets: `("", 22)` for ONNX's own, `("com.microsoft", 1)` for ONNX Runtime's.
    pub opsets: &'a [(&'a str, i64)],
    /// `metadata_props`, in order.
    pub metadata: Vec<(&'a str, String)>,
}

/// The model of `g`, its external initializers at `spans` (by name) in `info.data_file`.
pub fn model_proto<S>(
    g: &Graph<S>,
    spans: &HashMap<String, (u64, u64)>,
    info: &ModelInfo,
) -> proto::ModelProto {
    let kv = |k: &str, v: &str| proto::StringStringEntryProto {
        key: Some(k.into()),
        value: Some(v.into()),
    };
    let mut initializer: Vec<TensorProto> = g
        .tensors()
        .map(|t| {
            let (offset, length) = spans[&t.name];
            TensorProto {
                dims: t.dims.clone(),
                data_type: Some(t.dtype as i32),
                name: Some(t.name.clone()),
                data_location: Some(DataLocation::External as i32),
                external_data: vec![
                    kv("location", info.data_file),
                    kv("offset", &offset.to_string()),
                    kv("length", &length.to_string()),
                ],
                ..Default::default()
            }
        })
        .collect();
    initializer.extend(g.inline.iter().cloned());
    let opset_import = info
        .opsets
        .iter()
        .map(|&(domain, version)| proto::OperatorSetIdProto {
            domain: Some(domain.into()),
            version: Some(version),
        })
        .collect();
    proto::ModelProto {
        ir_version: Some(10),
        opset_import,
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
        metadata_props: info.metadata.iter().map(|(k, v)| kv(k, v)).collect(),
        ..Default::default()
    }
}

/// Where the bytes of each initializer go.
pub trait Sink {
    /// Start the next initializer (in the order the layout lists them).
    fn begin(&mut self, tensor: &Tensor) -> anyhow::Result<()>;
    fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()>;
}

/// A data file being written: each tensor at its planned offset (zeros between), checked
/// against its planned length, everything hashed as it goes.
pub(crate) struct DataFile<'a, 'p, W: Write> {
    out: HashingWriter<'p, W>,
    spans: &'a [(u64, u64)],
    /// Index of the next tensor to begin, and the end of the current one.
    next: usize,
    end: u64,
}

impl<'a, 'p, W: Write + Send> DataFile<'a, 'p, W> {
    /// `progress(done, total)` as bytes go out (`total` may count more than this file).
    pub fn new(
        out: W,
        spans: &'a [(u64, u64)],
        total: u64,
        progress: &'p mut dyn FnMut(u64, u64),
    ) -> Self {
        Self {
            out: HashingWriter::new(out, total, progress),
            spans,
            next: 0,
            end: 0,
        }
    }

    fn finish_tensor(&self) -> anyhow::Result<()> {
        if self.next > 0 && self.out.pos != self.end {
            let planned = self.spans[self.next - 1].1;
            bail!(
                "internal error: tensor {} wrote {} bytes, planned {planned}",
                self.next - 1,
                self.out.pos + planned - self.end,
            );
        }
        Ok(())
    }

    /// Check every tensor was written in full and flush; the writer holds the hash.
    pub fn finish(mut self) -> anyhow::Result<HashingWriter<'p, W>> {
        self.finish_tensor()?;
        let planned = self.spans.last().map_or(0, |&(o, l)| o + l);
        if self.out.pos != planned || self.next != self.spans.len() {
            bail!(
                "internal error: wrote {} bytes of weights, planned {planned}",
                self.out.pos
            );
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write + Send> Sink for DataFile<'_, '_, W> {
    fn begin(&mut self, _tensor: &Tensor) -> anyhow::Result<()> {
        self.finish_tensor()?;
        let Some(&(offset, len)) = self.spans.get(self.next) else {
            bail!("internal error: more tensors than planned");
        };
        let pad = offset - self.out.pos;
        self.out.write_all(&vec![0u8; pad as usize])?;
        self.next += 1;
        self.end = offset + len;
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        if self.out.pos + bytes.len() as u64 > self.end {
            bail!("internal error: a tensor wrote past its planned end");
        }
        self.out.write_all(bytes)?;
        Ok(())
    }
}
