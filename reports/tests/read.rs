//! Reading results files: merging start, repetition and test lines; errors that name the line.

mod common;

use common::{fixture_jsonl, fixture_path, fixture_records};
use edgebench_harness::runner::summarize_repetitions;
use edgebench_harness::schema::{Record, Status, TestRecord, SCHEMA_VERSION};
use edgebench_reports::{load_results, read_results, ReadError};
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn error_of(paths: &[PathBuf]) -> (String, ReadError) {
    let err = read_results(paths).unwrap_err();
    let message = err.to_string();
    (message, err.downcast::<ReadError>().expect("a ReadError"))
}

#[test]
fn fixture_has_every_kind_of_test() {
    let tests = read_results(&[fixture_path()]).unwrap();
    let labels: Vec<&str> = tests.iter().map(|t| t.status.label()).collect();
    assert_eq!(
        labels,
        ["ok", "ok", "ok", "failed", "skipped", "interrupted"]
    );
}

#[test]
fn unfinished_test_is_rebuilt_from_its_start_and_repetitions() {
    let records = fixture_records();
    let Some(Record::TestStart(start)) = records
        .iter()
        .rfind(|r| matches!(r, Record::TestStart(_)))
        .cloned()
    else {
        panic!("the fixture ends with a started test")
    };
    let reps: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Repetition(rep) if rep.test_id == start.test_id => Some(rep.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reps.len(), 2);

    let tests = read_results(&[fixture_path()]).unwrap();
    let t = tests.iter().find(|t| t.test_id == start.test_id).unwrap();
    assert!(
        matches!(&t.status, Status::Interrupted { reason } if reason.contains("2 repetitions"))
    );
    assert_eq!(t.environment, start.environment);
    assert_eq!(t.scenario, start.scenario);
    assert_eq!(t.target, start.target);
    assert_eq!(t.parameters, start.parameters);
    assert_eq!(t.repetitions.len(), 2);
    assert_eq!(t.summary, summarize_repetitions(&t.repetitions));
    assert_eq!(t.summary["tg_tps"].n, 2);
    assert!(t.peak_rss_bytes.is_some());
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
}

#[test]
fn repetitions_without_a_start_line_are_rebuilt_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let reps: String = fixture_records()
        .into_iter()
        .filter(|r| matches!(r, Record::Repetition(rep) if rep.test_id.contains("tg128/candle")))
        .map(|r| serde_json::to_string(&r).unwrap() + "\n")
        .collect();
    let path = write(dir.path(), "old.jsonl", &reps);
    let tests = read_results(&[path]).unwrap();
    assert_eq!(tests.len(), 1);
    let t = &tests[0];
    assert!(matches!(t.status, Status::Interrupted { .. }));
    assert_eq!(t.repetitions.len(), 2);
    assert_eq!(t.scenario.model, "unknown");
    assert!(
        t.warnings[0].contains("no test_start line"),
        "{:?}",
        t.warnings
    );
}

#[test]
fn finished_test_record_wins_over_its_start_and_repetitions() {
    let tests = read_results(&[fixture_path()]).unwrap();
    let pp = &tests[0];
    assert_eq!(pp.status, Status::Ok);
    assert_eq!(pp.repetitions.len(), 5);
    assert_eq!(pp.stop_reason.as_deref(), Some("ci_reached"));
    assert!(pp.sensors.max_temp_c.is_some());
}

#[test]
fn a_folder_reads_every_jsonl_file_by_name_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture_path()).unwrap();
    let mut lines = text.lines();
    let first: String = lines.by_ref().take(7).map(|l| format!("{l}\n")).collect();
    let rest: String = lines.map(|l| format!("{l}\n")).collect();
    write(dir.path(), "b.jsonl", &rest);
    write(dir.path(), "a.jsonl", &first);
    write(dir.path(), "notes.txt", "not results\n");
    let from_dir = read_results(&[dir.path().to_path_buf()]).unwrap();
    let from_file = read_results(&[fixture_path()]).unwrap();
    assert_eq!(from_dir.len(), from_file.len());
    let ids = |t: &[TestRecord]| t.iter().map(|t| t.test_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&from_dir), ids(&from_file));
    // A file named on its own and through its folder is read once.
    let both = read_results(&[dir.path().join("a.jsonl"), dir.path().to_path_buf()]).unwrap();
    assert_eq!(ids(&both), ids(&from_file));
}

#[test]
fn a_folder_without_results_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (message, err) = error_of(&[dir.path().to_path_buf()]);
    assert!(matches!(err, ReadError::EmptyFolder { .. }));
    assert!(
        message.ends_with("no results files (*.jsonl) in this folder"),
        "{message}"
    );
}

#[test]
fn a_missing_file_names_its_path() {
    let (message, err) = error_of(&[PathBuf::from("/no/such/results.jsonl")]);
    assert!(matches!(err, ReadError::Io { .. }));
    assert!(message.starts_with("/no/such/results.jsonl: "), "{message}");
}

#[test]
fn invalid_json_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = fixture_jsonl().lines().next().unwrap().to_string();
    let path = write(
        dir.path(),
        "r.jsonl",
        &format!("{good}\n\n{{\"record\": oops}}\n"),
    );
    let (message, err) = error_of(std::slice::from_ref(&path));
    assert!(matches!(err, ReadError::BadLine { .. }));
    assert_eq!(
        message,
        format!("{}:3: not valid JSON: expected value", path.display())
    );
    assert_eq!(message.lines().count(), 1);
}

#[test]
fn a_record_with_a_missing_field_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let mut value: serde_json::Value =
        serde_json::from_str(fixture_jsonl().lines().next().unwrap()).unwrap();
    value.as_object_mut().unwrap().remove("test_id");
    let path = write(dir.path(), "r.jsonl", &format!("{value}\n"));
    let (message, _) = error_of(std::slice::from_ref(&path));
    assert_eq!(
        message,
        format!(
            "{}:1: bad `test_start` record: missing field `test_id`",
            path.display()
        )
    );
}

#[test]
fn unknown_record_kind_and_non_records_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "r.jsonl",
        &format!("{{\"record\":\"bogus\",\"schema_version\":{SCHEMA_VERSION}}}\n"),
    );
    let (message, _) = error_of(&[path]);
    assert!(
        message.contains(":1: bad `bogus` record: unknown variant `bogus`"),
        "{message}"
    );

    let path = write(dir.path(), "s.jsonl", "[1, 2]\n");
    let (message, _) = error_of(&[path]);
    assert!(
        message.ends_with(":1: expected a JSON object (one result record)"),
        "{message}"
    );

    let path = write(dir.path(), "t.jsonl", "{\"record\":\"test\"}\n");
    let (message, _) = error_of(&[path]);
    assert!(message.contains("no `schema_version`"), "{message}");
}

#[test]
fn a_newer_schema_version_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut value: serde_json::Value =
        serde_json::from_str(fixture_jsonl().lines().nth(1).unwrap()).unwrap();
    value["schema_version"] = (SCHEMA_VERSION + 1).into();
    // Even with a shape this version cannot parse, the version is what gets reported.
    value.as_object_mut().unwrap().remove("timing");
    let path = write(dir.path(), "new.jsonl", &format!("{value}\n"));
    let (message, err) = error_of(std::slice::from_ref(&path));
    assert!(
        matches!(err, ReadError::NewerSchema { found, .. } if found == u64::from(SCHEMA_VERSION) + 1)
    );
    assert_eq!(
        message,
        format!(
            "{}:1: written with result schema version {}, newer than this edgebench reads ({}); \
             update edgebench to read it",
            path.display(),
            SCHEMA_VERSION + 1,
            SCHEMA_VERSION
        )
    );
}

#[test]
fn a_last_line_cut_short_by_a_crash_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let text = fixture_jsonl();
    let cut = &text[..text.len() - 40]; // mid-way through the last repetition line
    let path = write(dir.path(), "killed.jsonl", cut);
    let results = load_results(std::slice::from_ref(&path)).unwrap();
    assert_eq!(results.tests.len(), 6);
    let interrupted = results.tests.last().unwrap();
    assert_eq!(interrupted.repetitions.len(), 1);
    assert_eq!(results.warnings.len(), 1);
    assert!(results.warnings[0].starts_with(&format!("{}:", path.display())));

    // The same cut in the middle of a file is an error.
    let lines: Vec<&str> = cut.lines().collect();
    let middle = format!(
        "{}\n{}\n",
        lines[..lines.len() - 1].join("\n"),
        lines.last().unwrap()
    ) + lines[0]
        + "\n";
    let path = write(dir.path(), "bad.jsonl", &middle);
    let (message, _) = error_of(&[path]);
    assert!(
        message.contains("ends in the middle of a JSON value"),
        "{message}"
    );
}

#[test]
fn the_same_test_twice_is_kept_once_and_different_tests_with_one_id_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture_path()).unwrap();
    let a = write(dir.path(), "a.jsonl", &text);
    let b = write(dir.path(), "b.jsonl", &text);
    assert_eq!(read_results(&[a.clone(), b]).unwrap().len(), 6);

    let mut changed = fixture_records();
    if let Some(Record::Test(t)) = changed.iter_mut().find(|r| matches!(r, Record::Test(_))) {
        t.load_s = Some(99.0);
    }
    let changed: String = changed
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect();
    let c = write(dir.path(), "c.jsonl", &changed);
    let (message, err) = error_of(&[a, c]);
    assert!(matches!(err, ReadError::Conflict { .. }));
    assert!(
        message.contains("has two different test records"),
        "{message}"
    );
}
