//! `edgebench report`: tables, exports, charts and the HTML page from results files (and
//! llama-bench JSON/JSONL). Reports only read.

use anyhow::Context;
use clap::Args;
use edgebench_harness::sampler::Timeline;
use edgebench_harness::schema::TestRecord;
use edgebench_reports::chart::{self, Chart};
use edgebench_reports::html::{self, ChartSvg, PageInfo};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
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
    if args.html.is_some() || args.charts.is_some() {
        let (timelines, mut warnings) = load_timelines(&tests, &args.results);
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        let charts = chart::charts_for(&tests, &timelines, args.max_timelines);
        if let Some(dir) = &args.charts {
            write_charts(&charts, dir)?;
            eprintln!(
                "Charts: {} ({} charts, SVG and PNG)",
                dir.display(),
                charts.len()
            );
        }
        if let Some(path) = &args.html {
            warnings.extend(loaded.warnings.iter().cloned());
            write_page(&tests, &charts, &args.results, warnings, path)?;
            eprintln!("Report: {}", path.display());
        }
    }
    crate::commands::run::print_export(&exporter.export(&tests)?);
    Ok(ExitCode::SUCCESS)
}

/// Sensor timelines of the tests that name one, found beside the results; a file that does not
/// parse is a warning (the chart falls back to per-repetition figures).
fn load_timelines(
    tests: &[TestRecord],
    results: &[PathBuf],
) -> (HashMap<String, Timeline>, Vec<String>) {
    let mut out = HashMap::new();
    let mut warnings = Vec::new();
    for t in tests {
        let Some(rel) = &t.sensors.timeline_file else {
            continue;
        };
        match chart::read_timeline(rel, results) {
            Ok(Some(tl)) => {
                out.insert(t.test_id.clone(), tl);
            }
            Ok(None) => {}
            Err(e) => warnings.push(format!("{e:#}")),
        }
    }
    (out, warnings)
}

fn write_charts(charts: &[Box<dyn Chart>], dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    for c in charts {
        let svg = dir.join(format!("{}.svg", c.name()));
        std::fs::write(&svg, chart::render_svg(c.as_ref())?)
            .with_context(|| format!("{}", svg.display()))?;
        let png = dir.join(format!("{}.png", c.name()));
        std::fs::write(&png, chart::render_png(c.as_ref())?)
            .with_context(|| format!("{}", png.display()))?;
    }
    Ok(())
}

pub(crate) fn write_page(
    tests: &[TestRecord],
    charts: &[Box<dyn Chart>],
    sources: &[PathBuf],
    warnings: Vec<String>,
    path: &Path,
) -> anyhow::Result<()> {
    let svgs = charts
        .iter()
        .map(|c| {
            Ok(ChartSvg {
                title: c.title().to_string(),
                svg: chart::render_svg(c.as_ref())?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let info = PageInfo {
        sources: sources.iter().map(|p| p.display().to_string()).collect(),
        generator: format!("{} ({})", crate::VERSION, crate::COMMIT),
        warnings,
    };
    let page = html::page(tests, &svgs, &info);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("{}", parent.display()))?;
    }
    std::fs::write(path, page).with_context(|| format!("{}", path.display()))?;
    Ok(())
}

/// The HTML page of one results file, for `edgebench run` to write beside it.
pub fn write_html_for(results: &Path, html_path: &Path) -> anyhow::Result<()> {
    let sources = vec![results.to_path_buf()];
    let loaded = edgebench_reports::load_results(&sources)?;
    let (timelines, mut warnings) = load_timelines(&loaded.tests, &sources);
    warnings.extend(loaded.warnings);
    let charts = chart::charts_for(&loaded.tests, &timelines, 8);
    write_page(&loaded.tests, &charts, &sources, warnings, html_path)
}
