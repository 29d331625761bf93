//! The decoder graph ONNX Runtime GenAI's model builder emits for a Llama-family model
//! (`onnxruntime_genai/models/builders/base.py`, 0.18), as plain ONNX protobuf messages plus a
//! list of weight jobs for the external data file.
//!
//! For `-e cpu` at int4/int8 and for fp32 the builder emits (names as it names them):
//! - `/model/attn_mask_reformat/…`: `seqlens_k = int32(ReduceSum(attention_mask) − 1)` and
//!   `total_seq_len = int32(Shape(attention_mask)[1])`, the inputs GroupQueryAttention wants;
//! - `/model/embed_tokens/Gather` over an unquantized embedding (Gemma: then `Mul` by
//!   √hidden rounded to two decimals, as `GemmaModel` sets `embed_attrs["scale"]`);
//! - per layer: `SimplifiedLayerNormalization` (first) or `SkipSimplifiedLayerNormalization`,
//!   one packed Q|K|V MatMul, `GroupQueryAttention` (rotary inside, `cos_cache`/`sin_cache`
//!   of `[context, head/2]`, rotary_interleaved 0), o_proj MatMul, skip norm, gate and up
//!   MatMuls, SiLU as `Sigmoid`·`Mul` (Gemma: `Gelu` approximate tanh), `Mul`, down MatMul;
//! - final skip norm, `/lm_head/MatMul` → `logits`.
//!
//! int4/int8 replace every MatMul by `MatMulNBits` named `…/MatMul_Q4` (`_Q8`) with weights
//! `…MatMul.weight_Q4` + `…MatMul.weight_scales`: symmetric, block 32, accuracy_level 4, no zero
//! points, as ORT's `MatMulNBitsQuantizer` (default method) writes them for the builder.
//!
//! fp16 uses the same graph in fp16 — the builder's layout for fp16 GroupQueryAttention models
//! (its CUDA/DirectML/WebGPU builds, which is what published fp16 folders are). Its `-e cpu -p
//! fp16` graph differs (MultiHeadAttention + RotaryEmbedding + position_ids); ONNX Runtime 1.31
//! runs GroupQueryAttention in fp16 on the CPU too.
//!
//! Weights come from [`crate::llm::arch::tensor_weights`], by their llama.cpp names. Llama's Q and K
//! rows are stored in GGUF in llama.cpp's rotary layout (its converter permutes them for
//! interleaved rotation); they are permuted back here so the builder's non-interleaved rotation
//! computes the same function.

use super::quant::OnnxQuant;
use crate::catalog::{Arch, ModelSpec};
use crate::graph::proto::{tensor_proto::DataType, AttributeProto, TensorProto, ValueInfoProto};
use crate::graph::{
    attr_float, attr_int, attr_str, i64_tensor, value_info, Dim, GraphBuilder, Tensor,
};

/// The graph of a GenAI decoder, each weight with the [`Job`] that writes it.
pub type Graph = crate::graph::Graph<Job>;

/// Block size of every MatMulNBits weight (the builder's default `block_size`).
pub const NBITS_BLOCK: usize = 32;
/// MatMulNBits `accuracy_level` the builder sets for `-e cpu` (int8 activations in the kernel).
pub const ACCURACY_LEVEL: i64 = 4;

/// Rows of one llama.cpp tensor that become output features of an ONNX MatMul.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// llama.cpp name (`blk.0.attn_q.weight`).
    pub tensor: String,
    pub row_start: usize,
    pub rows: usize,
    /// `Some(n_head)`: undo llama.cpp's rotary permutation of Q/K rows, per head.
    pub unpermute_heads: Option<usize>,
}

impl Part {
    fn whole(tensor: String, rows: usize) -> Self {
        Self {
            tensor,
            row_start: 0,
            rows,
            unpermute_heads: None,
        }
    }

    /// The llama.cpp row holding this part's row `r`.
    pub fn source_row(&self, r: usize) -> usize {
        let r = match self.unpermute_heads {
            None => r,
            Some(n_head) => {
                // llama.cpp's convert_hf_to_gguf.py `permute`: within a head, Hugging Face row
                // j·(d/2) + i (j = half, i = pair) is stored at row 2i + j.
                let d = self.rows / n_head;
                let (head, within) = (r / d, r % d);
                let (j, i) = (within / (d / 2), within % (d / 2));
                head * d + 2 * i + j
            }
        };
        self.row_start + r
    }
}

/// How the bytes of one or two initializers are made.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// A tensor stored as in llama.cpp (`[rows, cols]` row-major), converted to the element
    /// type: the embedding and norm weights.
    Copy { tensor: String },
    /// A MatMul weight `[K, N]`: the transpose of the parts stacked (`N` rows of length `K`).
    Transposed { parts: Vec<Part>, k: usize },
    /// MatMulNBits `B` (`[N, K/32, 32·bits/8]` uint8) and then its scales (`[N, K/32]`).
    NBits {
        parts: Vec<Part>,
        k: usize,
        bits: u32,
    },
    /// The rotary cos or sin cache, `[context, head/2]`.
    Rope {
        sin: bool,
        context: usize,
        head: usize,
        theta: f64,
    },
}

/// The decoder graph of `model` at `quant`.
pub fn build(model: &ModelSpec, quant: OnnxQuant) -> Graph {
    let mut d = Decoder {
        b: GraphBuilder::default(),
        model,
        quant,
        io: quant.io_dtype(),
    };
    let mask = d.mask_inputs();
    let hidden = d.embedding();
    let mut stream = Residual {
        root: hidden.clone(),
        skip: hidden,
    };
    for i in 0..model.layers {
        d.layer(i, &mask, &mut stream);
    }
    d.lm_head(&stream);
    let (inputs, outputs) = d.io_values();
    d.b.finish(inputs, outputs)
}

/// The attention inputs GroupQueryAttention takes, derived from `attention_mask`.
struct MaskInputs {
    seqlens_k: String,
    total_seq_len: String,
}

/// The residual stream between layers: the running sum and the branch still to add (the
/// builder folds each addition into the next SkipSimplifiedLayerNormalization).
struct Residual {
    root: String,
    skip: String,
}

/// The decoder graph under construction.
struct Decoder<'a> {
    b: GraphBuilder<Job>,
    model: &'a ModelSpec,
    quant: OnnxQuant,
    /// Element type of activations and float weights.
    io: DataType,
}

impl Decoder<'_> {
    /// `seqlens_k = int32(ReduceSum(attention_mask) − 1)`, `total_seq_len =
    /// int32(Shape(attention_mask)[1])`.
    fn mask_inputs(&mut self) -> MaskInputs {
        let m = "/model/attn_mask_reformat/attn_mask_subgraph";
        let one_1d = self.constant_i64("[1]", &[1], true);
        let one = self.constant_i64("1", &[1], false);
        let keepdims = vec![attr_int("keepdims", 0)];
        let sum = self.node(
            "ReduceSum",
            &format!("{m}/ReduceSum"),
            &["attention_mask", &one_1d],
            keepdims,
        );
        let sub = self.node("Sub", &format!("{m}/Sub"), &[&sum, &one_1d], vec![]);
        let to_i32 = || vec![attr_int("to", DataType::Int32 as i64)];
        let seqlens_k = self.node("Cast", &format!("{m}/Sub/Cast"), &[&sub], to_i32());
        let shape = self.node("Shape", &format!("{m}/Shape"), &["attention_mask"], vec![]);
        let axis0 = vec![attr_int("axis", 0)];
        let len = self.node("Gather", &format!("{m}/Gather"), &[&shape, &one], axis0);
        let total_seq_len = self.node("Cast", &format!("{m}/Gather/Cast"), &[&len], to_i32());
        MaskInputs {
            seqlens_k,
            total_seq_len,
        }
    }

    /// The token embedding lookup (Gemma: scaled by √hidden rounded to two decimals, as
    /// `GemmaModel` sets `embed_attrs["scale"]`).
    fn embedding(&mut self) -> String {
        let (h, v) = (self.model.hidden_size, self.model.vocab_size);
        let name = "model.embed_tokens.weight";
        self.copy_weight("token_embd.weight", name, vec![v as i64, h as i64]);
        let hidden = self.node(
            "Gather",
            "/model/embed_tokens/Gather",
            &[name, "input_ids"],
            vec![],
        );
        if self.model.arch != Arch::Gemma {
            return hidden;
        }
        let scale = ((h as f64).sqrt() * 100.0).round() / 100.0;
        let c = self.constant_float(scale);
        self.node("Mul", "/model/embed_tokens/Mul", &[&hidden, &c], vec![])
    }

    /// Layer `i`: input norm, attention, post-attention norm, MLP.
    fn layer(&mut self, i: usize, mask: &MaskInputs, stream: &mut Residual) {
        let l = format!("/model/layers.{i}");
        let norm_w = format!("model.layers.{i}.input_layernorm.weight");
        self.copy_weight(
            &blk(i, "attn_norm"),
            &norm_w,
            vec![self.model.hidden_size as i64],
        );
        let normed = format!("{l}/input_layernorm/output_0");
        let eps = self.model.rms_norm_eps as f32;
        if i == 0 {
            self.b.node(
                "SimplifiedLayerNormalization",
                &format!("{l}/input_layernorm/LayerNorm"),
                &[&stream.root, &norm_w],
                &[&normed],
                "",
                vec![
                    attr_int("axis", -1),
                    attr_float("epsilon", eps),
                    attr_int("stash_type", 1),
                ],
            );
        } else {
            stream.root = self.skip_norm(&format!("{l}/input_layernorm"), stream, &norm_w, &normed);
        }
        let o = self.attention(i, &normed, mask);
        let norm_w = format!("model.layers.{i}.post_attention_layernorm.weight");
        self.copy_weight(
            &blk(i, "ffn_norm"),
            &norm_w,
            vec![self.model.hidden_size as i64],
        );
        let normed = format!("{l}/post_attention_layernorm/output_0");
        stream.skip = o;
        stream.root = self.skip_norm(
            &format!("{l}/post_attention_layernorm"),
            stream,
            &norm_w,
            &normed,
        );
        stream.skip = self.mlp(i, &normed);
    }

    /// `SkipSimplifiedLayerNormalization` of `root + skip` into `normed`; returns the sum.
    fn skip_norm(&mut self, prefix: &str, stream: &Residual, weight: &str, normed: &str) -> String {
        let sum = format!("{prefix}/output_3");
        self.b.node(
            "SkipSimplifiedLayerNormalization",
            &format!("{prefix}/SkipLayerNorm"),
            &[&stream.root, &stream.skip, weight],
            &[normed, "", "", &sum],
            "com.microsoft",
            vec![attr_float("epsilon", self.model.rms_norm_eps as f32)],
        );
        sum
    }

    /// Packed Q|K|V projection, GroupQueryAttention with rotary inside, o_proj.
    fn attention(&mut self, i: usize, normed: &str, mask: &MaskInputs) -> String {
        let (model, l) = (self.model, format!("/model/layers.{i}"));
        let (h, hd) = (model.hidden_size, model.head_dim);
        let q_dim = model.heads * hd;
        let qkv = self.matmul(
            &format!("{l}/attn/qkv_proj/MatMul"),
            normed,
            qkv_parts(model, i),
            h,
            None,
        );
        if i == 0 {
            self.rope_caches();
        }
        let gqa = format!("{l}/attn/GroupQueryAttention");
        let attn_out = format!("{gqa}/output_0");
        let (pk, pv) = (
            format!("past_key_values.{i}.key"),
            format!("past_key_values.{i}.value"),
        );
        let (ck, cv) = (format!("present.{i}.key"), format!("present.{i}.value"));
        let inputs: [&str; 9] = [
            &qkv,
            "",
            "",
            &pk,
            &pv,
            &mask.seqlens_k,
            &mask.total_seq_len,
            "cos_cache",
            "sin_cache",
        ];
        self.b.node(
            "GroupQueryAttention",
            &gqa,
            &inputs,
            &[&attn_out, &ck, &cv],
            "com.microsoft",
            vec![
                attr_int("do_rotary", 1),
                attr_int("kv_num_heads", model.kv_heads as i64),
                attr_int("local_window_size", -1),
                attr_int("num_heads", model.heads as i64),
                attr_int("rotary_interleaved", 0),
                attr_float("scale", 1.0 / (hd as f32).sqrt()),
                attr_float("softcap", 0.0),
            ],
        );
        let o_proj = vec![Part::whole(blk(i, "attn_output"), h)];
        self.matmul(
            &format!("{l}/attn/o_proj/MatMul"),
            &attn_out,
            o_proj,
            q_dim,
            None,
        )
    }

    /// The rotary cos and sin caches, `[context, head/2]`.
    fn rope_caches(&mut self) {
        let (context, head) = (self.model.context_length, self.model.head_dim);
        for sin in [false, true] {
            let job = Job::Rope {
                sin,
                context,
                head,
                theta: self.model.rope_theta,
            };
            let name = if sin { "sin_cache" } else { "cos_cache" };
            let dims = vec![context as i64, (head / 2) as i64];
            self.b.weight(job, vec![self.tensor(name, dims)]);
        }
    }

    /// Gate and up projections, the activation (SiLU as `Sigmoid`·`Mul`, Gemma's tanh `Gelu`),
    /// their product, the down projection. Returns the branch output.
    fn mlp(&mut self, i: usize, normed: &str) -> String {
        let (model, l) = (self.model, format!("/model/layers.{i}"));
        let (h, f) = (model.hidden_size, model.ffn_size);
        let (gate_part, up_part) = match model.arch {
            Arch::Phi3 => (
                Part::whole(blk(i, "ffn_up"), f),
                Part {
                    row_start: f,
                    ..Part::whole(blk(i, "ffn_up"), f)
                },
            ),
            Arch::Llama | Arch::Gemma => (
                Part::whole(blk(i, "ffn_gate"), f),
                Part::whole(blk(i, "ffn_up"), f),
            ),
        };
        let gate = self.matmul(
            &format!("{l}/mlp/gate_proj/MatMul"),
            normed,
            vec![gate_part],
            h,
            None,
        );
        let up = self.matmul(
            &format!("{l}/mlp/up_proj/MatMul"),
            normed,
            vec![up_part],
            h,
            None,
        );
        let act = match model.arch {
            Arch::Gemma => {
                let tanh = vec![attr_str("approximate", "tanh")];
                self.node("Gelu", &format!("{l}/mlp/act_fn/FastGelu"), &[&gate], tanh)
            }
            Arch::Llama | Arch::Phi3 => {
                let sig = self.node(
                    "Sigmoid",
                    &format!("{l}/mlp/act_fn/Sigmoid"),
                    &[&gate],
                    vec![],
                );
                self.node(
                    "Mul",
                    &format!("{l}/mlp/act_fn/Mul"),
                    &[&gate, &sig],
                    vec![],
                )
            }
        };
        let mul = self.node("Mul", &format!("{l}/mlp/Mul"), &[&act, &up], vec![]);
        let down = vec![Part::whole(blk(i, "ffn_down"), h)];
        self.matmul(&format!("{l}/mlp/down_proj/MatMul"), &mul, down, f, None)
    }

    /// The final norm and the LM head (the token embedding when the output is tied).
    fn lm_head(&mut self, stream: &Residual) {
        let (model, last) = (self.model, self.model.layers);
        let norm_w = format!("model.layers.{last}.final_norm_layernorm.weight");
        self.copy_weight(
            "output_norm.weight",
            &norm_w,
            vec![model.hidden_size as i64],
        );
        let prefix = format!("/model/layers.{last}/final_norm_layernorm");
        let normed = format!("{prefix}/output_0");
        self.b.node(
            "SkipSimplifiedLayerNormalization",
            &format!("{prefix}/SkipLayerNorm"),
            &[&stream.root, &stream.skip, &norm_w],
            &[&normed],
            "com.microsoft",
            vec![attr_float("epsilon", model.rms_norm_eps as f32)],
        );
        let source = if model.tied_embeddings {
            "token_embd.weight"
        } else {
            "output.weight"
        };
        let parts = vec![Part::whole(source.into(), model.vocab_size)];
        self.matmul(
            "/lm_head/MatMul",
            &normed,
            parts,
            model.hidden_size,
            Some("logits"),
        );
    }

    /// `input_ids`, `attention_mask`, the past caches → `logits`, the present caches.
    fn io_values(&self) -> (Vec<ValueInfoProto>, Vec<ValueInfoProto>) {
        let sym = |s: &str| Dim::Param(s.to_string());
        let (io, layers) = (self.io, self.model.layers);
        let kv = self.model.kv_heads as i64;
        let ids = [sym("batch_size"), sym("sequence_length")];
        let mask = [sym("batch_size"), sym("total_sequence_length")];
        let mut inputs = vec![
            value_info("input_ids", DataType::Int64, &ids),
            value_info("attention_mask", DataType::Int64, &mask),
        ];
        let vocab = Dim::Value(self.model.vocab_size as i64);
        let logits = [sym("batch_size"), sym("sequence_length"), vocab];
        let mut outputs = vec![value_info("logits", io, &logits)];
        let cache = |len: &str| {
            [
                sym("batch_size"),
                Dim::Value(kv),
                sym(len),
                sym("kv_cache_dim"),
            ]
        };
        for kind in ["key", "value"] {
            for i in 0..layers {
                let past = format!("past_key_values.{i}.{kind}");
                inputs.push(value_info(&past, io, &cache("past_sequence_length")));
                let present = format!("present.{i}.{kind}");
                outputs.push(value_info(&present, io, &cache("total_sequence_length")));
            }
        }
        (inputs, outputs)
    }

    /// A default-domain node with one output, `<name>/output_0`, returned.
    fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        attrs: Vec<AttributeProto>,
    ) -> String {
        self.b.named(op, name, inputs, "", attrs)
    }

    fn tensor(&self, name: &str, dims: Vec<i64>) -> Tensor {
        Tensor {
            name: name.into(),
            dtype: self.io,
            dims,
        }
    }

    /// A weight stored as in llama.cpp (`tensor`), converted to the graph's float type.
    fn copy_weight(&mut self, tensor: &str, name: &str, dims: Vec<i64>) {
        let job = Job::Copy {
            tensor: tensor.into(),
        };
        let t = self.tensor(name, dims);
        self.b.weight(job, vec![t]);
    }

    /// A `Constant` named as the builder names it (`/model/constants/INT64/[1]`).
    fn constant_i64(&mut self, label: &str, values: &[i64], one_d: bool) -> String {
        let name = format!("/model/constants/INT64/{label}");
        self.b.constant(name, i64_tensor(values, !one_d))
    }

    fn constant_float(&mut self, value: f64) -> String {
        let (label, tensor) = match self.io {
            DataType::Float16 => (
                "FLOAT16",
                TensorProto {
                    data_type: Some(DataType::Float16 as i32),
                    raw_data: Some(half::f16::from_f64(value).to_le_bytes().to_vec()),
                    ..Default::default()
                },
            ),
            _ => (
                "FLOAT",
                TensorProto {
                    data_type: Some(DataType::Float as i32),
                    float_data: vec![value as f32],
                    ..Default::default()
                },
            ),
        };
        self.b
            .constant(format!("/model/constants/{label}/{value:?}"), tensor)
    }

    /// A projection `input · Wᵀ` with `W` the stacked `parts` (`N` rows of `k`): a MatMul over
    /// a transposed float weight, or MatMulNBits. Returns the output name.
    fn matmul(
        &mut self,
        name: &str,
        input: &str,
        parts: Vec<Part>,
        k: usize,
        output: Option<&str>,
    ) -> String {
        let n: usize = parts.iter().map(|p| p.rows).sum();
        let out = output.map_or_else(|| format!("{name}/output_0"), str::to_string);
        // "/model/layers.0/attn/qkv_proj/MatMul" → "model.layers.0.attn.qkv_proj.MatMul.weight"
        let weight = format!("{}.weight", name[1..].replace('/', "."));
        let Some(bits) = self.quant.nbits() else {
            let t = self.tensor(&weight, vec![k as i64, n as i64]);
            self.b.weight(Job::Transposed { parts, k }, vec![t]);
            self.b
                .node("MatMul", name, &[input, &weight], &[&out], "", vec![]);
            return out;
        };
        let blocks = k.div_ceil(NBITS_BLOCK);
        let blob = NBITS_BLOCK * bits as usize / 8;
        let (qw, scales) = (format!("{weight}_Q{bits}"), format!("{weight}_scales"));
        let packed = Tensor {
            name: qw.clone(),
            dtype: DataType::Uint8,
            dims: vec![n as i64, blocks as i64, blob as i64],
        };
        let scale_t = self.tensor(&scales, vec![n as i64, blocks as i64]);
        self.b
            .weight(Job::NBits { parts, k, bits }, vec![packed, scale_t]);
        self.b.node(
            "MatMulNBits",
            &format!("{name}_Q{bits}"),
            &[input, &qw, &scales],
            &[&out],
            "com.microsoft",
            vec![
                attr_int("K", k as i64),
                attr_int("N", n as i64),
                attr_int("accuracy_level", ACCURACY_LEVEL),
                attr_int("bits", bits as i64),
                attr_int("block_size", NBITS_BLOCK as i64),
            ],
        );
        out
    }
}

/// `blk.<i>.<s>.weight`, llama.cpp's name of a block's tensor.
fn blk(i: usize, s: &str) -> String {
    format!("blk.{i}.{s}.weight")
}

/// The rows of the packed Q|K|V projection: Phi-3's fused tensor, or Q, K and V (Llama's Q and
/// K un-permuted back to non-interleaved rotation).
fn qkv_parts(model: &ModelSpec, i: usize) -> Vec<Part> {
    let q_dim = model.heads * model.head_dim;
    let kv_dim = model.kv_heads * model.head_dim;
    if model.arch == Arch::Phi3 {
        return vec![Part::whole(blk(i, "attn_qkv"), q_dim + 2 * kv_dim)];
    }
    let llama = model.arch == Arch::Llama;
    vec![
        Part {
            unpermute_heads: llama.then_some(model.heads),
            ..Part::whole(blk(i, "attn_q"), q_dim)
        },
        Part {
            unpermute_heads: llama.then_some(model.kv_heads),
            ..Part::whole(blk(i, "attn_k"), kv_dim)
        },
        Part::whole(blk(i, "attn_v"), kv_dim),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpermute_inverts_llama_cpp_permute() {
        // llama.cpp: reshape(n_head, 2, d/2, …).swapaxes(1, 2): stored row h·d + 2i + j holds
        // Hugging Face row h·d + j·d/2 + i.
        let (n_head, d) = (3, 8);
        let part = Part {
            unpermute_heads: Some(n_head),
            ..Part::whole("t".into(), n_head * d)
        };
        let mut stored_hf_row = vec![0; n_head * d];
        for h in 0..n_head {
            for i in 0..d / 2 {
                for j in 0..2 {
                    stored_hf_row[h * d + 2 * i + j] = h * d + j * (d / 2) + i;
                }
            }
        }
        for hf in 0..n_head * d {
            assert_eq!(stored_hf_row[part.source_row(hf)], hf);
        }
    }
}
