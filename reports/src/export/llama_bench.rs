//! llama-bench JSON: the array `llama-bench -o json` prints, one object per test and rate, with
//! the fields edgebench knows (see [`crate::llamabench`]), for tools that read llama-bench output.

use super::Exporter;
use edgebench_harness::schema::TestRecord;

pub struct LlamaBenchExporter;

impl Exporter for LlamaBenchExporter {
    fn export(&self, tests: &[TestRecord]) -> anyhow::Result<String> {
        let objects = crate::llamabench::export(tests);
        let mut out = serde_json::to_string_pretty(&objects)?;
        out.push('\n');
        Ok(out)
    }
}
