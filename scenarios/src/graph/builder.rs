//! Nodes, constants, weights and value infos of one ONNX graph under construction.

use super::proto::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, NodeProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

/// One external initializer as the graph references it; its bytes are made by the writer
/// from the source it was registered with.
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

/// Bytes of one element of a weight type.
pub fn element_bytes(dtype: DataType) -> u64 {
    match dtype {
        DataType::Float | DataType::Int32 => 4,
        DataType::Float16 => 2,
        DataType::Uint8 | DataType::Int8 => 1,
        DataType::Int64 => 8,
        other => unreachable!("no synthetic weights of type {other:?}"),
    }
}

/// A finished graph: nodes, inputs and outputs, and its weights in data-file order, each
/// with the source `S` its bytes are made from (the writer's own description).
pub struct Graph<S> {
    pub nodes: Vec<NodeProto>,
    pub inputs: Vec<ValueInfoProto>,
    pub outputs: Vec<ValueInfoProto>,
    /// External weights: each source and the initializers it writes.
    pub weights: Vec<(S, Vec<Tensor>)>,
    /// Small initializers stored in the graph itself.
    pub inline: Vec<TensorProto>,
}

impl<S> Graph<S> {
    /// Every external initializer, in data-file order.
    pub fn tensors(&self) -> impl Iterator<Item = &Tensor> {
        self.weights.iter().flat_map(|(_, ts)| ts)
    }
}

/// A graph under construction; `S` describes how a weight's bytes are made.
pub struct GraphBuilder<S> {
    nodes: Vec<NodeProto>,
    constants: Vec<String>,
    weights: Vec<(S, Vec<Tensor>)>,
    inline: Vec<TensorProto>,
    /// Nodes named by [`GraphBuilder::numbered`] so far.
    count: usize,
}

impl<S> Default for GraphBuilder<S> {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            constants: Vec::new(),
            weights: Vec::new(),
            inline: Vec::new(),
            count: 0,
        }
    }
}

impl<S> GraphBuilder<S> {
    /// A node with its outputs named. Trailing optional inputs that are absent (`""`) are left
    /// out, as ONNX allows.
    pub fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        outputs: &[&str],
        domain: &str,
        attrs: Vec<AttributeProto>,
    ) {
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

    /// A node named `name` with one output, `<name>/output_0`, which it returns.
    pub fn named(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        domain: &str,
        attrs: Vec<AttributeProto>,
    ) -> String {
        let out = format!("{name}/output_0");
        self.node(op, name, inputs, &[&out], domain, attrs);
        out
    }

    /// A default-domain node named `<label>/<op>_<n>` (`n` counts the nodes named so), with
    /// one output, which it returns.
    pub fn numbered(
        &mut self,
        op: &str,
        label: &str,
        inputs: &[&str],
        attrs: Vec<AttributeProto>,
    ) -> String {
        self.count += 1;
        let name = format!("{label}/{op}_{}", self.count);
        self.named(op, &name, inputs, "", attrs)
    }

    /// A `Constant` node whose output is `name` (added once; the node is named with
    /// `constant_nodes` for `constants`, as onnxruntime-genai's builder names them).
    pub fn constant(&mut self, name: String, tensor: TensorProto) -> String {
        if !self.constants.contains(&name) {
            self.constants.push(name.clone());
            let node_name = name.replace("constants", "constant_nodes");
            let attr = AttributeProto {
                name: Some("value".into()),
                r#type: Some(AttributeType::Tensor as i32),
                t: Some(tensor),
                ..Default::default()
            };
            self.node("Constant", &node_name, &[], &[&name], "", vec![attr]);
        }
        name
    }

    /// External initializers written from `source`, in data-file order.
    pub fn weight(&mut self, source: S, tensors: Vec<Tensor>) {
        self.weights.push((source, tensors));
    }

    /// Whether an external initializer of this name was added.
    pub fn has_weight(&self, name: &str) -> bool {
        self.weights
            .iter()
            .any(|(_, ts)| ts.iter().any(|t| t.name == name))
    }

    /// A small initializer stored in the graph.
    pub fn inline(&mut self, tensor: TensorProto) {
        self.inline.push(tensor);
    }

    pub fn finish(self, inputs: Vec<ValueInfoProto>, outputs: Vec<ValueInfoProto>) -> Graph<S> {
        Graph {
            nodes: self.nodes,
            inputs,
            outputs,
            weights: self.weights,
            inline: self.inline,
        }
    }
}

/// An int64 tensor of `values`: a scalar when `scalar`, else 1-D.
pub fn i64_tensor(values: &[i64], scalar: bool) -> TensorProto {
    TensorProto {
        dims: if scalar {
            vec![]
        } else {
            vec![values.len() as i64]
        },
        data_type: Some(DataType::Int64 as i32),
        int64_data: values.to_vec(),
        ..Default::default()
    }
}

/// A dimension of an input or output: fixed, or a named symbol.
pub enum Dim {
    Value(i64),
    Param(String),
}

pub fn value_info(name: &str, dtype: DataType, dims: &[Dim]) -> ValueInfoProto {
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

pub fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(i),
        ..Default::default()
    }
}

pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub fn attr_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(f),
        ..Default::default()
    }
}

pub fn attr_str(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::String as i32),
        s: Some(s.as_bytes().to_vec()),
        ..Default::default()
    }
}
