//! The timeline side file: every sensor sample of a run, with phase and test markers, written
//! by the sampler as it samples (so a crash keeps what was seen) next to the results file as
//! `<results stem>.timeline.jsonl`. Each test record names it in `sensors.timeline_file`
//! (relative to the results file) and gives its own span in `sensors.timeline_span_s`.
//!
//! # Format
//!
//! JSONL, one object a line, tagged by `"record"`; times `t_s` are seconds on one clock that
//! starts when the sampler starts (the same clock as `timeline_span_s`):
//!
//! ```text
//! {"record":"timeline","schema_version":1,"run_id":"run-20250601-101500","interval_s":0.1,"sensors":["thermal","cpufreq","rapl","process"]}
//! {"record":"channel","channel":"thermal/cpu-thermal","quantity":"temperature_c","total":false}
//! {"record":"sample","t_s":0.1002,"values":{"cpufreq/cpu0":2400.0,"thermal/cpu-thermal":52.65}}
//! {"record":"test","t_s":1.52,"test_id":"run-20250601-101500/phi3-mini/q4_k_m/tg128/candle/t4"}
//! {"record":"phase","t_s":1.53,"phase":"decode"}
//! {"record":"warning","t_s":9.8,"message":"sensor thermal failed: …"}
//! ```
//!
//! - `timeline` comes first: format version, run id, sampling interval, sensor names.
//! - `channel` introduces a channel before its first value: its quantity (`temperature_c`,
//!   `clock_mhz`, `power_w`, `energy_j`, `cpu_percent`, `memory_bytes`, `voltage_v`,
//!   `current_a`, `load_percent`, `clock_ratio`, `throttle_flag`, `throttle_count`; units in
//!   the name) and whether it counts toward the device's total power/energy.
//! - `sample`: one poll of every sensor; a channel missing from `values` was not read that
//!   time. Energy channels are joules since the sensor was opened (counter wraps undone), so
//!   the energy between two times is the difference of their values.
//! - `phase`: the runner's phase from `t_s` until the next `phase` (`idle`, `cooldown`, `load`,
//!   `warmup`, `prefill`, `decode`).
//! - `test`: a test starts at `t_s` (its record in the results file has the same `test_id`).
//! - `warning`: a sensor failed (once per outage).
//!
//! [`read`] turns a file back into a [`Timeline`] (a thermal chart needs nothing else).

use crate::protocol::Phase;
use crate::sensors::{Quantity, Reading};
use crate::timeline::{Sample, Timeline};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub const TIMELINE_SCHEMA_VERSION: u32 = 1;

/// One line of the timeline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum TimelineRecord {
    Timeline {
        schema_version: u32,
        run_id: String,
        interval_s: f64,
        sensors: Vec<String>,
    },
    Channel {
        channel: String,
        quantity: Quantity,
        total: bool,
    },
    Sample {
        t_s: f64,
        values: BTreeMap<String, f64>,
    },
    Phase {
        t_s: f64,
        phase: Phase,
    },
    Test {
        t_s: f64,
        test_id: String,
    },
    Warning {
        t_s: f64,
        message: String,
    },
}

/// The side file's path for a results file: `runs/x.jsonl` → `runs/x.timeline.jsonl`.
pub fn path_for(results: &Path) -> PathBuf {
    let stem = results
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "results".into());
    results.with_file_name(format!("{stem}.timeline.jsonl"))
}

/// Appends records to the side file; the sampler owns one.
pub(crate) struct TimelineSink {
    out: BufWriter<std::fs::File>,
    known: HashSet<String>,
    pub(crate) path: PathBuf,
    /// The first write error; later writes are skipped (the run goes on without the file).
    pub(crate) error: Option<String>,
}

impl TimelineSink {
    pub(crate) fn create(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self {
            out: BufWriter::new(file),
            known: HashSet::new(),
            path: path.to_path_buf(),
            error: None,
        })
    }

    pub(crate) fn write(&mut self, record: &TimelineRecord) {
        if self.error.is_some() {
            return;
        }
        let result = serde_json::to_string(record)
            .map_err(std::io::Error::other)
            .and_then(|line| writeln!(self.out, "{line}"))
            .and_then(|_| self.out.flush());
        if let Err(e) = result {
            self.error = Some(format!("{}: {e}", self.path.display()));
        }
    }

    pub(crate) fn sample(&mut self, sample: &Sample) {
        for r in &sample.readings {
            if self.known.insert(r.channel.clone()) {
                self.write(&TimelineRecord::Channel {
                    channel: r.channel.clone(),
                    quantity: r.quantity,
                    total: r.total,
                });
            }
        }
        self.write(&TimelineRecord::Sample {
            t_s: round6(sample.t_s),
            values: sample
                .readings
                .iter()
                .map(|r| (r.channel.clone(), round6(r.value)))
                .collect(),
        });
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// A timeline file read back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimelineData {
    pub run_id: String,
    pub interval_s: f64,
    pub timeline: Timeline,
    /// `(t_s, test_id)` of each test start.
    pub tests: Vec<(f64, String)>,
}

/// Read a timeline file. A bad line is an error naming the file and the line.
pub fn read(path: &Path) -> Result<TimelineData, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut data = TimelineData::default();
    let mut channels: HashMap<String, (Quantity, bool)> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: TimelineRecord = serde_json::from_str(line)
            .map_err(|e| format!("{}: line {}: {e}", path.display(), i + 1))?;
        match record {
            TimelineRecord::Timeline {
                schema_version,
                run_id,
                interval_s,
                sensors,
            } => {
                if schema_version > TIMELINE_SCHEMA_VERSION {
                    return Err(format!(
                        "{}: timeline format version {schema_version} is newer than this edgebench reads ({TIMELINE_SCHEMA_VERSION})",
                        path.display()
                    ));
                }
                data.run_id = run_id;
                data.interval_s = interval_s;
                data.timeline.sensors = sensors;
            }
            TimelineRecord::Channel {
                channel,
                quantity,
                total,
            } => {
                channels.insert(channel, (quantity, total));
            }
            TimelineRecord::Sample { t_s, values } => {
                let readings = values
                    .into_iter()
                    .map(|(channel, value)| {
                        let (quantity, total) =
                            channels.get(&channel).copied().ok_or_else(|| {
                                format!(
                                    "{}: line {}: channel {channel} has no channel line before it",
                                    path.display(),
                                    i + 1
                                )
                            })?;
                        Ok(Reading {
                            channel,
                            quantity,
                            value,
                            total,
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                data.timeline.samples.push(Sample { t_s, readings });
            }
            TimelineRecord::Phase { t_s, phase } => data.timeline.marks.push((t_s, phase)),
            TimelineRecord::Test { t_s, test_id } => data.tests.push((t_s, test_id)),
            TimelineRecord::Warning { t_s, message } => data.timeline.warnings.push((t_s, message)),
        }
    }
    Ok(data)
}
