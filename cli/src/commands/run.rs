//! `edgebench run`: resolve a plan, synthesize missing models, measure, print a table.

use crate::plan::{self, ModelSource, PlannedJob, Selection};
use crate::profile;
use crate::progress::ProgressObserver;
use crate::sweep;
use crate::targets;
use anyhow::{bail, Context};
use clap::Args;
use edgebench_harness::client::WorkerCommand;
use edgebench_harness::protocol::RunSpec;
use edgebench_harness::runner::{test_id, ModelJob, Runner, RunnerConfig, TestSpec};
use edgebench_harness::sampler::Sampler;
use edgebench_harness::schema::{
    Parameters, Record, ScenarioRef, Status, TestRecord, SCHEMA_VERSION,
};
use edgebench_harness::sensors::{self, SysRoot};
use edgebench_harness::stats::StoppingRule;
use edgebench_harness::store::ResultsWriter;
use edgebench_scenarios::{Catalog, Quant};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Suite to run: quick (default), standard, long, tiny. See `edgebench list suites`.
    #[arg(long)]
    pub suite: Option<String>,
    /// Catalog models to run, comma-separated (e.g. llama3-8b,phi3-mini). See `edgebench list scenarios`.
    #[arg(long, short = 's', value_delimiter = ',')]
    pub scenario: Vec<String>,
    /// Quantizations, comma-separated: GGUF f32, f16, q8_0, q4_0, q4_k_m, q5_k_m (ONNX Runtime
    /// runs their GenAI counterparts: q4_k_m → int4…) or GenAI fp32, fp16, int8, int4
    /// [default with --scenario: q4_k_m]
    #[arg(long, short = 'q', value_delimiter = ',')]
    pub quant: Vec<String>,
    /// Your own model: a GGUF file, an ONNX Runtime GenAI folder, or for Whisper a ggml-*.bin
    /// or a Hugging Face folder; repeat for several.
    #[arg(long, short = 'm')]
    pub model: Vec<PathBuf>,
    /// 16 kHz WAV file for Whisper workloads [default: a synthetic 30 s speech-like clip]
    #[arg(long)]
    pub audio: Option<PathBuf>,
    /// Targets (backends) to run on, comma-separated [default: every built target]
    #[arg(long, value_delimiter = ',')]
    pub target: Vec<String>,
    /// Workloads by name, comma-separated (pp512, tg128, pp512+tg128, pp4096…)
    #[arg(long, short = 'w', value_delimiter = ',')]
    pub workload: Vec<String>,
    /// Prompt-processing test of N tokens in one batch (llama-bench -p); a list or range runs each (128,512 or 128-1024*2)
    #[arg(short = 'p', long = "n-prompt", value_parser = sweep::numbers)]
    pub prompt: Vec<sweep::Numbers>,
    /// Generation test of N single-token decodes (llama-bench -n); a list or range runs each
    #[arg(short = 'n', long = "n-gen", value_parser = sweep::numbers)]
    pub gen: Vec<sweep::Numbers>,
    /// Prompt then generation in one test, as PROMPT,GEN (llama-bench -pg): gives TTFT and latency
    #[arg(long = "pg", value_parser = parse_pg)]
    pub pg: Vec<(usize, usize)>,
    /// Compute threads; a list or range runs each (1,2,4 or 1-4) [default: all cores]
    #[arg(short = 't', long, value_parser = sweep::numbers)]
    pub threads: Vec<sweep::Numbers>,
    /// A backend option, swept like -t: KEY=VALUE[,VALUE…] (numbers also as ranges, 256-2048*2);
    /// repeat for several. What each target reads, its values and defaults: `edgebench list
    /// targets`. llama-bench's -b, -ub, -fa, -ctk, -ctv, -ngl (and --ctx-size, --ep) are
    /// aliases: `-fa 0,1` is `--opt flash_attn=0,1`
    #[arg(long = "opt", value_name = "KEY=VALUES", value_parser = sweep::option_values, help_heading = "Backend options (swept like -t)")]
    pub opt: Vec<sweep::Dimension>,
    /// Run exactly N repetitions per test (turns adaptive stopping off)
    #[arg(short = 'r', long)]
    pub repetitions: Option<usize>,
    /// Fewest repetitions per test
    #[arg(long, default_value_t = 3)]
    pub min_reps: usize,
    /// Most repetitions per test [default: 20; the quick suite: 10]
    #[arg(long)]
    pub max_reps: Option<usize>,
    /// Repeat until the 95% confidence interval is within ±this percent of the mean
    /// [default: 2; the quick suite: 5]
    #[arg(long)]
    pub ci: Option<f64>,
    /// Stop repeating a test after this many seconds of measuring [default: 120; the quick
    /// suite: 20]
    #[arg(long)]
    pub max_time: Option<f64>,
    /// Untimed runs of each test before measuring
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// Seed of synthetic weights and prompt tokens
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where synthetic models are cached [default: $XDG_CACHE_HOME/edgebench/models]
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
    /// Results file to append to [default: edgebench-results/<run id>.jsonl]
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// What to print when done: table, md, csv, json, jsonl
    #[arg(long, default_value = "table")]
    pub output: String,
    /// Print the plan and exit without running anything
    #[arg(long)]
    pub dry_run: bool,
    /// Run models even when they look too large for this device's memory
    #[arg(long)]
    pub force: bool,
    /// Sensor sampling rate, Hz
    #[arg(long, default_value_t = 10.0)]
    pub sample_hz: f64,
    /// Seconds a model load or one repetition may take before the worker is stopped
    #[arg(long, default_value_t = 1800)]
    pub timeout: u64,
    /// Run each generation workload back to back for this long (e.g. 10m, 90s, 1h) and record
    /// t/s per window next to temperature and clock; without -n, the workload is tg128
    #[arg(long, value_parser = profile::parse_duration)]
    pub soak: Option<f64>,
    /// Window of the soak curve, seconds
    #[arg(long, default_value_t = 10.0)]
    pub soak_window: f64,
    /// Before each test, wait up to this long (seconds, or e.g. 2m) for the temperature to
    /// return near its idle value at the start of the run; `off` to never wait
    #[arg(long, default_value = "60", value_parser = profile::parse_cooldown)]
    pub cooldown: profile::CooldownLimit,
    /// Cooldown is done within this many °C of the idle temperature
    #[arg(long, default_value_t = edgebench_harness::cooldown::DEFAULT_MARGIN_C)]
    pub cooldown_margin: f64,
    /// Read /sys and /proc under this folder instead of / (for fixture trees)
    #[arg(long, hide = true)]
    pub sys_root: Option<PathBuf>,
}

fn parse_pg(s: &str) -> Result<(usize, usize), String> {
    let (p, g) = s
        .split_once(',')
        .ok_or_else(|| format!("'{s}' is not PROMPT,GEN (e.g. 512,128)"))?;
    let num = |x: &str| {
        x.trim()
            .parse::<usize>()
            .map_err(|_| format!("'{x}' in '{s}' is not a number"))
    };
    Ok((num(p)?, num(g)?))
}

impl RunArgs {
    fn threads(&self) -> Vec<usize> {
        sweep::flatten(self.threads.iter().map(|n| n.0.clone()))
    }

    /// The backend options swept, one dimension per key in the order first given (a repeated
    /// key adds values); the values are checked against the targets' own descriptions once
    /// they are discovered (`targets::check_swept_options`).
    fn option_dimensions(&self) -> anyhow::Result<Vec<sweep::Dimension>> {
        Ok(sweep::merge_dimensions(&self.opt))
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    // Step 1: check what was typed, without side effects.
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
    let option_dims = args.option_dimensions()?;
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
    let whisper = crate::whisper::requested(&args, &catalog)?;
    if let Some(path) = &args.audio {
        edgebench_harness::audio::read_wav(path).context("--audio")?;
    }
    // Whisper quantizations are checked with the Whisper selection.
    let quants = if whisper {
        Vec::new()
    } else {
        args.quant
            .iter()
            .map(|q| plan::SynthQuant::parse(q))
            .collect::<Result<Vec<_>, _>>()
            .context("--quant")?
    };
    for t in &args.target {
        if !targets::is_known(t) {
            let known = targets::known_names();
            bail!(
                "--target: unknown target '{t}' (known: {})",
                known.join(", ")
            );
        }
    }

    // Step 2: resolve against the catalog, the files and this machine.
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let threads = if args.threads.is_empty() {
        vec![cores]
    } else {
        args.threads()
    };
    let root = args.sys_root.clone().map(SysRoot::new).unwrap_or_default();
    let mut environment = edgebench_harness::env::detect(&root, crate::VERSION, crate::COMMIT);
    let (suite_name, jobs) = if whisper {
        let sel = crate::whisper::select(&args, &catalog)?;
        let (found, missing) = crate::whisper::discover();
        let target_names = chosen_targets(&args, &found, &missing, |_| true)?;
        let jobs = crate::whisper::resolve(
            &sel,
            &target_names,
            &found,
            &missing,
            &threads,
            args.seed,
            environment.ram_bytes,
            args.force,
        );
        (sel.suite, jobs)
    } else {
        let (suite_name, models, mut workloads) = select_models(&args, &catalog, &quants)?;
        if let Some(seconds) = args.soak {
            workloads = soak_workloads(&args, &catalog, workloads, seconds)?;
        }
        let (found, missing) = targets::discover();
        // Speech-only targets (whisper.cpp) are only run on language models when named.
        let target_names = chosen_targets(&args, &found, &missing, |f| {
            f.info.architectures.iter().any(|a| a != "whisper")
        })?;
        let selection = Selection {
            models,
            targets: target_names,
            threads,
            workloads,
            options: sweep::combinations(&option_dims),
            ram_bytes: environment.ram_bytes,
            force: args.force,
        };
        let unread = targets::check_swept_options(&found, &selection.targets, &option_dims)
            .map_err(anyhow::Error::msg)?;
        for key in unread {
            eprintln!("note: no selected target reads the option {key}; it is ignored");
        }
        let jobs = plan::resolve(&selection, &found, &missing);
        (suite_name, jobs)
    };
    let suite_label = suite_name
        .as_ref()
        .map(|s| format!(" (suite {s})"))
        .unwrap_or_default();
    // A language-model suite's own stopping rule (Whisper suites have none).
    let suite = suite_name
        .as_ref()
        .filter(|_| !whisper)
        .and_then(|name| catalog.suite(name).ok().cloned());
    eprintln!(
        "edgebench {} on {} ({}, {} cores){suite_label}:",
        crate::VERSION,
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
    eprint!("{}", plan::describe(&jobs));
    if args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }

    // Step 3: run.
    let run_id = format!("run-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"));
    let results_path = args
        .results
        .clone()
        .unwrap_or_else(|| PathBuf::from("edgebench-results").join(format!("{run_id}.jsonl")));
    let mut writer = ResultsWriter::append(&results_path)?;
    let worker_pid = Arc::new(AtomicU32::new(0));
    let sampler = Sampler::start(
        sensors::discover(&root, Arc::clone(&worker_pid)),
        Duration::from_secs_f64(1.0 / args.sample_hz),
    );
    // Every sample also goes to a side file next to the results, as it is taken.
    let timeline_path = edgebench_harness::timeline_file::path_for(&results_path);
    let timeline_file = match sampler.record_to(&timeline_path, &run_id) {
        Ok(()) => timeline_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
        Err(e) => {
            eprintln!(
                "warning: no timeline file: {}: {e}",
                timeline_path.display()
            );
            None
        }
    };
    // The roofline's bandwidth for each thread count that will run (cached per device).
    let mut run_threads: Vec<usize> = jobs
        .iter()
        .filter(|j| j.skip.is_none())
        .map(|j| j.threads)
        .collect();
    run_threads.sort_unstable();
    run_threads.dedup();
    // Only thread counts of models big enough to have a roofline (a model that fits in the
    // caches has none): tiny test models never pay for a bandwidth measurement.
    let min_roofline_bytes = profile::min_roofline_bytes();
    let mut roofline_threads: Vec<usize> = jobs
        .iter()
        .filter(|j| j.skip.is_none() && j.model.file_bytes() >= min_roofline_bytes)
        .map(|j| j.threads)
        .collect();
    roofline_threads.sort_unstable();
    roofline_threads.dedup();
    let roofline = profile::roofline(&mut environment, &roofline_threads);
    let cooldown = args
        .cooldown
        .0
        .filter(|_| !run_threads.is_empty())
        .and_then(|max_wait| profile::cooldown_config(&sampler, max_wait, args.cooldown_margin));
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = Arc::clone(&cancel);
        // First Ctrl-C: finish cleanly (records already written stay valid); second: leave now.
        let _ = ctrlc::set_handler(move || {
            if cancel.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\nstopping after the current repetition (Ctrl-C again to quit now)…");
        });
    }
    let rule = match (args.soak, args.repetitions) {
        // A soak repeats until its time is up, whatever the confidence interval.
        (Some(seconds), _) => StoppingRule {
            min_repetitions: 1,
            max_repetitions: usize::MAX,
            target_relative_ci: -1.0,
            time_cap_s: seconds,
        },
        (None, Some(r)) => StoppingRule {
            min_repetitions: r,
            max_repetitions: r,
            target_relative_ci: 0.0,
            time_cap_s: f64::INFINITY,
        },
        (None, None) => adaptive_rule(&args, suite.as_ref()),
    };
    // Recorded with every test, so a table can say which interval the run aimed for.
    if args.soak.is_none() && args.repetitions.is_none() {
        environment.extra.insert(
            "target_ci_percent".into(),
            format!("{}", rule.target_relative_ci * 100.0),
        );
    }
    if let Some(name) = &suite_name {
        environment.extra.insert("suite".into(), name.clone());
    }
    let config = RunnerConfig {
        run_id: run_id.clone(),
        environment,
        rule,
        // A soak starts cold: its first window is the device before it heats.
        warmup: if args.soak.is_some() { 0 } else { args.warmup },
        request_timeout: Duration::from_secs(args.timeout),
        cooldown,
        soak_window_s: args.soak.map(|_| args.soak_window),
        roofline: Some(roofline),
        timeline_file,
    };
    let models_dir = crate::models_dir(&args.models_dir);
    let audio = if whisper {
        Some(crate::whisper::audio_clip(&args, &models_dir)?)
    } else {
        None
    };
    let mut runner = Runner {
        config,
        sampler: &sampler,
        writer: &mut writer,
        worker_pid,
        cancel: Arc::clone(&cancel),
    };
    let mut observer = ProgressObserver::new();
    let mut records: Vec<TestRecord> = Vec::new();
    for job in &jobs {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let prepared = match &job.skip {
            Some(reason) => Err(Status::Skipped {
                reason: reason.clone(),
            }),
            None => prepare_model(job, &models_dir, args.seed),
        };
        match prepared {
            Ok((path, scenario)) => {
                let model_job = match (&job.model, &audio) {
                    (ModelSource::Whisper(_), Some(audio)) => {
                        crate::whisper::model_job(job, &path, &scenario, &catalog, audio)?
                    }
                    _ => model_job(job, &path, &scenario, args.seed),
                };
                records.extend(runner.run_job(&model_job, &mut observer)?);
            }
            Err(status) => {
                for r in not_run_records(&runner.config, job, status, args.seed) {
                    runner.writer.write(&Record::Test(r.clone()))?;
                    observer.not_run(&r);
                    records.push(r);
                }
            }
        }
    }
    drop(runner);
    let sampler_file = sampler.timeline_file();
    let _ = sampler.stop();

    print_export(&exporter.export(&records)?);
    eprintln!("Results: {}", results_path.display());
    match sampler_file {
        Some((path, None)) => eprintln!("Timeline: {}", path.display()),
        Some((path, Some(e))) => {
            eprintln!("warning: timeline file {} incomplete: {e}", path.display())
        }
        None => {}
    }
    let html = results_path.with_extension("html");
    match crate::commands::report::write_html_for(&results_path, &html) {
        Ok(()) => eprintln!("Report:  {}", html.display()),
        Err(e) => eprintln!("warning: no HTML report: {e:#}"),
    }
    if cancel.load(Ordering::Relaxed) {
        return Ok(ExitCode::from(130));
    }
    Ok(match run_outcome(&records) {
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

/// The adaptive stopping rule: the flags where given, else the suite's rule, else
/// `edgebench run`'s defaults (±2%, 3–20 repetitions, 120 s).
fn adaptive_rule(args: &RunArgs, suite: Option<&edgebench_scenarios::Suite>) -> StoppingRule {
    let defaults = StoppingRule::default();
    let max_repetitions = args
        .max_reps
        .or(suite.and_then(|s| s.max_reps))
        .unwrap_or(defaults.max_repetitions)
        .max(args.min_reps);
    StoppingRule {
        min_repetitions: args.min_reps,
        max_repetitions,
        target_relative_ci: args
            .ci
            .or(suite.and_then(|s| s.ci_percent))
            .map_or(defaults.target_relative_ci, |ci| ci / 100.0),
        time_cap_s: args
            .max_time
            .or(suite.and_then(|s| s.max_time_s))
            .unwrap_or(defaults.time_cap_s),
    }
}

/// `--target`, or every found target that `offered` accepts.
fn chosen_targets(
    args: &RunArgs,
    found: &[targets::FoundTarget],
    missing: &[targets::MissingTarget],
    offered: impl Fn(&targets::FoundTarget) -> bool,
) -> anyhow::Result<Vec<String>> {
    if !args.target.is_empty() {
        return Ok(args.target.clone());
    }
    let names: Vec<String> = found
        .iter()
        .filter(|f| offered(f))
        .map(|f| f.name.to_string())
        .collect();
    if names.is_empty() {
        let why: Vec<String> = missing
            .iter()
            .map(|m| format!("{}: {}", m.name, m.reason))
            .collect();
        bail!(
            "no target for these models is built ({}); run scripts/setup.sh",
            why.join("; ")
        );
    }
    Ok(names)
}

/// Models and workloads from `--model`, `--scenario`/`--quant` or the suite.
type Chosen = (
    Option<String>,
    Vec<ModelSource>,
    Vec<edgebench_scenarios::WorkloadSpec>,
);

fn select_models(
    args: &RunArgs,
    catalog: &Catalog,
    quants: &[plan::SynthQuant],
) -> anyhow::Result<Chosen> {
    let from_flags = plan::workloads_from_flags(
        catalog,
        &args.workload,
        &sweep::flatten(args.prompt.iter().map(|n| n.0.clone())),
        &sweep::flatten(args.gen.iter().map(|n| n.0.clone())),
        &args.pg,
    )?;
    let default_workloads = || -> anyhow::Result<Vec<_>> {
        Ok(vec![
            catalog.workload("pp512")?.clone(),
            catalog.workload("tg128")?.clone(),
        ])
    };
    if !args.model.is_empty() {
        if args.suite.is_some() || !args.scenario.is_empty() {
            bail!("--model runs your own file; it cannot be combined with --suite or --scenario");
        }
        let mut models = Vec::new();
        for path in &args.model {
            models.push(plan::inspect_model(path)?);
        }
        let workloads = if from_flags.is_empty() {
            default_workloads()?
        } else {
            from_flags
        };
        return Ok((None, models, workloads));
    }
    let (suite, names, suite_quants, suite_workloads) = if args.scenario.is_empty() {
        let name = args.suite.clone().unwrap_or_else(|| "quick".into());
        let suite = catalog.suite(&name).context("--suite")?;
        let workloads = suite
            .workloads
            .iter()
            .map(|w| catalog.workload(w).cloned())
            .collect::<Result<Vec<_>, _>>()?;
        (
            Some(name),
            suite.models.clone(),
            suite.quants.clone(),
            workloads,
        )
    } else {
        if args.suite.is_some() {
            bail!("--scenario picks models itself; drop --suite or --scenario");
        }
        (
            None,
            args.scenario.clone(),
            vec![Quant::Q4KM],
            default_workloads()?,
        )
    };
    let quants = if quants.is_empty() {
        suite_quants
            .into_iter()
            .map(plan::SynthQuant::Gguf)
            .collect()
    } else {
        quants.to_vec()
    };
    let workloads = if from_flags.is_empty() {
        suite_workloads
    } else {
        from_flags
    };
    let mut models = Vec::new();
    for name in &names {
        let spec = catalog.model(name).context("--scenario")?;
        for &quant in &quants {
            models.push(match quant {
                plan::SynthQuant::Gguf(quant) => ModelSource::Synthetic {
                    spec: spec.clone(),
                    quant,
                    seed: args.seed,
                },
                plan::SynthQuant::Onnx(quant) => ModelSource::SyntheticOnnx {
                    spec: spec.clone(),
                    quant,
                    seed: args.seed,
                },
            });
        }
    }
    Ok((suite, models, workloads))
}

/// The model file for a job (synthesized into the cache if needed) and its scenario fields.
fn prepare_model(
    job: &PlannedJob,
    models_dir: &Path,
    seed: u64,
) -> Result<(PathBuf, ScenarioRef), Status> {
    match &job.model {
        ModelSource::Whisper(w) => crate::whisper::prepare(w, models_dir),
        ModelSource::File { path, summary } => Ok((
            path.clone(),
            ScenarioRef {
                model: job.model.model_name(),
                quant: summary.quant.clone(),
                model_path: path.display().to_string(),
                model_bytes: summary.file_bytes,
                synthetic: summary.synthetic,
                seed: summary.seed,
                ..Default::default()
            },
        )),
        ModelSource::Folder { path, summary } => Ok((
            path.clone(),
            ScenarioRef {
                model: job.model.model_name(),
                quant: summary.quant.clone(),
                model_path: path.display().to_string(),
                model_bytes: summary.file_bytes,
                synthetic: summary.synthetic,
                seed: summary.seed,
                ..Default::default()
            },
        )),
        ModelSource::SyntheticOnnx { spec, quant, .. } => {
            use edgebench_scenarios::onnx;
            crate::synthesis::prepare(
                models_dir,
                &onnx::cache_path(models_dir, spec, *quant, seed),
                job.model.file_bytes(),
                &format!("{} {} (ONNX)", spec.name, quant),
                &spec.name,
                quant.name(),
                seed,
                |progress| onnx::ensure_cached(models_dir, spec, *quant, seed, progress),
            )
        }
        ModelSource::Synthetic { spec, quant, .. } => {
            use edgebench_scenarios::synth;
            crate::synthesis::prepare(
                models_dir,
                &synth::cache_path(models_dir, spec, *quant, seed),
                job.model.file_bytes(),
                &format!("{} {}", spec.name, quant),
                &spec.name,
                quant.name(),
                seed,
                |progress| synth::ensure_cached(models_dir, spec, *quant, seed, progress),
            )
        }
    }
}

fn model_job(job: &PlannedJob, path: &Path, scenario: &ScenarioRef, seed: u64) -> ModelJob {
    let worker = job.worker.clone().expect("a job that runs has a worker");
    ModelJob {
        target: job.target.clone(),
        worker: WorkerCommand::for_target(worker, job.threads),
        load: edgebench_harness::target::LoadSpec {
            model_path: path.to_path_buf(),
            threads: job.threads,
            context: job.context(),
            options: job.options.clone(),
        },
        parameters: Parameters {
            threads: job.threads,
            options: job.options.clone(),
        },
        tests: job
            .workloads
            .iter()
            .map(|w| TestSpec {
                scenario: ScenarioRef {
                    workload: w.name.clone(),
                    prompt_tokens: w.prompt,
                    gen_tokens: w.gen,
                    ..scenario.clone()
                },
                run: RunSpec {
                    prompt: w.prompt,
                    gen: w.gen,
                    seed,
                },
                speech: None,
            })
            .collect(),
    }
}

/// Records for the tests of a job that did not run (skipped, or its model could not be made).
fn not_run_records(
    config: &RunnerConfig,
    job: &PlannedJob,
    status: Status,
    seed: u64,
) -> Vec<TestRecord> {
    job.workloads
        .iter()
        .map(|w| TestRecord {
            schema_version: SCHEMA_VERSION,
            test_id: test_id(
                &config.run_id,
                &job.model.model_name(),
                &job.model.quant_name(),
                &w.name,
                &job.target,
                &Parameters {
                    threads: job.threads,
                    options: job.options.clone(),
                },
            ),
            run_id: config.run_id.clone(),
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            environment: config.environment.clone(),
            scenario: ScenarioRef {
                model: job.model.model_name(),
                quant: job.model.quant_name(),
                workload: w.name.clone(),
                prompt_tokens: w.prompt,
                gen_tokens: w.gen,
                model_bytes: job.model.file_bytes(),
                synthetic: match &job.model {
                    ModelSource::Synthetic { .. } => true,
                    ModelSource::Whisper(w) => {
                        matches!(**w, crate::whisper::WhisperSource::Synthetic { .. })
                    }
                    ModelSource::SyntheticOnnx { .. } => true,
                    ModelSource::File { .. } | ModelSource::Folder { .. } => false,
                },
                seed: Some(seed),
                ..Default::default()
            },
            target: edgebench_harness::target::TargetInfo {
                name: job.target.clone(),
                ..Default::default()
            },
            parameters: Parameters {
                threads: job.threads,
                options: job.options.clone(),
            },
            status: status.clone(),
            model: None,
            load_s: None,
            peak_rss_bytes: None,
            repetitions: Vec::new(),
            summary: Default::default(),
            stop_reason: None,
            sensors: Default::default(),
            warnings: Vec::new(),
            soak: None,
        })
        .collect()
}

/// The workloads of a soak: the generation workloads chosen (tg128 when none was), named
/// `tg128 soak10m`.
fn soak_workloads(
    args: &RunArgs,
    catalog: &Catalog,
    chosen: Vec<edgebench_scenarios::WorkloadSpec>,
    seconds: f64,
) -> anyhow::Result<Vec<edgebench_scenarios::WorkloadSpec>> {
    let explicit = !args.gen.is_empty() || !args.workload.is_empty();
    let mut out: Vec<_> = if explicit {
        chosen.into_iter().filter(|w| w.gen > 0).collect()
    } else {
        vec![catalog.workload("tg128")?.clone()]
    };
    if out.is_empty() {
        bail!("--soak needs a generation workload (e.g. -n 128)");
    }
    let label = if seconds % 3600.0 == 0.0 {
        format!("{}h", seconds / 3600.0)
    } else if seconds % 60.0 == 0.0 {
        format!("{}m", seconds / 60.0)
    } else {
        format!("{seconds}s")
    };
    for w in out.iter_mut() {
        w.name = format!("{} soak{label}", w.name);
    }
    Ok(out)
}

/// Print an export to stdout, ending with a newline.
pub fn print_export(text: &str) {
    if text.ends_with('\n') || text.is_empty() {
        print!("{text}");
    } else {
        println!("{text}");
    }
}
