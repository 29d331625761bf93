//! Reading results files back into tests.
//!
//! A results file is JSONL, one [`Record`] a line (see `edgebench_harness::schema`). A finished
//! test ends with a `"test"` record that holds everything. A test the run never finished (a crash,
//! a kill, Ctrl-C before the runner could write its end) has only its `"test_start"` line and the
//! `"repetition"` lines written so far; it is rebuilt here as an `interrupted` test, its summaries
//! recomputed from those repetitions, so nothing already measured is lost.

use edgebench_harness::schema::{
    Record, RepetitionRecord, ScenarioRef, Status, TestRecord, SCHEMA_VERSION,
};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// Why results could not be read. Every variant names the file (and line) at fault.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The OS error is part of the message, not a `source` (a chain printer such as anyhow's
    /// `{:#}` would print it twice).
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: no results files (*.jsonl) in this folder", path.display())]
    EmptyFolder { path: PathBuf },
    #[error("{at}: {message}")]
    BadLine { at: Location, message: String },
    #[error(
        "{at}: written with result schema version {found}, newer than this edgebench reads \
         ({supported}); update edgebench to read it"
    )]
    NewerSchema {
        at: Location,
        found: u64,
        supported: u32,
    },
    #[error("test `{test_id}` has two different test records ({first} and {second})")]
    Conflict {
        test_id: String,
        first: Location,
        second: Location,
    },
}

/// A line of a results file, for messages: `results/run.jsonl:12`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    /// 1-based line number.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)
    }
}

/// Tests read from results files, with what the reader had to work around.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Results {
    /// Tests in the order their first line appears (files in the order given, a folder's files
    /// by name).
    pub tests: Vec<TestRecord>,
    /// Problems that lost nothing worth an error: a last line cut short by a crash.
    pub warnings: Vec<String>,
}

/// Read tests from JSONL results files, or from every `*.jsonl` file in a folder.
///
/// Unfinished tests are rebuilt as `interrupted` (see the module documentation). Fails on the
/// first bad line with its file and line number, and on a schema version newer than
/// [`SCHEMA_VERSION`]. Errors are [`ReadError`]s.
pub fn read_results(paths: &[PathBuf]) -> anyhow::Result<Vec<TestRecord>> {
    Ok(load_results(paths)?.tests)
}

/// [`read_results`], also returning the warnings (a truncated last line that was skipped).
pub fn load_results(paths: &[PathBuf]) -> Result<Results, ReadError> {
    let mut merger = Merger::default();
    let mut warnings = Vec::new();
    let mut seen = HashSet::new();
    // The same file named twice (itself and its folder) is read once.
    let files: Vec<PathBuf> = results_files(paths)?
        .into_iter()
        .filter(|file| seen.insert(std::fs::canonicalize(file).unwrap_or_else(|_| file.clone())))
        .collect();
    // Files are parsed a few at a time on every core (parsing is most of a large folder's time)
    // and merged in order, so the result and the first error are those of reading them one by
    // one, and only a few files' records wait in memory at once.
    for chunk in files.chunks(rayon::current_num_threads()) {
        let parsed: Vec<Result<ParsedFile, ReadError>> =
            chunk.par_iter().map(|file| parse_file(file)).collect();
        for file in parsed {
            let file = file?;
            warnings.extend(file.warnings);
            for (record, at) in file.records {
                merger.add(record, at)?;
            }
        }
    }
    Ok(Results {
        tests: merger.finish(),
        warnings,
    })
}

/// The files to read: each path as given, a folder replaced by its `*.jsonl` files (timeline
/// side files excepted), by name.
fn results_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ReadError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| ReadError::Io { path, error }
    };
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(io(path))?;
        if !meta.is_dir() {
            files.push(path.clone());
            continue;
        }
        let mut found = Vec::new();
        for entry in std::fs::read_dir(path).map_err(io(path))? {
            let entry_path = entry.map_err(io(path))?.path();
            // Sensor timelines (`<results>.timeline.jsonl`) sit beside results files; they are
            // read through the test records that name them, not as results.
            let is_timeline = entry_path.to_string_lossy().ends_with(".timeline.jsonl");
            if entry_path.extension().is_some_and(|e| e == "jsonl")
                && entry_path.is_file()
                && !is_timeline
            {
                found.push(entry_path);
            }
        }
        if found.is_empty() {
            return Err(ReadError::EmptyFolder { path: path.clone() });
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// One file's records, in order, with where each came from.
#[derive(Default)]
struct ParsedFile {
    records: Vec<(Record, Location)>,
    warnings: Vec<String>,
}

fn parse_file(path: &Path) -> Result<ParsedFile, ReadError> {
    let text = std::fs::read_to_string(path).map_err(|error| ReadError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    // A JSON array: llama-bench's `-o json`, or `edgebench report --output json`.
    if text.trim_start().starts_with('[') {
        return read_array(path, &text);
    }
    let mut out = ParsedFile::default();
    let ends_with_newline = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = Location {
            path: path.to_path_buf(),
            line: i + 1,
        };
        match parse_line(line, &at) {
            Ok(record) => out.records.push((record, at)),
            // The writer ends every record with a newline and flushes it; a last line without
            // one that stops mid-JSON is a write the process did not live to finish.
            Err(ParseError::Truncated) if i + 1 == lines.len() && !ends_with_newline => {
                out.warnings.push(format!(
                    "{at}: skipped a last line cut short (the run was killed while writing it)"
                ));
            }
            Err(ParseError::Truncated) => {
                return Err(ReadError::BadLine {
                    at,
                    message: "the line ends in the middle of a JSON value".into(),
                })
            }
            Err(ParseError::Fatal(e)) => return Err(e),
        }
    }
    Ok(out)
}

/// A JSON array of test records or of llama-bench results; each element is checked as a line
/// would be, and errors name the element (`file.json:[3]` as line 4).
fn read_array(path: &Path, text: &str) -> Result<ParsedFile, ReadError> {
    let mut out = ParsedFile::default();
    let at = |line: usize| Location {
        path: path.to_path_buf(),
        line,
    };
    let values: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| ReadError::BadLine {
            at: at(e.line()),
            message: format!(
                "not a JSON array of results (llama-bench -o json, or edgebench's json \
                 export): {}",
                without_position(&e)
            ),
        })?;
    for (i, value) in values.into_iter().enumerate() {
        let element = at(i + 1);
        let record = match value.as_object() {
            Some(o) if !o.contains_key("record") && o.contains_key("schema_version") => {
                // An exported test record has no `record` tag: add it.
                let mut o = o.clone();
                o.insert("record".into(), "test".into());
                serde_json::Value::Object(o)
            }
            _ => value,
        };
        let line = serde_json::to_string(&record).unwrap_or_default();
        match parse_line(&line, &element) {
            Ok(record) => out.records.push((record, element)),
            Err(ParseError::Fatal(e)) => return Err(e),
            Err(ParseError::Truncated) => {
                return Err(ReadError::BadLine {
                    at: element,
                    message: "element ends in the middle of a JSON value".into(),
                })
            }
        }
    }
    Ok(out)
}

/// Tests imported from one llama-bench file share a run id made from its name.
fn llama_bench_run_id(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("llama-bench:{name}")
}

enum ParseError {
    Truncated,
    Fatal(ReadError),
}

fn parse_line(line: &str, at: &Location) -> Result<Record, ParseError> {
    // The common case, a well-formed record of a version this edgebench reads, in one pass
    // straight into the record (a large results folder is mostly this); anything else takes
    // the careful path below for its message.
    if let Some(record) = parse_tagged_fast(line) {
        if record_version(&record) <= SCHEMA_VERSION {
            return Ok(record);
        }
    }
    parse_line_carefully(line, at)
}

/// A record as the writer writes it, its tag first (`{"record":"test",…`), parsed straight
/// into its struct: serde's internally tagged enum would first buffer the whole line into an
/// intermediate tree to find the tag (a third of a large folder's reading time). The structs
/// ignore the tag field as an unknown one. Lines written otherwise take `Record`'s own path.
fn parse_tagged_fast(line: &str) -> Option<Record> {
    if line.starts_with(r#"{"record":"test_start","#) {
        serde_json::from_str(line).ok().map(Record::TestStart)
    } else if line.starts_with(r#"{"record":"repetition","#) {
        serde_json::from_str(line).ok().map(Record::Repetition)
    } else if line.starts_with(r#"{"record":"test","#) {
        serde_json::from_str(line).ok().map(Record::Test)
    } else {
        serde_json::from_str::<Record>(line).ok()
    }
}

fn record_version(record: &Record) -> u32 {
    match record {
        Record::TestStart(t) | Record::Test(t) => t.schema_version,
        Record::Repetition(r) => r.schema_version,
    }
}

/// [`parse_line`] through a JSON value: the schema version is checked before the shape, and
/// llama-bench lines are told apart from edgebench records.
fn parse_line_carefully(line: &str, at: &Location) -> Result<Record, ParseError> {
    let bad = |message: String| {
        ParseError::Fatal(ReadError::BadLine {
            at: at.clone(),
            message,
        })
    };
    // Parse in two steps so the version is checked before the shape: a newer writer may have
    // changed the shape, and "update edgebench" is then the useful message.
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| {
        if e.is_eof() {
            ParseError::Truncated
        } else {
            bad(format!("not valid JSON: {}", without_position(&e)))
        }
    })?;
    let Some(object) = value.as_object() else {
        return Err(bad("expected a JSON object (one result record)".into()));
    };
    match object.get("schema_version") {
        Some(v) => match v.as_u64() {
            Some(found) if found > u64::from(SCHEMA_VERSION) => {
                return Err(ParseError::Fatal(ReadError::NewerSchema {
                    at: at.clone(),
                    found,
                    supported: SCHEMA_VERSION,
                }))
            }
            Some(_) => {}
            None => return Err(bad(format!("`schema_version` is {v}, not a whole number"))),
        },
        // llama-bench's own output (`-o jsonl`): imported as a finished test.
        None if crate::llamabench::looks_like(object) => {
            let run_id = llama_bench_run_id(&at.path);
            return crate::llamabench::import(object, &run_id, at.line)
                .map(Record::Test)
                .map_err(bad);
        }
        None => {
            return Err(bad(
                "no `schema_version`: not an edgebench result record (nor llama-bench output)"
                    .into(),
            ))
        }
    }
    let record = object
        .get("record")
        .and_then(|r| r.as_str())
        .unwrap_or("?")
        .to_string();
    serde_json::from_value(value)
        .map_err(|e| bad(format!("bad `{record}` record: {}", without_position(&e))))
}

/// serde_json's message without its " at line 1 column 17" (the line is ours to name).
fn without_position(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    }
}

/// Everything read about one test id.
struct Pending {
    start: Option<TestRecord>,
    repetitions: Vec<RepetitionRecord>,
    finished: Option<(TestRecord, Location)>,
}

/// Gathers records by test id, keeping the order in which test ids first appear.
#[derive(Default)]
struct Merger {
    order: Vec<String>,
    by_id: HashMap<String, Pending>,
}

impl Merger {
    fn entry(&mut self, test_id: &str) -> &mut Pending {
        if !self.by_id.contains_key(test_id) {
            self.order.push(test_id.to_string());
        }
        self.by_id
            .entry(test_id.to_string())
            .or_insert_with(|| Pending {
                start: None,
                repetitions: Vec::new(),
                finished: None,
            })
    }

    fn add(&mut self, record: Record, at: Location) -> Result<(), ReadError> {
        match record {
            // A finished test's record holds its start and repetitions: once it is here, the
            // lines that led to it are not kept (a large folder would hold every test twice).
            Record::TestStart(start) => {
                let pending = self.entry(&start.test_id);
                if pending.finished.is_none() {
                    pending.start.get_or_insert(start);
                }
            }
            Record::Repetition(rep) => {
                let pending = self.entry(&rep.test_id);
                if pending.finished.is_none() {
                    pending.repetitions.push(rep);
                }
            }
            Record::Test(test) => {
                let test_id = test.test_id.clone();
                let pending = self.entry(&test_id);
                pending.start = None;
                pending.repetitions = Vec::new();
                match &pending.finished {
                    None => pending.finished = Some((test, at)),
                    // The same record twice (a file copied next to itself): keep one.
                    Some((earlier, _)) if *earlier == test => {}
                    Some((_, first)) => {
                        return Err(ReadError::Conflict {
                            test_id,
                            first: first.clone(),
                            second: at,
                        })
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Vec<TestRecord> {
        self.order
            .iter()
            .map(|id| {
                let pending = self
                    .by_id
                    .remove(id)
                    .expect("every id in order has an entry");
                match pending.finished {
                    Some((test, _)) => test,
                    None => rebuild(id, pending.start, pending.repetitions),
                }
            })
            .collect()
    }
}

/// An `interrupted` test from its start line (if any) and the repetitions that were written.
fn rebuild(
    test_id: &str,
    start: Option<TestRecord>,
    mut repetitions: Vec<RepetitionRecord>,
) -> TestRecord {
    repetitions.sort_by_key(|r| r.index);
    repetitions.dedup_by(|a, b| a.index == b.index && a == b);
    let n = repetitions.len();
    let kept = match n {
        1 => "1 repetition kept".to_string(),
        n => format!("{n} repetitions kept"),
    };
    let mut test = match start {
        Some(start) => start,
        None => {
            let version = repetitions
                .first()
                .map_or(SCHEMA_VERSION, |r| r.schema_version);
            let mut test = placeholder(test_id, version);
            test.warnings.push(
                "no test_start line: scenario, target and environment are unknown (written by \
                 an edgebench older than test_start records)"
                    .into(),
            );
            test
        }
    };
    test.status = Status::Interrupted {
        reason: format!("the run ended before this test finished ({kept})"),
    };
    test.summary = edgebench_harness::runner::summarize_repetitions(&repetitions);
    let rep_peak = repetitions
        .iter()
        .filter_map(|r| r.timing.peak_rss_bytes)
        .max();
    test.peak_rss_bytes = test.peak_rss_bytes.max(rep_peak);
    test.repetitions = repetitions;
    test.stop_reason = None;
    test
}

/// A test with only its id known.
fn placeholder(test_id: &str, schema_version: u32) -> TestRecord {
    TestRecord {
        schema_version,
        test_id: test_id.to_string(),
        run_id: String::new(),
        started_at: String::new(),
        environment: Default::default(),
        scenario: ScenarioRef {
            model: "unknown".into(),
            quant: "?".into(),
            workload: "?".into(),
            ..Default::default()
        },
        target: Default::default(),
        parameters: Default::default(),
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
