//! The standard scenarios of edgebench, as data, and the synthetic models they run on.
//!
//! The catalog (`scenarios/catalog/*.toml`, embedded at build time) lists model architectures with
//! their published hyperparameters, quantizations, workloads and suites ([`catalog`]). It is
//! lenient data that the CLI resolves once into a strict plan. The model families write models of
//! exactly those shapes with deterministic pseudo-random weights ([`weights`]), so nothing needs
//! a download: [`llm`] in GGUF and ONNX Runtime GenAI folders, [`whisper`] in whisper.cpp files,
//! Hugging Face folders and Optimum ONNX folders. Both ONNX formats are built with one graph
//! builder ([`graph`]); every format is kept in one model cache ([`cache`]).
//!
//! `docs/models.md` describes the model files and how they are synthesized.
//!
//! [`synth`], [`onnx`] and [`gguf`] are the paths callers used before the crate was organized by
//! family; they re-export the items that moved.

pub mod cache;
pub mod catalog;
pub mod graph;
pub mod llm;
pub mod output;
pub mod weights;
pub mod whisper;

pub use catalog::{
    Arch, Catalog, CatalogError, ModelSpec, Quant, Suite, WhisperSpec, WorkloadSpec,
};

/// Synthetic GGUF files and the model cache, at their former path.
pub mod synth {
    pub use crate::cache::{default_models_dir, sidecar_path, CachedModel};
    pub use crate::llm::arch::tensor_weights;
    pub use crate::llm::gguf::sizes::block_matrix_elements;
    pub use crate::llm::gguf::{
        cache_path, ensure_cached, planned_file_bytes, tensor_plan, write_gguf, TensorPlan,
        ALIGNMENT, GENERATOR_VERSION,
    };
    pub use crate::output::SynthReport;
    pub use crate::weights::TensorWeights;
}

/// ONNX Runtime GenAI folders and the ONNX protobuf messages, at their former path.
pub mod onnx {
    pub use crate::graph::proto;
    pub use crate::llm::genai::config as genai_config;
    pub use crate::llm::genai::{
        cache_path, data, ensure_cached, graph, inspect, planned_folder_bytes, write_genai_folder,
        CachedFolder, FolderSummary, OnnxQuant, OnnxReport, DATA_FILE, MODEL_FILE,
        ONNX_GENERATOR_VERSION,
    };
}

/// Sizes of what GGUF files hold, at their former path.
pub mod gguf {
    pub use crate::llm::gguf::sizes::*;
}
