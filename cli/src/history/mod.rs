//! History: every test edgebench measures, also in a local SQLite database, so the trend of one
//! test over builds is one query. JSONL files stay the record; the database is an index that
//! `edgebench history import DIR` rebuilds from them at any time.
//!
//! A *build* is what produced a figure: edgebench's commit, the backend library's version
//! string (for llama.cpp it names the llama.cpp source and its bindings' commit) and its build
//! flags (`repack`, `openmp`, …). Tests are keyed by device, model, quantization, workload,
//! target, threads and backend options (`compare`'s key). Each test's whole record is kept as
//! JSON, so `compare` can read two builds from the store as it reads two files.

mod store;

pub use store::{default_path, Store};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use edgebench_harness::stats::percentile;
use edgebench_reports::chart::{LineChart, Point, Series};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  \
        edgebench history -s phi3-mini -q q4_k_m --target llamacpp --chart trend.svg\n  \
        edgebench history import edgebench-results/\n  \
        edgebench compare v0.1.0 HEAD        two builds from the store"
)]
pub struct HistoryArgs {
    #[command(subcommand)]
    pub command: Option<HistoryCommand>,
    #[command(flatten)]
    pub filter: Filter,
    /// The history database [default: $EDGEBENCH_HISTORY, else ~/.cache/edgebench/history.sqlite]
    #[arg(long, global = true, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Also draw the trend (SVG or PNG, by the file's extension)
    #[arg(long, value_name = "FILE")]
    pub chart: Option<PathBuf>,
}

#[derive(Args, Debug, Default)]
pub struct Filter {
    /// Catalog model (the scenario), e.g. phi3-mini
    #[arg(long, short = 's')]
    pub scenario: Option<String>,
    /// Quantization, e.g. q4_k_m
    #[arg(long, short = 'q')]
    pub quant: Option<String>,
    /// Target, e.g. llamacpp
    #[arg(long)]
    pub target: Option<String>,
    /// Workload, e.g. tg128
    #[arg(long, short = 'w')]
    pub workload: Option<String>,
    /// Device name (default: every device)
    #[arg(long)]
    pub device: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum HistoryCommand {
    /// (Re)build the database from JSONL results files or folders of them.
    Import {
        /// Results files or folders
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

pub fn run(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let path = args.history.clone().unwrap_or_else(default_path);
    match args.command {
        Some(HistoryCommand::Import { paths }) => {
            let store = Store::open(&path)?;
            let mut total = 0;
            for p in &paths {
                let tests = edgebench_reports::read_results(std::slice::from_ref(p))?;
                total += store.import(&tests, &p.display().to_string())?;
            }
            println!("{total} tests imported into {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        None => trend(&path, &args.filter, args.chart.as_deref()),
    }
}

/// One build's figures for one test and metric.
struct BuildFigures {
    build: store::Build,
    first_seen: String,
    values: Vec<f64>,
}

fn trend(path: &Path, filter: &Filter, chart: Option<&Path>) -> anyhow::Result<ExitCode> {
    if !path.exists() {
        bail!(
            "{}: no history yet (every `edgebench run` adds to it; `edgebench history import DIR` \
             builds it from results files)",
            path.display()
        );
    }
    let store = Store::open(path)?;
    let rows = store.select(filter)?;
    if rows.is_empty() {
        bail!("{}: no test matches {}", path.display(), describe(filter));
    }
    // Group: test key → metric → builds in order of first appearance.
    let mut groups: Vec<(String, &'static str, Vec<BuildFigures>)> = Vec::new();
    for row in &rows {
        for (metric, _label) in row.headline_metrics() {
            let values = row.values(metric);
            if values.is_empty() {
                continue;
            }
            let idx = match groups
                .iter()
                .position(|(k, m, _)| *k == row.key && *m == metric)
            {
                Some(i) => i,
                None => {
                    groups.push((row.key.clone(), metric, Vec::new()));
                    groups.len() - 1
                }
            };
            let builds = &mut groups[idx].2;
            match builds.iter_mut().find(|b| b.build == row.build) {
                Some(b) => b.values.extend(values),
                None => builds.push(BuildFigures {
                    build: row.build.clone(),
                    first_seen: row.started_at.clone(),
                    values,
                }),
            }
        }
    }
    let mut series = Vec::new();
    for (key, metric, builds) in &groups {
        println!("{key} · {}", metric_label(metric));
        let mut table = comfy_table::Table::new();
        table
            .load_preset("     ─             ")
            .force_no_tty()
            .set_content_arrangement(comfy_table::ContentArrangement::Disabled);
        table.set_header(vec![
            "#",
            "first run",
            "edgebench",
            "backend",
            "flags",
            "n",
            "median",
            "IQR",
            "vs prev",
        ]);
        let mut prev: Option<f64> = None;
        let mut points = Vec::new();
        for (i, b) in builds.iter().enumerate() {
            let median = percentile(&b.values, 50.0);
            let (q1, q3) = (percentile(&b.values, 25.0), percentile(&b.values, 75.0));
            table.add_row(vec![
                (i + 1).to_string(),
                b.first_seen.chars().take(16).collect(),
                b.build.edgebench_commit.clone(),
                b.build.library_version.clone(),
                flag_change(&builds[0].build.flags, &b.build.flags, i == 0),
                b.values.len().to_string(),
                format!("{median:.2}"),
                format!("{q1:.2}–{q3:.2}"),
                prev.map_or("".into(), |p| {
                    format!("{:+.1}%", (median / p - 1.0) * 100.0)
                }),
            ]);
            prev = Some(median);
            points.push(Point {
                x: (i + 1) as f64,
                y: median,
                ci: Some((q1, q3)),
            });
        }
        for col in table.column_iter_mut() {
            col.set_padding((0, 2));
        }
        println!("{}\n", table.trim_fmt());
        series.push(Series {
            label: format!("{key} · {}", metric_label(metric)),
            points,
        });
    }
    if let Some(out) = chart {
        let chart = LineChart {
            name: "history".into(),
            title: format!("History: {}", describe(filter)),
            x_desc: "build (numbered as in the table)".into(),
            y_desc: "median, bars: interquartile range".into(),
            series,
        };
        let is_png = out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("png"));
        if is_png {
            let png = edgebench_reports::chart::render_png(&chart)?;
            std::fs::write(out, png).with_context(|| out.display().to_string())?;
        } else {
            let svg = edgebench_reports::chart::render_svg(&chart)?;
            std::fs::write(out, svg).with_context(|| out.display().to_string())?;
        }
        eprintln!("Chart: {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The first build's flags in full; later builds by what they add or lose (`-repack`).
fn flag_change(first: &str, this: &str, is_first: bool) -> String {
    if is_first {
        return this.to_string();
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (first.split(' ').collect(), this.split(' ').collect());
    let mut out: Vec<String> = b
        .iter()
        .filter(|f| !a.contains(f))
        .map(|f| format!("+{f}"))
        .collect();
    out.extend(a.iter().filter(|f| !b.contains(f)).map(|f| format!("-{f}")));
    if out.is_empty() {
        "same".into()
    } else {
        out.join(" ")
    }
}

fn metric_label(metric: &str) -> &'static str {
    edgebench_reports::compare::METRICS
        .iter()
        .find(|m| m.0 == metric)
        .map_or("?", |m| m.1)
}

fn describe(f: &Filter) -> String {
    let parts: Vec<String> = [
        f.scenario.as_deref(),
        f.quant.as_deref(),
        f.workload.as_deref(),
        f.target.as_deref(),
        f.device.as_deref(),
    ]
    .iter()
    .flatten()
    .map(|s| s.to_string())
    .collect();
    if parts.is_empty() {
        "every test".into()
    } else {
        parts.join(" ")
    }
}

/// After `edgebench run`: add its results file to the history (`$EDGEBENCH_HISTORY=off` turns
/// this off). A failure is a warning: the JSONL file is the record.
pub fn record_run(results: &Path) {
    if std::env::var_os("EDGEBENCH_HISTORY").is_some_and(|v| v == "off") {
        return;
    }
    let path = default_path();
    let outcome = edgebench_reports::read_results(&[results.to_path_buf()])
        .and_then(|tests| Store::open(&path)?.import(&tests, &results.display().to_string()));
    if let Err(e) = outcome {
        eprintln!("warning: history {}: {e:#}", path.display());
    }
}

/// `compare`'s side named by a build instead of a file: the tests of every run whose edgebench
/// commit starts with `name`, or with what git resolves `name` (a tag, a branch) to.
pub fn records_of_build(name: &str) -> anyhow::Result<Vec<edgebench_harness::schema::TestRecord>> {
    let path = default_path();
    if !path.exists() {
        bail!(
            "{name}: no such file, and no history database at {}",
            path.display()
        );
    }
    let store = Store::open(&path)?;
    let mut commits = vec![name.to_string()];
    if let Ok(out) = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", &format!("{name}^{{commit}}")])
        .stderr(std::process::Stdio::null())
        .output()
    {
        if out.status.success() {
            commits.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
        }
    }
    for c in &commits {
        let tests = store.records_of_commit(c)?;
        if !tests.is_empty() {
            return Ok(tests);
        }
    }
    bail!(
        "{name}: no such file, and no run of edgebench commit {} in {}",
        commits.join(" or "),
        path.display()
    )
}
