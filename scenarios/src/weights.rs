//! The seeded weight generator every synthetic format draws from, LLM and Whisper alike.
//!
//! The f32 weights of a tensor are defined block by block (256 values per block, the k-quant
//! super-block): a per-tensor pool of `P = min(blocks, 1024)` distinct blocks of normal values,
//! drawn from a ChaCha RNG seeded by `(seed, tensor name)`, and block `j` of the tensor is
//! `pool[idx_j]` with `idx_j` drawn from the same RNG (or `idx_j = j` when the pool covers the
//! tensor). The weights depend on the seed and the tensor's name and shape only, never on the
//! format or quantization, so one seed gives the same function in every format.
//!
//! Every ggml quantization is block-local with a block size dividing 256, so quantizing each pool
//! block once and copying the quantized blocks gives exactly the bytes a full quantization of the
//! expanded f32 tensor would (a test proves it), at memcpy speed.

use anyhow::bail;
use candle_core::quantized::k_quants::{
    BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K, BlockQ8_0, GgmlType,
};
use candle_core::quantized::{GgmlDType, QuantizedType};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use sha2::{Digest, Sha256};

/// Values per weight block (the k-quant super-block).
pub(crate) const BLOCK: usize = 256;

/// Distinct blocks per tensor.
pub(crate) const POOL_BLOCKS: usize = 1024;

/// Bytes of `elements` values stored as `dtype` (whole blocks, without alignment padding).
pub fn data_bytes(elements: u64, dtype: GgmlDType) -> u64 {
    elements / dtype.block_size() as u64 * dtype.type_size() as u64
}

/// How a tensor's f32 weights are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Init {
    /// Every value is this constant (norm weights).
    Const(f32),
    /// Normal(0, std).
    Normal(f32),
}

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

/// The f32 weights of one tensor of a synthetic model: exactly the values the writers quantize,
/// so every format built on it computes the same function.
pub struct TensorWeights {
    shape: Vec<usize>,
    src: Source,
}

impl TensorWeights {
    /// The weights of the tensor `name` of `shape` drawn as `init` for `seed`.
    pub(crate) fn new(seed: u64, name: &str, shape: Vec<usize>, init: Init) -> Self {
        let elements = shape.iter().product();
        Self {
            src: source(seed, name, elements, init, POOL_BLOCKS),
            shape,
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{QStorage, QTensor};
    use candle_core::{Device, Tensor};

    /// The fast path (quantize a pool of blocks once, copy) gives the same bytes as quantizing the
    /// expanded f32 tensor with candle.
    #[test]
    fn pooled_quantization_equals_full_quantization() {
        let shape = [16usize, 512]; // 32 blocks of 256, pool of 5
        for dtype in [
            GgmlDType::Q4K,
            GgmlDType::Q5K,
            GgmlDType::Q6K,
            GgmlDType::Q8_0,
            GgmlDType::Q4_0,
            GgmlDType::Q5_0,
            GgmlDType::Q5_1,
            GgmlDType::F16,
            GgmlDType::F32,
        ] {
            let src = source(7, "blk.0.attn_q.weight", 16 * 512, Init::Normal(0.05), 5);
            assert!(matches!(src.indices, Indices::Table(_)));
            assert_eq!(src.pool.len(), 5 * BLOCK);
            let fast =
                QTensor::new(QStorage::Cpu(src.quantize_dyn(dtype).unwrap()), &shape[..]).unwrap();
            let full = Tensor::from_vec(src.expand(), &shape[..], &Device::Cpu).unwrap();
            let slow = QTensor::quantize(&full, dtype).unwrap();
            assert_eq!(fast.data().unwrap(), slow.data().unwrap(), "{dtype:?}");
            assert_eq!(fast.shape(), slow.shape());
        }
    }

    #[test]
    fn weights_are_deterministic_finite_and_varied() {
        let a = source(1, "x", 300 * BLOCK, Init::Normal(1.0), 64).expand();
        let b = source(1, "x", 300 * BLOCK, Init::Normal(1.0), 64).expand();
        let c = source(2, "x", 300 * BLOCK, Init::Normal(1.0), 64).expand();
        let d = source(1, "y", 300 * BLOCK, Init::Normal(1.0), 64).expand();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert!(a.iter().all(|x| x.is_finite()));
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        let var = a.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / a.len() as f32;
        assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.1, "{mean} {var}");
    }
}
