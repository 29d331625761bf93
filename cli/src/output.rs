//! Writing what was measured, for every command that does: the export printed to stdout
//! (table, Markdown, CSV, JSON…), the self-contained HTML page with its charts and the devices ×
//! scenarios matrix, and the charts as files. Commands call this module; none calls another
//! command.

use anyhow::Context;
use edgebench_harness::sampler::Timeline;
use edgebench_harness::schema::TestRecord;
use edgebench_reports::chart::{self, Chart};
use edgebench_reports::html::{self, ChartSvg, PageInfo};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Print an export to stdout, ending with a newline.
pub fn print_export(text: &str) {
    if text.ends_with('\n') || text.is_empty() {
        print!("{text}");
    } else {
        println!("{text}");
    }
}

/// The chooser's matrix and chart for these results; a failure is a warning (the rest of the
/// report does not depend on it).
pub fn performance_matrix(
    tests: &[TestRecord],
) -> Option<(
    edgebench_reports::matrix::Matrix,
    Option<edgebench_reports::chart::ChoiceChart>,
)> {
    match crate::choose::report::report_matrix(tests) {
        Ok(m) => Some(m),
        Err(e) => {
            eprintln!("warning: performance matrix: {e:#}");
            None
        }
    }
}

pub fn matrix_section(m: &edgebench_reports::matrix::Matrix) -> html::Section {
    html::Section {
        id: "matrix",
        nav: "devices × scenarios",
        html: format!("<h2>Devices × scenarios</h2>\n{}", m.html()),
    }
}

/// Sensor timelines of the tests that name one, found beside the results; a file that does not
/// parse is a warning (the chart falls back to per-repetition figures).
pub fn load_timelines(
    tests: &[TestRecord],
    results: &[PathBuf],
) -> (HashMap<String, Timeline>, Vec<String>) {
    chart::read_test_timelines(tests, results)
}

/// Every chart as SVG, drawn once for both the page and the charts folder.
pub fn render_svgs(charts: &[Box<dyn Chart>]) -> anyhow::Result<Vec<ChartSvg>> {
    in_parallel(charts, |c| {
        Ok(ChartSvg {
            title: c.title().to_string(),
            svg: chart::render_svg(c)?,
        })
    })
}

/// `f` of every chart, in order, on every core (drawing is most of a large report's chart
/// time); a failure stops it and is the answer.
fn in_parallel<T: Send>(
    charts: &[Box<dyn Chart>],
    f: impl Fn(&dyn Chart) -> anyhow::Result<T> + Sync,
) -> anyhow::Result<Vec<T>> {
    use rayon::prelude::*;
    charts.par_iter().map(|c| f(c.as_ref())).collect()
}

pub fn write_charts(
    charts: &[Box<dyn Chart>],
    svgs: &[ChartSvg],
    dir: &Path,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    for (c, rendered) in charts.iter().zip(svgs) {
        let svg = dir.join(format!("{}.svg", c.name()));
        std::fs::write(&svg, &rendered.svg).with_context(|| format!("{}", svg.display()))?;
    }
    in_parallel(charts, |c| {
        let png = dir.join(format!("{}.png", c.name()));
        std::fs::write(&png, chart::render_png(c)?).with_context(|| format!("{}", png.display()))
    })?;
    Ok(())
}

/// The page at `path`; when the results have more rows than a page shows at a glance, the
/// per-test tables go to `<stem>-tests.html` beside it (see [`html::pages`]).
pub fn write_page(
    tests: &[TestRecord],
    svgs: Vec<ChartSvg>,
    sources: &[PathBuf],
    warnings: Vec<String>,
    sections: Vec<html::Section>,
    path: &Path,
) -> anyhow::Result<()> {
    let info = PageInfo {
        sources: sources.iter().map(|p| p.display().to_string()).collect(),
        generator: format!("{} ({})", crate::meta::VERSION, crate::meta::COMMIT),
        warnings,
    };
    let stem = path
        .file_stem()
        .map_or_else(|| "report".into(), |s| s.to_string_lossy().into_owned());
    let tests_file = format!("{stem}-tests.html");
    let pages = html::pages_with(tests, &svgs, &info, &tests_file, sections);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("{}", parent.display()))?;
    }
    std::fs::write(path, pages.main).with_context(|| format!("{}", path.display()))?;
    if let Some(tests_page) = pages.tests {
        let tests_path = path.with_file_name(&tests_file);
        std::fs::write(&tests_path, tests_page)
            .with_context(|| format!("{}", tests_path.display()))?;
        eprintln!("Per-test tables: {}", tests_path.display());
    }
    Ok(())
}

/// The HTML page of one results file, for `edgebench run` to write beside it.
pub fn write_html_for(results: &Path, html_path: &Path) -> anyhow::Result<()> {
    let sources = vec![results.to_path_buf()];
    let loaded = edgebench_reports::load_results(&sources)?;
    let (timelines, mut warnings) = load_timelines(&loaded.tests, &sources);
    warnings.extend(loaded.warnings);
    write_page_with_matrix(&loaded.tests, &timelines, &sources, warnings, html_path)
}

/// The page for `tests` as `report --html` writes it: the charts, with the devices × scenarios
/// matrix and the chooser's chart (also for `fleet report`).
pub fn write_page_with_matrix(
    tests: &[TestRecord],
    timelines: &HashMap<String, Timeline>,
    sources: &[PathBuf],
    warnings: Vec<String>,
    html_path: &Path,
) -> anyhow::Result<()> {
    let mut charts = chart::charts_for(tests, timelines, 8);
    let matrix = performance_matrix(tests);
    if let Some((_, Some(c))) = &matrix {
        charts.insert(0, Box::new(c.clone()));
    }
    let sections = matrix.iter().map(|(m, _)| matrix_section(m)).collect();
    write_page(
        tests,
        render_svgs(&charts)?,
        sources,
        warnings,
        sections,
        html_path,
    )
}
