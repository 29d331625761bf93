//! Synthetic ONNX Runtime GenAI model folders: `genai_config.json`, `model.onnx` and its
//! external weights `model.onnx.data`, laid out as onnxruntime-genai's model builder lays out
//! the folders people download (Phi-3-mini-4k-instruct-onnx and the like), with the same
//! seeded weights as the synthetic GGUF of the same model and seed.
//!
//! The graph is in [`graph`] (on the shared builder, [`crate::graph`]); the weights are
//! streamed by [`data`], so full sizes are written in bounded memory; [`folder`] writes the
//! folder, [`cache`] keeps it in the model cache; [`inspect`] reads a folder back (a user's or
//! a synthetic one) and checks it before a runtime sees it; [`config`] is `genai_config.json`.

pub mod cache;
pub mod config;
pub mod data;
pub mod folder;
pub mod graph;
pub mod inspect;
pub mod quant;

pub use cache::{cache_path, ensure_cached, CachedFolder, GenaiArtifact};
pub use folder::{
    planned_folder_bytes, write_genai_folder, OnnxReport, DATA_FILE, MODEL_FILE,
    ONNX_GENERATOR_VERSION,
};
pub use inspect::{inspect, FolderSummary};
pub use quant::OnnxQuant;

#[cfg(test)]
mod tests;
