//! The SQLite side of the history: one table of tests (key columns, build columns, the whole
//! record as JSON), upserted by test id so importing a file twice changes nothing.

use super::Filter;
use anyhow::Context;
use edgebench_harness::schema::{Status, TestRecord};
use edgebench_reports::merge::TestKey;
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};

/// `$EDGEBENCH_HISTORY`, else `history.sqlite` in edgebench's cache folder.
pub fn default_path() -> PathBuf {
    match std::env::var_os("EDGEBENCH_HISTORY").filter(|v| !v.is_empty() && v != "off") {
        Some(v) => PathBuf::from(v),
        None => edgebench_harness::bandwidth::cache_dir().join("history.sqlite"),
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tests (
    test_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    device TEXT NOT NULL,
    model TEXT NOT NULL,
    quant TEXT NOT NULL,
    workload TEXT NOT NULL,
    target TEXT NOT NULL,
    threads INTEGER NOT NULL,
    key TEXT NOT NULL,
    edgebench_version TEXT NOT NULL,
    edgebench_commit TEXT NOT NULL,
    library_version TEXT NOT NULL,
    build_flags TEXT NOT NULL,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tests_by_test ON tests (model, quant, target, workload);
CREATE INDEX IF NOT EXISTS tests_by_commit ON tests (edgebench_commit);
";

/// What produced a figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub edgebench_commit: String,
    pub library_version: String,
    pub flags: String,
}

/// One stored test.
pub struct Row {
    pub key: String,
    pub started_at: String,
    pub build: Build,
    pub record: TestRecord,
}

impl Row {
    /// The metrics a trend shows for this test: its rates (pp, tg, RTF, encoder).
    pub fn headline_metrics(&self) -> Vec<(&'static str, &'static str)> {
        edgebench_reports::compare::METRICS
            .iter()
            .filter(|m| ["pp_tps", "tg_tps", "rtf", "encode_s"].contains(&m.0))
            .map(|m| (m.0, m.1))
            .collect()
    }

    pub fn values(&self, metric: &str) -> Vec<f64> {
        self.record
            .repetitions
            .iter()
            .filter_map(|r| r.metrics.get(metric).copied())
            .filter(|v| v.is_finite())
            .collect()
    }
}

pub struct Store {
    conn: Connection,
}

impl Store {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
        }
        let conn = Connection::open(path).with_context(|| path.display().to_string())?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)
            .with_context(|| format!("{}: not an edgebench history database", path.display()))?;
        Ok(Self { conn })
    }

    /// Upsert finished tests (interrupted and failed ones are left out: no trend in them).
    pub fn import(&self, tests: &[TestRecord], source: &str) -> anyhow::Result<usize> {
        let tx = self.conn.unchecked_transaction()?;
        let mut n = 0;
        {
            let mut insert = tx.prepare(
                "INSERT OR REPLACE INTO tests VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )?;
            for t in tests {
                if t.status != Status::Ok || t.repetitions.is_empty() {
                    continue;
                }
                let key = TestKey::of(t);
                insert.execute(params![
                    t.test_id,
                    t.run_id,
                    t.started_at,
                    key.device,
                    key.model,
                    key.quant,
                    key.workload,
                    t.target.name,
                    t.parameters.threads as i64,
                    key.to_string(),
                    t.environment.edgebench_version,
                    t.environment.edgebench_commit,
                    t.target.library_version,
                    t.target.build_flags.join(" "),
                    format!("{:?}", t.status).to_lowercase(),
                    source,
                    serde_json::to_string(t)?,
                ])?;
                n += 1;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// Tests matching the filter, oldest first.
    pub fn select(&self, f: &Filter) -> anyhow::Result<Vec<Row>> {
        let mut stmt = self.conn.prepare(
            "SELECT key, started_at, edgebench_commit, library_version, build_flags, record \
             FROM tests WHERE (?1 IS NULL OR model = ?1) AND (?2 IS NULL OR quant = ?2) \
             AND (?3 IS NULL OR target = ?3) AND (?4 IS NULL OR workload = ?4) \
             AND (?5 IS NULL OR device = ?5) ORDER BY started_at",
        )?;
        let rows = stmt.query_map(
            params![f.scenario, f.quant, f.target, f.workload, f.device],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            },
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (key, started_at, commit, library, flags, json) = row?;
            let record: TestRecord = serde_json::from_str(&json)
                .with_context(|| format!("history row {key} {started_at}: bad record"))?;
            out.push(Row {
                key,
                started_at,
                build: Build {
                    edgebench_commit: commit,
                    library_version: library,
                    flags,
                },
                record,
            });
        }
        Ok(out)
    }

    /// Every stored test of edgebench commits starting with `commit`.
    pub fn records_of_commit(&self, commit: &str) -> anyhow::Result<Vec<TestRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT record FROM tests WHERE substr(edgebench_commit, 1, length(?1)) = ?1 \
             ORDER BY started_at",
        )?;
        let rows = stmt.query_map(params![commit], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for json in rows {
            out.push(serde_json::from_str(&json?)?);
        }
        Ok(out)
    }
}
