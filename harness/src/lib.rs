//! The measuring core of edgebench.
//!
//! Everything that *measures* lives here; reports only read what this crate writes.
//! The seams (the README's "Layout"; docs/sensors.md has the device facts sensors rely on):
//! - [`target::Target`]: a backend's primitive operations, run inside a worker process
//!   ([`worker::serve`]) and driven from the harness through [`client::WorkerClient`]. These,
//!   with the protocol, the worker-side loops and the token and audio helpers, live in the
//!   target kit (`edgebench-target-kit`, which workers depend on alone) and are re-exported
//!   here under their old paths.
//! - [`sensors::Sensor`] and [`sampler::Sampler`]: background readings with phase markers.
//! - [`runner`]: warmup, repetitions, adaptive stopping, every repetition appended to the store.
//! - [`schema`]: the versioned result records, written as JSONL by [`store`].
//! - Device profiles: the catalog and detection ([`devices`], [`env`]), throttle verdicts
//!   ([`throttling`]), cooldown ([`cooldown`]), memory bandwidth for the roofline
//!   ([`bandwidth`]), the timeline side file ([`timeline_file`]), whether the run is emulated
//!   ([`emulation`]) and whether this CPU can run the build ([`cpu_features`]).
//! - [`target::SpeechTarget`] and [`speech`]: the same for speech models (Whisper), with
//!   [`audio`] reading the WAV input; [`speech`] adds the metrics derived from its timings.

pub use edgebench_target_kit::{
    audio, client, cpu_features, describe, ggml_compiled_features, protocol, target, tokens, worker,
};

pub mod bandwidth;
pub mod cooldown;
pub mod devices;
pub mod emulation;
pub mod env;
pub mod runner;
pub mod sampler;
pub mod schema;
pub mod sensors;
pub mod soak;
pub mod speech;
pub mod stats;
pub mod store;
pub mod throttling;
pub mod timeline;
pub mod timeline_file;
