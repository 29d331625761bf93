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
//! Weights come from [`crate::synth::tensor_weights`], by their llama.cpp names. Llama's Q and K
//! rows are stored in GGUF in llama.cpp's rotary layout (its converter permutes them for
//! interleaved rotation); they are permuted back here so the builder's non-interleaved rotation
//! computes the same function.

use super::proto::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, NodeProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use super::OnnxQuant;
use crate::catalog::{Arch, ModelSpec};

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

/// One initializer as the graph references it; its data is written by a [`Job`].
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub dtype: DataType,
    pub dims: Vec<i64>,
}

impl Tensor {
    pub fn bytes(&self) -> u64 {
        let elements: i64 = self.dims.iter().product();
        elements as u64 * element_bytes(self.dtype)
    }
}

pub fn element_bytes(dtype: DataType) -> u64 {
    match dtype {
        DataType::Float | DataType::Int32 => 4,
        DataType::Float16 => 2,
        DataType::Uint8 | DataType::Int8 => 1,
        DataType::Int64 => 8,
        other => unreachable!("no synthetic weights of type {other:?}"),
    }
}

/// The graph without its weights' bytes.
pub struct Graph {
    pub nodes: Vec<NodeProto>,
    pub inputs: Vec<ValueInfoProto>,
    pub outputs: Vec<ValueInfoProto>,
    /// In data-file order: each job and the initializers it writes.
    pub weights: Vec<(Job, Vec<Tensor>)>,
}

struct Builder {
    io: DataType,
    quant: OnnxQuant,
    nodes: Vec<NodeProto>,
    weights: Vec<(Job, Vec<Tensor>)>,
    constants: Vec<String>,
}

pub fn build(model: &ModelSpec, quant: OnnxQuant) -> Graph {
    let io = quant.io_dtype();
    let h = model.hidden_size;
    let hd = model.head_dim;
    let (q_dim, kv_dim, f, v) = (
        model.heads * hd,
        model.kv_heads * hd,
        model.ffn_size,
        model.vocab_size,
    );
    let mut b = Builder {
        io,
        quant,
        nodes: Vec::new(),
        weights: Vec::new(),
        constants: Vec::new(),
    };

    // Attention mask → seqlens_k, total_seq_len.
    let m = "/model/attn_mask_reformat/attn_mask_subgraph";
    let one_1d = b.constant_i64("[1]", &[1], true);
    let one = b.constant_i64("1", &[1], false);
    b.node(
        "ReduceSum",
        &format!("{m}/ReduceSum"),
        &["attention_mask", &one_1d],
        "",
        vec![attr_int("keepdims", 0)],
    );
    b.node(
        "Sub",
        &format!("{m}/Sub"),
        &[&format!("{m}/ReduceSum/output_0"), &one_1d],
        "",
        vec![],
    );
    b.node(
        "Cast",
        &format!("{m}/Sub/Cast"),
        &[&format!("{m}/Sub/output_0")],
        "",
        vec![attr_int("to", DataType::Int32 as i64)],
    );
    b.node(
        "Shape",
        &format!("{m}/Shape"),
        &["attention_mask"],
        "",
        vec![],
    );
    b.node(
        "Gather",
        &format!("{m}/Gather"),
        &[&format!("{m}/Shape/output_0"), &one],
        "",
        vec![attr_int("axis", 0)],
    );
    b.node(
        "Cast",
        &format!("{m}/Gather/Cast"),
        &[&format!("{m}/Gather/output_0")],
        "",
        vec![attr_int("to", DataType::Int32 as i64)],
    );
    let seqlens_k = format!("{m}/Sub/Cast/output_0");
    let total_seq_len = format!("{m}/Gather/Cast/output_0");

    // Embedding.
    b.weight(
        Job::Copy {
            tensor: "token_embd.weight".into(),
        },
        vec![Tensor {
            name: "model.embed_tokens.weight".into(),
            dtype: io,
            dims: vec![v as i64, h as i64],
        }],
    );
    b.node(
        "Gather",
        "/model/embed_tokens/Gather",
        &["model.embed_tokens.weight", "input_ids"],
        "",
        vec![],
    );
    let mut hidden = "/model/embed_tokens/Gather/output_0".to_string();
    if model.arch == Arch::Gemma {
        // GemmaModel: embed_attrs["scale"] = np.round(np.sqrt(hidden_size), decimals=2).
        let scale = ((h as f64).sqrt() * 100.0).round() / 100.0;
        let c = b.constant_float(scale);
        b.node("Mul", "/model/embed_tokens/Mul", &[&hidden, &c], "", vec![]);
        hidden = "/model/embed_tokens/Mul/output_0".into();
    }

    let eps = model.rms_norm_eps as f32;
    let mut root = hidden.clone();
    let mut skip = hidden;
    for i in 0..model.layers {
        let l = format!("/model/layers.{i}");
        let blk = |s: &str| format!("blk.{i}.{s}.weight");
        // Input norm.
        let norm_w = format!("model.layers.{i}.input_layernorm.weight");
        b.weight(
            Job::Copy {
                tensor: blk("attn_norm"),
            },
            vec![Tensor {
                name: norm_w.clone(),
                dtype: io,
                dims: vec![h as i64],
            }],
        );
        let normed = format!("{l}/input_layernorm/output_0");
        if i == 0 {
            b.node_out(
                "SimplifiedLayerNormalization",
                &format!("{l}/input_layernorm/LayerNorm"),
                &[&root, &norm_w],
                &[&normed],
                "",
                vec![
                    attr_int("axis", -1),
                    attr_float("epsilon", eps),
                    attr_int("stash_type", 1),
                ],
            );
        } else {
            let sum = format!("{l}/input_layernorm/output_3");
            b.node_out(
                "SkipSimplifiedLayerNormalization",
                &format!("{l}/input_layernorm/SkipLayerNorm"),
                &[&root, &skip, &norm_w],
                &[&normed, "", "", &sum],
                "com.microsoft",
                vec![attr_float("epsilon", eps)],
            );
            root = sum;
        }

        // Packed Q|K|V.
        let qkv_parts = match model.arch {
            Arch::Phi3 => vec![Part::whole(blk("attn_qkv"), q_dim + 2 * kv_dim)],
            Arch::Llama | Arch::Gemma => {
                let (q_perm, k_perm) = if model.arch == Arch::Llama {
                    (Some(model.heads), Some(model.kv_heads))
                } else {
                    (None, None)
                };
                vec![
                    Part {
                        unpermute_heads: q_perm,
                        ..Part::whole(blk("attn_q"), q_dim)
                    },
                    Part {
                        unpermute_heads: k_perm,
                        ..Part::whole(blk("attn_k"), kv_dim)
                    },
                    Part::whole(blk("attn_v"), kv_dim),
                ]
            }
        };
        let qkv = b.matmul(
            &format!("{l}/attn/qkv_proj/MatMul"),
            &normed,
            qkv_parts,
            h,
            None,
        );
        if i == 0 {
            for sin in [false, true] {
                b.weight(
                    Job::Rope {
                        sin,
                        context: model.context_length,
                        head: hd,
                        theta: model.rope_theta,
                    },
                    vec![Tensor {
                        name: if sin { "sin_cache" } else { "cos_cache" }.into(),
                        dtype: io,
                        dims: vec![model.context_length as i64, (hd / 2) as i64],
                    }],
                );
            }
        }
        let gqa = format!("{l}/attn/GroupQueryAttention");
        let attn_out = format!("{gqa}/output_0");
        let (pk, pv) = (
            format!("past_key_values.{i}.key"),
            format!("past_key_values.{i}.value"),
        );
        let (ck, cv) = (format!("present.{i}.key"), format!("present.{i}.value"));
        b.node_out(
            "GroupQueryAttention",
            &gqa,
            &[
                &qkv,
                "",
                "",
                &pk,
                &pv,
                &seqlens_k,
                &total_seq_len,
                "cos_cache",
                "sin_cache",
            ],
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
        let o = b.matmul(
            &format!("{l}/attn/o_proj/MatMul"),
            &attn_out,
            vec![Part::whole(blk("attn_output"), h)],
            q_dim,
            None,
        );

        // Post-attention norm.
        let norm_w = format!("model.layers.{i}.post_attention_layernorm.weight");
        b.weight(
            Job::Copy {
                tensor: blk("ffn_norm"),
            },
            vec![Tensor {
                name: norm_w.clone(),
                dtype: io,
                dims: vec![h as i64],
            }],
        );
        let normed = format!("{l}/post_attention_layernorm/output_0");
        let sum = format!("{l}/post_attention_layernorm/output_3");
        b.node_out(
            "SkipSimplifiedLayerNormalization",
            &format!("{l}/post_attention_layernorm/SkipLayerNorm"),
            &[&root, &o, &norm_w],
            &[&normed, "", "", &sum],
            "com.microsoft",
            vec![attr_float("epsilon", eps)],
        );
        root = sum;

        // MLP.
        let (gate_part, up_part) = match model.arch {
            Arch::Phi3 => (
                Part::whole(blk("ffn_up"), f),
                Part {
                    row_start: f,
                    ..Part::whole(blk("ffn_up"), f)
                },
            ),
            Arch::Llama | Arch::Gemma => (
                Part::whole(blk("ffn_gate"), f),
                Part::whole(blk("ffn_up"), f),
            ),
        };
        let gate = b.matmul(
            &format!("{l}/mlp/gate_proj/MatMul"),
            &normed,
            vec![gate_part],
            h,
            None,
        );
        let up = b.matmul(
            &format!("{l}/mlp/up_proj/MatMul"),
            &normed,
            vec![up_part],
            h,
            None,
        );
        let act = match model.arch {
            Arch::Gemma => {
                let name = format!("{l}/mlp/act_fn/FastGelu");
                b.node(
                    "Gelu",
                    &name,
                    &[&gate],
                    "",
                    vec![attr_str("approximate", "tanh")],
                );
                format!("{name}/output_0")
            }
            Arch::Llama | Arch::Phi3 => {
                let sig = format!("{l}/mlp/act_fn/Sigmoid");
                b.node("Sigmoid", &sig, &[&gate], "", vec![]);
                let mul = format!("{l}/mlp/act_fn/Mul");
                b.node(
                    "Mul",
                    &mul,
                    &[&gate, &format!("{sig}/output_0")],
                    "",
                    vec![],
                );
                format!("{mul}/output_0")
            }
        };
        let mul = format!("{l}/mlp/Mul");
        b.node("Mul", &mul, &[&act, &up], "", vec![]);
        skip = b.matmul(
            &format!("{l}/mlp/down_proj/MatMul"),
            &format!("{mul}/output_0"),
            vec![Part::whole(blk("ffn_down"), h)],
            f,
            None,
        );
    }

    // Final norm and LM head.
    let last = model.layers;
    let norm_w = format!("model.layers.{last}.final_norm_layernorm.weight");
    b.weight(
        Job::Copy {
            tensor: "output_norm.weight".into(),
        },
        vec![Tensor {
            name: norm_w.clone(),
            dtype: io,
            dims: vec![h as i64],
        }],
    );
    let normed = format!("/model/layers.{last}/final_norm_layernorm/output_0");
    b.node_out(
        "SkipSimplifiedLayerNormalization",
        &format!("/model/layers.{last}/final_norm_layernorm/SkipLayerNorm"),
        &[&root, &skip, &norm_w],
        &[&normed],
        "com.microsoft",
        vec![attr_float("epsilon", eps)],
    );
    let lm_source = if model.tied_embeddings {
        "token_embd.weight"
    } else {
        "output.weight"
    };
    b.matmul(
        "/lm_head/MatMul",
        &normed,
        vec![Part::whole(lm_source.into(), v)],
        h,
        Some("logits"),
    );

    let sym = |s: &str| Dim::Param(s.to_string());
    let kv = model.kv_heads as i64;
    let mut inputs = vec![
        value_info(
            "input_ids",
            DataType::Int64,
            &[sym("batch_size"), sym("sequence_length")],
        ),
        value_info(
            "attention_mask",
            DataType::Int64,
            &[sym("batch_size"), sym("total_sequence_length")],
        ),
    ];
    let mut outputs = vec![value_info(
        "logits",
        io,
        &[
            sym("batch_size"),
            sym("sequence_length"),
            Dim::Value(v as i64),
        ],
    )];
    for (past, present) in [
        ("past_key_values.{}.key", "present.{}.key"),
        ("past_key_values.{}.value", "present.{}.value"),
    ] {
        for i in 0..model.layers {
            inputs.push(value_info(
                &past.replace("{}", &i.to_string()),
                io,
                &[
                    sym("batch_size"),
                    Dim::Value(kv),
                    sym("past_sequence_length"),
                    sym("kv_cache_dim"),
                ],
            ));
            outputs.push(value_info(
                &present.replace("{}", &i.to_string()),
                io,
                &[
                    sym("batch_size"),
                    Dim::Value(kv),
                    sym("total_sequence_length"),
                    sym("kv_cache_dim"),
                ],
            ));
        }
    }
    Graph {
        nodes: b.nodes,
        inputs,
        outputs,
        weights: b.weights,
    }
}

impl Builder {
    fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        domain: &str,
        attrs: Vec<AttributeProto>,
    ) {
        let out = format!("{name}/output_0");
        self.node_out(op, name, inputs, &[&out], domain, attrs);
    }

    fn node_out(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        outputs: &[&str],
        domain: &str,
        attrs: Vec<AttributeProto>,
    ) {
        // Trailing optional inputs that are absent are left out, as ONNX allows.
        let mut inputs: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
        while inputs.last().is_some_and(|s| s.is_empty()) {
            inputs.pop();
        }
        self.nodes.push(NodeProto {
            input: inputs,
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name: Some(name.to_string()),
            op_type: Some(op.to_string()),
            domain: (!domain.is_empty()).then(|| domain.to_string()),
            attribute: attrs,
            ..Default::default()
        });
    }

    fn weight(&mut self, job: Job, tensors: Vec<Tensor>) {
        self.weights.push((job, tensors));
    }

    /// A `Constant` node named as the builder names it (`/model/constants/INT64/[1]`).
    fn constant_i64(&mut self, label: &str, values: &[i64], one_d: bool) -> String {
        let name = format!("/model/constants/INT64/{label}");
        let tensor = TensorProto {
            dims: if one_d {
                vec![values.len() as i64]
            } else {
                vec![]
            },
            data_type: Some(DataType::Int64 as i32),
            int64_data: values.to_vec(),
            ..Default::default()
        };
        self.constant(name, tensor)
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
        self.constant(format!("/model/constants/{label}/{value:?}"), tensor)
    }

    fn constant(&mut self, name: String, tensor: TensorProto) -> String {
        if !self.constants.contains(&name) {
            self.constants.push(name.clone());
            let node_name = name.replace("constants", "constant_nodes");
            let attr = AttributeProto {
                name: Some("value".into()),
                r#type: Some(AttributeType::Tensor as i32),
                t: Some(tensor),
                ..Default::default()
            };
            self.node_out("Constant", &node_name, &[], &[&name], "", vec![attr]);
        }
        name
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
        match self.quant.nbits() {
            None => {
                self.weight(
                    Job::Transposed { parts, k },
                    vec![Tensor {
                        name: weight.clone(),
                        dtype: self.io,
                        dims: vec![k as i64, n as i64],
                    }],
                );
                self.node_out("MatMul", name, &[input, &weight], &[&out], "", vec![]);
            }
            Some(bits) => {
                let blocks = k.div_ceil(NBITS_BLOCK);
                let blob = NBITS_BLOCK * bits as usize / 8;
                let (qw, scales) = (format!("{weight}_Q{bits}"), format!("{weight}_scales"));
                self.weight(
                    Job::NBits { parts, k, bits },
                    vec![
                        Tensor {
                            name: qw.clone(),
                            dtype: DataType::Uint8,
                            dims: vec![n as i64, blocks as i64, blob as i64],
                        },
                        Tensor {
                            name: scales.clone(),
                            dtype: self.io,
                            dims: vec![n as i64, blocks as i64],
                        },
                    ],
                );
                self.node_out(
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
            }
        }
        out
    }
}

pub(crate) enum Dim {
    Value(i64),
    Param(String),
}

pub(crate) fn value_info(name: &str, dtype: DataType, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match d {
                Dim::Value(v) => tensor_shape_proto::dimension::Value::DimValue(*v),
                Dim::Param(p) => tensor_shape_proto::dimension::Value::DimParam(p.clone()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(dtype as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(crate) fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(i),
        ..Default::default()
    }
}

pub(crate) fn attr_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(f),
        ..Default::default()
    }
}

pub(crate) fn attr_str(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::String as i32),
        s: Some(s.as_bytes().to_vec()),
        ..Default::default()
    }
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
