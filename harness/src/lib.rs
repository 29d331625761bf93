//! The measuring core of edgebench.
//!
//! Everything that *measures* lives here; reports only read what this crate writes.
//! The seams (see `shared/DESIGN.md`):
//! - [`target::Target`]: a backend's primitive operations, run inside a worker process
//!   ([`worker::serve`]) and driven from the harness through [`client::WorkerClient`].
//! - [`sensors::Sensor`] and [`sampler::Sampler`]: background readings with phase markers.
//! - [`runner`]: warmup, repetitions, adaptive stopping, every repetition appended to the store.
//! - [`schema`]: the versioned result records, written as JSONL by [`store`].
//! - Device profiles: the catalog and detection ([`devices`], [`env`]), throttle verdicts
//!   ([`throttling`]), cooldown ([`cooldown`]), memory bandwidth for the roofline
//!   ([`bandwidth`]) and the timeline side file ([`timeline_file`]).

pub mod bandwidth;
pub mod client;
pub mod cooldown;
pub mod devices;
pub mod env;
pub mod protocol;
pub mod runner;
pub mod sampler;
pub mod schema;
pub mod sensors;
pub mod soak;
pub mod stats;
pub mod store;
pub mod target;
pub mod throttling;
pub mod timeline_file;
pub mod tokens;
pub mod worker;
