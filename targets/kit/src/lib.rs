//! The target kit: everything a backend (a "target") is built from, and nothing else.
//!
//! A target is a worker executable that links its backend library and this crate alone, so it
//! does not carry the harness's sensors, statistics or device catalog:
//! - [`target::Target`] (LLMs) and [`target::SpeechTarget`] (Whisper): the primitive
//!   operations the harness times; [`target::TargetInfo`] with its typed self-description
//!   ([`describe`]: formats, quantizations, options, memory model).
//! - [`protocol`]: the line-delimited JSON between harness and worker; [`worker`] and
//!   [`speech`]: the one measuring loop each kind of target is served by; [`client`]: the
//!   harness's end of the same protocol.
//! - [`tokens`] (seeded prompts, greedy pick), [`audio`] (WAV input), [`guards`] (the checks
//!   every LLM target makes before a forward pass), [`cpu_features`] (refuse a build this CPU
//!   cannot run).
//! - `conformance` (feature `conformance`, for targets' tests): one call per target checks bad
//!   files, bounds, determinism after reset, speech steps and crash reporting.
//!
//! A worker's `main` is one line: `edgebench_target_kit::worker::main(MyTarget::new())`.
//! See docs/adding-a-target.md.

pub mod audio;
pub mod client;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod cpu_features;
pub mod describe;
pub mod guards;
pub mod protocol;
pub mod speech;
pub mod target;
pub mod tokens;
pub mod worker;
