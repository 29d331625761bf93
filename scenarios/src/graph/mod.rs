//! The ONNX graph builder both ONNX writers share: GenAI's LLM decoder
//! ([`crate::llm::genai`]) and Optimum's Whisper encoder and decoders
//! ([`crate::whisper::optimum`]). Messages are ONNX's own protobuf schema (`proto/onnx.proto`)
//! compiled by prost ([`proto`]); [`builder`] collects nodes, constants and the weights a graph
//! references; [`external`] lays the weights out in an external data file, writes them there
//! and wraps the graph in a model.

pub mod builder;
pub mod external;
pub mod proto;

pub use builder::{
    attr_float, attr_int, attr_ints, attr_str, element_bytes, i64_tensor, value_info, Dim, Graph,
    GraphBuilder, Tensor,
};
pub(crate) use external::DataFile;
pub use external::{layout, model_proto, ModelInfo, Sink, Spans};
