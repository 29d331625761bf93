//! Writing a synthetic GGUF with candle's GGUF writer, and its exact size before writing.

use super::metadata::{metadata, ALIGNMENT};
use super::mixture::{tensor_plan, TensorPlan};
use super::sizes::{remembered, Kept};
use crate::catalog::{ModelSpec, Quant};
use crate::llm::arch;
use crate::output::{HashingWriter, SynthReport};
use crate::weights::{self, POOL_BLOCKS};
use anyhow::{bail, Context};
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{QStorage, QTensor};
use rayon::prelude::*;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

/// Bytes candle's writer emits for `v` (GGUF v2/v3: u64 lengths). candle cannot size a file
/// without its tensors' data, so the planned size is counted here; every write checks it.
fn value_bytes(v: &Value) -> u64 {
    match v {
        Value::U8(_) | Value::I8(_) | Value::Bool(_) => 1,
        Value::U16(_) | Value::I16(_) => 2,
        Value::U32(_) | Value::I32(_) | Value::F32(_) => 4,
        Value::U64(_) | Value::I64(_) | Value::F64(_) => 8,
        Value::String(s) => 8 + s.len() as u64,
        Value::Array(items) => 4 + 8 + items.iter().map(value_bytes).sum::<u64>(),
    }
}

fn align(x: u64) -> u64 {
    x.div_ceil(ALIGNMENT) * ALIGNMENT
}

fn file_bytes(md: &[(String, Value)], plans: &[TensorPlan]) -> u64 {
    let mut n = 4 + 4 + 8 + 8; // magic, version, tensor count, kv count
    for (k, v) in md {
        n += 8 + k.len() as u64 + 4 + value_bytes(v);
    }
    for p in plans {
        n += 8 + p.name.len() as u64 + 4 + 8 * p.shape.len() as u64 + 4 + 8;
    }
    align(n) + plans.iter().map(|p| align(p.bytes())).sum::<u64>()
}

/// Exact size of the file [`write_gguf`] writes, computed without writing.
pub fn planned_file_bytes(model: &ModelSpec, quant: Quant) -> u64 {
    static KEPT: Kept = Kept::new(Vec::new());
    remembered(&KEPT, model, quant, || {
        file_bytes(&metadata(model, quant, 0), &tensor_plan(model, quant))
    })
}

/// Write a synthetic GGUF of `model` at `quant` with weights from `seed` to `path`.
/// `progress(bytes_done, total)` is called as the file is written.
pub fn write_gguf(
    model: &ModelSpec,
    quant: Quant,
    seed: u64,
    path: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<SynthReport> {
    write_gguf_pool(model, quant, seed, path, progress, POOL_BLOCKS)
}

/// [`write_gguf`] with at most `pool_max` distinct blocks per tensor.
pub(crate) fn write_gguf_pool(
    model: &ModelSpec,
    quant: Quant,
    seed: u64,
    path: &Path,
    progress: &mut dyn FnMut(u64, u64),
    pool_max: usize,
) -> anyhow::Result<SynthReport> {
    let start = Instant::now();
    model.validate().map_err(anyhow::Error::msg)?;
    let md = metadata(model, quant, seed);
    let plans = tensor_plan(model, quant);
    let total = file_bytes(&md, &plans);
    progress(0, total);
    let tensors = synth_tensors(model, &plans, seed, pool_max)?;

    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = HashingWriter::new(BufWriter::with_capacity(1 << 20, file), total, progress);
    let md_refs: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let t_refs: Vec<(&str, &QTensor)> = plans
        .iter()
        .zip(&tensors)
        .map(|(p, t)| (p.name.as_str(), t))
        .collect();
    gguf_file::write(&mut w, &md_refs, &t_refs)
        .with_context(|| format!("writing {}", path.display()))?;
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    let bytes = w.pos;
    (w.progress)(bytes, total);
    if bytes != total {
        bail!("internal error: wrote {bytes} bytes, planned {total}");
    }
    Ok(SynthReport {
        path: path.to_path_buf(),
        bytes,
        sha256: hex::encode(sha2::Digest::finalize(w.hasher)),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Every tensor of the plan, quantized (in parallel).
fn synth_tensors(
    model: &ModelSpec,
    plans: &[TensorPlan],
    seed: u64,
    pool_max: usize,
) -> anyhow::Result<Vec<QTensor>> {
    let inits: Vec<_> = arch::tensors(model).into_iter().map(|t| t.init).collect();
    plans
        .par_iter()
        .zip(inits)
        .map(|(p, init)| {
            let src = weights::source(seed, &p.name, p.elements() as usize, init, pool_max);
            let storage = src
                .quantize_dyn(p.dtype)
                .with_context(|| format!("synthesizing {}", p.name))?;
            Ok(QTensor::new(QStorage::Cpu(storage), p.shape.as_slice())?)
        })
        .collect()
}
