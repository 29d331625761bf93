//! Precisions of GenAI models.

use crate::catalog::Quant;
use crate::graph::proto::tensor_proto::DataType;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Precisions of GenAI models, named as the model builder's `-p` option names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum OnnxQuant {
    Fp32,
    Fp16,
    /// MatMulNBits, 8 bits, block 32, symmetric.
    Int8,
    /// MatMulNBits, 4 bits, block 32, symmetric (the builder's `-p int4 -e cpu`).
    Int4,
}

impl OnnxQuant {
    pub const ALL: [OnnxQuant; 4] = [
        OnnxQuant::Fp32,
        OnnxQuant::Fp16,
        OnnxQuant::Int8,
        OnnxQuant::Int4,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OnnxQuant::Fp32 => "fp32",
            OnnxQuant::Fp16 => "fp16",
            OnnxQuant::Int8 => "int8",
            OnnxQuant::Int4 => "int4",
        }
    }

    pub fn parse(s: &str) -> Option<OnnxQuant> {
        let norm = s.trim().to_ascii_lowercase();
        OnnxQuant::ALL.into_iter().find(|q| q.name() == norm)
    }

    /// Element type of activations, KV cache and float weights: the builder keeps fp32 for
    /// int4/int8 on the CPU.
    pub fn io_dtype(self) -> DataType {
        match self {
            OnnxQuant::Fp16 => DataType::Float16,
            _ => DataType::Float,
        }
    }

    /// Bits of the MatMulNBits weights, `None` for float models.
    pub fn nbits(self) -> Option<u32> {
        match self {
            OnnxQuant::Int8 => Some(8),
            OnnxQuant::Int4 => Some(4),
            _ => None,
        }
    }

    /// The GenAI precision a user of ONNX Runtime would run where a llama.cpp user runs the
    /// GGUF quantization `q`: same width class (Q4_0 and Q4_K_M → int4, Q8_0 → int8). `None`
    /// where GenAI has no counterpart (Q5_K_M).
    pub fn counterpart_of(q: Quant) -> Option<OnnxQuant> {
        match q {
            Quant::F32 => Some(OnnxQuant::Fp32),
            Quant::F16 => Some(OnnxQuant::Fp16),
            Quant::Q8_0 => Some(OnnxQuant::Int8),
            Quant::Q4_0 | Quant::Q4KM => Some(OnnxQuant::Int4),
            Quant::Q5KM => None,
        }
    }
}

impl fmt::Display for OnnxQuant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
