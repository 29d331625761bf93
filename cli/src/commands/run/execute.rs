//! Carrying out a plan: the results file, the sensor sampler and its timeline file, the
//! roofline's bandwidth, cooldown and Ctrl-C; then, job by job, the model made ready (synthesized
//! into the cache if needed) and handed to the harness's [`Runner`], which measures it in a
//! worker process and appends every record to the results as it happens. A job that does not
//! run still gets its records, with the reason.

use super::args::RunArgs;
use crate::model::{ModelKind, ModelSource};
use crate::plan::{Job, Plan, Workload};
use crate::profile;
use crate::progress::ProgressObserver;
use crate::targets;
use anyhow::{bail, Context};
use edgebench_harness::protocol::{RunSpec, SpeechRunSpec};
use edgebench_harness::runner::{ModelJob, Runner, RunnerConfig, TestSpec};
use edgebench_harness::sampler::Sampler;
use edgebench_harness::schema::Environment;
use edgebench_harness::schema::{Parameters, Record, ScenarioRef, Status, TestRecord};
use edgebench_harness::sensors::{self, SysRoot};
use edgebench_harness::stats::StoppingRule;
use edgebench_harness::store::ResultsWriter;
use edgebench_harness::target::{LoadSpec, TargetInfo};
use edgebench_scenarios::Suite;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What a run measured, and where it went.
pub struct Executed {
    pub records: Vec<TestRecord>,
    pub results_path: PathBuf,
    /// The timeline side file and, if it is incomplete, why.
    pub timeline: Option<(PathBuf, Option<String>)>,
    /// Ctrl-C stopped the run.
    pub cancelled: bool,
}

/// Run every job of `plan`, writing each record to the results file as it is made.
pub fn execute(
    args: &RunArgs,
    plan: &Plan,
    mut environment: Environment,
    suite: Option<&Suite>,
) -> anyhow::Result<Executed> {
    let run_id = format!("run-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"));
    let results_path = args
        .results
        .clone()
        .unwrap_or_else(|| PathBuf::from("edgebench-results").join(format!("{run_id}.jsonl")));
    let mut writer = ResultsWriter::append(&results_path)?;
    let root = args.sys_root.clone().map(SysRoot::new).unwrap_or_default();
    let worker_pid = Arc::new(AtomicU32::new(0));
    let sampler = Sampler::start(
        sensors::discover(&root, Arc::clone(&worker_pid)),
        Duration::from_secs_f64(1.0 / args.sample_hz),
    );
    let timeline_file = record_timeline(&sampler, &results_path, &run_id);
    let roofline = profile::roofline(&mut environment, &roofline_threads(plan));
    let cooldown = args
        .cooldown
        .0
        .filter(|_| plan.runnable().next().is_some())
        .and_then(|max_wait| profile::cooldown_config(&sampler, max_wait, args.cooldown_margin));
    let cancel = ctrl_c_flag();
    let rule = stopping_rule(args, suite);
    // Recorded with every test, so a table can say which interval the run aimed for.
    if args.soak.is_none() && args.repetitions.is_none() {
        environment.extra.insert(
            "target_ci_percent".into(),
            format!("{}", rule.target_relative_ci * 100.0),
        );
    }
    if let Some(name) = &plan.suite {
        environment.extra.insert("suite".into(), name.clone());
    }
    let config = RunnerConfig {
        run_id,
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
    let models_dir = crate::meta::models_dir(&args.models_dir);
    let audio = match plan.kind {
        ModelKind::Speech => Some(audio_clip(args, &models_dir)?),
        ModelKind::Text => None,
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
    for job in &plan.jobs {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let prepared = match &job.skip {
            Some(reason) => Err(Status::Skipped {
                reason: reason.clone(),
            }),
            None => prepare_model(&job.model, &models_dir),
        };
        match prepared {
            Ok((path, scenario)) => {
                let model_job = model_job(job, &path, &scenario, args.seed, audio.as_deref())?;
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
    let timeline = sampler.timeline_file();
    let _ = sampler.stop();
    Ok(Executed {
        records,
        results_path,
        timeline,
        cancelled: cancel.load(Ordering::Relaxed),
    })
}

/// Every sample also goes to a side file next to the results, as it is taken; its name
/// relative to the results, or `None` (with a warning) when it cannot be written.
fn record_timeline(sampler: &Sampler, results_path: &Path, run_id: &str) -> Option<String> {
    let timeline_path = edgebench_harness::timeline_file::path_for(results_path);
    match sampler.record_to(&timeline_path, run_id) {
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
    }
}

/// The thread counts the roofline's bandwidth is measured for (cached per device): those of
/// models big enough to have a roofline (a model that fits in the caches has none), so tiny
/// test models never pay for a bandwidth measurement.
fn roofline_threads(plan: &Plan) -> Vec<usize> {
    let min_roofline_bytes = profile::min_roofline_bytes();
    let mut threads: Vec<usize> = plan
        .runnable()
        .filter(|j| j.model.file_bytes() >= min_roofline_bytes)
        .map(|j| j.threads)
        .collect();
    threads.sort_unstable();
    threads.dedup();
    threads
}

/// Set on the first Ctrl-C: finish cleanly (records already written stay valid); a second one
/// leaves at once.
fn ctrl_c_flag() -> Arc<AtomicBool> {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\nstopping after the current repetition (Ctrl-C again to quit now)…");
    });
    cancel
}

/// When to stop repeating a test: a soak's duration, `-r`'s count, or the adaptive rule.
fn stopping_rule(args: &RunArgs, suite: Option<&Suite>) -> StoppingRule {
    match (args.soak, args.repetitions) {
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
        (None, None) => adaptive_rule(args, suite),
    }
}

/// The adaptive stopping rule: the flags where given, else the suite's rule, else
/// `edgebench run`'s defaults (±2%, 3–20 repetitions, 120 s).
fn adaptive_rule(args: &RunArgs, suite: Option<&Suite>) -> StoppingRule {
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

/// The audio clip of the run: the user's `--audio` (checked now, so a bad file is one line
/// before anything runs) or the standard synthetic clip, written into the cache on first use.
fn audio_clip(args: &RunArgs, models_dir: &Path) -> anyhow::Result<PathBuf> {
    match &args.audio {
        Some(path) => {
            let audio = edgebench_harness::audio::read_wav(path).context("--audio")?;
            if audio.seconds() < 1.0 {
                bail!(
                    "--audio: {}: only {:.2} s of audio",
                    path.display(),
                    audio.seconds()
                );
            }
            Ok(path.clone())
        }
        None => edgebench_scenarios::whisper::audio::ensure_clip(models_dir, args.seed),
    }
}

/// The model file or folder of a job (synthesized into the cache if needed) and its scenario
/// fields.
fn prepare_model(model: &ModelSource, models_dir: &Path) -> Result<(PathBuf, ScenarioRef), Status> {
    use edgebench_scenarios::{onnx, synth, whisper::cache};
    let user_file = |path: &Path, quant: &str, bytes, synthetic, seed| {
        Ok((
            path.to_path_buf(),
            ScenarioRef {
                model: model.model_name(),
                quant: quant.to_string(),
                model_path: path.display().to_string(),
                model_bytes: bytes,
                synthetic,
                seed,
                ..Default::default()
            },
        ))
    };
    let (name, quant, planned) = (model.model_name(), model.quant_name(), model.file_bytes());
    match model {
        ModelSource::File { path, summary } => user_file(
            path,
            &summary.quant,
            summary.file_bytes,
            summary.synthetic,
            summary.seed,
        ),
        ModelSource::Folder { path, summary } => user_file(
            path,
            &summary.quant,
            summary.file_bytes,
            summary.synthetic,
            summary.seed,
        ),
        ModelSource::WhisperFile {
            path, quant, bytes, ..
        } => user_file(path, quant, *bytes, false, None),
        ModelSource::Synthetic { spec, quant, seed } => crate::synthesis::prepare(
            models_dir,
            &synth::cache_path(models_dir, spec, *quant, *seed),
            planned,
            &format!("{name} {quant}"),
            &name,
            quant.name(),
            *seed,
            |progress| synth::ensure_cached(models_dir, spec, *quant, *seed, progress),
        ),
        ModelSource::SyntheticOnnx { spec, quant, seed } => crate::synthesis::prepare(
            models_dir,
            &onnx::cache_path(models_dir, spec, *quant, *seed),
            planned,
            &format!("{name} {quant} (ONNX)"),
            &name,
            quant.name(),
            *seed,
            |progress| onnx::ensure_cached(models_dir, spec, *quant, *seed, progress),
        ),
        ModelSource::SyntheticWhisper {
            spec,
            quant: q,
            format,
            seed,
        } => {
            let format = format.ok_or_else(|| Status::Skipped {
                reason: "no format for this quantization".into(),
            })?;
            crate::synthesis::prepare(
                models_dir,
                &cache::cache_path(models_dir, spec, *q, format, *seed),
                planned,
                &format!("{name} {quant} ({format})"),
                &name,
                &quant,
                *seed,
                |progress| cache::ensure_cached(models_dir, spec, *q, format, *seed, progress),
            )
        }
    }
}

/// The runner's job: the target's worker, the model at `path`, one test per workload.
fn model_job(
    job: &Job,
    path: &Path,
    scenario: &ScenarioRef,
    seed: u64,
    audio: Option<&Path>,
) -> anyhow::Result<ModelJob> {
    let worker = job.worker.clone().context("a job that runs has a worker")?;
    let kind = job.model.kind();
    // A speech test's parameters name its audio clip; it loads with no backend options.
    let (load_options, options) = match kind {
        ModelKind::Text => (job.options.clone(), job.options.clone()),
        ModelKind::Speech => {
            let audio = audio.context("a speech job has an audio clip")?;
            let options = BTreeMap::from([("audio".to_string(), audio.display().to_string())]);
            (BTreeMap::new(), options)
        }
    };
    let tests = job
        .workloads
        .iter()
        .map(|w| test_spec(w, scenario, seed, audio))
        .collect::<anyhow::Result<_>>()?;
    Ok(ModelJob {
        target: job.target.clone(),
        worker: targets::worker_command(worker, job.threads, kind),
        load: LoadSpec {
            model_path: path.to_path_buf(),
            threads: job.threads,
            context: job.context(),
            options: load_options,
        },
        parameters: Parameters {
            threads: job.threads,
            options,
        },
        tests,
    })
}

fn test_spec(
    workload: &Workload,
    scenario: &ScenarioRef,
    seed: u64,
    audio: Option<&Path>,
) -> anyhow::Result<TestSpec> {
    let (prompt, gen) = workload.tokens();
    let scenario = ScenarioRef {
        workload: workload.name().to_string(),
        prompt_tokens: prompt,
        gen_tokens: gen,
        ..scenario.clone()
    };
    Ok(match workload {
        Workload::Text(_) => TestSpec {
            scenario,
            run: RunSpec { prompt, gen, seed },
            speech: None,
        },
        Workload::Speech(w) => TestSpec {
            scenario,
            run: RunSpec::default(),
            speech: Some(SpeechRunSpec {
                audio_path: audio.context("a speech test has an audio clip")?.into(),
                mel: w.mel,
                encode: w.encode,
                decode: w.decode,
            }),
        },
    })
}

/// Records for the tests of a job that did not run (skipped, or its model could not be made).
fn not_run_records(config: &RunnerConfig, job: &Job, status: Status, seed: u64) -> Vec<TestRecord> {
    let parameters = Parameters {
        threads: job.threads,
        options: job.options.clone(),
    };
    let target = TargetInfo {
        name: job.target.clone(),
        ..Default::default()
    };
    job.workloads
        .iter()
        .map(|w| {
            let (prompt, gen) = w.tokens();
            let scenario = ScenarioRef {
                model: job.model.model_name(),
                quant: job.model.quant_name(),
                workload: w.name().to_string(),
                prompt_tokens: prompt,
                gen_tokens: gen,
                model_bytes: job.model.file_bytes(),
                synthetic: job.model.synthetic(),
                seed: Some(seed),
                ..Default::default()
            };
            let mut record =
                config.new_record(&job.target, target.clone(), parameters.clone(), scenario);
            record.status = status.clone();
            record
        })
        .collect()
}
