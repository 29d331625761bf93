//! `compare`: a 10% regression is significant, a 0.5% wobble is no change, runs pool.

mod common;

use common::{fixture_path, rerun};
use edgebench_harness::schema::{metric, TestRecord};
use edgebench_reports::compare::{compare, Options, Outcome};
use edgebench_reports::read_results;

/// The fixture's ok tg128 test with `n` repetitions around `tps` (±0.6%, deterministic).
fn tg_test(n: usize, tps: f64, seed: u64) -> TestRecord {
    let base = read_results(&[fixture_path()]).unwrap();
    let mut t = base
        .into_iter()
        .find(|t| t.scenario.workload == "tg128" && t.status.label() == "ok")
        .unwrap();
    let template = t.repetitions[0].clone();
    let mut state = seed;
    t.repetitions = (0..n)
        .map(|i| {
            // xorshift jitter in [-0.006, 0.006]
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state % 10_000) as f64 / 10_000.0 * 2.0 - 1.0;
            let mut r = template.clone();
            r.index = i;
            r.metrics
                .insert(metric::TG_TPS.into(), tps * (1.0 + 0.006 * u));
            r
        })
        .collect();
    t.summary = edgebench_harness::runner::summarize_repetitions(&t.repetitions);
    t
}

fn tg_outcome(baseline: &[TestRecord], candidate: &[TestRecord]) -> (Outcome, f64) {
    let c = compare(baseline, candidate, Options::default());
    assert_eq!(c.tests.len(), 1, "{c:?}");
    let m = c.tests[0]
        .metrics
        .iter()
        .find(|m| m.metric == metric::TG_TPS)
        .unwrap();
    (m.outcome, m.stats.change.estimate)
}

#[test]
fn a_ten_percent_regression_is_significant() {
    let base = vec![tg_test(6, 10.0, 1)];
    let slower = vec![rerun(&tg_test(6, 9.0, 2), "cand", 2, 1.0)];
    let (outcome, change) = tg_outcome(&base, &slower);
    assert_eq!(outcome, Outcome::Regressed);
    assert!((change + 0.10).abs() < 0.01, "{change}");
    let c = compare(&base, &slower, Options::default());
    assert_eq!(c.regressions(), 1);
    let md = c.markdown("base.jsonl", "cand.jsonl");
    assert!(md.contains("Performance regression"), "{md}");
    assert!(md.contains("| ❌ **regressed** |"), "{md}");
    // The same change the other way is an improvement, not a regression.
    let (outcome, _) = tg_outcome(&slower, &base);
    assert_eq!(outcome, Outcome::Improved);
}

#[test]
fn a_half_percent_wobble_is_no_change() {
    let base = vec![tg_test(8, 10.0, 3)];
    let wobble = vec![rerun(&tg_test(8, 10.05, 4), "cand", 2, 1.0)];
    let (outcome, change) = tg_outcome(&base, &wobble);
    assert_eq!(outcome, Outcome::NoChange);
    assert!(change.abs() < 0.01, "{change}");
    let c = compare(&base, &wobble, Options::default());
    assert_eq!(c.regressions(), 0);
    assert!(c.markdown("a", "b").contains("No performance regression"));
}

#[test]
fn three_repetitions_a_side_are_inconclusive_not_no_change() {
    let base = vec![tg_test(3, 10.0, 5)];
    let slower = vec![rerun(&tg_test(3, 9.0, 6), "cand", 2, 1.0)];
    let (outcome, _) = tg_outcome(&base, &slower);
    assert_eq!(outcome, Outcome::Inconclusive);
    let text = compare(&base, &slower, Options::default()).text();
    assert!(text.contains("run more repetitions"), "{text}");
}

#[test]
fn interleaved_runs_pool_their_repetitions() {
    // Two baseline runs of 3 and two candidate runs of 3: 6 × 6 can reach significance.
    let base = vec![
        tg_test(3, 10.0, 7),
        rerun(&tg_test(3, 10.0, 8), "base2", 3, 1.0),
    ];
    let cand = vec![
        rerun(&tg_test(3, 9.0, 9), "cand1", 2, 1.0),
        rerun(&tg_test(3, 9.0, 10), "cand2", 4, 1.0),
    ];
    let c = compare(&base, &cand, Options::default());
    assert_eq!(c.tests[0].baseline_runs, 2);
    assert_eq!(c.tests[0].candidate_runs, 2);
    let m = &c.tests[0].metrics[0];
    assert_eq!((m.baseline.len(), m.candidate.len()), (6, 6));
    assert_eq!(m.outcome, Outcome::Regressed);
}

#[test]
fn tests_are_matched_by_device_scenario_target_and_parameters() {
    let base = vec![tg_test(6, 10.0, 11)];
    let mut other_threads = tg_test(6, 9.0, 12);
    other_threads.parameters.threads = 2;
    let mut other_device = tg_test(6, 9.0, 13);
    other_device.environment.device = "Another board".into();
    let c = compare(
        &base,
        &[other_threads, other_device.clone()],
        Options::default(),
    );
    assert!(c.tests.is_empty());
    assert_eq!(c.only_baseline.len(), 1);
    assert_eq!(c.only_candidate.len(), 2);
    // Across devices when asked.
    let c = compare(
        &base,
        &[other_device],
        Options {
            ignore_device: true,
            ..Options::default()
        },
    );
    assert_eq!(c.tests.len(), 1);
    assert_eq!(c.regressions(), 1);
}

#[test]
fn latency_going_up_is_a_regression() {
    let mut base = tg_test(6, 10.0, 14);
    let mut cand = tg_test(6, 10.0, 15);
    for (t, ms) in [(&mut base, 100.0), (&mut cand, 120.0)] {
        for (i, r) in t.repetitions.iter_mut().enumerate() {
            r.metrics
                .insert(metric::ITL_P99_S.into(), (ms + i as f64 * 0.3) / 1e3);
        }
    }
    let c = compare(&[base], &[cand], Options::default());
    let m = c.tests[0]
        .metrics
        .iter()
        .find(|m| m.metric == metric::ITL_P99_S)
        .unwrap();
    assert_eq!(m.outcome, Outcome::Regressed);
}
