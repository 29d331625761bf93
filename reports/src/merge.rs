//! Merging results from many runs and devices.
//!
//! Two test records are *the same test* when they share a [`TestKey`]: device, model,
//! quantization, workload, target (name and compute device) and parameters (threads and
//! backend options). Results read from several files or folders can hold the same test from
//! several runs; reports show such a test once, at its latest run, with the earlier runs as its
//! history ([`History`]), and `compare` pools the repetitions of every run of a test on each
//! side.

use crate::order::{compare, target_label, workload_name};
use edgebench_harness::schema::TestRecord;
use std::collections::BTreeMap;
use std::fmt;

/// What makes two test records the same test.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TestKey {
    /// Device name (empty when matching across devices, see [`TestKey::without_device`]).
    pub device: String,
    pub model: String,
    pub quant: String,
    pub workload: String,
    /// Target name, with its compute device unless that is the CPU (`llamacpp/cuda:0`).
    pub target: String,
    pub threads: usize,
    /// Backend options, `key=value` joined by spaces, sorted by key.
    pub options: String,
}

impl TestKey {
    pub fn of(test: &TestRecord) -> Self {
        TestKey {
            device: test.environment.device.clone(),
            model: test.scenario.model.clone(),
            quant: test.scenario.quant.clone(),
            workload: workload_name(test),
            target: target_label(test),
            threads: test.parameters.threads,
            options: test
                .parameters
                .options
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    /// The same key with the device left out, to match tests across devices (or a llama-bench
    /// import, which names the device by its CPU, against an edgebench run).
    pub fn without_device(mut self) -> Self {
        self.device.clear();
        self
    }
}

impl fmt::Display for TestKey {
    /// `llama3-8b q4_k_m tg128 candle t4 [batch=512] on Raspberry Pi 5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.model, self.quant, self.workload, self.target
        )?;
        if self.threads > 0 {
            write!(f, " t{}", self.threads)?;
        }
        if !self.options.is_empty() {
            write!(f, " [{}]", self.options)?;
        }
        if !self.device.is_empty() {
            write!(f, " on {}", self.device)?;
        }
        Ok(())
    }
}

/// Every run of one test, oldest first.
#[derive(Debug, Clone)]
pub struct History<'a> {
    pub key: TestKey,
    pub runs: Vec<&'a TestRecord>,
}

impl<'a> History<'a> {
    /// The run a report shows: the one that started last.
    pub fn latest(&self) -> &'a TestRecord {
        self.runs.last().expect("a history has at least one run")
    }
}

/// Tests grouped by [`TestKey`], each group's runs ordered by start time (then run id), the
/// groups in table order of their latest run.
pub fn histories(tests: &[TestRecord]) -> Vec<History<'_>> {
    let mut groups: BTreeMap<TestKey, Vec<&TestRecord>> = BTreeMap::new();
    for test in tests {
        groups.entry(TestKey::of(test)).or_default().push(test);
    }
    let mut out: Vec<History> = groups
        .into_iter()
        .map(|(key, mut runs)| {
            runs.sort_by(|a, b| {
                a.started_at
                    .cmp(&b.started_at)
                    .then_with(|| a.run_id.cmp(&b.run_id))
                    .then_with(|| a.test_id.cmp(&b.test_id))
            });
            History { key, runs }
        })
        .collect();
    out.sort_by(|a, b| compare(a.latest(), b.latest()));
    out
}

/// The latest run of every test (see [`histories`]), in table order: what the charts, the
/// at-a-glance page and the tables show.
pub fn latest(tests: &[TestRecord]) -> Vec<TestRecord> {
    histories(tests)
        .into_iter()
        .map(|h| h.latest().clone())
        .collect()
}

/// Devices in the results, sorted by name.
pub fn devices(tests: &[TestRecord]) -> Vec<String> {
    let mut names: Vec<String> = tests.iter().map(|t| t.environment.device.clone()).collect();
    names.sort();
    names.dedup();
    names
}

/// Run ids in the results, in order of their first test's start time.
pub fn runs(tests: &[TestRecord]) -> Vec<String> {
    let mut first: BTreeMap<&str, &str> = BTreeMap::new();
    for t in tests {
        let e = first.entry(&t.run_id).or_insert(&t.started_at);
        if t.started_at.as_str() < *e {
            *e = &t.started_at;
        }
    }
    let mut runs: Vec<(&str, &str)> = first.into_iter().map(|(r, s)| (s, r)).collect();
    runs.sort();
    runs.into_iter().map(|(_, r)| r.to_string()).collect()
}
