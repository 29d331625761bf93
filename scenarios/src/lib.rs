//! The standard scenarios of edgebench, as data.
//!
//! The catalog (`scenarios/catalog/*.toml`, embedded at build time) lists model architectures with
//! their published hyperparameters, quantizations, workloads and suites. It is lenient data that
//! the CLI resolves once into a strict plan. [`synth`] writes models of exactly those shapes with
//! deterministic pseudo-random weights, so nothing needs a download.

pub mod catalog;
pub mod gguf;
pub mod onnx;
pub mod synth;
pub mod whisper;

pub use catalog::{
    Arch, Catalog, CatalogError, ModelSpec, Quant, Suite, WhisperSpec, WorkloadSpec,
};
