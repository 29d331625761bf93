//! CSV: every column, one row per test and rate (the rows of the table), numbers in the
//! schema's units (seconds, bytes, joules) with fixed decimals and no unit or `±` in a cell, so a
//! spreadsheet or pandas reads them as numbers. An empty cell means "not measured".

use super::Exporter;
use crate::table::{rows, target_label, workload_name, Row};
use edgebench_harness::schema::metric;
use edgebench_harness::schema::TestRecord;
use edgebench_harness::stats::Summary;

pub struct CsvExporter;

type Cell = fn(&Row) -> String;

/// The columns: header and value.
const COLUMNS: &[(&str, Cell)] = &[
    ("run_id", |r| r.test.run_id.clone()),
    ("test_id", |r| r.test.test_id.clone()),
    ("started_at", |r| r.test.started_at.clone()),
    ("device", |r| r.test.environment.device.clone()),
    ("hostname", |r| r.test.environment.hostname.clone()),
    ("cpu_model", |r| r.test.environment.cpu_model.clone()),
    ("cpu_cores", |r| r.test.environment.cpu_cores.to_string()),
    ("ram_bytes", |r| r.test.environment.ram_bytes.to_string()),
    ("os", |r| r.test.environment.os.clone()),
    ("kernel", |r| r.test.environment.kernel.clone()),
    ("arch", |r| r.test.environment.arch.clone()),
    ("governor", |r| {
        r.test.environment.governor.clone().unwrap_or_default()
    }),
    ("edgebench_version", |r| {
        r.test.environment.edgebench_version.clone()
    }),
    ("edgebench_commit", |r| {
        r.test.environment.edgebench_commit.clone()
    }),
    ("model", |r| r.test.scenario.model.clone()),
    ("quant", |r| r.test.scenario.quant.clone()),
    ("synthetic", |r| r.test.scenario.synthetic.to_string()),
    ("model_bytes", |r| r.test.scenario.model_bytes.to_string()),
    ("model_sha256", |r| {
        r.test.scenario.model_sha256.clone().unwrap_or_default()
    }),
    ("parameters", |r| {
        r.test
            .model
            .as_ref()
            .and_then(|m| m.parameters)
            .map(|p| p.to_string())
            .unwrap_or_default()
    }),
    ("target", |r| r.test.target.name.clone()),
    ("target_version", |r| r.test.target.library_version.clone()),
    ("target_device", |r| r.test.target.device.clone()),
    ("target_label", target_label_cell),
    ("build_flags", |r| r.test.target.build_flags.join(" ")),
    ("threads", |r| r.test.parameters.threads.to_string()),
    ("options", |r| {
        r.test
            .parameters
            .options
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }),
    ("test", |r| workload_name(r.test)),
    ("phase", |r| r.phase.short().to_string()),
    ("prompt_tokens", |r| {
        r.test.scenario.prompt_tokens.to_string()
    }),
    ("gen_tokens", |r| r.test.scenario.gen_tokens.to_string()),
    ("repetitions", |r| r.test.repetitions.len().to_string()),
    ("tps_median", |r| fixed(r.tps().map(|s| s.median), 4)),
    ("tps_mean", |r| fixed(r.tps().map(|s| s.mean), 4)),
    ("tps_stddev", |r| fixed(r.tps().map(|s| s.stddev), 4)),
    ("tps_ci95_low", |r| fixed(r.tps().map(|s| s.ci95_low), 4)),
    ("tps_ci95_high", |r| fixed(r.tps().map(|s| s.ci95_high), 4)),
    ("tps_outliers", |r| {
        r.tps()
            .map_or(String::new(), |s| s.outliers.len().to_string())
    }),
    ("ttft_s", |r| median(r, metric::TTFT_S, 6)),
    ("itl_p50_s", |r| median(r, metric::ITL_P50_S, 6)),
    ("itl_p90_s", |r| median(r, metric::ITL_P90_S, 6)),
    ("itl_p99_s", |r| median(r, metric::ITL_P99_S, 6)),
    ("j_per_token", |r| fixed(r.energy().map(|s| s.median), 6)),
    ("load_s", |r| fixed(r.test.load_s, 6)),
    ("peak_rss_bytes", |r| {
        r.test
            .peak_rss_bytes
            .map(|b| b.to_string())
            .unwrap_or_default()
    }),
    ("max_temp_c", |r| fixed(r.test.sensors.max_temp_c, 2)),
    ("min_clock_mhz", |r| fixed(r.test.sensors.min_clock_mhz, 1)),
    ("peak_power_w", |r| fixed(r.test.sensors.peak_power_w, 3)),
    ("stop_reason", |r| {
        r.test.stop_reason.clone().unwrap_or_default()
    }),
    ("status", |r| r.test.status.label().to_string()),
    ("reason", |r| {
        r.test.status.reason().unwrap_or_default().to_string()
    }),
    ("warnings", |r| r.test.warnings.join("; ")),
];

fn target_label_cell(r: &Row) -> String {
    target_label(r.test)
}

fn median(r: &Row, name: &str, decimals: usize) -> String {
    fixed(r.summary(name).map(|s: &Summary| s.median), decimals)
}

/// A number with fixed decimals; empty when absent or not finite.
fn fixed(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => String::new(),
    }
}

/// RFC 4180 quoting: only fields holding a comma, a quote or a line break are quoted.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

impl Exporter for CsvExporter {
    fn export(&self, tests: &[TestRecord]) -> anyhow::Result<String> {
        let mut out = String::new();
        let header: Vec<&str> = COLUMNS.iter().map(|(name, _)| *name).collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for row in rows(tests) {
            let cells: Vec<String> = COLUMNS.iter().map(|(_, cell)| field(&cell(&row))).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        Ok(out)
    }
}
