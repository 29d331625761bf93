//! The measuring core of edgebench.
//!
//! Everything that *measures* lives here; reports only read what this crate writes.
//! The seams (the README's "Layout"; docs/sensors.md has the device facts sensors rely on):
//! - [`target::Target`]: a backend's primitive operations, run inside a worker process
//!   ([`worker::serve`]) and driven from the harness through [`client::WorkerClient`].
//! - [`sensors::Sensor`] and [`sampler::Sampler`]: background readings with phase markers.
//! - [`runner`]: warmup, repetitions, adaptive stopping, every repetition appended to the store.
//! - [`schema`]: the versioned result records, written as JSONL by [`store`].
//! - Device profiles: the catalog and detection ([`devices`], [`env`]), throttle verdicts
//!   ([`throttling`]), cooldown ([`cooldown`]), memory bandwidth for the roofline
//!   ([`bandwidth`]), the timeline side file ([`timeline_file`]), whether the run is emulated
//!   ([`emulation`]) and whether this CPU can run the build ([`cpu_features`]).
//! - [`target::SpeechTarget`] and [`speech`]: the same for speech models (Whisper), with
//!   [`audio`] reading the WAV input.

pub mod audio;
pub mod bandwidth;
pub mod client;
pub mod cooldown;
pub mod cpu_features;
pub mod devices;
pub mod emulation;
pub mod env;
pub mod protocol;
pub mod runner;
pub mod sampler;
pub mod schema;
pub mod sensors;
pub mod soak;
pub mod speech;
pub mod stats;
pub mod store;
pub mod target;
pub mod throttling;
pub mod timeline_file;
pub mod tokens;
pub mod worker;
