//! JSONL: one `"test"` record a line, in table order — a results file that
//! [`crate::read_results`] reads back, with interrupted tests already rebuilt.

use super::Exporter;
use crate::table::sorted;
use edgebench_harness::schema::{Record, TestRecord};

pub struct JsonlExporter;

impl Exporter for JsonlExporter {
    fn export(&self, tests: &[TestRecord]) -> anyhow::Result<String> {
        let mut out = String::new();
        for test in sorted(tests) {
            out.push_str(&serde_json::to_string(&Record::Test(test.clone()))?);
            out.push('\n');
        }
        Ok(out)
    }
}
