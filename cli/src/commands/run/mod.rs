//! `edgebench run`: validate the flags, plan, execute the plan, write what was measured.
//!
//! Each stage is a function of its own: [`validate`] checks what was typed without side
//! effects; [`make_plan`] selects models and workloads ([`select`]), finds the targets once and
//! resolves both into a [`Plan`] (`--dry-run` stops after printing it); [`execute::execute`] measures
//! every job through the harness's runner; [`write`] prints the table, writes the HTML page
//! beside the results and turns the records into the exit code.

mod args;
mod execute;
mod select;

pub use args::RunArgs;

use crate::model::ModelKind;
use crate::plan::{self, Plan, Targets};
use crate::targets;
use anyhow::{bail, Context};
use edgebench_harness::schema::{Environment, Status, TestRecord};
use edgebench_harness::sensors::SysRoot;
use edgebench_reports::Exporter;
use edgebench_scenarios::Catalog;
use execute::Executed;
use std::process::ExitCode;

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let checked = validate(&args)?;
    let root = args.sys_root.clone().map(SysRoot::new).unwrap_or_default();
    let environment =
        edgebench_harness::env::detect(&root, crate::meta::VERSION, crate::meta::COMMIT);
    let plan = make_plan(&args, &checked, &environment)?;
    print_header(&plan, &environment);
    if args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    // A language-model suite's own stopping rule (Whisper suites have none).
    let suite = plan
        .suite
        .as_ref()
        .filter(|_| plan.kind == ModelKind::Text)
        .and_then(|name| checked.catalog.suite(name).ok().cloned());
    let executed = execute::execute(&args, &plan, environment, suite.as_ref())?;
    write(&executed, checked.exporter.as_ref())
}

/// What checking the flags found: how to print the results, the catalog, the kind of model.
struct Checked {
    exporter: Box<dyn Exporter>,
    catalog: Catalog,
    kind: ModelKind,
}

/// Check what was typed, without side effects.
fn validate(args: &RunArgs) -> anyhow::Result<Checked> {
    let exporter = edgebench_reports::exporter_for(&args.output).context("--output")?;
    if let Some(ci) = args.ci.filter(|ci| *ci <= 0.0 || !ci.is_finite()) {
        bail!("--ci must be a positive percentage, got {ci}");
    }
    if let Some(t) = args.max_time.filter(|t| *t <= 0.0 || t.is_nan()) {
        bail!("--max-time must be a positive number of seconds, got {t}");
    }
    if args.repetitions == Some(0)
        || args.min_reps == 0
        || args.max_reps.is_some_and(|m| m < args.min_reps)
    {
        bail!("repetitions must be at least 1 and --max-reps at least --min-reps");
    }
    if args.threads().contains(&0) {
        bail!("--threads must be at least 1");
    }
    if args.sample_hz <= 0.0 || !args.sample_hz.is_finite() {
        bail!("--sample-hz must be positive, got {}", args.sample_hz);
    }
    if args.soak_window <= 0.0 || !args.soak_window.is_finite() {
        bail!(
            "--soak-window must be a positive number of seconds, got {}",
            args.soak_window
        );
    }
    if args.cooldown_margin < 0.0 || !args.cooldown_margin.is_finite() {
        bail!(
            "--cooldown-margin must be at least 0 °C, got {}",
            args.cooldown_margin
        );
    }
    if args.soak.is_some() && (!args.prompt.is_empty() || !args.pg.is_empty()) {
        bail!("--soak runs generation only: use -n (or --workload tgN), not -p or --pg");
    }
    let catalog = Catalog::builtin();
    let kind = select::kind(args, &catalog)?;
    if let Some(path) = &args.audio {
        edgebench_harness::audio::read_wav(path).context("--audio")?;
    }
    for t in &args.target {
        if !targets::is_known(t) {
            let known = targets::known_names();
            bail!(
                "--target: unknown target '{t}' (known: {})",
                known.join(", ")
            );
        }
    }
    Ok(Checked {
        exporter,
        catalog,
        kind,
    })
}

/// Select models and workloads, find the targets (once), resolve them into the plan.
fn make_plan(args: &RunArgs, checked: &Checked, environment: &Environment) -> anyhow::Result<Plan> {
    let chosen = select::models(args, &checked.catalog, checked.kind)?;
    let targets = Targets::discover(checked.kind);
    let selection = select::selection(args, chosen, &targets, environment.ram_bytes)?;
    if checked.kind == ModelKind::Text {
        let unread = targets::check_swept_options(
            &targets.found,
            &selection.targets,
            &args.option_dimensions(),
        )
        .map_err(anyhow::Error::msg)?;
        for key in unread {
            eprintln!("note: no selected target reads the option {key}; it is ignored");
        }
    }
    Ok(plan::resolve(&selection, &targets))
}

/// The run's first lines: the version, the device and the plan.
fn print_header(plan: &Plan, environment: &Environment) {
    let suite_label = plan
        .suite
        .as_ref()
        .map(|s| format!(" (suite {s})"))
        .unwrap_or_default();
    eprintln!(
        "edgebench {} on {} ({}, {} cores){suite_label}:",
        crate::meta::VERSION,
        environment.device,
        environment.cpu_model,
        environment.cpu_cores
    );
    if let Some(how) = environment
        .extra
        .get("emulator")
        .filter(|_| environment.emulated)
    {
        eprintln!("warning: emulated run ({how}); every result says so");
    }
    eprint!("{}", plan.describe());
}

/// Print the records as asked, say where the results, timeline and page are, and turn the
/// records into the exit code.
fn write(executed: &Executed, exporter: &dyn Exporter) -> anyhow::Result<ExitCode> {
    crate::output::print_export(&exporter.export(&executed.records)?);
    let results = &executed.results_path;
    eprintln!("Results: {}", results.display());
    match &executed.timeline {
        Some((path, None)) => eprintln!("Timeline: {}", path.display()),
        Some((path, Some(e))) => {
            eprintln!("warning: timeline file {} incomplete: {e}", path.display())
        }
        None => {}
    }
    crate::history::record_run(results);
    // `edgebench ab` runs many short halves and reads only the JSONL: it skips the page.
    if std::env::var_os("EDGEBENCH_NO_REPORT").is_none() {
        let html = results.with_extension("html");
        match crate::output::write_html_for(results, &html) {
            Ok(()) => eprintln!("Report:  {}", html.display()),
            Err(e) => eprintln!("warning: no HTML report: {e:#}"),
        }
    }
    if executed.cancelled {
        return Ok(ExitCode::from(130));
    }
    Ok(match run_outcome(&executed.records) {
        RunOutcome::AllOk => ExitCode::SUCCESS,
        RunOutcome::SomeFailed => ExitCode::from(1),
        RunOutcome::NothingMeasured(why) => {
            // Last, so a CI log ends with it.
            eprintln!("error: nothing was measured: {why}");
            ExitCode::from(2)
        }
    })
}

/// How a run ended, for its exit code: 0 every test that ran is `ok` (some may be skipped),
/// 1 some test failed or was interrupted, 2 not one repetition of anything asked for was
/// measured (every test skipped or failed before its first repetition, e.g. a backend that
/// cannot load).
#[derive(Debug, PartialEq)]
enum RunOutcome {
    AllOk,
    SomeFailed,
    /// Why, in one line.
    NothingMeasured(String),
}

fn run_outcome(records: &[TestRecord]) -> RunOutcome {
    if !records.iter().any(|r| !r.repetitions.is_empty()) {
        let (mut skipped, mut failed) = (0, 0);
        let mut reasons: Vec<String> = Vec::new();
        for r in records {
            match &r.status {
                Status::Skipped { .. } => skipped += 1,
                _ => failed += 1,
            }
            if let Some(reason) = r.status.reason() {
                let line = format!("{}: {}", r.target.name, reason.lines().next().unwrap_or(""));
                if !reasons.contains(&line) {
                    reasons.push(line);
                }
            }
        }
        let count = |n: usize, what: &str| match n {
            0 => None,
            1 => Some(format!("1 test {what}")),
            n => Some(format!("{n} tests {what}")),
        };
        let counts: Vec<String> = [count(skipped, "skipped"), count(failed, "failed")]
            .into_iter()
            .flatten()
            .collect();
        let counts = if counts.is_empty() {
            "no test to run".to_string()
        } else {
            counts.join(", ")
        };
        let shown = reasons.len().min(3);
        let more = if reasons.len() > shown {
            format!(" (and {} more reasons above)", reasons.len() - shown)
        } else {
            String::new()
        };
        let why = if reasons.is_empty() {
            counts
        } else {
            format!("{counts} ({}){more}", reasons[..shown].join("; "))
        };
        return RunOutcome::NothingMeasured(why);
    }
    let failed = records
        .iter()
        .any(|r| matches!(r.status, Status::Failed { .. } | Status::Interrupted { .. }));
    if failed {
        RunOutcome::SomeFailed
    } else {
        RunOutcome::AllOk
    }
}
