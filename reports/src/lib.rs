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

pub mod export;
pub mod read;
pub mod table;

pub use export::{exporter_for, Exporter, FORMATS};
pub use read::{load_results, read_results, ReadError, Results};
