//! Synthetic GGUF models: the exact shapes of published models, deterministic pseudo-random
//! weights, written with candle's GGUF writer so llama.cpp and candle load them as they load a
//! downloaded file.
//!
//! # Weights
//!
//! The f32 weights of a tensor are defined block by block (256 values per block, the k-quant
//! super-block): a per-tensor pool of `P = min(blocks, 1024)` distinct blocks of normal values,
//! drawn from a ChaCha RNG seeded by `(seed, tensor name)`, and block `j` of the tensor is
//! `pool[idx_j]` with `idx_j` drawn from the same RNG (or `idx_j = j` when the pool covers the
//! tensor). The weights depend on the seed and the tensor's name and shape only, never on the
//! quantization, so one seed gives the same function in every format.
//!
//! Every ggml quantization is block-local with a block size dividing 256, so quantizing each pool
//! block once and copying the quantized blocks gives exactly the bytes a full quantization of the
//! expanded f32 tensor would (a test proves it), at memcpy speed.
//!
//! # Quantization mixture
//!
//! As llama.cpp's `llama_tensor_get_type` (src/llama-quant.cpp) chooses for each file type:
//! Q4_K_M is Q4_K with the output projection (or the tied token embedding) in Q6_K, and attn_v
//! and ffn_down in Q6_K on the layers `use_more_bits` picks, Phi-3's fused attn_qkv in Q5_K;
//! Q5_K_M is the same on a Q5_K base (attn_qkv Q6_K); Q4_0 and Q8_0 have the output in Q6_K
//! (Q4_0) or Q8_0; F16 and F32 convert everything. 1-D tensors (norms) stay F32. A row length
//! that is not a multiple of the block size falls back as llama.cpp does (Q4_K→Q5_0, Q5_K→Q5_1,
//! Q6_K→Q8_0, then F16).

use crate::catalog::{Arch, ModelSpec, Quant};
use anyhow::{bail, Context};
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::k_quants::{
    BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K, BlockQ8_0, GgmlType,
};
use candle_core::quantized::{GgmlDType, QStorage, QTensor, QuantizedType};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Version of the weight generator and file layout. Bump it whenever the bytes written for a
/// given (spec, quant, seed) change, so caches never reuse an old file.
pub const GENERATOR_VERSION: u32 = 4;

/// `general.alignment` of the files written (candle's writer pads to 32 bytes).
pub const ALIGNMENT: u64 = 32;

/// Values per weight block (the k-quant super-block).
const BLOCK: usize = 256;

/// Distinct blocks per tensor.
pub(crate) const POOL_BLOCKS: usize = 1024;

/// One tensor of a model file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorPlan {
    /// llama.cpp's name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Candle order: `[rows, cols]`, e.g. attn_q is `[hidden_out, hidden_in]` (GGUF stores the
    /// reverse, `ne = [cols, rows]`).
    pub shape: Vec<usize>,
    pub dtype: GgmlDType,
}

impl TensorPlan {
    pub fn elements(&self) -> u64 {
        self.shape.iter().map(|&d| d as u64).product()
    }

    /// Bytes of the tensor's data (without alignment padding).
    pub fn bytes(&self) -> u64 {
        crate::gguf::data_bytes(self.elements(), self.dtype)
    }
}

/// How a tensor's f32 weights are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Init {
    /// Every value is this constant (norm weights).
    Const(f32),
    /// Normal(0, std).
    Normal(f32),
}

/// What a tensor is, for the quantization mixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    TokenEmbd,
    Output,
    Norm,
    AttnQ,
    AttnK,
    AttnV,
    AttnQkv,
    AttnOutput,
    FfnGate,
    FfnUp,
    FfnDown,
}

#[derive(Debug, Clone)]
struct Entry {
    plan: TensorPlan,
    init: Init,
}

/// llama.cpp's `use_more_bits` (src/llama-quant.cpp).
fn use_more_bits(i: usize, n: usize) -> bool {
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}

/// The ggml type llama.cpp's quantize would give a 2-D tensor (`llama_tensor_get_type`, then
/// the fallback for rows that are not a multiple of the block size).
fn tensor_type(
    model: &ModelSpec,
    quant: Quant,
    kind: Kind,
    layer: usize,
    row_len: usize,
) -> GgmlDType {
    use GgmlDType as T;
    let base = match quant {
        Quant::F32 => return T::F32,
        // llama.cpp converts to F16 directly (no mixture), and keeps 1-D tensors F32.
        Quant::F16 => return T::F16,
        Quant::Q8_0 => T::Q8_0,
        Quant::Q4_0 => T::Q4_0,
        Quant::Q4KM => T::Q4K,
        Quant::Q5KM => T::Q5K,
    };
    let km = matches!(quant, Quant::Q4KM | Quant::Q5KM);
    let is_output = kind == Kind::Output || (kind == Kind::TokenEmbd && model.tied_embeddings);
    let mut t = base;
    if is_output {
        if !row_len.is_multiple_of(base.block_size()) {
            t = T::Q8_0;
        } else if base != T::Q8_0 {
            t = T::Q6K;
        }
    } else {
        match kind {
            Kind::AttnV | Kind::FfnDown if km && use_more_bits(layer, model.layers) => t = T::Q6K,
            Kind::AttnQkv if quant == Quant::Q4KM => t = T::Q5K,
            Kind::AttnQkv if quant == Quant::Q5KM => t = T::Q6K,
            _ => {}
        }
    }
    if !row_len.is_multiple_of(t.block_size()) {
        t = match t {
            T::Q4K => T::Q5_0,
            T::Q5K => T::Q5_1,
            T::Q6K => T::Q8_0,
            // llama.cpp refuses other types; F16 keeps the file loadable.
            other => other,
        };
        if !row_len.is_multiple_of(t.block_size()) {
            t = T::F16;
        }
    }
    t
}

fn entries(model: &ModelSpec, quant: Quant) -> Vec<Entry> {
    let h = model.hidden_size;
    let q_dim = model.heads * model.head_dim;
    let kv_dim = model.kv_heads * model.head_dim;
    let f = model.ffn_size;
    let v = model.vocab_size;
    let inv_sqrt = |n: usize| 1.0 / (n as f32).sqrt();
    // Output projections of residual branches are scaled down so the residual stream stays O(1).
    // With a tied output (Gemma) the input embedding, scaled by √hidden, is read back by the
    // output projection: the input token's own logit exceeds the others by about
    // √hidden·rms(embedding)/rms(residual) standard deviations. With small branches greedy
    // decoding repeats the input token forever. There the branches are scaled so the residual
    // is several times √hidden and the self-similarity falls below one standard deviation.
    let residual_scale = if model.tied_embeddings {
        6.0 * (h as f32).sqrt() * inv_sqrt(2 * model.layers)
    } else {
        inv_sqrt(2 * model.layers)
    };

    let mut out = Vec::new();
    let mut push = |name: String, shape: Vec<usize>, kind: Kind, layer: usize| {
        let init = match kind {
            Kind::Norm => Init::Const(1.0),
            Kind::TokenEmbd if model.tied_embeddings => Init::Normal(inv_sqrt(h)),
            Kind::TokenEmbd => Init::Normal(1.0),
            Kind::AttnOutput | Kind::FfnDown => Init::Normal(inv_sqrt(shape[1]) * residual_scale),
            _ => Init::Normal(inv_sqrt(shape[1])),
        };
        let dtype = if shape.len() == 1 {
            GgmlDType::F32
        } else {
            tensor_type(model, quant, kind, layer, shape[shape.len() - 1])
        };
        out.push(Entry {
            plan: TensorPlan { name, shape, dtype },
            init,
        });
    };

    push("token_embd.weight".into(), vec![v, h], Kind::TokenEmbd, 0);
    for i in 0..model.layers {
        let n = |s: &str| format!("blk.{i}.{s}.weight");
        push(n("attn_norm"), vec![h], Kind::Norm, i);
        match model.arch {
            Arch::Llama | Arch::Gemma => {
                push(n("attn_q"), vec![q_dim, h], Kind::AttnQ, i);
                push(n("attn_k"), vec![kv_dim, h], Kind::AttnK, i);
                push(n("attn_v"), vec![kv_dim, h], Kind::AttnV, i);
            }
            Arch::Phi3 => {
                push(n("attn_qkv"), vec![q_dim + 2 * kv_dim, h], Kind::AttnQkv, i);
            }
        }
        push(n("attn_output"), vec![h, q_dim], Kind::AttnOutput, i);
        push(n("ffn_norm"), vec![h], Kind::Norm, i);
        match model.arch {
            Arch::Llama | Arch::Gemma => {
                push(n("ffn_gate"), vec![f, h], Kind::FfnGate, i);
                push(n("ffn_up"), vec![f, h], Kind::FfnUp, i);
            }
            Arch::Phi3 => {
                // Fused gate|up, as llama.cpp's phi3 loader expects ({n_embd, 2*n_ff}).
                push(n("ffn_up"), vec![2 * f, h], Kind::FfnUp, i);
            }
        }
        push(n("ffn_down"), vec![h, f], Kind::FfnDown, i);
    }
    push("output_norm.weight".into(), vec![h], Kind::Norm, 0);
    if !model.tied_embeddings {
        push("output.weight".into(), vec![v, h], Kind::Output, 0);
    }
    // The order llama.cpp's quantize writes (its loader's weight_name_comparer): tensors outside
    // blocks first, then block by block, by name within each.
    out.sort_by_cached_key(|e| (layer_of(&e.plan.name), e.plan.name.clone()));
    out
}

/// `blk.N.` → `Some(N)`, else `None` (sorts first).
fn layer_of(name: &str) -> Option<usize> {
    name.strip_prefix("blk.")?.split('.').next()?.parse().ok()
}

/// The tensors of `model` at `quant`, in file order, with llama.cpp's names, shapes and types.
/// The order is llama.cpp quantize's: `output.weight`, `output_norm.weight`, `token_embd.weight`,
/// then each block's tensors sorted by name.
pub fn tensor_plan(model: &ModelSpec, quant: Quant) -> Vec<TensorPlan> {
    entries(model, quant).into_iter().map(|e| e.plan).collect()
}

// ---------------------------------------------------------------------------------------------
// Metadata

/// The GGUF metadata of a synthetic model, in file order.
fn metadata(model: &ModelSpec, quant: Quant, seed: u64) -> Vec<(String, Value)> {
    let arch = model.arch.gguf_name();
    let u = |x: usize| Value::U32(x as u32);
    let mut md: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        (
            "general.name".into(),
            Value::String(format!("synthetic {}", model.display_name)),
        ),
        (
            "general.file_type".into(),
            Value::U32(quant.gguf_file_type()),
        ),
        ("general.quantization_version".into(), Value::U32(2)),
        ("general.alignment".into(), Value::U32(ALIGNMENT as u32)),
    ];
    let mut a = |k: &str, v: Value| md.push((format!("{arch}.{k}"), v));
    a("context_length", u(model.context_length));
    a("embedding_length", u(model.hidden_size));
    a("block_count", u(model.layers));
    a("feed_forward_length", u(model.ffn_size));
    a("attention.head_count", u(model.heads));
    a("attention.head_count_kv", u(model.kv_heads));
    a(
        "attention.layer_norm_rms_epsilon",
        Value::F32(model.rms_norm_eps as f32),
    );
    a("rope.dimension_count", u(model.head_dim));
    a("rope.freq_base", Value::F32(model.rope_theta as f32));
    match model.arch {
        Arch::Gemma => {
            a("attention.key_length", u(model.head_dim));
            a("attention.value_length", u(model.head_dim));
        }
        Arch::Llama => a("vocab_size", u(model.vocab_size)),
        Arch::Phi3 => {}
    }
    md.push(("edgebench.synthetic".into(), Value::Bool(true)));
    md.push(("edgebench.seed".into(), Value::U64(seed)));
    md.push((
        "edgebench.generator_version".into(),
        Value::U32(GENERATOR_VERSION),
    ));

    // SentencePiece ("llama") vocabulary: specials, the 256 byte tokens, then short fillers.
    let n = model.vocab_size;
    let mut tokens = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    for (t, ty) in [("<unk>", 2), ("<s>", 3), ("</s>", 3)] {
        tokens.push(Value::String(t.into()));
        scores.push(Value::F32(0.0));
        types.push(Value::I32(ty));
    }
    for b in 0..=255u8 {
        tokens.push(Value::String(format!("<0x{b:02X}>")));
        scores.push(Value::F32(0.0));
        types.push(Value::I32(6));
    }
    let first = tokens.len();
    for i in first..n {
        tokens.push(Value::String(format!("t{i}")));
        scores.push(Value::F32(-((i - first) as f32)));
        types.push(Value::I32(1));
    }
    // llama.cpp gives Phi-3 vocabularies (recognised by "phi-3" in general.name) attributes for
    // `<|endoftext|>` and refuses to load one without it: put it where Phi-3 has it (id 32000),
    // or last in a smaller vocabulary.
    if model.arch == Arch::Phi3 && n > first {
        let id = 32000.min(n - 1);
        tokens[id] = Value::String("<|endoftext|>".into());
        scores[id] = Value::F32(0.0);
        types[id] = Value::I32(3);
    }
    tokens.truncate(n);
    scores.truncate(n);
    types.truncate(n);
    md.push(("tokenizer.ggml.model".into(), Value::String("llama".into())));
    md.push(("tokenizer.ggml.tokens".into(), Value::Array(tokens)));
    md.push(("tokenizer.ggml.scores".into(), Value::Array(scores)));
    md.push(("tokenizer.ggml.token_type".into(), Value::Array(types)));
    md.push(("tokenizer.ggml.bos_token_id".into(), Value::U32(1)));
    md.push(("tokenizer.ggml.eos_token_id".into(), Value::U32(2)));
    md.push(("tokenizer.ggml.unknown_token_id".into(), Value::U32(0)));
    md
}

/// Bytes `Value::write` emits for `v` (GGUF v2/v3: u64 lengths).
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
    file_bytes(&metadata(model, quant, 0), &tensor_plan(model, quant))
}

// ---------------------------------------------------------------------------------------------
// Weights

/// Which pool block each 256-value block of a tensor is.
enum Indices {
    Identity,
    Table(Vec<u32>),
}

/// The f32 weights of one tensor, compressed as a pool of blocks plus indices.
pub(crate) struct Source {
    /// `pool_blocks * BLOCK` values.
    pool: Vec<f32>,
    indices: Indices,
    /// Blocks of the tensor (the last one may be partial).
    blocks: usize,
    elements: usize,
}

fn tensor_rng(seed: u64, name: &str) -> ChaCha8Rng {
    let mut h = Sha256::new();
    h.update(b"edgebench-synth\0");
    h.update(seed.to_le_bytes());
    h.update(name.as_bytes());
    ChaCha8Rng::from_seed(h.finalize().into())
}

pub(crate) fn source(
    seed: u64,
    name: &str,
    elements: usize,
    init: Init,
    pool_max: usize,
) -> Source {
    let blocks = elements.div_ceil(BLOCK);
    match init {
        Init::Const(c) => Source {
            pool: vec![c; BLOCK],
            indices: Indices::Table(vec![0; blocks]),
            blocks,
            elements,
        },
        Init::Normal(std) => {
            let mut rng = tensor_rng(seed, name);
            let p = blocks.min(pool_max).max(1);
            let pool: Vec<f32> = (0..p * BLOCK)
                .map(|_| {
                    std * <StandardNormal as Distribution<f32>>::sample(&StandardNormal, &mut rng)
                })
                .collect();
            let indices = if p >= blocks {
                Indices::Identity
            } else {
                Indices::Table((0..blocks).map(|_| rng.random_range(0..p as u32)).collect())
            };
            Source {
                pool,
                indices,
                blocks,
                elements,
            }
        }
    }
}

impl Source {
    fn index(&self, j: usize) -> usize {
        match &self.indices {
            Indices::Identity => j,
            Indices::Table(t) => t[j] as usize,
        }
    }

    /// The tensor's f32 values in full (for tests and small tensors).
    #[cfg(test)]
    fn expand(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.blocks * BLOCK);
        for j in 0..self.blocks {
            let i = self.index(j);
            out.extend_from_slice(&self.pool[i * BLOCK..(i + 1) * BLOCK]);
        }
        out.truncate(self.elements);
        out
    }

    /// Quantize each pool block once and copy the quantized blocks into place.
    fn quantize<T: GgmlType + 'static>(&self) -> anyhow::Result<Box<dyn QuantizedType>> {
        if !BLOCK.is_multiple_of(T::BLCK_SIZE) || !self.elements.is_multiple_of(T::BLCK_SIZE) {
            bail!(
                "{:?} blocks ({}) do not tile {} values",
                T::DTYPE,
                T::BLCK_SIZE,
                self.elements
            );
        }
        let per = BLOCK / T::BLCK_SIZE;
        let mut qpool = vec![T::zeros(); self.pool.len() / T::BLCK_SIZE];
        T::from_float(&self.pool, &mut qpool);
        let n_out = self.elements / T::BLCK_SIZE;
        let mut out: Vec<T> = Vec::with_capacity(self.blocks * per);
        for j in 0..self.blocks {
            let i = self.index(j);
            out.extend_from_slice(&qpool[i * per..(i + 1) * per]);
        }
        out.truncate(n_out);
        Ok(Box::new(out))
    }

    pub(crate) fn quantize_dyn(&self, dtype: GgmlDType) -> anyhow::Result<Box<dyn QuantizedType>> {
        use GgmlDType as T;
        match dtype {
            T::F32 => self.quantize::<f32>(),
            T::F16 => self.quantize::<half::f16>(),
            T::Q4_0 => self.quantize::<BlockQ4_0>(),
            T::Q4_1 => self.quantize::<BlockQ4_1>(),
            T::Q5_0 => self.quantize::<BlockQ5_0>(),
            T::Q5_1 => self.quantize::<BlockQ5_1>(),
            T::Q8_0 => self.quantize::<BlockQ8_0>(),
            T::Q4K => self.quantize::<BlockQ4K>(),
            T::Q5K => self.quantize::<BlockQ5K>(),
            T::Q6K => self.quantize::<BlockQ6K>(),
            other => bail!("synthetic weights in {other:?} are not supported"),
        }
    }
}

/// The f32 weights of one tensor of a synthetic model: exactly the values the GGUF writer
/// quantizes, so writers of other formats (ONNX) built on it give the same function.
pub struct TensorWeights {
    shape: Vec<usize>,
    src: Source,
}

/// The weights of the tensor llama.cpp names `name` (`blk.0.attn_q.weight`) in `model` with
/// `seed`, or `None` if the model has no such tensor.
pub fn tensor_weights(model: &ModelSpec, seed: u64, name: &str) -> Option<TensorWeights> {
    let entry = entries(model, Quant::F32)
        .into_iter()
        .find(|e| e.plan.name == name)?;
    let elements = entry.plan.elements() as usize;
    Some(TensorWeights {
        src: source(seed, name, elements, entry.init, POOL_BLOCKS),
        shape: entry.plan.shape,
    })
}

impl TensorWeights {
    /// Candle order: `[rows, cols]` (`[out_features, in_features]` for projections).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn elements(&self) -> usize {
        self.src.elements
    }

    /// Values `start..start + out.len()` of the row-major tensor. Panics past the end.
    pub fn fill(&self, start: usize, out: &mut [f32]) {
        assert!(
            start + out.len() <= self.src.elements,
            "weights {start}..{} of a tensor of {}",
            start + out.len(),
            self.src.elements
        );
        let (mut pos, mut done) = (start, 0);
        while done < out.len() {
            let (block, offset) = (pos / BLOCK, pos % BLOCK);
            let n = (BLOCK - offset).min(out.len() - done);
            let from = self.src.index(block) * BLOCK + offset;
            out[done..done + n].copy_from_slice(&self.src.pool[from..from + n]);
            pos += n;
            done += n;
        }
    }
}

fn synth_tensor(seed: u64, entry: &Entry, pool_max: usize) -> anyhow::Result<QTensor> {
    let p = &entry.plan;
    let src = source(seed, &p.name, p.elements() as usize, entry.init, pool_max);
    let storage = src
        .quantize_dyn(p.dtype)
        .with_context(|| format!("synthesizing {}", p.name))?;
    Ok(QTensor::new(QStorage::Cpu(storage), p.shape.as_slice())?)
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Counts and hashes what goes through it; `Seek` answers `stream_position` only (candle's
/// writer never seeks back).
pub(crate) struct HashingWriter<'a, W: Write> {
    pub(crate) inner: W,
    pub(crate) hasher: Sha256,
    pub(crate) pos: u64,
    pub(crate) total: u64,
    pub(crate) next_report: u64,
    pub(crate) progress: &'a mut dyn FnMut(u64, u64),
}

pub(crate) const REPORT_EVERY: u64 = 16 << 20;
const MAX_CHUNK: usize = 16 << 20;
const PARALLEL_CHUNK: usize = 1 << 20;

impl<W: Write + Send> Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let buf = &buf[..buf.len().min(MAX_CHUNK)];
        let n = if buf.len() >= PARALLEL_CHUNK {
            // Hash on one core while the other copies into the file.
            let (hasher, inner) = (&mut self.hasher, &mut self.inner);
            let ((), written) = rayon::join(|| hasher.update(buf), || inner.write_all(buf));
            written?;
            buf.len()
        } else {
            let n = self.inner.write(buf)?;
            self.hasher.update(&buf[..n]);
            n
        };
        self.pos += n as u64;
        if self.pos >= self.next_report {
            (self.progress)(self.pos, self.total);
            self.next_report = self.pos + REPORT_EVERY;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Seek for HashingWriter<'_, W> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        match pos {
            SeekFrom::Current(0) => Ok(self.pos),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "synthetic GGUF writer only streams forward",
            )),
        }
    }

    fn stream_position(&mut self) -> std::io::Result<u64> {
        Ok(self.pos)
    }
}

/// What [`write_gguf`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthReport {
    pub path: PathBuf,
    pub bytes: u64,
    /// Lower-case hex sha256 of the whole file.
    pub sha256: String,
    pub seconds: f64,
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

fn write_gguf_pool(
    model: &ModelSpec,
    quant: Quant,
    seed: u64,
    path: &Path,
    progress: &mut dyn FnMut(u64, u64),
    pool_max: usize,
) -> anyhow::Result<SynthReport> {
    let start = Instant::now();
    model.validate().map_err(anyhow::Error::msg)?;
    let entries = entries(model, quant);
    let md = metadata(model, quant, seed);
    let plans: Vec<TensorPlan> = entries.iter().map(|e| e.plan.clone()).collect();
    let total = file_bytes(&md, &plans);
    progress(0, total);

    let tensors: Vec<QTensor> = entries
        .par_iter()
        .map(|e| synth_tensor(seed, e, pool_max))
        .collect::<anyhow::Result<_>>()?;

    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = HashingWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        pos: 0,
        total,
        next_report: REPORT_EVERY,
        progress,
    };
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
    drop(t_refs);
    drop(tensors);
    let bytes = w.pos;
    (w.progress)(bytes, total);
    if bytes != total {
        bail!("internal error: wrote {bytes} bytes, planned {total}");
    }
    Ok(SynthReport {
        path: path.to_path_buf(),
        bytes,
        sha256: hex::encode(w.hasher.finalize()),
        seconds: start.elapsed().as_secs_f64(),
    })
}

// ---------------------------------------------------------------------------------------------
// Cache

/// `$EDGEBENCH_MODELS_DIR`, else `$XDG_CACHE_HOME/edgebench/models`, else
/// `~/.cache/edgebench/models`.
pub fn default_models_dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = var("EDGEBENCH_MODELS_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = var("XDG_CACHE_HOME").map(PathBuf::from) {
        if d.is_absolute() {
            return d.join("edgebench").join("models");
        }
    }
    if let Some(home) = var("HOME") {
        return PathBuf::from(home)
            .join(".cache")
            .join("edgebench")
            .join("models");
    }
    std::env::temp_dir().join("edgebench").join("models")
}

/// Short hash of everything that decides a file's bytes.
pub(crate) fn spec_hash(model: &ModelSpec, quant: Quant, seed: u64) -> String {
    let key = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{:e}|{:e}|{}|{}|{}|{}",
        model.display_name,
        model.arch.gguf_name(),
        model.hidden_size,
        model.layers,
        model.heads,
        model.kv_heads,
        model.head_dim,
        model.ffn_size,
        model.vocab_size,
        model.context_length,
        model.rope_theta,
        model.rms_norm_eps,
        model.tied_embeddings,
        quant.name(),
        seed,
        GENERATOR_VERSION,
    );
    hex::encode(&Sha256::digest(key.as_bytes())[..6])
}

/// Where the cache keeps `model` at `quant` with `seed`:
/// `<dir>/<model>-<quant>-s<seed>-<hash>.gguf`.
pub fn cache_path(models_dir: &Path, model: &ModelSpec, quant: Quant, seed: u64) -> PathBuf {
    models_dir.join(format!(
        "{}-{}-s{}-{}.gguf",
        model.name,
        quant.name(),
        seed,
        spec_hash(model, quant, seed)
    ))
}

/// A model file in the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedModel {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    pub seed: u64,
    /// `Some` when this call wrote the file, `None` when it was already there.
    pub synthesized: Option<SynthReport>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    sha256: String,
    bytes: u64,
    seed: u64,
    model: String,
    quant: Quant,
    generator_version: u32,
}

/// The sidecar of a cache entry (`<entry>.json`, written last): what the entry holds and that
/// it is complete. Every synthetic format's cache (GGUF, GenAI folders, Whisper) uses it.
pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

fn read_sidecar(path: &Path, seed: u64, expected_bytes: u64) -> Option<Sidecar> {
    let text = std::fs::read_to_string(sidecar_path(path)).ok()?;
    let sc: Sidecar = serde_json::from_str(&text).ok()?;
    let len = std::fs::metadata(path).ok()?.len();
    (sc.seed == seed
        && sc.generator_version == GENERATOR_VERSION
        && sc.bytes == expected_bytes
        && len == expected_bytes)
        .then_some(sc)
}

/// The cached file of `model` at `quant` with `seed`, written first if it is missing or
/// incomplete. A file counts as complete when its sidecar `<file>.json` (written last, after the
/// file was renamed into place from a `.partial` temp file) matches its size.
pub fn ensure_cached(
    models_dir: &Path,
    model: &ModelSpec,
    quant: Quant,
    seed: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<CachedModel> {
    let path = cache_path(models_dir, model, quant, seed);
    let expected = planned_file_bytes(model, quant);
    if let Some(sc) = read_sidecar(&path, seed, expected) {
        return Ok(CachedModel {
            path,
            sha256: sc.sha256,
            bytes: sc.bytes,
            seed,
            synthesized: None,
        });
    }
    std::fs::create_dir_all(models_dir)
        .with_context(|| format!("creating model cache {}", models_dir.display()))?;
    let sidecar = sidecar_path(&path);
    let _ = std::fs::remove_file(&sidecar);
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".partial.{}", std::process::id()));
    let partial = PathBuf::from(partial);
    let mut report = match write_gguf(model, quant, seed, &partial, progress) {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &path)
        .with_context(|| format!("moving {} into place", path.display()))?;
    report.path = path.clone();
    let sc = Sidecar {
        sha256: report.sha256.clone(),
        bytes: report.bytes,
        seed,
        model: model.name.clone(),
        quant,
        generator_version: GENERATOR_VERSION,
    };
    let mut tmp = sidecar.as_os_str().to_owned();
    tmp.push(format!(".partial.{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, serde_json::to_string_pretty(&sc)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &sidecar).with_context(|| format!("writing {}", sidecar.display()))?;
    Ok(CachedModel {
        path,
        sha256: report.sha256.clone(),
        bytes: report.bytes,
        seed,
        synthesized: Some(report),
    })
}

#[cfg(test)]
mod tests;
