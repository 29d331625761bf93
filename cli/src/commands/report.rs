//! `edgebench report`: tables, exports, charts and the HTML page from results files (and
//! llama-bench JSON/JSONL). Reports only read.

use crate::output;
use clap::Args;
use edgebench_reports::chart;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Results files (JSONL; also llama-bench `-o json`/`-o jsonl` output) or folders of
    /// *.jsonl files. Results from several runs and devices are merged: a test run more than
    /// once shows its latest run, with the others as its history.
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Output format: table, md, csv, json, jsonl, llama-bench
    #[arg(long, default_value = "table")]
    pub output: String,
    /// Also write the self-contained HTML page (at-a-glance table, charts, environment) here
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write every chart as SVG and PNG into this folder
    #[arg(long, value_name = "DIR")]
    pub charts: Option<PathBuf>,
    /// Most thermal-timeline charts to draw
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub max_timelines: usize,
}

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let exporter = edgebench_reports::exporter_for(&args.output)?;
    let loaded = edgebench_reports::load_results(&args.results)?;
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    let tests = loaded.tests;
    // The devices × scenarios matrix (measured, published and predicted figures) for the page
    // and the Markdown export.
    let matrix = (args.html.is_some() || args.charts.is_some() || args.output == "md")
        .then(|| output::performance_matrix(&tests))
        .flatten();
    if args.html.is_some() || args.charts.is_some() {
        let (timelines, mut warnings) = output::load_timelines(&tests, &args.results);
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        let mut charts = chart::charts_for(&tests, &timelines, args.max_timelines);
        if let Some((_, Some(c))) = &matrix {
            charts.insert(0, Box::new(c.clone()));
        }
        let svgs = output::render_svgs(&charts)?;
        if let Some(dir) = &args.charts {
            output::write_charts(&charts, &svgs, dir)?;
            eprintln!(
                "Charts: {} ({} charts, SVG and PNG)",
                dir.display(),
                charts.len()
            );
        }
        if let Some(path) = &args.html {
            warnings.extend(loaded.warnings.iter().cloned());
            let sections = matrix
                .iter()
                .map(|(m, _)| output::matrix_section(m))
                .collect();
            output::write_page(&tests, svgs, &args.results, warnings, sections, path)?;
            eprintln!("Report: {}", path.display());
        }
    }
    let mut text = exporter.export(&tests)?;
    if let (Some((m, _)), "md") = (&matrix, args.output.as_str()) {
        text = format!("{}\n\n{}", text.trim_end(), m.markdown());
    }
    output::print_export(&text);
    Ok(ExitCode::SUCCESS)
}
