//! `edgebench fleet report [RESULTS DIR]`: every device's results merged into one HTML page
//! (the same page as `edgebench report --html`) and one Markdown file whose first table puts
//! the devices side by side (one column per device, one row per scenario × target × workload),
//! followed by the full results table and the devices whose last fleet run failed.
//!
//! Each device's tests are labelled with its inventory name (`pi5-a (Raspberry Pi 5 Model B)`),
//! so two devices of the same model stay two columns.

use super::run::DeviceOutcome;
use anyhow::{bail, Context};
use clap::Args;
use edgebench_harness::schema::TestRecord;
use edgebench_reports::table::{self, format_tps};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct FleetReportArgs {
    /// The folder `edgebench fleet run` wrote (one subfolder per device)
    #[arg(default_value = "fleet-results", value_name = "RESULTS DIR")]
    pub results_dir: PathBuf,
    /// Where to write the HTML page [default: RESULTS DIR/report.html]
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Where to write the Markdown [default: RESULTS DIR/report.md]
    #[arg(long, value_name = "FILE")]
    pub md: Option<PathBuf>,
}

/// Every device's results, labelled.
pub struct Merged {
    pub tests: Vec<TestRecord>,
    /// Device labels in folder order (the matrix's columns).
    pub devices: Vec<String>,
    /// Devices whose last fleet run failed: (device, reason).
    pub failures: Vec<(String, String)>,
    pub warnings: Vec<String>,
    pub sources: Vec<PathBuf>,
}

/// Reads `<dir>/<device>/*.jsonl` for every device folder.
pub fn load(dir: &Path) -> anyhow::Result<Merged> {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("results folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    let mut merged = Merged {
        tests: Vec::new(),
        devices: Vec::new(),
        failures: Vec::new(),
        warnings: Vec::new(),
        sources: Vec::new(),
    };
    for folder in folders {
        let host = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(o) = DeviceOutcome::load_last(&folder) {
            if let Some(r) = o.reason {
                merged
                    .failures
                    .push((host.clone(), format!("{}: {r}", o.fleet_run)));
            }
        }
        let loaded = edgebench_reports::load_results(std::slice::from_ref(&folder))
            .with_context(|| format!("device {host}"))?;
        merged
            .warnings
            .extend(loaded.warnings.into_iter().map(|w| format!("{host}: {w}")));
        if loaded.tests.is_empty() {
            continue;
        }
        merged.sources.push(folder.clone());
        let mut labels = BTreeSet::new();
        for mut t in loaded.tests {
            let label = format!("{host} ({})", t.environment.device);
            t.environment.device = label.clone();
            t.environment
                .extra
                .insert("fleet_host".into(), host.clone());
            labels.insert(label);
            merged.tests.push(t);
        }
        merged.devices.extend(labels);
    }
    Ok(merged)
}

/// The devices-side-by-side table: generation and prompt t/s (median ± 95% CI) of the latest
/// run of each test, one column per device.
pub fn side_by_side(tests: &[TestRecord], devices: &[String]) -> String {
    let latest = edgebench_reports::merge::latest(tests);
    let mut grid: BTreeMap<(String, String, String, String), HashMap<String, String>> =
        BTreeMap::new();
    let mut order: Vec<(String, String, String, String)> = Vec::new();
    for row in table::rows(&latest) {
        let t = row.test;
        let key = (
            format!("{} {}", t.scenario.model, t.scenario.quant),
            table::target_label(t),
            format!("{}", t.parameters.threads),
            row.label(),
        );
        let cell = match row.tps() {
            Some(s) => format!("{} t/s", format_tps(s)),
            None => table::status_text(&t.status, table::Reasons::Shortened(40)),
        };
        if !grid.contains_key(&key) {
            order.push(key.clone());
        }
        grid.entry(key)
            .or_default()
            .insert(t.environment.device.clone(), cell);
    }
    let mut out = String::new();
    let mut header = vec![
        "model".to_string(),
        "target".into(),
        "threads".into(),
        "test".into(),
    ];
    header.extend(devices.iter().map(|d| escape(d)));
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    let rule: Vec<&str> = header
        .iter()
        .enumerate()
        .map(|(i, _)| if i < 4 { "---" } else { "---:" })
        .collect();
    out.push_str(&format!("| {} |\n", rule.join(" | ")));
    for key in order {
        let cells = &grid[&key];
        let mut line = vec![
            escape(&key.0),
            escape(&key.1),
            key.2.clone(),
            escape(&key.3),
        ];
        line.extend(devices.iter().map(|d| {
            cells
                .get(d)
                .map(|c| escape(c))
                .unwrap_or_else(|| "-".into())
        }));
        out.push_str(&format!("| {} |\n", line.join(" | ")));
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The whole Markdown file.
pub fn markdown(merged: &Merged) -> anyhow::Result<String> {
    let mut out = String::from("# edgebench fleet report\n\n## Devices side by side\n\n");
    out.push_str(&side_by_side(&merged.tests, &merged.devices));
    if !merged.failures.is_empty() {
        out.push_str("\n## Devices whose last fleet run failed\n\n");
        for (host, reason) in &merged.failures {
            out.push_str(&format!("- **{}**: {}\n", escape(host), reason));
        }
    }
    out.push_str("\n## Every test\n\n");
    out.push_str(&edgebench_reports::exporter_for("md")?.export(&merged.tests)?);
    Ok(out)
}

pub fn run(args: FleetReportArgs) -> anyhow::Result<ExitCode> {
    let merged = load(&args.results_dir)?;
    if merged.tests.is_empty() {
        bail!(
            "{}: no device results to merge (run edgebench fleet run first)",
            args.results_dir.display()
        );
    }
    for w in &merged.warnings {
        eprintln!("warning: {w}");
    }
    let md = markdown(&merged)?;
    let md_path = args
        .md
        .unwrap_or_else(|| args.results_dir.join("report.md"));
    std::fs::write(&md_path, &md).with_context(|| format!("{}", md_path.display()))?;
    let html_path = args
        .html
        .unwrap_or_else(|| args.results_dir.join("report.html"));
    let mut warnings = merged.warnings.clone();
    warnings.extend(
        merged
            .failures
            .iter()
            .map(|(h, r)| format!("device {h} failed in fleet run {r}")),
    );
    crate::output::write_page_with_matrix(
        &merged.tests,
        &HashMap::new(),
        &merged.sources,
        warnings,
        &html_path,
    )?;
    print!("{md}");
    eprintln!(
        "{} devices, {} tests\nReport: {}\nMarkdown: {}",
        merged.devices.len(),
        merged.tests.len(),
        html_path.display(),
        md_path.display()
    );
    Ok(ExitCode::SUCCESS)
}
