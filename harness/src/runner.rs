//! The runner: for each model job (one model on one target with fixed parameters) start a
//! worker, load once, then for each workload warm up and repeat until the 95% confidence
//! interval of the headline metric is narrow enough (see [`StoppingRule`]). Every repetition is
//! appended to the results file the moment it ends; observers (progress bars, live tables) only
//! watch. Around the measuring: a bounded cooldown before each test ([`crate::cooldown`]), a
//! throttle verdict per repetition ([`crate::throttling`]), energy and power per phase, the
//! bandwidth roofline of token generation, and soak windows ([`crate::soak`]).

use crate::client::{WorkerClient, WorkerCommand, WorkerError};
use crate::cooldown::{self, CooldownConfig};
use crate::protocol::{Phase, RepetitionTiming, Request, Response, RunSpec, SpeechRunSpec};
use crate::sampler::Sampler;
use crate::schema::{
    metric, Environment, Parameters, Record, RepetitionRecord, ScenarioRef, Status, TestRecord,
    SCHEMA_VERSION,
};
use crate::soak::{self, TokenTime};
use crate::stats::{self, StoppingRule};
use crate::store::ResultsWriter;
use crate::target::{LoadSpec, ModelInfo, TargetInfo};
use crate::throttling;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One workload to measure on a loaded model.
#[derive(Debug, Clone, Default)]
pub struct TestSpec {
    pub scenario: ScenarioRef,
    pub run: RunSpec,
    /// A speech workload (sent as [`Request::RunSpeech`] instead of `run`) on a speech worker.
    pub speech: Option<SpeechRunSpec>,
}

/// One model on one target with fixed parameters: loaded once, then every test runs on it.
#[derive(Debug, Clone)]
pub struct ModelJob {
    pub target: String,
    pub worker: WorkerCommand,
    pub load: LoadSpec,
    pub parameters: Parameters,
    pub tests: Vec<TestSpec>,
}

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub run_id: String,
    pub environment: Environment,
    pub rule: StoppingRule,
    /// Untimed runs of each workload before measuring.
    pub warmup: usize,
    /// Longest a single request (load, one repetition) may take before the worker is killed.
    pub request_timeout: Duration,
    /// Wait for the device to cool before each test (None: never wait).
    pub cooldown: Option<CooldownConfig>,
    /// Soak mode: the window length of the rate-per-window curve, seconds (the stopping
    /// rule's time cap is the soak's duration).
    pub soak_window_s: Option<f64>,
    /// Measured memory bandwidth for the roofline metrics (None: no roofline).
    pub roofline: Option<Roofline>,
    /// Timeline side file, relative to the results file, named in every test's sensors.
    pub timeline_file: Option<String>,
}

impl RunnerConfig {
    /// A record of one test of this run on `target` (as the plan names it; `info` is what its
    /// worker reported), before anything is measured: status `ok`, no repetitions. The runner
    /// fills it in; a test that never runs (skipped, or its model could not be made) is written
    /// with its status set.
    pub fn new_record(
        &self,
        target: &str,
        info: TargetInfo,
        parameters: Parameters,
        scenario: ScenarioRef,
    ) -> TestRecord {
        TestRecord {
            schema_version: SCHEMA_VERSION,
            test_id: test_id(
                &self.run_id,
                &scenario.model,
                &scenario.quant,
                &scenario.workload,
                target,
                &parameters,
            ),
            run_id: self.run_id.clone(),
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            environment: self.environment.clone(),
            scenario,
            // The description is for planning; records keep what identifies the build.
            target: TargetInfo {
                description: Default::default(),
                ..info
            },
            parameters,
            status: Status::Ok,
            model: None,
            load_s: None,
            peak_rss_bytes: None,
            repetitions: Vec::new(),
            summary: BTreeMap::new(),
            stop_reason: None,
            sensors: Default::default(),
            warnings: Vec::new(),
            soak: None,
        }
    }
}

/// What the roofline of token generation needs (see [`crate::bandwidth`]).
#[derive(Debug, Clone, Default)]
pub struct Roofline {
    /// Measured read bandwidth per thread count, GB/s.
    pub read_gbs: BTreeMap<usize, f64>,
    /// Models with fewer weight bytes are left without a roofline: they fit in the caches
    /// (a few times the last-level cache), so memory bandwidth does not bound them.
    pub min_weight_bytes: u64,
    /// Measures the bandwidth again when a test's decode reads above 100% of the roofline
    /// (see [`recheck_roofline`]); `None`: never.
    pub remeasure: Option<BandwidthProbe>,
}

/// Measures the read bandwidth for a thread count now: GB/s, or `None` when it cannot.
#[derive(Clone)]
pub struct BandwidthProbe(Arc<dyn Fn(usize) -> Option<f64> + Send + Sync>);

impl BandwidthProbe {
    pub fn new(measure: impl Fn(usize) -> Option<f64> + Send + Sync + 'static) -> Self {
        Self(Arc::new(measure))
    }

    pub fn measure(&self, threads: usize) -> Option<f64> {
        (self.0)(threads)
    }
}

impl std::fmt::Debug for BandwidthProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BandwidthProbe")
    }
}

/// After a test whose decode read above 100% of the roofline (impossible against a real
/// ceiling: the bandwidth was measured while the machine was busy), measure the bandwidth
/// again, raise the ceiling for this and later tests (never lower it), and recompute the
/// test's roofline figures. Returns what happened, for the record's warnings; `None` when
/// nothing was needed or nothing could be measured.
pub fn recheck_roofline(record: &mut TestRecord, roofline: &mut Roofline) -> Option<String> {
    let before = record.summary.get(metric::ROOFLINE_PERCENT)?.max;
    if !crate::bandwidth::remeasure_needed(before) {
        return None;
    }
    let threads = record.parameters.threads;
    let old = *roofline.read_gbs.get(&threads)?;
    let bytes = record.model.as_ref()?.weight_bytes?;
    let new = roofline.remeasure.as_ref()?.measure(threads)?;
    let gbs = old.max(new);
    roofline.read_gbs.insert(threads, gbs);
    for rep in &mut record.repetitions {
        add_roofline_metrics(&mut rep.metrics, bytes, gbs);
    }
    record.summary = summarize_repetitions(&record.repetitions);
    record.environment.extra.insert(
        format!("read_bandwidth_gbs_t{threads}"),
        format!("{gbs:.2}"),
    );
    let after = record
        .summary
        .get(metric::ROOFLINE_PERCENT)
        .map_or(0.0, |s| s.max);
    Some(if crate::bandwidth::remeasure_needed(after) {
        format!(
            "decode reached {before:.0}% of the roofline of {old:.1} GB/s; measured again: \
             {new:.1} GB/s, still {after:.0}%: the machine is busy (measure on a quiet machine: \
             edgebench device --measure)"
        )
    } else {
        format!(
            "decode reached {before:.0}% of the roofline of {old:.1} GB/s, a bandwidth measured \
             while the machine was busy; measured again: {gbs:.1} GB/s, now {after:.0}% at most"
        )
    })
}

/// Watches the runner; every hook is optional.
pub trait Observer {
    fn job_started(&mut self, _job: &ModelJob) {}
    fn loaded(&mut self, _job: &ModelJob, _load_s: f64, _model: &ModelInfo) {}
    /// The device is hotter than its idle temperature allows: waiting up to the cooldown's
    /// limit before the next test.
    fn cooling_down(&mut self, _now_c: f64, _config: &CooldownConfig) {}
    fn test_started(&mut self, _test: &TestRecord) {}
    fn warmup_done(&mut self, _test: &TestRecord) {}
    fn repetition(&mut self, _test: &TestRecord, _rep: &RepetitionRecord, _rule: &StoppingRule) {}
    fn test_finished(&mut self, _test: &TestRecord) {}
}

/// An observer that watches nothing.
pub struct NoObserver;
impl Observer for NoObserver {}

pub struct Runner<'a> {
    pub config: RunnerConfig,
    pub sampler: &'a Sampler,
    pub writer: &'a mut ResultsWriter,
    /// Pid of the current worker, for the memory sensor (0 when none).
    pub worker_pid: Arc<AtomicU32>,
    /// Set by Ctrl-C: finish the current repetition's record and stop.
    pub cancel: Arc<AtomicBool>,
}

/// A loaded worker.
struct Loaded {
    client: WorkerClient,
    info: TargetInfo,
    model: ModelInfo,
    load_s: f64,
    peak_rss_bytes: Option<u64>,
}

impl Runner<'_> {
    /// Run every test of `job`, writing records as they happen. Returns the final test records.
    pub fn run_job(
        &mut self,
        job: &ModelJob,
        observer: &mut dyn Observer,
    ) -> anyhow::Result<Vec<TestRecord>> {
        observer.job_started(job);
        let mut finished = Vec::new();
        let mut loaded: Option<Loaded> = None;
        let mut load_error: Option<String> = None;
        let mut target_info = TargetInfo {
            name: job.target.clone(),
            ..Default::default()
        };
        for test in &job.tests {
            if self.cancelled() {
                break;
            }
            // (Re)start the worker if there is none: first test, or the last one crashed.
            if loaded.is_none() && load_error.is_none() {
                match self.start_and_load(job) {
                    Ok(l) => {
                        observer.loaded(job, l.load_s, &l.model);
                        target_info = l.info.clone();
                        loaded = Some(l);
                    }
                    Err((info, e)) => {
                        if let Some(info) = info {
                            target_info = *info;
                        }
                        load_error = Some(e);
                    }
                }
            }
            let cooled = self.config.cooldown.and_then(|c| {
                if let Some(now_c) = cooldown::too_hot(self.sampler, &c) {
                    observer.cooling_down(now_c, &c);
                }
                cooldown::wait(self.sampler, &c, &self.cancel)
            });
            let mut record = self.new_record(job, test, &target_info, loaded.as_ref());
            record.sensors.cooldown = cooled;
            self.writer.write(&Record::TestStart(record.clone()))?;
            observer.test_started(&record);
            let test_start = self.sampler.begin_test(&record.test_id);
            match (&mut loaded, &load_error) {
                (_, Some(e)) => record.status = Status::Failed { reason: e.clone() },
                (Some(l), None) => {
                    if let Err(e) = self.measure(l, test, &mut record, observer) {
                        record.status = if self.cancelled() {
                            Status::Interrupted {
                                reason: "stopped by the user (Ctrl-C)".into(),
                            }
                        } else {
                            Status::Failed {
                                reason: e.to_string(),
                            }
                        };
                        // A dead or hung worker is replaced before the next test.
                        if matches!(
                            e,
                            WorkerError::Died { .. }
                                | WorkerError::Timeout { .. }
                                | WorkerError::Protocol(_)
                        ) {
                            loaded = None;
                            self.worker_pid.store(0, Ordering::Relaxed);
                        }
                    }
                }
                (None, None) => unreachable!("a worker is loaded or its error is known"),
            }
            let test_end = self.sampler.now();
            self.finish(&mut record, test_start, test_end);
            if let Some(roofline) = self.config.roofline.as_mut() {
                if let Some(note) = recheck_roofline(&mut record, roofline) {
                    let t = record.parameters.threads;
                    if let Some(gbs) = roofline.read_gbs.get(&t) {
                        self.config
                            .environment
                            .extra
                            .insert(format!("read_bandwidth_gbs_t{t}"), format!("{gbs:.2}"));
                    }
                    record.warnings.push(note);
                }
            }
            self.writer.write(&Record::Test(record.clone()))?;
            observer.test_finished(&record);
            finished.push(record);
        }
        if let Some(l) = loaded {
            l.client.quit();
        }
        self.worker_pid.store(0, Ordering::Relaxed);
        self.sampler.mark(Phase::Idle);
        Ok(finished)
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    fn start_and_load(
        &mut self,
        job: &ModelJob,
    ) -> Result<Loaded, (Option<Box<TargetInfo>>, String)> {
        let mut client = WorkerClient::spawn(&job.worker).map_err(|e| (None, e.to_string()))?;
        self.worker_pid.store(client.pid(), Ordering::Relaxed);
        let info = match client.request(&Request::Info, Duration::from_secs(60), |_| {}) {
            Ok(Response::Info(info)) => info,
            Ok(other) => return Err((None, format!("worker answered {other:?} to info"))),
            Err(e) => return Err((None, e.to_string())),
        };
        self.sampler.mark(Phase::Load);
        let loaded = client.request(
            &Request::Load(job.load.clone()),
            self.config.request_timeout,
            |_| {},
        );
        self.sampler.mark(Phase::Idle);
        match loaded {
            Ok(Response::Loaded {
                load_s,
                model,
                peak_rss_bytes,
            }) => {
                // Asked again: with a model loaded, a target can tell what the session really
                // uses (e.g. which execution provider ran the nodes).
                let info = match client.request(&Request::Info, Duration::from_secs(60), |_| {}) {
                    Ok(Response::Info(after)) => after,
                    _ => info,
                };
                Ok(Loaded {
                    client,
                    info,
                    model,
                    load_s,
                    peak_rss_bytes,
                })
            }
            Ok(other) => Err((
                Some(Box::new(info)),
                format!("worker answered {other:?} to load"),
            )),
            Err(e) => Err((Some(Box::new(info)), format!("load failed: {e}"))),
        }
    }

    fn new_record(
        &self,
        job: &ModelJob,
        test: &TestSpec,
        info: &TargetInfo,
        loaded: Option<&Loaded>,
    ) -> TestRecord {
        let mut info = info.clone();
        info.extra
            .insert("threads".into(), job.parameters.threads.to_string());
        let mut record = self.config.new_record(
            &job.target,
            info,
            job.parameters.clone(),
            test.scenario.clone(),
        );
        record.model = loaded.map(|l| l.model.clone());
        record.load_s = loaded.map(|l| l.load_s);
        record.peak_rss_bytes = loaded.and_then(|l| l.peak_rss_bytes);
        record
    }

    fn measure(
        &mut self,
        loaded: &mut Loaded,
        test: &TestSpec,
        record: &mut TestRecord,
        observer: &mut dyn Observer,
    ) -> Result<(), WorkerError> {
        let needed = match &test.speech {
            // The decoder prompt (at most 4 tokens) and the steps.
            Some(speech) if speech.decode > 0 => 4 + speech.decode,
            Some(_) => 0,
            None => test.run.prompt + test.run.gen,
        };
        if let Some(max) = loaded.model.max_context.filter(|&m| needed > m) {
            record.status = Status::Skipped {
                reason: format!(
                    "{} handles at most {max} tokens of this model, the workload needs {needed}",
                    record.target.name
                ),
            };
            return Ok(());
        }
        let sampler = self.sampler;
        let timeout = self.config.request_timeout;
        for _ in 0..self.config.warmup {
            sampler.mark(Phase::Warmup);
            run_once(&mut loaded.client, test, timeout, |_| {})?;
        }
        sampler.mark(Phase::Idle);
        observer.warmup_done(record);
        let headline = match &test.speech {
            Some(speech) => crate::speech::headline(speech),
            None if test.run.gen > 0 => metric::TG_TPS,
            None => metric::PP_TPS,
        };
        let started = Instant::now();
        let mut headline_values = Vec::new();
        // Work on the CPU: the CPU clock rule of the throttle verdict applies.
        let cpu_work = matches!(record.target.device.as_str(), "" | "cpu");
        let bandwidth = self.config.roofline.as_ref().and_then(|r| {
            let big_enough = loaded
                .model
                .weight_bytes
                .is_some_and(|b| b >= r.min_weight_bytes);
            r.read_gbs
                .get(&record.parameters.threads)
                .copied()
                .filter(|_| big_enough)
        });
        let mut soak_tokens: Vec<TokenTime> = Vec::new();
        let soak_start = sampler.now();
        loop {
            if self.cancelled() {
                record.status = Status::Interrupted {
                    reason: "stopped by the user (Ctrl-C)".into(),
                };
                break;
            }
            let mut spans: Vec<(Phase, f64)> = vec![(Phase::Idle, sampler.now())];
            let timing = run_once(&mut loaded.client, test, timeout, |phase| {
                spans.push((phase, sampler.mark(phase)))
            })?;
            let end = sampler.now();
            let metrics = match &test.speech {
                Some(speech) => {
                    let mut m = crate::speech::repetition_metrics(&timing, speech);
                    crate::speech::add_energy_metrics(&mut m, sampler, &spans, end, &timing);
                    m
                }
                None => {
                    let mut m = repetition_metrics(&timing, test.run);
                    add_energy_metrics(&mut m, sampler, &spans, end, test.run);
                    if let (Some(bw), Some(bytes)) = (bandwidth, loaded.model.weight_bytes) {
                        add_roofline_metrics(&mut m, bytes, bw);
                    }
                    m
                }
            };
            if let Some(v) = metrics.get(headline) {
                headline_values.push(*v);
            }
            let rep_start = spans.first().map_or(end, |s| s.1);
            let lookback = sampler.window(rep_start - throttling::LOOKBACK_S, end);
            let verdict = throttling::assess(&lookback, rep_start, end, cpu_work);
            for reason in &verdict.reasons {
                // The cause (its channel) without the count, once per test.
                let cause = reason
                    .split_whitespace()
                    .next()
                    .unwrap_or(reason)
                    .to_string();
                if !record.sensors.throttle_reasons.contains(&cause) {
                    record.sensors.throttle_reasons.push(cause);
                }
            }
            if self.config.soak_window_s.is_some() {
                if let Some(&(_, decode_start)) = spans.iter().find(|(p, _)| *p == Phase::Decode) {
                    soak_tokens.extend(soak::token_times(decode_start, &timing.decode_s));
                }
            }
            let rep = RepetitionRecord {
                schema_version: SCHEMA_VERSION,
                test_id: record.test_id.clone(),
                index: record.repetitions.len(),
                timing,
                metrics,
                throttled: verdict.throttled,
            };
            if let Err(e) = self.writer.write(&Record::Repetition(rep.clone())) {
                return Err(WorkerError::Protocol(e.to_string()));
            }
            record.repetitions.push(rep);
            observer.repetition(
                record,
                record.repetitions.last().expect("just pushed"),
                &self.config.rule,
            );
            if let Some(reason) = self
                .config
                .rule
                .decide(&headline_values, started.elapsed().as_secs_f64())
            {
                record.stop_reason = Some(reason.as_str().to_string());
                break;
            }
        }
        if let Some(window_s) = self.config.soak_window_s {
            let soak_end = sampler.now();
            sampler.settle();
            record.soak = Some(soak::summarize(
                &soak_tokens,
                &sampler.window(soak_start - throttling::LOOKBACK_S, soak_end),
                soak_start,
                soak_end,
                self.config.rule.time_cap_s,
                window_s,
                cpu_work,
            ));
        }
        Ok(())
    }

    /// Summaries, sensor summary and peak memory once a test ends (whatever its status).
    fn finish(&self, record: &mut TestRecord, from_s: f64, to_s: f64) {
        self.sampler.settle();
        record.summary = summarize_repetitions(&record.repetitions);
        let window = self.sampler.window(from_s, to_s);
        // What was gathered during the test (cooldown, throttle causes) stays.
        let gathered = std::mem::take(&mut record.sensors);
        record.sensors = window.summarize(from_s, to_s);
        record.sensors.cooldown = gathered.cooldown;
        record.sensors.throttle_reasons = gathered.throttle_reasons;
        record.sensors.timeline_file = self.config.timeline_file.clone();
        let verdicts: Vec<bool> = record
            .repetitions
            .iter()
            .filter_map(|r| r.throttled)
            .collect();
        record.sensors.throttled_repetitions =
            (!verdicts.is_empty()).then(|| verdicts.iter().filter(|&&t| t).count());
        for (t, w) in &window.warnings {
            record
                .warnings
                .push(format!("{w} ({:.1} s into the test)", t - from_s));
        }
        let rep_peak = record
            .repetitions
            .iter()
            .filter_map(|r| r.timing.peak_rss_bytes)
            .max();
        record.peak_rss_bytes = record.peak_rss_bytes.max(rep_peak);
    }
}

/// The id of a test: `run/model/quant/workload/target/t<threads>`, then the backend options
/// when there are any (`/batch=256,ubatch=128`), so every combination of a sweep has its own.
pub fn test_id(
    run_id: &str,
    model: &str,
    quant: &str,
    workload: &str,
    target: &str,
    parameters: &Parameters,
) -> String {
    let mut id = format!(
        "{run_id}/{model}/{quant}/{workload}/{target}/t{}",
        parameters.threads
    );
    if !parameters.options.is_empty() {
        let options: Vec<String> = parameters
            .options
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        id.push('/');
        id.push_str(&options.join(","));
    }
    id
}

fn run_once(
    client: &mut WorkerClient,
    test: &TestSpec,
    timeout: Duration,
    on_phase: impl FnMut(Phase),
) -> Result<RepetitionTiming, WorkerError> {
    let request = match &test.speech {
        Some(speech) => Request::RunSpeech(speech.clone()),
        None => Request::Run(test.run),
    };
    match client.request(&request, timeout, on_phase)? {
        Response::Repetition(t) => Ok(t),
        other => Err(WorkerError::Protocol(format!(
            "expected a repetition, got {other:?}"
        ))),
    }
}

/// Metrics of one repetition from its raw timings.
pub fn repetition_metrics(t: &RepetitionTiming, run: RunSpec) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    if let Some(s) = t.prefill_s.filter(|s| *s > 0.0) {
        m.insert(metric::PP_TPS.into(), run.prompt as f64 / s);
    }
    if let Some(s) = t.first_token_s {
        m.insert(metric::TTFT_S.into(), s);
    }
    let decode_total: f64 = t.decode_s.iter().sum();
    if !t.decode_s.is_empty() && decode_total > 0.0 {
        m.insert(
            metric::TG_TPS.into(),
            t.decode_s.len() as f64 / decode_total,
        );
        m.insert(
            metric::ITL_P50_S.into(),
            stats::percentile(&t.decode_s, 50.0),
        );
        m.insert(
            metric::ITL_P90_S.into(),
            stats::percentile(&t.decode_s, 90.0),
        );
        m.insert(
            metric::ITL_P99_S.into(),
            stats::percentile(&t.decode_s, 99.0),
        );
    }
    m
}

/// Ceiling t/s and percent of it achieved, for a repetition with a decode rate.
fn add_roofline_metrics(m: &mut BTreeMap<String, f64>, weight_bytes: u64, bandwidth_gbs: f64) {
    let Some(&tps) = m.get(metric::TG_TPS) else {
        return;
    };
    if let Some((ceiling, percent)) = crate::bandwidth::roofline(tps, weight_bytes, bandwidth_gbs) {
        m.insert(metric::ROOFLINE_CEILING_TPS.into(), ceiling);
        m.insert(metric::ROOFLINE_PERCENT.into(), percent);
    }
}

/// Joules per token, average watts and tokens/s per watt of prefill and decode, where the
/// device measures energy and the phase lasted long enough (≥ 0.2 s, two samples at 10 Hz)
/// for the figure to mean something. A closing sample is taken at `end` first, so the energy
/// covers the whole phase that its tokens and time are counted over.
fn add_energy_metrics(
    m: &mut BTreeMap<String, f64>,
    sampler: &Sampler,
    spans: &[(Phase, f64)],
    end: f64,
    run: RunSpec,
) {
    sampler.sample_through(end);
    let window = sampler.window(spans.first().map_or(end, |s| s.1), end);
    for (i, &(phase, start)) in spans.iter().enumerate() {
        let stop = spans.get(i + 1).map_or(end, |s| s.1);
        let (names, tokens) = match phase {
            Phase::Prefill => (
                [
                    metric::PREFILL_J_PER_TOKEN,
                    metric::PREFILL_POWER_W,
                    metric::PP_TPS_PER_W,
                ],
                run.prompt,
            ),
            Phase::Decode => (
                [
                    metric::DECODE_J_PER_TOKEN,
                    metric::DECODE_POWER_W,
                    metric::TG_TPS_PER_W,
                ],
                run.gen,
            ),
            _ => continue,
        };
        if stop - start < 0.2 || tokens == 0 {
            continue;
        }
        if let Some(j) = window.energy_between(start, stop).filter(|j| *j > 0.0) {
            let [per_token, watts, per_watt] = names;
            m.insert(per_token.into(), j / tokens as f64);
            m.insert(watts.into(), j / (stop - start));
            // (tokens / s) / (J / s) = tokens per joule.
            m.insert(per_watt.into(), tokens as f64 / j);
        }
    }
}

/// Summary per metric over the repetitions that have it.
pub fn summarize_repetitions(reps: &[RepetitionRecord]) -> BTreeMap<String, stats::Summary> {
    let mut by_metric: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for r in reps {
        for (k, v) in &r.metrics {
            by_metric.entry(k).or_default().push(*v);
        }
    }
    by_metric
        .into_iter()
        .filter_map(|(k, v)| stats::summarize(&v).map(|s| (k.to_string(), s)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test at 114–124% of a roofline from a busy 24.2 GB/s: measured again (32.3 GB/s), the
    /// ceiling rises and the figures are recomputed; under 100% nothing is measured.
    #[test]
    fn a_roofline_above_100_percent_measures_again() {
        use std::sync::atomic::AtomicUsize;
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let mut roofline = Roofline {
            read_gbs: BTreeMap::from([(2, 24.2)]),
            min_weight_bytes: 0,
            remeasure: Some(BandwidthProbe::new(move |threads| {
                assert_eq!(threads, 2);
                counted.fetch_add(1, Ordering::Relaxed);
                Some(32.3)
            })),
        };
        // 1.6 GB streamed a token: the ceiling at 24.2 GB/s is 15.125 t/s.
        let bytes = 1_600_000_000u64;
        let record_at = |tps: &[f64]| {
            let mut record = TestRecord {
                schema_version: SCHEMA_VERSION,
                test_id: "t".into(),
                run_id: "r".into(),
                started_at: String::new(),
                environment: Environment::default(),
                scenario: ScenarioRef::default(),
                target: TargetInfo::default(),
                parameters: Parameters {
                    threads: 2,
                    options: BTreeMap::new(),
                },
                status: Status::Ok,
                model: Some(ModelInfo {
                    weight_bytes: Some(bytes),
                    ..Default::default()
                }),
                load_s: None,
                peak_rss_bytes: None,
                repetitions: Vec::new(),
                summary: BTreeMap::new(),
                stop_reason: None,
                sensors: Default::default(),
                warnings: Vec::new(),
                soak: None,
            };
            for (index, &v) in tps.iter().enumerate() {
                let mut metrics = BTreeMap::from([(metric::TG_TPS.to_string(), v)]);
                add_roofline_metrics(&mut metrics, bytes, 24.2);
                record.repetitions.push(RepetitionRecord {
                    schema_version: SCHEMA_VERSION,
                    test_id: "t".into(),
                    index,
                    timing: Default::default(),
                    metrics,
                    throttled: None,
                });
            }
            record.summary = summarize_repetitions(&record.repetitions);
            record
        };
        // 12 t/s is 79%: no need to measure.
        let mut fine = record_at(&[12.0, 12.1, 11.9]);
        assert_eq!(recheck_roofline(&mut fine, &mut roofline), None);
        assert_eq!(calls.load(Ordering::Relaxed), 0);
        // 17.3–18.8 t/s is 114–124%: measured again, recomputed against 32.3 GB/s.
        let mut over = record_at(&[17.3, 18.0, 18.8]);
        assert!(over.summary[metric::ROOFLINE_PERCENT].max > 124.0);
        let note = recheck_roofline(&mut over, &mut roofline).expect("measured again");
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        assert_eq!(roofline.read_gbs[&2], 32.3);
        let after = &over.summary[metric::ROOFLINE_PERCENT];
        assert!(after.max <= 100.0 && after.max > 90.0, "{after:?}");
        assert!(note.contains("32.3 GB/s"), "{note}");
        assert_eq!(over.environment.extra["read_bandwidth_gbs_t2"], "32.30");
        // A probe that reads lower never lowers the ceiling.
        roofline.remeasure = Some(BandwidthProbe::new(|_| Some(20.0)));
        let mut again = record_at(&[17.3, 18.0, 18.8]);
        recheck_roofline(&mut again, &mut roofline);
        assert_eq!(roofline.read_gbs[&2], 32.3);
    }

    /// A device drawing a constant `watts`: its energy counter grows linearly with time.
    struct ConstantPower {
        watts: f64,
        since: Instant,
    }

    impl crate::sensors::Sensor for ConstantPower {
        fn name(&self) -> &str {
            "constant"
        }
        fn read(&mut self) -> Result<Vec<crate::sensors::Reading>, String> {
            Ok(vec![crate::sensors::Reading {
                channel: "constant/package".into(),
                quantity: crate::sensors::Quantity::EnergyJ,
                value: self.watts * self.since.elapsed().as_secs_f64(),
                total: true,
            }])
        }
    }

    /// J/token of a phase shorter than the sampling interval is the whole phase's energy over
    /// its tokens: 10 W for 0.3 s over 30 tokens is 0.1 J a token, though no periodic sample
    /// (1 Hz here) falls after the phase's end.
    #[test]
    fn energy_per_token_covers_the_whole_phase() {
        let sensor = ConstantPower {
            watts: 10.0,
            since: Instant::now(),
        };
        let sensors: Vec<Box<dyn crate::sensors::Sensor>> = vec![Box::new(sensor)];
        let sampler = Sampler::start(sensors, Duration::from_secs(1));
        while sampler.latest().is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let idle = sampler.now();
        let decode = sampler.mark(Phase::Decode);
        std::thread::sleep(Duration::from_millis(300));
        let end = sampler.now();
        let run = RunSpec {
            prompt: 0,
            gen: 30,
            seed: 1,
        };
        let mut m = BTreeMap::new();
        add_energy_metrics(
            &mut m,
            &sampler,
            &[(Phase::Idle, idle), (Phase::Decode, decode)],
            end,
            run,
        );
        let expected = 10.0 * (end - decode) / 30.0;
        let got = m.get(metric::DECODE_J_PER_TOKEN).copied();
        assert!(
            got.is_some_and(|j| (j - expected).abs() < 0.01 * expected),
            "J/token {got:?}, expected {expected:.4} ({m:?})"
        );
        let watts = m[metric::DECODE_POWER_W];
        assert!((watts - 10.0).abs() < 0.1, "{watts} W");
    }

    #[test]
    fn metrics_of_a_combined_repetition() {
        let t = RepetitionTiming {
            prefill_s: Some(0.5),
            first_token_s: Some(0.51),
            decode_s: vec![0.1, 0.1, 0.2, 0.1],
            tokens: vec![1, 2, 3, 4],
            peak_rss_bytes: Some(1 << 20),
            ..Default::default()
        };
        let m = repetition_metrics(
            &t,
            RunSpec {
                prompt: 64,
                gen: 4,
                seed: 1,
            },
        );
        assert_eq!(m[metric::PP_TPS], 128.0);
        assert_eq!(m[metric::TTFT_S], 0.51);
        assert!((m[metric::TG_TPS] - 4.0 / 0.5).abs() < 1e-12);
        assert!((m[metric::ITL_P50_S] - 0.1).abs() < 1e-12);
        assert!(m[metric::ITL_P99_S] > 0.19);
    }

    #[test]
    fn test_ids_tell_sweep_combinations_apart() {
        let mut p = Parameters {
            threads: 2,
            options: Default::default(),
        };
        assert_eq!(
            test_id("r", "llama3-8b", "q4_k_m", "pp512", "llamacpp", &p),
            "r/llama3-8b/q4_k_m/pp512/llamacpp/t2"
        );
        p.options.insert("ubatch".into(), "128".into());
        p.options.insert("batch".into(), "256".into());
        assert_eq!(
            test_id("r", "llama3-8b", "q4_k_m", "pp512", "llamacpp", &p),
            "r/llama3-8b/q4_k_m/pp512/llamacpp/t2/batch=256,ubatch=128"
        );
    }

    #[test]
    fn prefill_only_has_no_decode_metrics() {
        let t = RepetitionTiming {
            prefill_s: Some(2.0),
            first_token_s: Some(2.0),
            ..Default::default()
        };
        let m = repetition_metrics(
            &t,
            RunSpec {
                prompt: 512,
                gen: 0,
                seed: 1,
            },
        );
        assert_eq!(m.keys().collect::<Vec<_>>(), vec!["pp_tps", "ttft_s"]);
    }
}
