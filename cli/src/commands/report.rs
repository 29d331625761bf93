//! `edgebench report`: tables and exports from results files. Reports only read.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Results files (JSONL) or folders of them
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Output format: table, md, csv, json, jsonl
    #[arg(long, default_value = "table")]
    pub output: String,
}

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let exporter = edgebench_reports::exporter_for(&args.output)?;
    let tests = edgebench_reports::read_results(&args.results)?;
    crate::commands::run::print_export(&exporter.export(&tests)?);
    Ok(ExitCode::SUCCESS)
}
