//! JSON: a pretty-printed array of test records, in table order.

use super::Exporter;
use crate::table::sorted;
use edgebench_harness::schema::TestRecord;

pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn export(&self, tests: &[TestRecord]) -> anyhow::Result<String> {
        let mut out = serde_json::to_string_pretty(&sorted(tests))?;
        out.push('\n');
        Ok(out)
    }
}
