//! The bytes of the weights: streamed into `model.onnx.data` in bounded chunks, so a full-size
//! model (gigabytes) is written with a few tens of megabytes of memory.

use super::graph::{Job, Part, NBITS_BLOCK};
use crate::catalog::ModelSpec;
use crate::graph::proto::tensor_proto::DataType;
use crate::graph::{element_bytes, Sink, Tensor};
use crate::llm::arch::tensor_weights;
use crate::weights::TensorWeights;
use anyhow::{bail, Context};
use rayon::prelude::*;

/// Elements converted per chunk before it is written.
const CHUNK_ELEMENTS: usize = 4 << 20;
/// Rows of a MatMulNBits weight quantized per parallel task.
const NBITS_ROWS_PER_TASK: usize = 64;

/// Write the initializers of `job` (their metadata in `tensors`) to `sink`.
pub fn write_job(
    model: &ModelSpec,
    seed: u64,
    job: &Job,
    tensors: &[Tensor],
    sink: &mut dyn Sink,
) -> anyhow::Result<()> {
    match job {
        Job::Copy { tensor } => write_copy(&weights(model, seed, tensor)?, &tensors[0], sink),
        Job::Transposed { parts, k } => {
            write_transposed(&Rows::new(model, seed, parts, *k)?, &tensors[0], sink)
        }
        Job::NBits { parts, k, bits } => {
            let rows = Rows::new(model, seed, parts, *k)?;
            write_nbits(&rows, *bits, (&tensors[0], &tensors[1]), sink)
        }
        Job::Rope {
            sin,
            context,
            head,
            theta,
        } => {
            let t = &tensors[0];
            sink.begin(t)?;
            sink.write(&encode(&rope_cache(*sin, *context, *head, *theta), t.dtype))
        }
    }
}

/// A tensor as llama.cpp stores it, converted to `t`'s element type in chunks.
fn write_copy(w: &TensorWeights, t: &Tensor, sink: &mut dyn Sink) -> anyhow::Result<()> {
    if w.elements() as u64 * element_bytes(t.dtype) != t.bytes() {
        bail!("internal error: a llama.cpp tensor does not fit {}", t.name);
    }
    sink.begin(t)?;
    let mut buf = vec![0.0f32; CHUNK_ELEMENTS.min(w.elements())];
    let mut start = 0;
    while start < w.elements() {
        let n = buf.len().min(w.elements() - start);
        w.fill(start, &mut buf[..n]);
        sink.write(&encode(&buf[..n], t.dtype))?;
        start += n;
    }
    Ok(())
}

/// The transpose `[K, N]` of the stacked rows, in stripes of input features.
fn write_transposed(rows: &Rows, t: &Tensor, sink: &mut dyn Sink) -> anyhow::Result<()> {
    const PER_TASK: usize = 8;
    let (n, k) = (rows.len(), rows.k);
    sink.begin(t)?;
    // Output row kk (one input feature) holds that feature of every source row.
    let stripe = (CHUNK_ELEMENTS / n).clamp(1, k);
    let mut buf = vec![0.0f32; stripe * n];
    let mut k0 = 0;
    while k0 < k {
        let kn = stripe.min(k - k0);
        buf[..kn * n]
            .par_chunks_mut(PER_TASK * n)
            .enumerate()
            .for_each(|(task, out)| {
                let first = k0 + task * PER_TASK;
                let count = out.len() / n;
                let mut tmp = [0.0f32; PER_TASK];
                for j in 0..n {
                    rows.fill(j, first, &mut tmp[..count]);
                    for (t, v) in tmp[..count].iter().enumerate() {
                        out[t * n + j] = *v;
                    }
                }
            });
        sink.write(&encode(&buf[..kn * n], t.dtype))?;
        k0 += kn;
    }
    Ok(())
}

/// MatMulNBits `B` (the rows quantized block by block, in parallel groups), then its scales.
fn write_nbits(
    rows: &Rows,
    bits: u32,
    (packed, scales_t): (&Tensor, &Tensor),
    sink: &mut dyn Sink,
) -> anyhow::Result<()> {
    let k = rows.k;
    let blocks = k.div_ceil(NBITS_BLOCK);
    let mut scales = Vec::with_capacity(rows.len() * blocks);
    sink.begin(packed)?;
    let group = NBITS_ROWS_PER_TASK * rayon::current_num_threads().max(1) * 4;
    let mut r0 = 0;
    while r0 < rows.len() {
        let r1 = (r0 + group).min(rows.len());
        let done: Vec<(Vec<u8>, Vec<f32>)> = (r0..r1)
            .collect::<Vec<_>>()
            .par_chunks(NBITS_ROWS_PER_TASK)
            .map(|chunk| {
                let mut row = vec![0.0f32; blocks * NBITS_BLOCK];
                let mut q = Vec::with_capacity(chunk.len() * blocks * NBITS_BLOCK);
                let mut s = Vec::with_capacity(chunk.len() * blocks);
                for &r in chunk {
                    rows.fill(r, 0, &mut row[..k]);
                    for block in row.chunks(NBITS_BLOCK) {
                        s.push(quantize_block(block, bits, &mut q));
                    }
                }
                (q, s)
            })
            .collect();
        for (q, s) in done {
            sink.write(&q)?;
            scales.extend(s);
        }
        r0 = r1;
    }
    sink.begin(scales_t)?;
    sink.write(&encode(&scales, scales_t.dtype))
}

fn weights(model: &ModelSpec, seed: u64, name: &str) -> anyhow::Result<TensorWeights> {
    tensor_weights(model, seed, name)
        .with_context(|| format!("internal error: {} has no tensor {name}", model.name))
}

/// The stacked rows of a projection's parts, each of length `k`.
struct Rows {
    parts: Vec<(TensorWeights, Part)>,
    /// Global row → (part, row in the source tensor).
    index: Vec<(u32, u32)>,
    k: usize,
}

impl Rows {
    fn new(model: &ModelSpec, seed: u64, parts: &[Part], k: usize) -> anyhow::Result<Self> {
        let mut out = Vec::new();
        let mut index = Vec::new();
        for (p, part) in parts.iter().enumerate() {
            let w = weights(model, seed, &part.tensor)?;
            let shape = w.shape();
            if shape.len() != 2 || shape[1] != k || part.row_start + part.rows > shape[0] {
                bail!(
                    "internal error: rows {}..{} of {} {:?} as a projection from {k}",
                    part.row_start,
                    part.row_start + part.rows,
                    part.tensor,
                    shape
                );
            }
            index.extend((0..part.rows).map(|r| (p as u32, part.source_row(r) as u32)));
            out.push((w, part.clone()));
        }
        Ok(Self {
            parts: out,
            index,
            k,
        })
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    /// Values `from..from + out.len()` of row `r`.
    fn fill(&self, r: usize, from: usize, out: &mut [f32]) {
        let (p, src_row) = self.index[r];
        self.parts[p as usize]
            .0
            .fill(src_row as usize * self.k + from, out);
    }
}

/// Symmetric block quantization as ONNX Runtime's MLAS does it for MatMulNBits (checked against
/// `quantize_matmul_4bits`/`_8bits` of onnxruntime 1.31): the value of largest magnitude `m`
/// maps to the lowest code, `scale = m / −2^(bits−1)`, `q = clamp(round(v / scale) +
/// 2^(bits−1))`; 4-bit codes are packed two a byte, low nibble first. Returns the scale.
pub fn quantize_block(block: &[f32], bits: u32, out: &mut Vec<u8>) -> f32 {
    let mid = (1u32 << (bits - 1)) as f32;
    let top = ((1u32 << bits) - 1) as f32;
    let m = block
        .iter()
        .copied()
        .fold(0.0f32, |a, v| if v.abs() > a.abs() { v } else { a });
    let scale = m / -mid;
    let recip = if scale != 0.0 { 1.0 / scale } else { 0.0 };
    let code = |v: f32| ((v * recip).round_ties_even() + mid).clamp(0.0, top) as u8;
    match bits {
        4 => out.extend(block.chunks(2).map(|p| code(p[0]) | (code(p[1]) << 4))),
        8 => out.extend(block.iter().map(|&v| code(v))),
        other => unreachable!("MatMulNBits with {other} bits"),
    }
    scale
}

/// GenAI's `make_rotary_embedding_caches_from_scratch` in f32: `inv_freq[i] = 1 / θ^(2i/d)`,
/// `cache[p][i] = cos|sin(p · inv_freq[i])`, keeping the first half of the head.
pub fn rope_cache(sin: bool, context: usize, head: usize, theta: f64) -> Vec<f32> {
    let half = head / 2;
    let inv: Vec<f32> = (0..half)
        .map(|i| 1.0 / (theta as f32).powf((2 * i) as f32 / head as f32))
        .collect();
    let mut out = Vec::with_capacity(context * half);
    for p in 0..context {
        for &f in &inv {
            let x = p as f32 * f;
            out.push(if sin { x.sin() } else { x.cos() });
        }
    }
    out
}

/// f32 values as little-endian bytes of `dtype` (f32 or f16).
fn encode(values: &[f32], dtype: DataType) -> Vec<u8> {
    match dtype {
        DataType::Float => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        DataType::Float16 => values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect(),
        other => unreachable!("float weights as {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_block_matches_onnxruntime() {
        // A block and the codes onnxruntime 1.31's quantize_matmul_4bits gives it: the
        // largest magnitude (−2.0) is code 0, zero is code 8.
        let mut block = [0.0f32; 32];
        block[0] = -2.0;
        block[1] = 1.0;
        block[2] = 0.1;
        block[3] = 1.9;
        let mut q = Vec::new();
        let scale = quantize_block(&block, 4, &mut q);
        assert_eq!(scale, 0.25);
        assert_eq!(q.len(), 16);
        // codes: −2/0.25 = −8 → 0; 1/0.25 = 4 → 12; 0.4 → 8; 7.6 → 16 → clamped 15.
        assert_eq!(q[0], 12 << 4);
        assert_eq!(q[1], 8 | (15 << 4));
        assert!(q[2..].iter().all(|&b| b == 0x88));
        let mut q8 = Vec::new();
        let scale = quantize_block(&block, 8, &mut q8);
        assert_eq!(scale, 2.0 / 128.0);
        assert_eq!(&q8[..4], &[0, 192, 134, 250]);
        assert!(q8[4..].iter().all(|&b| b == 128));
    }

    #[test]
    fn rope_cache_starts_at_identity() {
        let cos = rope_cache(false, 4, 8, 10000.0);
        let sin = rope_cache(true, 4, 8, 10000.0);
        assert_eq!(cos.len(), 16);
        assert!(cos[..4].iter().all(|&c| c == 1.0) && sin[..4].iter().all(|&s| s == 0.0));
        assert!((cos[4] - 1f32.cos()).abs() < 1e-7);
    }
}
