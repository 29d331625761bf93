//! Progress on the terminal: an observer of the runner, never part of it. Bars go to stderr
//! and disappear when stderr is not a terminal; one line per finished test always stays.

use edgebench_harness::cooldown::CooldownConfig;
use edgebench_harness::runner::{ModelJob, Observer};
use edgebench_harness::schema::{metric, RepetitionRecord, TestRecord};
use edgebench_harness::stats::StoppingRule;
use edgebench_harness::target::ModelInfo;
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

pub fn synth_bar(label: &str, bytes: u64) -> ProgressBar {
    let bar = ProgressBar::new(bytes);
    bar.set_style(
        ProgressStyle::with_template("synthesizing {msg} {bar:30} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta})")
            .expect("valid template"),
    );
    bar.set_message(label.to_string());
    bar
}

pub struct ProgressObserver {
    bar: Option<ProgressBar>,
}

impl ProgressObserver {
    pub fn new() -> Self {
        Self { bar: None }
    }

    fn label(test: &TestRecord) -> String {
        format!(
            "{} {} {} on {} ({} threads)",
            test.scenario.model,
            test.scenario.quant,
            test.scenario.workload,
            test.target.name,
            test.parameters.threads
        )
    }

    fn spinner(&mut self, message: String) {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar.set_message(message);
        if let Some(old) = self.bar.replace(bar) {
            old.finish_and_clear();
        }
    }

    /// A test that did not run (skipped, or its model could not be made).
    pub fn not_run(&mut self, test: &TestRecord) {
        eprintln!(
            "  - {}: {}: {}",
            Self::label(test),
            test.status.label(),
            test.status.reason().unwrap_or_default()
        );
    }
}

impl Observer for ProgressObserver {
    fn job_started(&mut self, job: &ModelJob) {
        self.spinner(format!(
            "loading {} on {}",
            job.load.model_path.display(),
            job.target
        ));
    }

    fn loaded(&mut self, job: &ModelJob, load_s: f64, _model: &ModelInfo) {
        if let Some(bar) = &self.bar {
            bar.println(format!(
                "  loaded {} on {} in {load_s:.2} s",
                job.load.model_path.display(),
                job.target
            ));
        }
    }

    fn cooling_down(&mut self, now_c: f64, config: &CooldownConfig) {
        self.spinner(format!(
            "cooling down: {now_c:.1} °C, waiting for {:.1} °C (at most {:.0} s)",
            config.baseline_c + config.margin_c,
            config.max_wait.as_secs_f64()
        ));
    }

    fn test_started(&mut self, test: &TestRecord) {
        self.spinner(format!("{}: warming up", Self::label(test)));
    }

    fn repetition(&mut self, test: &TestRecord, rep: &RepetitionRecord, rule: &StoppingRule) {
        let (headline, unit, scale) = headline(test, |m| rep.metrics.contains_key(m));
        let value = rep.metrics.get(headline).copied().unwrap_or(f64::NAN) * scale;
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{}: repetition {} (of {}–{}): {value:.2} {unit}",
                Self::label(test),
                rep.index + 1,
                rule.min_repetitions,
                rule.max_repetitions
            ));
        }
    }

    fn test_finished(&mut self, test: &TestRecord) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let (headline, unit, scale) = headline(test, |m| test.summary.contains_key(m));
        match (test.status.reason(), test.summary.get(headline)) {
            (None, Some(s)) => eprintln!(
                "  ✓ {}: {:.2} ± {:.2} {unit} ({} repetitions, {}){}",
                Self::label(test),
                s.median * scale,
                (s.ci95_high - s.ci95_low) / 2.0 * scale,
                s.n,
                test.stop_reason.as_deref().unwrap_or("-"),
                device_notes(test)
            ),
            // Stopped (Ctrl-C) or failed after some repetitions: what was kept still counts.
            (Some(reason), Some(s)) => eprintln!(
                "  ✗ {}: {:.2} ± {:.2} {unit} ({} repetitions kept); {}: {reason}",
                Self::label(test),
                s.median * scale,
                (s.ci95_high - s.ci95_low) / 2.0 * scale,
                s.n,
                test.status.label(),
            ),
            (reason, None) => eprintln!(
                "  ✗ {}: {}: {}",
                Self::label(test),
                test.status.label(),
                reason.unwrap_or("no measurement")
            ),
        }
    }
}

/// The figure to show for a test, its unit and the scale from the metric's unit: the
/// real-time factor of a transcription, the decoder or generation rate, the encoder time, or
/// the prompt rate.
fn headline(test: &TestRecord, has: impl Fn(&str) -> bool) -> (&'static str, &'static str, f64) {
    if has(metric::RTF) {
        (metric::RTF, "× real time", 1.0)
    } else if test.scenario.gen_tokens > 0 {
        (metric::TG_TPS, "t/s", 1.0)
    } else if has(metric::ENCODE_S) {
        (metric::ENCODE_S, "ms (encoder)", 1e3)
    } else {
        (metric::PP_TPS, "t/s", 1.0)
    }
}

/// `; 41% of the bandwidth roofline; 0.52 J/token; throttled 2/5 (vcgencmd/throttled); waited
/// 12 s to cool down` — what the device side of a test adds to its line.
fn device_notes(test: &TestRecord) -> String {
    let mut notes = Vec::new();
    if let Some(s) = test.summary.get(metric::ROOFLINE_PERCENT) {
        notes.push(format!("{:.0}% of the bandwidth roofline", s.median));
        if s.median > 100.0 {
            // Decode cannot read weights faster than memory streams them: the bandwidth was
            // measured again after the test (see the runner) and is still too low.
            notes.push(
                "above 100% even after measuring the bandwidth again: the machine is busy; \
                 measure on a quiet machine with `edgebench device --measure`"
                    .into(),
            );
        }
    }
    let energy = if test.scenario.gen_tokens > 0 {
        metric::DECODE_J_PER_TOKEN
    } else {
        metric::PREFILL_J_PER_TOKEN
    };
    if let Some(s) = test.summary.get(energy) {
        notes.push(format!("{:.3} J/token", s.median));
    }
    if let Some(n) = test.sensors.throttled_repetitions.filter(|&n| n > 0) {
        notes.push(format!(
            "throttled {n}/{} ({})",
            test.repetitions.len(),
            test.sensors.throttle_reasons.join(", ")
        ));
    }
    if let Some(c) = test.sensors.cooldown.as_ref().filter(|c| c.waited_s > 0.0) {
        notes.push(format!("waited {:.0} s to cool down", c.waited_s));
    }
    if let Some(soak) = &test.soak {
        if let Some(change) = soak.change_percent {
            notes.push(format!("soak: last window {change:+.1}% against the first"));
        }
    }
    notes.iter().map(|n| format!("; {n}")).collect()
}
