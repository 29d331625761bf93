//! Exporters: one small trait, one file per format. Exporters only read test records; they
//! never measure and never compute statistics (the records carry their summaries).
//!
//! All formats are stable for diffing: tests are sorted the same way whatever order they were
//! read in (see [`crate::table::sorted`]) and numbers are printed with fixed decimals.

mod csv;
mod json;
mod jsonl;
mod llama_bench;
mod markdown;
mod terminal;

pub use csv::CsvExporter;
pub use json::JsonExporter;
pub use jsonl::JsonlExporter;
pub use llama_bench::LlamaBenchExporter;
pub use markdown::MarkdownExporter;
pub use terminal::TerminalExporter;

use edgebench_harness::schema::TestRecord;

/// Turns test records into one output document.
pub trait Exporter {
    fn export(&self, tests: &[TestRecord]) -> anyhow::Result<String>;
}

/// The formats [`exporter_for`] knows.
pub const FORMATS: [&str; 6] = [
    "terminal",
    "markdown",
    "csv",
    "json",
    "jsonl",
    "llama-bench",
];

/// The exporter for a format name (case-insensitive; `table` and `md` are accepted too).
///
/// The terminal exporter fits the width of the terminal on stdout (80 columns when stdout is not
/// a terminal) and colours the status when stdout is a terminal and `NO_COLOR` is not set.
pub fn exporter_for(format: &str) -> anyhow::Result<Box<dyn Exporter>> {
    Ok(match format.trim().to_ascii_lowercase().as_str() {
        "terminal" | "table" => Box::new(TerminalExporter::for_stdout()),
        "markdown" | "md" => Box::new(MarkdownExporter),
        "csv" => Box::new(CsvExporter),
        "json" => Box::new(JsonExporter),
        "jsonl" => Box::new(JsonlExporter),
        "llama-bench" | "llama-bench-json" => Box::new(LlamaBenchExporter),
        _ => anyhow::bail!(
            "unknown report format `{format}`; valid formats: {}",
            FORMATS.join(", ")
        ),
    })
}
