//! Reports: what edgebench shows and exports from results. Reports only read results (see
//! `edgebench_harness::schema`); they never measure, and the statistics they show were computed
//! by the harness (or, for a test rebuilt from its repetitions, by
//! `edgebench_harness::stats`).
//!
//! - [`read_results`]: JSONL results files (or folders of them) into test records, rebuilding
//!   tests a crash or Ctrl-C left unfinished.
//! - [`export::Exporter`]: one format each (terminal table, Markdown, CSV, JSON, JSONL), picked by
//!   name with [`exporter_for`].
//! - [`table`]: the rows and columns the human-readable tables share.
//! - [`merge`]: the same test from several runs and devices: one key, a history.
//! - [`chart`]: charts (plotters) as SVG and PNG; [`html`]: the at-a-glance page.
//! - [`compare`]: regression testing of a candidate against a baseline.
//! - [`llamabench`]: llama-bench JSON/JSONL in (read like results files) and out.
//! - [`matrix`]: the devices × scenarios matrix (built by the CLI's device chooser).

pub mod chart;
pub mod compare;
pub mod export;
pub mod html;
pub mod llamabench;
pub mod matrix;
pub mod merge;
pub mod order;
pub mod read;
pub mod table;

pub use export::{exporter_for, Exporter, FORMATS};
pub use read::{load_results, read_results, ReadError, Results};
