//! Synthetic GGUF models: the exact shapes of published models, deterministic pseudo-random
//! weights ([`crate::weights`]), written with candle's GGUF writer so llama.cpp and candle load
//! them as they load a downloaded file.
//!
//! [`mixture`] picks each tensor's ggml type as llama.cpp's quantize does, [`metadata`] writes
//! llama.cpp's keys and a vocabulary, [`write`] the file, [`cache`] keeps it in the model
//! cache; [`sizes`] counts what a GGUF file holds (for any file, not only synthetic ones).

pub mod cache;
pub mod metadata;
pub mod mixture;
pub mod sizes;
pub mod write;

pub use cache::{cache_path, ensure_cached, GgufArtifact};
pub use metadata::{ALIGNMENT, GENERATOR_VERSION};
pub use mixture::{tensor_plan, TensorPlan};
pub use write::{planned_file_bytes, write_gguf};

#[cfg(test)]
mod tests;
