//! Gemma 1 (2B, 7B) from GGUF, built from candle's blocks: candle-transformers 0.11.1 has a
//! quantized Gemma 3 but no quantized Gemma 1.
//!
//! The graph is llama.cpp's `gemma` architecture (`src/models/gemma.cpp`, `build_gemma` in
//! older `llama.cpp`/`llama-model.cpp`), since llama.cpp defines what a GGUF gemma file means:
//! - token embeddings scaled by √hidden_size;
//! - pre-norm blocks with RMSNorm. llama.cpp's converter folds Gemma's `1 + weight` into the
//!   stored norm weights, so a plain RMSNorm with the stored weight is right;
//! - attention with head_dim = `gemma.attention.key_length` (256 in real Gemma, not
//!   hidden/heads), grouped KV heads (one in 2B), RoPE in NEOX (half-split) layout;
//! - GeGLU MLP: down(gelu_tanh(gate(x)) · up(x));
//! - output projection tied to the token embedding.
//!
//! References: Gemma Team, "Gemma: Open Models Based on Gemini Research and Technology",
//! arXiv:2403.08295 (2024); llama.cpp, `src/models/gemma.cpp`.

use candle_core::quantized::{gguf_file, QMatMul, QTensor};
use candle_core::{bail, DType, Device, IndexOp, Module, Result, Tensor};
use candle_transformers::utils::{build_causal_mask, repeat_kv};
use std::io::{Read, Seek};

struct RmsNorm {
    weight: Tensor,
    eps: f32,
}

impl RmsNorm {
    fn new(weight: QTensor, eps: f32) -> Result<Self> {
        let weight = weight.dequantize(&weight.device())?;
        Ok(Self { weight, eps })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        candle_nn::ops::rms_norm(xs, &self.weight, self.eps)
    }
}

struct Layer {
    attn_norm: RmsNorm,
    wq: QMatMul,
    wk: QMatMul,
    wv: QMatMul,
    wo: QMatMul,
    ffn_norm: RmsNorm,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
    n_head: usize,
    n_kv_head: usize,
    head_dim: usize,
    /// Keys and values of the positions seen so far, `(1, n_kv_head, positions, head_dim)`.
    kv_cache: Option<(Tensor, Tensor)>,
}

impl Layer {
    fn attention(
        &mut self,
        x: &Tensor,
        mask: Option<&Tensor>,
        cos: &Tensor,
        sin: &Tensor,
        index_pos: usize,
    ) -> Result<Tensor> {
        let (b, seq_len, _) = x.dims3()?;
        let heads = |t: Tensor, n: usize| -> Result<Tensor> {
            t.reshape((b, seq_len, n, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = heads(self.wq.forward(x)?, self.n_head)?;
        let k = heads(self.wk.forward(x)?, self.n_kv_head)?;
        let v = heads(self.wv.forward(x)?, self.n_kv_head)?;
        let q = candle_nn::rotary_emb::rope(&q, cos, sin)?;
        let k = candle_nn::rotary_emb::rope(&k, cos, sin)?;

        let (k, v) = match (&self.kv_cache, index_pos) {
            (_, 0) => (k, v),
            (Some((k_cache, v_cache)), _) => (
                Tensor::cat(&[k_cache, &k], 2)?,
                Tensor::cat(&[v_cache, &v], 2)?,
            ),
            (None, _) => bail!("gemma: no KV cache for position {index_pos}"),
        };
        self.kv_cache = Some((k.clone(), v.clone()));

        let n_rep = self.n_head / self.n_kv_head;
        let k = repeat_kv(k, n_rep)?;
        let v = repeat_kv(v, n_rep)?.contiguous()?;
        let att = (q.matmul(&k.t()?)? / (self.head_dim as f64).sqrt())?;
        let att = match mask {
            None => att,
            Some(mask) => {
                let neg_inf = Tensor::new(f32::NEG_INFINITY, att.device())?;
                mask.broadcast_as(att.shape())?
                    .where_cond(&neg_inf.broadcast_as(att.shape())?, &att)?
            }
        };
        let att = candle_nn::ops::softmax_last_dim(&att)?;
        let y =
            att.matmul(&v)?
                .transpose(1, 2)?
                .reshape((b, seq_len, self.n_head * self.head_dim))?;
        self.wo.forward(&y)
    }

    fn mlp(&self, x: &Tensor) -> Result<Tensor> {
        let gate = self.gate.forward(x)?.gelu()?;
        let up = self.up.forward(x)?;
        self.down.forward(&(gate * up)?)
    }
}

pub struct ModelWeights {
    /// `token_embd`, used both to look up embeddings and as the tied output projection. Kept
    /// quantized (candle can gather quantized rows), which spares a dequantized f32 copy of
    /// the largest matrix (2 GiB for Gemma 2B's 256k vocabulary).
    token_embd: QMatMul,
    embed_scale: f64,
    layers: Vec<Layer>,
    output_norm: RmsNorm,
    /// RoPE tables, `(max_seq_len, head_dim / 2)`.
    cos: Tensor,
    sin: Tensor,
    max_seq_len: usize,
}

impl ModelWeights {
    pub fn from_gguf<R: Read + Seek>(
        ct: gguf_file::Content,
        reader: &mut R,
        device: &Device,
    ) -> Result<Self> {
        let md = |key: &str| match ct.metadata.get(&format!("gemma.{key}")) {
            Some(v) => Ok(v),
            None => bail!("cannot find gemma.{key} in metadata"),
        };
        let hidden = md("embedding_length")?.to_u64()? as usize;
        let n_layer = md("block_count")?.to_u64()? as usize;
        let n_head = md("attention.head_count")?.to_u64()? as usize;
        let n_kv_head = md("attention.head_count_kv")
            .and_then(|v| v.to_u64())
            .map_or(n_head, |v| v as usize);
        let ffn = md("feed_forward_length")?.to_u64()? as usize;
        let head_dim = md("attention.key_length")
            .and_then(|v| v.to_u64())
            .map_or(hidden / n_head.max(1), |v| v as usize);
        let value_dim = md("attention.value_length")
            .and_then(|v| v.to_u64())
            .map_or(head_dim, |v| v as usize);
        let rope_dim = md("rope.dimension_count")
            .and_then(|v| v.to_u64())
            .map_or(head_dim, |v| v as usize);
        let eps = md("attention.layer_norm_rms_epsilon")?.to_f32()?;
        let freq_base = md("rope.freq_base")
            .and_then(|v| v.to_f32())
            .unwrap_or(10_000.);
        let max_seq_len = md("context_length")?.to_u64()? as usize;
        if n_head == 0 || n_kv_head == 0 || !n_head.is_multiple_of(n_kv_head) {
            bail!("gemma: {n_head} heads cannot share {n_kv_head} KV heads");
        }
        if value_dim != head_dim || rope_dim != head_dim {
            bail!("gemma: key_length {head_dim}, value_length {value_dim} and rope.dimension_count {rope_dim} must be equal");
        }

        let vocab = match ct.tensor_infos.get("token_embd.weight") {
            Some(info) => info.shape.dims()[0],
            None => bail!("cannot find tensor info for token_embd.weight"),
        };
        let mut ld = Loader {
            ct: &ct,
            reader,
            device,
        };
        let token_embd = ld.matmul("token_embd.weight", &[vocab, hidden])?;
        let output_norm = ld.norm("output_norm.weight", hidden, eps)?;
        let q_dim = n_head * head_dim;
        let kv_dim = n_kv_head * head_dim;
        let mut layers = Vec::with_capacity(n_layer);
        for i in 0..n_layer {
            let name = |t: &str| format!("blk.{i}.{t}.weight");
            layers.push(Layer {
                attn_norm: ld.norm(&name("attn_norm"), hidden, eps)?,
                wq: ld.matmul(&name("attn_q"), &[q_dim, hidden])?,
                wk: ld.matmul(&name("attn_k"), &[kv_dim, hidden])?,
                wv: ld.matmul(&name("attn_v"), &[kv_dim, hidden])?,
                wo: ld.matmul(&name("attn_output"), &[hidden, q_dim])?,
                ffn_norm: ld.norm(&name("ffn_norm"), hidden, eps)?,
                gate: ld.matmul(&name("ffn_gate"), &[ffn, hidden])?,
                up: ld.matmul(&name("ffn_up"), &[ffn, hidden])?,
                down: ld.matmul(&name("ffn_down"), &[hidden, ffn])?,
                n_head,
                n_kv_head,
                head_dim,
                kv_cache: None,
            });
        }
        let (cos, sin) = rope_tables(head_dim, freq_base, max_seq_len, device)?;
        Ok(Self {
            token_embd,
            embed_scale: (hidden as f64).sqrt(),
            layers,
            output_norm,
            cos,
            sin,
            max_seq_len,
        })
    }

    /// Longest sequence the RoPE tables cover (the file's `gemma.context_length`).
    pub fn max_seq_len(&self) -> usize {
        self.max_seq_len
    }

    pub fn clear_kv_cache(&mut self) {
        for layer in &mut self.layers {
            layer.kv_cache = None;
        }
    }

    /// Run `tokens` `(1, seq_len)` at positions `index_pos..` and return the logits of the last
    /// position, `(1, vocab)`. Position 0 starts a new sequence.
    pub fn forward(&mut self, tokens: &Tensor, index_pos: usize) -> Result<Tensor> {
        let (_b, seq_len) = tokens.dims2()?;
        if seq_len == 0 || index_pos + seq_len > self.max_seq_len {
            bail!(
                "gemma: positions {index_pos}..{} outside 0..{}",
                index_pos + seq_len,
                self.max_seq_len
            );
        }
        let device = tokens.device();
        let mask = if seq_len == 1 {
            None
        } else {
            Some(build_causal_mask(seq_len, index_pos, device)?)
        };
        let cos = self.cos.narrow(0, index_pos, seq_len)?;
        let sin = self.sin.narrow(0, index_pos, seq_len)?;
        let mut x = (self.token_embd.embedding(tokens)? * self.embed_scale)?;
        for layer in &mut self.layers {
            let h = layer.attn_norm.forward(&x)?;
            let h = layer.attention(&h, mask.as_ref(), &cos, &sin, index_pos)?;
            let x_attn = (h + x)?;
            let h = layer.mlp(&layer.ffn_norm.forward(&x_attn)?)?;
            x = (h + x_attn)?;
        }
        let x = x.i((.., seq_len - 1, ..))?.contiguous()?;
        let x = self.output_norm.forward(&x)?;
        self.token_embd.forward(&x)
    }
}

/// Reads tensors and checks their shapes, so a malformed file fails at load with the
/// tensor's name rather than later inside a matmul.
struct Loader<'a, R> {
    ct: &'a gguf_file::Content,
    reader: &'a mut R,
    device: &'a Device,
}

impl<R: Read + Seek> Loader<'_, R> {
    /// `dims` as candle lists them: rows (outputs) first, the reverse of GGUF's order.
    fn tensor(&mut self, name: &str, dims: &[usize]) -> Result<QTensor> {
        let t = self.ct.tensor(self.reader, name, self.device)?;
        if t.shape().dims() != dims {
            bail!("{name} has shape {:?}, expected {dims:?}", t.shape().dims());
        }
        Ok(t)
    }

    fn matmul(&mut self, name: &str, dims: &[usize]) -> Result<QMatMul> {
        QMatMul::from_qtensor(self.tensor(name, dims)?)
    }

    fn norm(&mut self, name: &str, hidden: usize, eps: f32) -> Result<RmsNorm> {
        RmsNorm::new(self.tensor(name, &[hidden])?, eps)
    }
}

/// cos/sin of position × frequency, frequencies `base^(-2i/d)` as llama.cpp's `ggml_rope`.
fn rope_tables(
    head_dim: usize,
    freq_base: f32,
    max_seq_len: usize,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let inv_freq: Vec<f32> = (0..head_dim)
        .step_by(2)
        .map(|i| 1f32 / freq_base.powf(i as f32 / head_dim as f32))
        .collect();
    let inv_freq = Tensor::from_vec(inv_freq, (1, head_dim / 2), device)?;
    let positions = Tensor::arange(0u32, max_seq_len as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((max_seq_len, 1))?;
    let angles = positions.matmul(&inv_freq)?;
    Ok((angles.cos()?, angles.sin()?))
}
