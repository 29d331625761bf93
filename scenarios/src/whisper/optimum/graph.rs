//! The encoder, first-call decoder and with-past decoder graphs, as the PyTorch exporter
//! emits them for `WhisperForConditionalGeneration`, on the shared ONNX builder.

use crate::catalog::{WhisperQuant, WhisperSpec};
use crate::graph::proto::{tensor_proto::DataType, AttributeProto, TensorProto, ValueInfoProto};
use crate::graph::{
    attr_float, attr_int, attr_ints, attr_str, i64_tensor, value_info, Dim, GraphBuilder, Tensor,
};
use crate::whisper::arch::{hf_name, tensors};
use std::collections::HashMap;

const LN_EPS: f32 = 1e-5;

/// How an initializer's bytes are made from a Whisper tensor (by its OpenAI name).
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The tensor as stored (PyTorch layout), in the graph's float type.
    Plain(String),
    /// A linear weight `[out, in]` transposed to the MatMul's `[in, out]`.
    Transposed(String),
    /// The transpose quantized to int8 with its per-tensor scale (symmetric).
    Int8(String),
}

impl Source {
    /// The OpenAI name of the tensor the bytes come from.
    pub fn tensor(&self) -> &str {
        match self {
            Source::Plain(n) | Source::Transposed(n) | Source::Int8(n) => n,
        }
    }
}

/// A Whisper graph, each weight with the [`Source`] of its bytes.
pub type Graph = crate::graph::Graph<Source>;

/// The encoder graph, the first-call decoder graph and the with-past decoder graph.
/// `scales` are the per-tensor int8 scales of the linear weights (int8 only).
pub fn graphs(
    spec: &WhisperSpec,
    quant: WhisperQuant,
    scales: &HashMap<String, f32>,
) -> [Graph; 3] {
    [
        encoder_graph(spec, quant, scales),
        decoder_graph(spec, quant, scales, false),
        decoder_graph(spec, quant, scales, true),
    ]
}

fn shape_of(spec: &WhisperSpec, openai: &str) -> Vec<usize> {
    tensors(spec)
        .into_iter()
        .find(|t| t.name == openai)
        .map(|t| t.shape)
        .expect("a Whisper tensor name")
}

/// `/model/encoder/layers/0/self_attn` for `encoder.blocks.0.attn`.
fn label_of(prefix: &str) -> String {
    format!("/{}", hf_name(prefix).replace('.', "/"))
}

fn sym(s: &str) -> Dim {
    Dim::Param(s.into())
}

/// One graph under construction.
struct Builder<'a> {
    b: GraphBuilder<Source>,
    spec: &'a WhisperSpec,
    io: DataType,
    int8: bool,
    /// Per-tensor int8 scales, by OpenAI tensor name.
    scales: &'a HashMap<String, f32>,
    /// DynamicQuantizeLinear outputs by input, shared by the MatMuls that read one activation.
    quantized: HashMap<String, [String; 3]>,
    /// Attention heads of the graph's blocks.
    heads: usize,
}

impl<'a> Builder<'a> {
    fn new(spec: &'a WhisperSpec, quant: WhisperQuant, scales: &'a HashMap<String, f32>) -> Self {
        Self {
            b: GraphBuilder::default(),
            spec,
            io: if quant == WhisperQuant::F16 {
                DataType::Float16
            } else {
                DataType::Float
            },
            int8: quant == WhisperQuant::Int8,
            scales,
            quantized: HashMap::new(),
            heads: spec.n_text_head,
        }
    }

    /// A node named `<label>/<op>_<n>`; returns its output.
    fn op(&mut self, op: &str, label: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        self.b.numbered(op, label, inputs, attrs)
    }

    /// `Identity` from `input` to the graph output `output`.
    fn output(&mut self, name: &str, input: &str, output: &str) {
        self.b
            .node("Identity", name, &[input], &[output], "", vec![]);
    }

    /// An int64 constant (a scalar when `scalar`).
    fn i64s(&mut self, values: &[i64], scalar: bool) -> String {
        let name = format!(
            "/constants/INT64/{values:?}{}",
            if scalar { "s" } else { "" }
        );
        self.b.constant(name, i64_tensor(values, scalar))
    }

    /// A float scalar constant of type `dtype`.
    fn scalar(&mut self, value: f32, dtype: DataType) -> String {
        let raw = match dtype {
            DataType::Float16 => half::f16::from_f32(value).to_le_bytes().to_vec(),
            _ => value.to_le_bytes().to_vec(),
        };
        let t = TensorProto {
            data_type: Some(dtype as i32),
            raw_data: Some(raw),
            ..Default::default()
        };
        self.b
            .constant(format!("/constants/{dtype:?}/{value:?}"), t)
    }

    /// An external float initializer from a Whisper tensor, by its Hugging Face name.
    fn weight(&mut self, openai: &str, transposed: bool) -> String {
        let mut shape = shape_of(self.spec, openai);
        if transposed {
            shape.reverse();
        }
        let name = hf_name(openai) + if transposed { ".T" } else { "" };
        if !self.b.has_weight(&name) {
            let source = if transposed {
                Source::Transposed(openai.into())
            } else {
                Source::Plain(openai.into())
            };
            let t = Tensor {
                name: name.clone(),
                dtype: self.io,
                dims: shape.iter().map(|&d| d as i64).collect(),
            };
            self.b.weight(source, vec![t]);
        }
        name
    }

    /// The int8 transpose of `w_name` with its scale and zero point (inline); returns
    /// `<hf name>.T`, the stem of the three names.
    fn int8_weight(&mut self, w_name: &str) -> String {
        let base = hf_name(w_name) + ".T";
        let q_name = format!("{base}_quantized");
        if self.b.has_weight(&q_name) {
            return base;
        }
        let shape = shape_of(self.spec, w_name);
        let t = Tensor {
            name: q_name,
            dtype: DataType::Int8,
            dims: vec![shape[1] as i64, shape[0] as i64],
        };
        self.b.weight(Source::Int8(w_name.into()), vec![t]);
        let scale = self.scales[w_name];
        self.b.inline(TensorProto {
            name: Some(format!("{base}_scale")),
            data_type: Some(DataType::Float as i32),
            raw_data: Some(scale.to_le_bytes().to_vec()),
            ..Default::default()
        });
        self.b.inline(TensorProto {
            name: Some(format!("{base}_zero_point")),
            data_type: Some(DataType::Int8 as i32),
            raw_data: Some(vec![0]),
            ..Default::default()
        });
        base
    }

    /// `DynamicQuantizeLinear` of `x` (once per activation): (quantized, scale, zero point).
    fn quantize_input(&mut self, x: &str) -> [String; 3] {
        if let Some(q) = self.quantized.get(x) {
            return q.clone();
        }
        let outs = [
            format!("{x}_quantized"),
            format!("{x}_scale"),
            format!("{x}_zero_point"),
        ];
        let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
        let name = format!("{x}_QuantizeLinear");
        self.b
            .node("DynamicQuantizeLinear", &name, &[x], &refs, "", vec![]);
        self.quantized.insert(x.to_string(), outs.clone());
        outs
    }

    /// `x · Wᵀ (+ b)` for the linear layer `prefix` (OpenAI name without `.weight`); int8 as
    /// `quantize_dynamic` writes it (MatMulInteger, Cast, Mul by both scales).
    fn linear(&mut self, x: &str, prefix: &str, bias: bool) -> String {
        let w_name = format!("{prefix}.weight");
        let label = label_of(prefix);
        let y = if self.int8 {
            let base = self.int8_weight(&w_name);
            let [xq, xs, xz] = self.quantize_input(x);
            let (q, zp) = (format!("{base}_quantized"), format!("{base}_zero_point"));
            let mm = self.op("MatMulInteger", &label, &[&xq, &q, &xz, &zp], vec![]);
            let to_float = vec![attr_int("to", DataType::Float as i64)];
            let f = self.op("Cast", &label, &[&mm], to_float);
            let s = self.op("Mul", &label, &[&xs, &format!("{base}_scale")], vec![]);
            self.op("Mul", &label, &[&f, &s], vec![])
        } else {
            let w = self.weight(&w_name, true);
            self.op("MatMul", &label, &[x, &w], vec![])
        };
        if !bias {
            return y;
        }
        let b = self.weight(&format!("{prefix}.bias"), false);
        self.op("Add", &label, &[&y, &b], vec![])
    }

    fn layer_norm(&mut self, x: &str, prefix: &str) -> String {
        let w = self.weight(&format!("{prefix}.weight"), false);
        let b = self.weight(&format!("{prefix}.bias"), false);
        let attrs = vec![attr_int("axis", -1), attr_float("epsilon", LN_EPS)];
        self.op("LayerNormalization", &label_of(prefix), &[x, &w, &b], attrs)
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
        let perm = vec![attr_ints("perm", &[0, 2, 1, 3])];
        self.op("Transpose", label, &[&r], perm)
    }

    /// Softmax(q·kᵀ + mask)·v over `[b, heads, ·, head]` tensors, merged back to `[b, s, d]`.
    fn attend(&mut self, q: &str, k: &str, v: &str, mask: Option<&str>, label: &str) -> String {
        let perm = |p: &[i64]| vec![attr_ints("perm", p)];
        let kt = self.op("Transpose", label, &[k], perm(&[0, 1, 3, 2]));
        let mut scores = self.op("MatMul", label, &[q, &kt], vec![]);
        if let Some(m) = mask {
            scores = self.op("Add", label, &[&scores, m], vec![]);
        }
        let p = self.op("Softmax", label, &[&scores], vec![attr_int("axis", -1)]);
        let o = self.op("MatMul", label, &[&p, v], vec![]);
        let t = self.op("Transpose", label, &[&o], perm(&[0, 2, 1, 3]));
        let shape = self.i64s(&[0, 0, self.spec.n_text_state as i64], false);
        self.op("Reshape", label, &[&t, &shape], vec![])
    }

    /// The scaled query of attention `prefix`, split into heads.
    fn query(&mut self, x: &str, prefix: &str) -> String {
        let q = self.linear(x, &format!("{prefix}.query"), true);
        let dh = self.spec.n_text_state / self.heads;
        let s = self.scalar((dh as f32).powf(-0.5), self.io);
        let label = label_of(prefix);
        let q = self.op("Mul", &label, &[&q, &s], vec![]);
        self.heads(&q, &label)
    }

    fn kv(&mut self, x: &str, prefix: &str) -> (String, String) {
        let label = label_of(prefix);
        let k = self.linear(x, &format!("{prefix}.key"), false);
        let v = self.linear(x, &format!("{prefix}.value"), true);
        (self.heads(&k, &label), self.heads(&v, &label))
    }

    fn mlp(&mut self, x: &str, prefix: &str) -> String {
        let n = self.layer_norm(x, &format!("{prefix}.mlp_ln"));
        let h = self.linear(&n, &format!("{prefix}.mlp.0"), true);
        let label = format!("{}/fc1", label_of(prefix));
        let g = self.gelu(&h, &label);
        let y = self.linear(&g, &format!("{prefix}.mlp.2"), true);
        self.op("Add", &label, &[x, &y], vec![])
    }
}

fn encoder_graph(spec: &WhisperSpec, quant: WhisperQuant, scales: &HashMap<String, f32>) -> Graph {
    let mut b = Builder::new(spec, quant, scales);
    b.heads = spec.n_audio_head;
    let mut h = conv_stem(&mut b);
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
    b.output("/model/encoder/output", &out, "last_hidden_state");
    // The encoder's width equals the decoder's (`WhisperSpec::validate`).
    let d = spec.n_audio_state as i64;
    let mels = Dim::Value(spec.n_mels as i64);
    let input = [sym("batch_size"), mels, sym("feature_size")];
    let frames = sym("encoder_sequence_length / 2");
    let output = [sym("batch_size"), frames, Dim::Value(d)];
    let io = b.io;
    b.b.finish(
        vec![value_info("input_features", io, &input)],
        vec![value_info("last_hidden_state", io, &output)],
    )
}

/// The two convolutions (the second with stride 2) with their GELUs, transposed to
/// `[b, frames, d]`, plus the sinusoidal positions.
fn conv_stem(b: &mut Builder) -> String {
    let conv = |stride: i64| {
        vec![
            attr_ints("kernel_shape", &[3]),
            attr_ints("pads", &[1, 1]),
            attr_ints("strides", &[stride]),
        ]
    };
    let w1 = b.weight("encoder.conv1.weight", false);
    let b1 = b.weight("encoder.conv1.bias", false);
    let c1 = b.op(
        "Conv",
        "/model/encoder/conv1",
        &["input_features", &w1, &b1],
        conv(1),
    );
    let g1 = b.gelu(&c1, "/model/encoder");
    let w2 = b.weight("encoder.conv2.weight", false);
    let b2 = b.weight("encoder.conv2.bias", false);
    let c2 = b.op("Conv", "/model/encoder/conv2", &[&g1, &w2, &b2], conv(2));
    let g2 = b.gelu(&c2, "/model/encoder");
    let perm = vec![attr_ints("perm", &[0, 2, 1])];
    let t = b.op("Transpose", "/model/encoder", &[&g2], perm);
    let pos = b.weight("encoder.positional_embedding", false);
    b.op("Add", "/model/encoder", &[&t, &pos], vec![])
}

/// A decoder's inputs and outputs, collected as its layers are built.
struct DecoderIo {
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    io: DataType,
    heads: i64,
    head: i64,
    /// Symbolic length of the self-attention cache the graph returns.
    present_len: &'static str,
}

impl DecoderIo {
    fn cache_dims(&self, len: &str) -> [Dim; 4] {
        [
            sym("batch_size"),
            Dim::Value(self.heads),
            sym(len),
            Dim::Value(self.head),
        ]
    }

    fn input(&mut self, name: &str, len: &str) {
        let dims = self.cache_dims(len);
        self.inputs.push(value_info(name, self.io, &dims));
    }

    fn output(&mut self, name: &str, len: &str) {
        let dims = self.cache_dims(len);
        self.outputs.push(value_info(name, self.io, &dims));
    }
}

/// The first-call decoder (`with_past` false) or the one that takes the caches.
fn decoder_graph(
    spec: &WhisperSpec,
    quant: WhisperQuant,
    scales: &HashMap<String, f32>,
    with_past: bool,
) -> Graph {
    let mut b = Builder::new(spec, quant, scales);
    let (positions, total) = positions(&mut b, with_past);
    let mut h = embed(&mut b, &positions);
    let mask = causal_mask(&mut b, &positions, &total);
    let mut io = decoder_io(spec, b.io, with_past);
    for i in 0..spec.n_text_layer {
        let p = format!("decoder.blocks.{i}");
        h = self_attention(&mut b, &mut io, i, &h, &mask, with_past);
        h = cross_attention(&mut b, &mut io, i, &h, with_past);
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
    b.output("/proj_out/output", &logits, "logits");
    b.b.finish(io.inputs, io.outputs)
}

/// Positions `past_len .. past_len + seq` and the total length.
fn positions(b: &mut Builder, with_past: bool) -> (String, String) {
    let l = "/model/decoder";
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
    (positions, total)
}

/// Token embeddings plus learned positions.
fn embed(b: &mut Builder, positions: &str) -> String {
    let l = "/model/decoder";
    let axis0 = || vec![attr_int("axis", 0)];
    let emb = b.weight("decoder.token_embedding.weight", false);
    let tok = b.op("Gather", l, &[&emb, "input_ids"], axis0());
    let pos_table = b.weight("decoder.positional_embedding", false);
    let pos = b.op("Gather", l, &[&pos_table, positions], axis0());
    b.op("Add", l, &[&tok, &pos], vec![])
}

/// Causal mask `[seq, total]`: a large negative where key position > query position.
fn causal_mask(b: &mut Builder, positions: &str, total: &str) -> String {
    let l = "/model/decoder";
    let (zero, one) = (b.i64s(&[0], true), b.i64s(&[1], true));
    let cols = b.op("Range", l, &[&zero, total, &one], vec![]);
    let axis1 = b.i64s(&[1], false);
    let rows = b.op("Unsqueeze", l, &[positions, &axis1], vec![]);
    let future = b.op("Greater", l, &[&cols, &rows], vec![]);
    let min = if b.io == DataType::Float16 {
        -65504.0
    } else {
        f32::MIN
    };
    let neg = b.scalar(min, b.io);
    let zero_f = b.scalar(0.0, b.io);
    b.op("Where", l, &[&future, &neg, &zero_f], vec![])
}

/// `input_ids` (and `encoder_hidden_states` on the first call) → `logits`; the layers add
/// their caches.
fn decoder_io(spec: &WhisperSpec, io: DataType, with_past: bool) -> DecoderIo {
    let mut inputs = vec![value_info(
        "input_ids",
        DataType::Int64,
        &[sym("batch_size"), sym("decoder_sequence_length")],
    )];
    if !with_past {
        let state = Dim::Value(spec.n_text_state as i64);
        let dims = [sym("batch_size"), sym("encoder_sequence_length / 2"), state];
        inputs.push(value_info("encoder_hidden_states", io, &dims));
    }
    let vocab = Dim::Value(spec.n_vocab as i64);
    let logits = [sym("batch_size"), sym("decoder_sequence_length"), vocab];
    DecoderIo {
        inputs,
        outputs: vec![value_info("logits", io, &logits)],
        io,
        heads: spec.n_text_head as i64,
        head: (spec.n_text_state / spec.n_text_head) as i64,
        present_len: if with_past {
            "past_decoder_sequence_length + 1"
        } else {
            "decoder_sequence_length"
        },
    }
}

/// Masked self-attention of decoder layer `i`; with past, the cache grows by `Concat`.
fn self_attention(
    b: &mut Builder,
    io: &mut DecoderIo,
    i: usize,
    h: &str,
    mask: &str,
    with_past: bool,
) -> String {
    let p = format!("decoder.blocks.{i}");
    let label = format!("/model/decoder/layers.{i}/self_attn");
    let n = b.layer_norm(h, &format!("{p}.attn_ln"));
    let q = b.query(&n, &format!("{p}.attn"));
    let (mut k, mut v) = b.kv(&n, &format!("{p}.attn"));
    if with_past {
        for (kind, t) in [("key", &mut k), ("value", &mut v)] {
            let past = format!("past_key_values.{i}.decoder.{kind}");
            io.input(&past, "past_decoder_sequence_length");
            *t = b.op("Concat", &label, &[&past, t], vec![attr_int("axis", 2)]);
        }
    }
    for (kind, t) in [("key", &k), ("value", &v)] {
        let name = format!("present.{i}.decoder.{kind}");
        b.output(&format!("{label}/{kind}"), t, &name);
        io.output(&name, io.present_len);
    }
    let a = b.attend(&q, &k, &v, Some(mask), &label);
    let o = b.linear(&a, &format!("{p}.attn.out"), true);
    b.op("Add", &label, &[h, &o], vec![])
}

/// Cross-attention of decoder layer `i` over the encoder output: its keys and values computed
/// on the first call and returned, taken as inputs with past.
fn cross_attention(
    b: &mut Builder,
    io: &mut DecoderIo,
    i: usize,
    h: &str,
    with_past: bool,
) -> String {
    let p = format!("decoder.blocks.{i}");
    let label = format!("/model/decoder/layers.{i}/encoder_attn");
    let n = b.layer_norm(h, &format!("{p}.cross_attn_ln"));
    let q = b.query(&n, &format!("{p}.cross_attn"));
    let len = "encoder_sequence_length_out";
    let (k, v) = if with_past {
        let k = format!("past_key_values.{i}.encoder.key");
        let v = format!("past_key_values.{i}.encoder.value");
        io.input(&k, len);
        io.input(&v, len);
        (k, v)
    } else {
        let (k, v) = b.kv("encoder_hidden_states", &format!("{p}.cross_attn"));
        for (kind, t) in [("key", &k), ("value", &v)] {
            let name = format!("present.{i}.encoder.{kind}");
            b.output(&format!("{label}/{kind}"), t, &name);
            io.output(&name, len);
        }
        (k, v)
    };
    let a = b.attend(&q, &k, &v, None, &label);
    let o = b.linear(&a, &format!("{p}.cross_attn.out"), true);
    b.op("Add", &label, &[h, &o], vec![])
}
