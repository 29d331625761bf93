//! The order and names tests are shown in, shared by the tables, the exports and the merge of
//! several runs: one order, so the same results always print the same way.

use edgebench_harness::schema::TestRecord;
use std::cmp::Ordering;

/// The workload name, or one made from the token counts when the record has none.
pub fn workload_name(test: &TestRecord) -> String {
    let s = &test.scenario;
    if !s.workload.is_empty() {
        return s.workload.clone();
    }
    match (s.prompt_tokens, s.gen_tokens) {
        (0, 0) => "?".into(),
        (p, 0) => format!("pp{p}"),
        (0, g) => format!("tg{g}"),
        (p, g) => format!("pp{p}+tg{g}"),
    }
}

/// The target as shown: its name, and its compute device unless that is the CPU.
pub fn target_label(test: &TestRecord) -> String {
    let t = &test.target;
    let name = if t.name.is_empty() { "?" } else { &t.name };
    if t.device.is_empty() || t.device == "cpu" {
        name.to_string()
    } else {
        format!("{name}/{}", t.device)
    }
}

/// Tests in table order: device, model, quantization, target, threads, then pp tests before tg
/// tests before combined ones, by size; ties by start time and id, so the order never depends
/// on the order files were read in.
pub fn sorted(tests: &[TestRecord]) -> Vec<&TestRecord> {
    let mut sorted: Vec<&TestRecord> = tests.iter().collect();
    sorted.sort_by(|a, b| compare(a, b));
    sorted
}

/// The table order of two tests (see [`sorted`]).
pub(crate) fn compare(a: &TestRecord, b: &TestRecord) -> Ordering {
    fn kind(t: &TestRecord) -> u8 {
        match (t.scenario.prompt_tokens, t.scenario.gen_tokens) {
            (0, 0) => 3,
            (_, 0) => 0,
            (0, _) => 1,
            _ => 2,
        }
    }
    let key = |t: &TestRecord| {
        (
            t.environment.device.clone(),
            t.scenario.model.clone(),
            t.scenario.quant.clone(),
            target_label(t),
            t.parameters.threads,
            kind(t),
            t.scenario.prompt_tokens,
            t.scenario.gen_tokens,
        )
    };
    key(a)
        .cmp(&key(b))
        .then_with(|| workload_name(a).cmp(&workload_name(b)))
        .then_with(|| a.parameters.options.cmp(&b.parameters.options))
        .then_with(|| a.started_at.cmp(&b.started_at))
        .then_with(|| a.test_id.cmp(&b.test_id))
}
