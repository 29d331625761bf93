//! Merging results from several runs and devices into one report.

mod common;

use common::{fixture_path, rerun, two_devices};
use edgebench_harness::schema::Status;
use edgebench_reports::export::{MarkdownExporter, TerminalExporter};
use edgebench_reports::merge::{histories, latest, TestKey};
use edgebench_reports::{read_results, Exporter};

#[test]
fn report_merges_two_devices() {
    let tests = two_devices();
    assert_eq!(edgebench_reports::merge::devices(&tests).len(), 2);
    // Same scenarios on two devices are different tests, not history.
    assert!(histories(&tests).iter().all(|h| h.runs.len() == 1));
    let md = MarkdownExporter.export(&tests).unwrap();
    assert!(md.contains("| device"), "{md}");
    assert!(md.contains("NVIDIA Jetson Orin Nano Developer Kit"));
    assert!(md.contains("Raspberry Pi 5 Model B Rev 1.0"));
    let out = TerminalExporter::new(80).export(&tests).unwrap();
    assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
}

#[test]
fn the_same_test_from_two_runs_is_history_not_a_duplicate() {
    let first = read_results(&[fixture_path()]).unwrap();
    let tg = first
        .iter()
        .find(|t| t.scenario.workload == "tg128" && t.status == Status::Ok)
        .unwrap();
    let second = rerun(tg, "20250603T080000Z-pi5", 3, 1.1);
    let mut all = first.clone();
    all.push(second.clone());
    let hs = histories(&all);
    assert_eq!(hs.len(), first.len());
    let h = hs
        .iter()
        .find(|h| h.runs.len() == 2)
        .expect("one test ran twice");
    assert_eq!(h.key, TestKey::of(tg));
    assert_eq!(h.latest().run_id, second.run_id);
    assert_eq!(latest(&all).len(), first.len());
    // The table shows it once, at its latest run, and lists the history under it.
    let md = MarkdownExporter.export(&all).unwrap();
    let rows = md
        .lines()
        .filter(|l| l.contains("| phi3-mini") && l.contains("| tg128 "))
        .count();
    assert_eq!(rows, 1, "{md}");
    let latest_tps = format!("{:.2}", second.summary["tg_tps"].median);
    assert!(md.contains(&latest_tps), "{md}");
    assert!(md.contains("2 runs, tg t/s"), "{md}");
}
