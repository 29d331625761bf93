//! Golden-file tests of every exporter on the fixture results, and the terminal width limit.

mod common;

use common::{check_golden, fixture_jsonl, fixture_path};
use edgebench_harness::schema::{Status, TestRecord};
use edgebench_reports::export::{
    CsvExporter, JsonExporter, JsonlExporter, MarkdownExporter, TerminalExporter,
};
use edgebench_reports::{exporter_for, read_results, Exporter, FORMATS};

/// Write the fixture from code, only when asked (see `common`).
#[test]
fn write_fixture() {
    if std::env::var_os("UPDATE_FIXTURE").is_some_and(|v| v == "1") {
        std::fs::write(fixture_path(), fixture_jsonl()).unwrap();
    }
}

fn fixture() -> Vec<TestRecord> {
    read_results(&[fixture_path()]).expect("the fixture reads")
}

fn widest_line(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn terminal_80_columns_golden() {
    let out = TerminalExporter::new(80).export(&fixture()).unwrap();
    check_golden("terminal_80.txt", &out);
}

#[test]
fn terminal_wide_golden() {
    let out = TerminalExporter::new(160).export(&fixture()).unwrap();
    check_golden("terminal_160.txt", &out);
}

#[test]
fn markdown_golden() {
    check_golden("results.md", &MarkdownExporter.export(&fixture()).unwrap());
}

#[test]
fn csv_golden() {
    check_golden("results.csv", &CsvExporter.export(&fixture()).unwrap());
}

#[test]
fn json_golden() {
    check_golden("results.json", &JsonExporter.export(&fixture()).unwrap());
}

#[test]
fn jsonl_golden() {
    check_golden("results.jsonl", &JsonlExporter.export(&fixture()).unwrap());
}

#[test]
fn terminal_never_exceeds_its_width() {
    let tests = fixture();
    for width in [40, 60, 72, 80, 100, 120] {
        let out = TerminalExporter::new(width).export(&tests).unwrap();
        assert!(
            widest_line(&out) <= width,
            "width {width}: a line has {} characters:\n{out}",
            widest_line(&out)
        );
    }
    let out = TerminalExporter::new(80).export(&tests).unwrap();
    assert!(out.contains("Left out to fit 80 columns"), "{out}");
}

#[test]
fn terminal_fits_80_columns_with_very_long_names() {
    let mut tests = fixture();
    tests[0].scenario.model = "my-own-finetune-of-llama-3.1-8b-instruct-with-a-long-name".into();
    tests[1].target.name = "onnxruntime-genai-with-a-custom-execution-provider".into();
    tests[2].environment.device = "A device whose catalog name is far longer than any line \
                                   of an eighty column terminal could ever hold"
        .into();
    let out = TerminalExporter::new(80).export(&tests).unwrap();
    assert!(widest_line(&out) <= 80, "{out}");
}

#[test]
fn terminal_colours_only_when_asked() {
    let tests = fixture();
    let plain = TerminalExporter::new(80).export(&tests).unwrap();
    assert!(!plain.contains('\u{1b}'), "{plain}");
    let coloured = TerminalExporter::new(80)
        .with_color(true)
        .export(&tests)
        .unwrap();
    assert!(coloured.contains('\u{1b}'), "{coloured}");
    assert_eq!(strip_ansi(&coloured), plain);
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn output_does_not_depend_on_input_order() {
    let tests = fixture();
    let mut reversed = tests.clone();
    reversed.reverse();
    for format in FORMATS {
        let exporter = match format {
            "terminal" => Box::new(TerminalExporter::new(80)) as Box<dyn Exporter>,
            other => exporter_for(other).unwrap(),
        };
        assert_eq!(
            exporter.export(&tests).unwrap(),
            exporter.export(&reversed).unwrap(),
            "{format}"
        );
    }
}

#[test]
fn jsonl_export_reads_back_as_the_same_tests() {
    let tests = fixture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exported.jsonl");
    std::fs::write(&path, JsonlExporter.export(&tests).unwrap()).unwrap();
    let back = read_results(&[path]).unwrap();
    // Same tests, in table order; the interrupted one stays interrupted with its repetitions.
    let json = |t: &[TestRecord]| {
        let mut v: Vec<String> = t
            .iter()
            .map(|t| serde_json::to_string(t).unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(json(&back), json(&tests));
    let interrupted = back
        .iter()
        .find(|t| matches!(t.status, Status::Interrupted { .. }))
        .unwrap();
    assert_eq!(interrupted.repetitions.len(), 2);
}

#[test]
fn exporter_for_knows_every_format_and_names_them_on_error() {
    for format in FORMATS.iter().chain(&["table", "md", "CSV", " json "]) {
        assert!(exporter_for(format).is_ok(), "{format}");
    }
    let err = exporter_for("xlsx").err().unwrap().to_string();
    assert_eq!(
        err,
        "unknown report format `xlsx`; valid formats: terminal, markdown, csv, json, jsonl, llama-bench"
    );
}

#[test]
fn combined_workload_has_a_pp_row_and_a_tg_row() {
    let out = MarkdownExporter.export(&fixture()).unwrap();
    let pp = out.lines().find(|l| l.contains("pp512+tg128:pp")).unwrap();
    let tg = out.lines().find(|l| l.contains("pp512+tg128:tg")).unwrap();
    // TTFT on the pp row, inter-token latency on the tg row.
    assert!(pp.contains(" ± "), "{pp}");
    assert!(tg.contains('/'), "{tg}");
}

#[test]
fn empty_results_say_so() {
    assert_eq!(
        TerminalExporter::new(80).export(&[]).unwrap(),
        "No results.\n"
    );
}
