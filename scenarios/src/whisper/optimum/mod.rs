//! Whisper as Hugging Face Optimum exports it for ONNX Runtime (`optimum-cli export onnx
//! --task automatic-speech-recognition-with-past`, the non-merged layout):
//!
//! - `encoder_model.onnx`: `input_features [batch, n_mels, 3000]` → `last_hidden_state
//!   [batch, 1500, d_model]`;
//! - `decoder_model.onnx` (first call): `input_ids`, `encoder_hidden_states` → `logits`,
//!   `present.N.decoder.{key,value}` and `present.N.encoder.{key,value}` (the cross-attention
//!   keys and values, `[batch, heads, 1500, head]`);
//! - `decoder_with_past_model.onnx` (every later call): `input_ids`,
//!   `past_key_values.N.{decoder,encoder}.{key,value}` → `logits`, `present.N.decoder.*`
//!   (the self-attention cache grows by `Concat`, as in the exported graph);
//! - `config.json` and `generation_config.json` as `transformers` writes them.
//!
//! The graphs use the standard ops the PyTorch exporter emits for `WhisperForConditionalGeneration`
//! (Conv, exact-erf `Gelu`, `LayerNormalization`, MatMul/Add projections, Reshape/Transpose head
//! split, MatMul–Softmax–MatMul attention with an additive causal mask, tied output projection);
//! ONNX Runtime's optimizer fuses them when it loads the model, as it does for a real export.
//!
//! Precisions:
//! - `f32`; `f16`: the whole graph in float16, inputs and outputs included (`--dtype fp16`);
//! - `int8`: the f32 graph after `onnxruntime.quantization.quantize_dynamic(op_types_to_quantize=
//!   ["MatMul"])` with its defaults (what Optimum's `ORTQuantizer` dynamic configs run): every
//!   MatMul with a constant weight becomes `DynamicQuantizeLinear` (uint8 activations) →
//!   `MatMulInteger` with symmetric per-tensor int8 weights → `Cast` → `Mul` by both scales.
//!   Convolutions, embeddings and the attention MatMuls stay f32.
//!
//! Weights are those of [`super::tensor_f32`] for the seed, the same values every other format
//! holds. They live in external data (`encoder_model.onnx_data`, `decoder_model.onnx_data`);
//! both decoder graphs reference the one decoder data file, so the weights are on disk once.

use super::{hf_config, tensor_f32, tensors, WhisperQuant, WhisperSpec, WhisperTensor};
use crate::onnx::graph::{attr_float, attr_int, attr_str, value_info, Dim};
use crate::onnx::proto::{
    self, attribute_proto::AttributeType, tensor_proto::DataLocation, tensor_proto::DataType,
    AttributeProto, NodeProto, TensorProto,
};
use crate::synth::SynthReport;
use anyhow::{bail, Context};
use prost::Message;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufWriter, Write};
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

/// Tensors larger than this start at a multiple of [`DATA_ALIGNMENT`] in a data file, so ONNX
/// Runtime can map them (as in [`crate::onnx`]).
const ALIGN_THRESHOLD: u64 = 1 << 20;
const DATA_ALIGNMENT: u64 = 1 << 16;
const LN_EPS: f32 = 1e-5;

/// How an initializer's bytes are made from a Whisper tensor.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// The tensor as stored (PyTorch layout), in the graph's float type.
    Plain(String),
    /// A linear weight `[out, in]` transposed to the MatMul's `[in, out]`.
    Transposed(String),
    /// The transpose quantized to int8 with the given per-tensor scale (symmetric).
    Int8(String),
}

#[derive(Debug, Clone)]
struct Init {
    name: String,
    dtype: DataType,
    dims: Vec<i64>,
    source: Source,
}

impl Init {
    fn bytes(&self) -> u64 {
        self.dims.iter().product::<i64>() as u64 * crate::onnx::graph::element_bytes(self.dtype)
    }
}

/// One graph under construction.
struct Builder<'a> {
    spec: &'a WhisperSpec,
    io: DataType,
    int8: bool,
    nodes: Vec<NodeProto>,
    /// External weights, in first-use order.
    inits: Vec<Init>,
    /// Small initializers stored in the graph (int8 scales and zero points).
    inline: Vec<TensorProto>,
    /// Per-tensor int8 scales, by OpenAI tensor name.
    scales: &'a HashMap<String, f32>,
    /// DynamicQuantizeLinear outputs by input, shared by the MatMuls that read one activation.
    quantized: HashMap<String, [String; 3]>,
    constants: HashMap<String, String>,
    count: usize,
    /// Attention heads of the graph's blocks.
    heads: usize,
}

fn shape_of(spec: &WhisperSpec, openai: &str) -> Vec<usize> {
    tensors(spec)
        .into_iter()
        .find(|t| t.name == openai)
        .map(|t| t.shape)
        .expect("a Whisper tensor name")
}

fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: v.to_vec(),
        ..Default::default()
    }
}

impl<'a> Builder<'a> {
    fn new(spec: &'a WhisperSpec, quant: WhisperQuant, scales: &'a HashMap<String, f32>) -> Self {
        Self {
            spec,
            io: if quant == WhisperQuant::F16 {
                DataType::Float16
            } else {
                DataType::Float
            },
            int8: quant == WhisperQuant::Int8,
            nodes: Vec::new(),
            inits: Vec::new(),
            inline: Vec::new(),
            scales,
            quantized: HashMap::new(),
            constants: HashMap::new(),
            count: 0,
            heads: spec.n_text_head,
        }
    }

    /// Add a node; returns its first output (named `<name>/output_0`, or as given).
    fn op(&mut self, op: &str, name: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        self.count += 1;
        let name = format!("{name}/{op}_{}", self.count);
        let out = format!("{name}/output_0");
        self.op_out(op, &name, inputs, &[&out], "", attrs);
        out
    }

    fn op_out(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        outputs: &[&str],
        domain: &str,
        attrs: Vec<AttributeProto>,
    ) {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name: Some(name.to_string()),
            op_type: Some(op.to_string()),
            domain: (!domain.is_empty()).then(|| domain.to_string()),
            attribute: attrs,
            ..Default::default()
        });
    }

    /// An int64 constant (a scalar when `scalar`).
    fn i64s(&mut self, values: &[i64], scalar: bool) -> String {
        let key = format!("i64{values:?}{scalar}");
        if let Some(n) = self.constants.get(&key) {
            return n.clone();
        }
        let name = format!(
            "/constants/INT64/{values:?}{}",
            if scalar { "s" } else { "" }
        );
        let t = TensorProto {
            dims: if scalar {
                vec![]
            } else {
                vec![values.len() as i64]
            },
            data_type: Some(DataType::Int64 as i32),
            int64_data: values.to_vec(),
            ..Default::default()
        };
        self.constant(key, name, t)
    }

    /// A float scalar constant of type `dtype`.
    fn scalar(&mut self, value: f32, dtype: DataType) -> String {
        let key = format!("f{value:?}{dtype:?}");
        if let Some(n) = self.constants.get(&key) {
            return n.clone();
        }
        let raw = match dtype {
            DataType::Float16 => half::f16::from_f32(value).to_le_bytes().to_vec(),
            _ => value.to_le_bytes().to_vec(),
        };
        let t = TensorProto {
            data_type: Some(dtype as i32),
            raw_data: Some(raw),
            ..Default::default()
        };
        self.constant(key, format!("/constants/{dtype:?}/{value:?}"), t)
    }

    fn constant(&mut self, key: String, name: String, t: TensorProto) -> String {
        let attr = AttributeProto {
            name: Some("value".into()),
            r#type: Some(AttributeType::Tensor as i32),
            t: Some(t),
            ..Default::default()
        };
        let node = name.replace("constants", "constant_nodes");
        self.op_out("Constant", &node, &[], &[&name], "", vec![attr]);
        self.constants.insert(key, name.clone());
        name
    }

    /// An external float initializer from a Whisper tensor, by its Hugging Face name.
    fn weight(&mut self, openai: &str, transposed: bool) -> String {
        let mut shape = shape_of(self.spec, openai);
        if transposed {
            shape.reverse();
        }
        let name = super::hf_name(openai) + if transposed { ".T" } else { "" };
        if !self.inits.iter().any(|i| i.name == name) {
            self.inits.push(Init {
                name: name.clone(),
                dtype: self.io,
                dims: shape.iter().map(|&d| d as i64).collect(),
                source: if transposed {
                    Source::Transposed(openai.into())
                } else {
                    Source::Plain(openai.into())
                },
            });
        }
        name
    }

    /// `x · Wᵀ (+ b)` for the linear layer `prefix` (OpenAI name without `.weight`).
    fn linear(&mut self, x: &str, prefix: &str, bias: bool) -> String {
        let w_name = format!("{prefix}.weight");
        let label = format!("/{}", super::hf_name(prefix).replace('.', "/"));
        let y = if self.int8 {
            let q_name = super::hf_name(&w_name) + ".T_quantized";
            let shape = shape_of(self.spec, &w_name);
            if !self.inits.iter().any(|i| i.name == q_name) {
                self.inits.push(Init {
                    name: q_name.clone(),
                    dtype: DataType::Int8,
                    dims: vec![shape[1] as i64, shape[0] as i64],
                    source: Source::Int8(w_name.clone()),
                });
                let scale = self.scales[&w_name];
                self.inline.push(TensorProto {
                    name: Some(super::hf_name(&w_name) + ".T_scale"),
                    data_type: Some(DataType::Float as i32),
                    raw_data: Some(scale.to_le_bytes().to_vec()),
                    ..Default::default()
                });
                self.inline.push(TensorProto {
                    name: Some(super::hf_name(&w_name) + ".T_zero_point"),
                    data_type: Some(DataType::Int8 as i32),
                    raw_data: Some(vec![0]),
                    ..Default::default()
                });
            }
            let [xq, xs, xz] = match self.quantized.get(x) {
                Some(q) => q.clone(),
                None => {
                    let outs = [
                        format!("{x}_quantized"),
                        format!("{x}_scale"),
                        format!("{x}_zero_point"),
                    ];
                    let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
                    self.op_out(
                        "DynamicQuantizeLinear",
                        &format!("{x}_QuantizeLinear"),
                        &[x],
                        &refs,
                        "",
                        vec![],
                    );
                    self.quantized.insert(x.to_string(), outs.clone());
                    outs
                }
            };
            let base = super::hf_name(&w_name) + ".T";
            let mm = self.op(
                "MatMulInteger",
                &label,
                &[&xq, &q_name, &xz, &format!("{base}_zero_point")],
                vec![],
            );
            let f = self.op(
                "Cast",
                &label,
                &[&mm],
                vec![attr_int("to", DataType::Float as i64)],
            );
            let s = self.op("Mul", &label, &[&xs, &format!("{base}_scale")], vec![]);
            self.op("Mul", &label, &[&f, &s], vec![])
        } else {
            let w = self.weight(&w_name, true);
            self.op("MatMul", &label, &[x, &w], vec![])
        };
        if bias {
            let b = self.weight(&format!("{prefix}.bias"), false);
            self.op("Add", &label, &[&y, &b], vec![])
        } else {
            y
        }
    }

    fn layer_norm(&mut self, x: &str, prefix: &str) -> String {
        let w = self.weight(&format!("{prefix}.weight"), false);
        let b = self.weight(&format!("{prefix}.bias"), false);
        let label = format!("/{}", super::hf_name(prefix).replace('.', "/"));
        self.op(
            "LayerNormalization",
            &label,
            &[x, &w, &b],
            vec![attr_int("axis", -1), attr_float("epsilon", LN_EPS)],
        )
    }

    fn gelu(&mut self, x: &str, label: &str) -> String {
        self.op("Gelu", label, &[x], vec![attr_str("approximate", "none")])
    }

    /// `[b, s, d]` → `[b, heads, s, head]`.
    fn heads(&mut self, x: &str, label: &str) -> String {
        let h = self.heads as i64;
        let dh = (self.spec.n_text_state / self.heads) as i64;
        let shape = self.i64s(&[0, 0, h, dh], false);
        let r = self.op("Reshape", label, &[x, &shape], vec![]);
        self.op(
            "Transpose",
            label,
            &[&r],
            vec![attr_ints("perm", &[0, 2, 1, 3])],
        )
    }

    /// Softmax(q·kᵀ + mask)·v over `[b, heads, ·, head]` tensors, merged back to `[b, s, d]`.
    fn attend(&mut self, q: &str, k: &str, v: &str, mask: Option<&str>, label: &str) -> String {
        let kt = self.op(
            "Transpose",
            label,
            &[k],
            vec![attr_ints("perm", &[0, 1, 3, 2])],
        );
        let mut scores = self.op("MatMul", label, &[q, &kt], vec![]);
        if let Some(m) = mask {
            scores = self.op("Add", label, &[&scores, m], vec![]);
        }
        let p = self.op("Softmax", label, &[&scores], vec![attr_int("axis", -1)]);
        let o = self.op("MatMul", label, &[&p, v], vec![]);
        let t = self.op(
            "Transpose",
            label,
            &[&o],
            vec![attr_ints("perm", &[0, 2, 1, 3])],
        );
        let shape = self.i64s(&[0, 0, self.spec.n_text_state as i64], false);
        self.op("Reshape", label, &[&t, &shape], vec![])
    }

    /// The scaled query of attention `prefix`, split into heads.
    fn query(&mut self, x: &str, prefix: &str) -> String {
        let q = self.linear(x, &format!("{prefix}.query"), true);
        let dh = self.spec.n_text_state / self.heads;
        let s = self.scalar((dh as f32).powf(-0.5), self.io);
        let label = format!("/{}", super::hf_name(prefix).replace('.', "/"));
        let q = self.op("Mul", &label, &[&q, &s], vec![]);
        self.heads(&q, &label)
    }

    fn kv(&mut self, x: &str, prefix: &str) -> (String, String) {
        let label = format!("/{}", super::hf_name(prefix).replace('.', "/"));
        let k = self.linear(x, &format!("{prefix}.key"), false);
        let v = self.linear(x, &format!("{prefix}.value"), true);
        (self.heads(&k, &label), self.heads(&v, &label))
    }

    fn mlp(&mut self, x: &str, prefix: &str) -> String {
        let n = self.layer_norm(x, &format!("{prefix}.mlp_ln"));
        let h = self.linear(&n, &format!("{prefix}.mlp.0"), true);
        let label = format!("/{}/fc1", super::hf_name(prefix).replace('.', "/"));
        let g = self.gelu(&h, &label);
        let y = self.linear(&g, &format!("{prefix}.mlp.2"), true);
        self.op("Add", &label, &[x, &y], vec![])
    }
}

/// A graph with its external weights, before the data file is laid out.
struct Graph {
    nodes: Vec<NodeProto>,
    inits: Vec<Init>,
    inline: Vec<TensorProto>,
    inputs: Vec<proto::ValueInfoProto>,
    outputs: Vec<proto::ValueInfoProto>,
}

impl Builder<'_> {
    fn finish(
        self,
        inputs: Vec<proto::ValueInfoProto>,
        outputs: Vec<proto::ValueInfoProto>,
    ) -> Graph {
        Graph {
            nodes: self.nodes,
            inits: self.inits,
            inline: self.inline,
            inputs,
            outputs,
        }
    }
}

fn sym(s: &str) -> Dim {
    Dim::Param(s.into())
}

fn encoder_graph(spec: &WhisperSpec, quant: WhisperQuant, scales: &HashMap<String, f32>) -> Graph {
    let mut b = Builder::new(spec, quant, scales);
    b.heads = spec.n_audio_head;
    // The encoder's width equals the decoder's (`WhisperSpec::validate`).
    let d = spec.n_audio_state as i64;
    let w1 = b.weight("encoder.conv1.weight", false);
    let b1 = b.weight("encoder.conv1.bias", false);
    let c1 = b.op(
        "Conv",
        "/model/encoder/conv1",
        &["input_features", &w1, &b1],
        vec![
            attr_ints("kernel_shape", &[3]),
            attr_ints("pads", &[1, 1]),
            attr_ints("strides", &[1]),
        ],
    );
    let g1 = b.gelu(&c1, "/model/encoder");
    let w2 = b.weight("encoder.conv2.weight", false);
    let b2 = b.weight("encoder.conv2.bias", false);
    let c2 = b.op(
        "Conv",
        "/model/encoder/conv2",
        &[&g1, &w2, &b2],
        vec![
            attr_ints("kernel_shape", &[3]),
            attr_ints("pads", &[1, 1]),
            attr_ints("strides", &[2]),
        ],
    );
    let g2 = b.gelu(&c2, "/model/encoder");
    let t = b.op(
        "Transpose",
        "/model/encoder",
        &[&g2],
        vec![attr_ints("perm", &[0, 2, 1])],
    );
    let pos = b.weight("encoder.positional_embedding", false);
    let mut h = b.op("Add", "/model/encoder", &[&t, &pos], vec![]);
    for i in 0..spec.n_audio_layer {
        let p = format!("encoder.blocks.{i}");
        let n = b.layer_norm(&h, &format!("{p}.attn_ln"));
        let q = b.query(&n, &format!("{p}.attn"));
        let (k, v) = b.kv(&n, &format!("{p}.attn"));
        let label = format!("/model/encoder/layers.{i}/self_attn");
        let a = b.attend(&q, &k, &v, None, &label);
        let o = b.linear(&a, &format!("{p}.attn.out"), true);
        h = b.op("Add", &label, &[&h, &o], vec![]);
        h = b.mlp(&h, &p);
    }
    let out = b.layer_norm(&h, "encoder.ln_post");
    b.op_out(
        "Identity",
        "/model/encoder/output",
        &[&out],
        &["last_hidden_state"],
        "",
        vec![],
    );
    let io = b.io;
    b.finish(
        vec![value_info(
            "input_features",
            io,
            &[
                sym("batch_size"),
                Dim::Value(spec.n_mels as i64),
                sym("feature_size"),
            ],
        )],
        vec![value_info(
            "last_hidden_state",
            io,
            &[
                sym("batch_size"),
                sym("encoder_sequence_length / 2"),
                Dim::Value(d),
            ],
        )],
    )
}

/// The first-call decoder (`with_past` false) or the one that takes the caches.
fn decoder_graph(
    spec: &WhisperSpec,
    quant: WhisperQuant,
    scales: &HashMap<String, f32>,
    with_past: bool,
) -> Graph {
    let mut b = Builder::new(spec, quant, scales);
    let io = b.io;
    let (h_n, dh) = (
        spec.n_text_head as i64,
        (spec.n_text_state / spec.n_text_head) as i64,
    );
    let l = "/model/decoder";
    // Positions past_len .. past_len + seq.
    let one = b.i64s(&[1], true);
    let two = b.i64s(&[2], true);
    let ids_shape = b.op("Shape", l, &["input_ids"], vec![]);
    let seq = b.op("Gather", l, &[&ids_shape, &one], vec![attr_int("axis", 0)]);
    let past_len = if with_past {
        let s = b.op("Shape", l, &["past_key_values.0.decoder.key"], vec![]);
        b.op("Gather", l, &[&s, &two], vec![attr_int("axis", 0)])
    } else {
        b.i64s(&[0], true)
    };
    let total = b.op("Add", l, &[&past_len, &seq], vec![]);
    let positions = b.op("Range", l, &[&past_len, &total, &one], vec![]);
    let emb = b.weight("decoder.token_embedding.weight", false);
    let tok = b.op("Gather", l, &[&emb, "input_ids"], vec![attr_int("axis", 0)]);
    let pos_table = b.weight("decoder.positional_embedding", false);
    let pos = b.op(
        "Gather",
        l,
        &[&pos_table, &positions],
        vec![attr_int("axis", 0)],
    );
    let mut h = b.op("Add", l, &[&tok, &pos], vec![]);
    // Causal mask [seq, total]: a large negative where key position > query position.
    let zero = b.i64s(&[0], true);
    let cols = b.op("Range", l, &[&zero, &total, &one], vec![]);
    let axis1 = b.i64s(&[1], false);
    let rows = b.op("Unsqueeze", l, &[&positions, &axis1], vec![]);
    let future = b.op("Greater", l, &[&cols, &rows], vec![]);
    let min = if io == DataType::Float16 {
        -65504.0
    } else {
        f32::MIN
    };
    let neg = b.scalar(min, io);
    let zero_f = b.scalar(0.0, io);
    let mask = b.op("Where", l, &[&future, &neg, &zero_f], vec![]);

    let mut inputs = vec![value_info(
        "input_ids",
        DataType::Int64,
        &[sym("batch_size"), sym("decoder_sequence_length")],
    )];
    if !with_past {
        inputs.push(value_info(
            "encoder_hidden_states",
            io,
            &[
                sym("batch_size"),
                sym("encoder_sequence_length / 2"),
                Dim::Value(spec.n_text_state as i64),
            ],
        ));
    }
    let mut outputs = vec![value_info(
        "logits",
        io,
        &[
            sym("batch_size"),
            sym("decoder_sequence_length"),
            Dim::Value(spec.n_vocab as i64),
        ],
    )];
    let kv_dims = |len: &str| [sym("batch_size"), Dim::Value(h_n), sym(len), Dim::Value(dh)];
    let past_total = if with_past {
        "past_decoder_sequence_length + 1"
    } else {
        "decoder_sequence_length"
    };
    for i in 0..spec.n_text_layer {
        let p = format!("decoder.blocks.{i}");
        let label = format!("{l}/layers.{i}/self_attn");
        let n = b.layer_norm(&h, &format!("{p}.attn_ln"));
        let q = b.query(&n, &format!("{p}.attn"));
        let (mut k, mut v) = b.kv(&n, &format!("{p}.attn"));
        if with_past {
            for (kind, t) in [("key", &mut k), ("value", &mut v)] {
                let past = format!("past_key_values.{i}.decoder.{kind}");
                inputs.push(value_info(
                    &past,
                    io,
                    &kv_dims("past_decoder_sequence_length"),
                ));
                *t = b.op("Concat", &label, &[&past, t], vec![attr_int("axis", 2)]);
            }
        }
        for (kind, t) in [("key", &k), ("value", &v)] {
            let name = format!("present.{i}.decoder.{kind}");
            b.op_out(
                "Identity",
                &format!("{label}/{kind}"),
                &[t],
                &[&name],
                "",
                vec![],
            );
            outputs.push(value_info(&name, io, &kv_dims(past_total)));
        }
        let a = b.attend(&q, &k, &v, Some(&mask), &label);
        let o = b.linear(&a, &format!("{p}.attn.out"), true);
        h = b.op("Add", &label, &[&h, &o], vec![]);

        let label = format!("{l}/layers.{i}/encoder_attn");
        let n = b.layer_norm(&h, &format!("{p}.cross_attn_ln"));
        let q = b.query(&n, &format!("{p}.cross_attn"));
        let (k, v) = if with_past {
            let names = [
                format!("past_key_values.{i}.encoder.key"),
                format!("past_key_values.{i}.encoder.value"),
            ];
            for n in &names {
                inputs.push(value_info(n, io, &kv_dims("encoder_sequence_length_out")));
            }
            let [k, v] = names;
            (k, v)
        } else {
            let (k, v) = b.kv("encoder_hidden_states", &format!("{p}.cross_attn"));
            for (kind, t) in [("key", &k), ("value", &v)] {
                let name = format!("present.{i}.encoder.{kind}");
                b.op_out(
                    "Identity",
                    &format!("{label}/{kind}"),
                    &[t],
                    &[&name],
                    "",
                    vec![],
                );
                outputs.push(value_info(
                    &name,
                    io,
                    &kv_dims("encoder_sequence_length_out"),
                ));
            }
            (k, v)
        };
        let a = b.attend(&q, &k, &v, None, &label);
        let o = b.linear(&a, &format!("{p}.cross_attn.out"), true);
        h = b.op("Add", &label, &[&h, &o], vec![]);
        h = b.mlp(&h, &p);
    }
    let n = b.layer_norm(&h, "decoder.ln");
    // The output projection is the token embedding (tied), as `proj_out`.
    let logits = if b.int8 {
        b.linear(&n, "decoder.token_embedding", false)
    } else {
        let w = b.weight("decoder.token_embedding.weight", true);
        b.op("MatMul", "/proj_out", &[&n, &w], vec![])
    };
    b.op_out(
        "Identity",
        "/proj_out/output",
        &[&logits],
        &["logits"],
        "",
        vec![],
    );
    b.finish(inputs, outputs)
}

/// Where each external initializer lies in its data file.
fn layout(inits: &[Init]) -> (Vec<(u64, u64)>, u64) {
    let mut spans = Vec::new();
    let mut pos = 0u64;
    for t in inits {
        let len = t.bytes();
        if len > ALIGN_THRESHOLD {
            pos = pos.div_ceil(DATA_ALIGNMENT) * DATA_ALIGNMENT;
        }
        spans.push((pos, len));
        pos += len;
    }
    (spans, pos)
}

fn model_proto(
    g: &Graph,
    data_file: &str,
    spans: &HashMap<String, (u64, u64)>,
    spec: &WhisperSpec,
    quant: WhisperQuant,
    seed: u64,
) -> proto::ModelProto {
    let kv = |k: &str, v: &str| proto::StringStringEntryProto {
        key: Some(k.into()),
        value: Some(v.into()),
    };
    let mut initializer: Vec<TensorProto> = g
        .inits
        .iter()
        .map(|t| {
            let (offset, length) = spans[&t.name];
            TensorProto {
                dims: t.dims.clone(),
                data_type: Some(t.dtype as i32),
                name: Some(t.name.clone()),
                data_location: Some(DataLocation::External as i32),
                external_data: vec![
                    kv("location", data_file),
                    kv("offset", &offset.to_string()),
                    kv("length", &length.to_string()),
                ],
                ..Default::default()
            }
        })
        .collect();
    initializer.extend(g.inline.iter().cloned());
    let opset = |domain: &str, version| proto::OperatorSetIdProto {
        domain: Some(domain.into()),
        version: Some(version),
    };
    proto::ModelProto {
        ir_version: Some(10),
        opset_import: vec![opset("", 22)],
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
            kv("edgebench.model", &spec.name),
            kv("edgebench.quant", quant.name()),
            kv("edgebench.seed", &seed.to_string()),
            kv(
                "edgebench.generator_version",
                &super::cache::GENERATOR_VERSION.to_string(),
            ),
        ],
        ..Default::default()
    }
}

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

/// The bytes of one initializer.
fn init_bytes(spec: &WhisperSpec, seed: u64, t: &Init) -> anyhow::Result<Vec<u8>> {
    let openai = match &t.source {
        Source::Plain(n) | Source::Transposed(n) | Source::Int8(n) => n,
    };
    let w = tensor_by_name(spec, openai);
    let mut values = tensor_f32(spec, seed, &w)?;
    if matches!(t.source, Source::Transposed(_) | Source::Int8(_)) {
        let (rows, cols) = (w.shape[0], w.shape[1]);
        let mut out = vec![0f32; values.len()];
        for r in 0..rows {
            for c in 0..cols {
                out[c * rows + r] = values[r * cols + c];
            }
        }
        values = out;
    }
    Ok(match t.dtype {
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
            super::TensorKind::Linear { .. } | super::TensorKind::TokenEmbedding
        ) {
            out.insert(t.name.clone(), int8_scale(&tensor_f32(spec, seed, &t)?));
        }
    }
    Ok(out)
}

/// The encoder graph, the first-call decoder graph and the with-past decoder graph.
fn graphs(spec: &WhisperSpec, quant: WhisperQuant, scales: &HashMap<String, f32>) -> [Graph; 3] {
    [
        encoder_graph(spec, quant, scales),
        decoder_graph(spec, quant, scales, false),
        decoder_graph(spec, quant, scales, true),
    ]
}

/// Bytes of external weights the folder holds (both data files).
pub fn planned_bytes(spec: &WhisperSpec, quant: WhisperQuant) -> u64 {
    // Scales do not change sizes: any value works here.
    let scales: HashMap<String, f32> = tensors(spec).into_iter().map(|t| (t.name, 1.0)).collect();
    let [enc, dec, _] = graphs(spec, quant, &scales);
    layout(&enc.inits).1 + layout(&dec.inits).1
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
    let mut config = hf_config(spec);
    if quant == WhisperQuant::F16 {
        config["torch_dtype"] = "float16".into();
    }
    let config_path = dir.join(super::hf::CONFIG);
    std::fs::write(&config_path, serde_json::to_string_pretty(&config)?)
        .with_context(|| format!("writing {}", config_path.display()))?;
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
    let gen_path = dir.join(GENERATION_CONFIG);
    std::fs::write(&gen_path, serde_json::to_string_pretty(&generation)?)
        .with_context(|| format!("writing {}", gen_path.display()))?;

    let scales = int8_scales(spec, quant, seed)?;
    let [enc, dec, dec_past] = graphs(spec, quant, &scales);
    let total = planned_bytes(spec, quant);
    let mut done = 0u64;
    progress(0, total);
    let mut files: Vec<PathBuf> = Vec::new();
    for (graph_list, data_file) in [
        (vec![(&enc, ENCODER)], ENCODER_DATA),
        (
            vec![(&dec, DECODER), (&dec_past, DECODER_WITH_PAST)],
            DECODER_DATA,
        ),
    ] {
        // The first graph uses every weight of its data file (the with-past decoder a subset).
        let (spans, _) = layout(&graph_list[0].0.inits);
        let path = dir.join(data_file);
        let file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut pos = 0u64;
        let mut by_name = HashMap::new();
        for (t, &(offset, len)) in graph_list[0].0.inits.iter().zip(&spans) {
            let bytes = init_bytes(spec, seed, t)?;
            debug_assert_eq!(bytes.len() as u64, len);
            out.write_all(&vec![0u8; (offset - pos) as usize])
                .and_then(|_| out.write_all(&bytes))
                .with_context(|| format!("writing {}", path.display()))?;
            pos = offset + len;
            done += len;
            progress(done.min(total), total);
            by_name.insert(t.name.clone(), (offset, len));
        }
        out.flush()
            .with_context(|| format!("writing {}", path.display()))?;
        files.push(path);
        for (g, name) in graph_list {
            let model = model_proto(g, data_file, &by_name, spec, quant, seed);
            let path = dir.join(name);
            std::fs::write(&path, model.encode_to_vec())
                .with_context(|| format!("writing {}", path.display()))?;
            files.push(path);
        }
    }
    files.push(config_path);
    files.push(gen_path);
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
    progress(total, total);
    Ok(SynthReport {
        path: dir.to_path_buf(),
        bytes,
        sha256: hex::encode(hasher.finalize()),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// An Optimum-layout Whisper folder as a backend would find it.
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxFolder {
    pub spec: WhisperSpec,
    pub encoder: PathBuf,
    /// `decoder_model.onnx` and `decoder_with_past_model.onnx`.
    pub decoder: PathBuf,
    pub decoder_with_past: PathBuf,
    /// `f32`, `f16` or `int8` (see [`graph_quant`]), or `unknown`.
    pub quant: String,
    /// Bytes of every `.onnx` and `.onnx_data` file in the folder.
    pub file_bytes: u64,
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What an encoder graph holds: the synthetic folders say it in their metadata; for others it
/// is read from the graph (dynamic int8 ops, else the type of `input_features`). `unknown` for
/// other quantizations (MatMulNBits, static QDQ).
fn graph_quant(m: &proto::ModelProto) -> String {
    if let Some(q) = m
        .metadata_props
        .iter()
        .find(|p| p.key.as_deref() == Some("edgebench.quant"))
        .and_then(|p| p.value.clone())
    {
        return q;
    }
    let Some(g) = &m.graph else {
        return "unknown".into();
    };
    let has = |ops: &[&str]| {
        g.node
            .iter()
            .any(|n| ops.contains(&n.op_type.as_deref().unwrap_or_default()))
    };
    if has(&["MatMulInteger", "DynamicQuantizeMatMul", "ConvInteger"]) {
        return "int8".into();
    }
    if has(&[
        "MatMulNBits",
        "QuantizeLinear",
        "DequantizeLinear",
        "QLinearMatMul",
    ]) {
        return "unknown".into();
    }
    let input_type = g
        .input
        .iter()
        .find(|i| i.name.as_deref() == Some("input_features"))
        .and_then(|i| i.r#type.as_ref())
        .and_then(|t| match &t.value {
            Some(proto::type_proto::Value::TensorType(t)) => t.elem_type,
            _ => None,
        });
    match input_type {
        Some(t) if t == DataType::Float as i32 => "f32".into(),
        Some(t) if t == DataType::Float16 as i32 => "f16".into(),
        _ => "unknown".into(),
    }
}

/// The variant suffix of a model given as its encoder file: Hugging Face repositories such as
/// onnx-community's keep several exports side by side (`encoder_model_fp16.onnx`,
/// `decoder_model_fp16.onnx`, …); `--model …/encoder_model_fp16.onnx` picks `_fp16`.
fn variant(path: &Path) -> String {
    if !path.is_file() {
        return String::new();
    }
    file_name(path)
        .strip_prefix("encoder_model")
        .and_then(|r| r.strip_suffix(".onnx"))
        .unwrap_or_default()
        .to_string()
}

/// The folder of an ONNX model given as the folder, its `onnx/` subfolder or one of its files.
pub fn model_folder(path: &Path) -> PathBuf {
    let dir = if path.is_file() {
        path.parent().unwrap_or(path).to_path_buf()
    } else {
        path.to_path_buf()
    };
    if !dir.join(ENCODER).is_file() && dir.join("onnx").join(ENCODER).is_file() {
        return dir.join("onnx");
    }
    dir
}

/// Whether `path` looks like an ONNX Whisper folder (or its encoder file).
pub fn is_onnx_folder(path: &Path) -> bool {
    if path.is_file() && file_name(path).starts_with("encoder_model") {
        return true;
    }
    let dir = model_folder(path);
    [ENCODER, DECODER, DECODER_MERGED]
        .iter()
        .any(|f| dir.join(f).is_file())
}

/// Read `config.json` (in the folder or the one above, as Hugging Face repositories keep
/// `onnx/` apart) and find the graphs (of the variant `path` names when it is an encoder file,
/// see [`variant`]); one-line errors naming the file.
pub fn inspect_folder(path: &Path) -> anyhow::Result<OnnxFolder> {
    let dir = model_folder(path);
    let config_dir = if dir.join(super::hf::CONFIG).is_file() {
        dir.clone()
    } else {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir.clone())
    };
    let summary = super::hf::read_config(&config_dir)?;
    let suffix = variant(path);
    let named = |file: &str| dir.join(file.replace(".onnx", &format!("{suffix}.onnx")));
    let encoder = named(ENCODER);
    if !encoder.is_file() {
        bail!(
            "{}: missing (an ONNX Whisper folder has one)",
            encoder.display()
        );
    }
    let (decoder, decoder_with_past) = (named(DECODER), named(DECODER_WITH_PAST));
    if !decoder.is_file() || !decoder_with_past.is_file() {
        if named(DECODER_MERGED).is_file() {
            bail!(
                "{}: only {DECODER_MERGED}; this version runs the non-merged export \
                 ({DECODER} + {DECODER_WITH_PAST}, optimum-cli export onnx --no-post-process)",
                dir.display()
            );
        }
        bail!(
            "{}: needs {} and {} next to {}",
            dir.display(),
            file_name(&decoder),
            file_name(&decoder_with_past),
            file_name(&encoder)
        );
    }
    let mut file_bytes = 0;
    for e in std::fs::read_dir(&dir).with_context(|| format!("{}: cannot list", dir.display()))? {
        let p = e?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.ends_with(".onnx") || name.ends_with(".onnx_data") || name.ends_with(".onnx.data") {
            file_bytes += std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        }
    }
    let quant = std::fs::read(&encoder)
        .ok()
        .and_then(|b| proto::ModelProto::decode(b.as_slice()).ok())
        .map_or_else(|| "unknown".to_string(), |m| graph_quant(&m));
    Ok(OnnxFolder {
        spec: summary,
        encoder,
        decoder,
        decoder_with_past,
        quant,
        file_bytes,
    })
}
