//! The result schema: what every run writes, and all that reports ever read.
//!
//! Results are JSONL. Each line is one [`Record`], tagged by `"record"`:
//! - `"test_start"`: a [`TestRecord`] with no repetitions yet, written before the first
//!   repetition, so the lines that follow can always be tied to their scenario and environment;
//! - `"repetition"`: one [`RepetitionRecord`], appended and flushed the moment a repetition
//!   finishes, so a crash or Ctrl-C loses nothing already measured;
//! - `"test"`: one [`TestRecord`] when a test (scenario × target × parameters) ends, with the
//!   summary statistics, the sensor summary and the status. Readers take test records and
//!   rebuild an `interrupted` test from the repetition lines of a test that has none.
//!
//! Every record carries [`SCHEMA_VERSION`]; a reader refuses versions it does not know.
//! Units are in the field names (`_s`, `_bytes`, `_w`, `_j`, `_c`, `_mhz`); rates are per second.

use crate::protocol::RepetitionTiming;
use crate::target::{ModelInfo, TargetInfo};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    TestStart(TestRecord),
    Repetition(RepetitionRecord),
    Test(TestRecord),
}

/// One repetition as it finished.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RepetitionRecord {
    pub schema_version: u32,
    /// Identifies the test this repetition belongs to (same as [`TestRecord::test_id`]).
    pub test_id: String,
    /// 0-based index of the measured repetition (warmups are not recorded).
    pub index: usize,
    pub timing: RepetitionTiming,
    /// Metrics derived from `timing` (see [`crate::runner::repetition_metrics`]).
    pub metrics: BTreeMap<String, f64>,
    /// Whether the device throttled during this repetition (None: no sensor could tell; the
    /// rule is in [`crate::throttling`], the causes in the test's `sensors.throttle_reasons`).
    #[serde(default)]
    pub throttled: Option<bool>,
}

/// One test: a workload of a model on a target with given parameters, on this machine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TestRecord {
    pub schema_version: u32,
    pub test_id: String,
    /// All tests of one `edgebench run` share a run id.
    pub run_id: String,
    /// RFC 3339 time the test started.
    pub started_at: String,
    pub environment: Environment,
    pub scenario: ScenarioRef,
    pub target: TargetInfo,
    pub parameters: Parameters,
    pub status: Status,
    /// Model as the backend saw it (absent when loading failed).
    #[serde(default)]
    pub model: Option<ModelInfo>,
    /// Seconds the backend took to load the model.
    #[serde(default)]
    pub load_s: Option<f64>,
    /// Peak resident memory of the worker process over the whole test, bytes.
    #[serde(default)]
    pub peak_rss_bytes: Option<u64>,
    /// Measured repetitions, in order.
    pub repetitions: Vec<RepetitionRecord>,
    /// Summary statistics per metric name (see [`crate::stats::Summary`]).
    pub summary: BTreeMap<String, crate::stats::Summary>,
    /// Why the runner stopped repeating (`ci_reached`, `max_repetitions`, `time_cap`…).
    #[serde(default)]
    pub stop_reason: Option<String>,
    pub sensors: SensorSummary,
    /// Non-fatal problems (a sensor vanished mid-run…).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// A soak test (`--soak`): generation rate per time window next to temperature and clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<SoakSummary>,
}

/// Where and with what software a test ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Environment {
    /// Device name: a catalog match ("Raspberry Pi 5 Model B") or "unknown x86_64 host".
    pub device: String,
    pub hostname: String,
    pub cpu_model: String,
    pub cpu_cores: usize,
    pub ram_bytes: u64,
    pub os: String,
    pub kernel: String,
    pub arch: String,
    /// cpufreq governor of CPU 0, where there is one.
    #[serde(default)]
    pub governor: Option<String>,
    pub edgebench_version: String,
    pub edgebench_commit: String,
    /// True when edgebench ran under an emulator (QEMU user mode on another architecture, see
    /// `crate::emulation`): the results prove the code runs, but the timings measure the
    /// emulator, not the device. Absent (false) on real hardware; `extra.emulator` says how
    /// it was detected.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub emulated: bool,
    /// Anything else that identifies the platform. Keys edgebench writes (where known):
    /// `board_model` (`/proc/device-tree/model`), `catalog_id` and `catalog_peak_bandwidth_gbs`
    /// (the device catalog's entry, `harness/devices.toml`), `power_mode` (Jetson `nvpmodel`),
    /// `l4t` (Jetson Linux release), `firmware` (Raspberry Pi), `gpus` (NVML names, `; `
    /// between them), `emulator` (with `emulated`) and `read_bandwidth_gbs_t<N>` (measured with N
    /// threads, for the roofline).
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

/// Which scenario (model × quantization × workload) a test ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ScenarioRef {
    /// Catalog model name (`llama3-8b`), or the file stem for a user's own model.
    pub model: String,
    /// Quantization name (`q4_k_m`).
    pub quant: String,
    /// Workload name (`pp512`, `tg128`, `pp512+tg128`).
    pub workload: String,
    pub prompt_tokens: usize,
    pub gen_tokens: usize,
    pub model_path: String,
    /// SHA-256 of the model file where known (synthetic models record it when written).
    #[serde(default)]
    pub model_sha256: Option<String>,
    pub model_bytes: u64,
    /// True when the weights are synthetic (same shapes, pseudo-random values).
    pub synthetic: bool,
    #[serde(default)]
    pub seed: Option<u64>,
}

/// Run parameters that define a test (beyond the scenario).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Parameters {
    pub threads: usize,
    /// Backend options as given (`batch=512`…).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    Ok,
    Failed {
        reason: String,
    },
    Skipped {
        reason: String,
    },
    /// The run was stopped (Ctrl-C) or died before the test ended; repetitions kept.
    Interrupted {
        reason: String,
    },
}

impl Status {
    pub fn label(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed { .. } => "failed",
            Status::Skipped { .. } => "skipped",
            Status::Interrupted { .. } => "interrupted",
        }
    }
    pub fn reason(&self) -> Option<&str> {
        match self {
            Status::Ok => None,
            Status::Failed { reason }
            | Status::Skipped { reason }
            | Status::Interrupted { reason } => Some(reason),
        }
    }
}

/// What the sensors saw during a test. Every field is optional: a missing sensor is absent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SensorSummary {
    /// Names of the sensors that were read.
    #[serde(default)]
    pub sensors: Vec<String>,
    pub samples: usize,
    pub max_temp_c: Option<f64>,
    pub min_clock_mhz: Option<f64>,
    pub avg_clock_mhz: Option<f64>,
    pub max_clock_mhz: Option<f64>,
    pub avg_cpu_percent: Option<f64>,
    /// Energy per phase (`prefill`, `decode`…), joules.
    #[serde(default)]
    pub energy_j: BTreeMap<String, f64>,
    /// Average power per phase, watts.
    #[serde(default)]
    pub avg_power_w: BTreeMap<String, f64>,
    pub peak_power_w: Option<f64>,
    /// File holding the full timeline, relative to the results file (format: see
    /// [`crate::timeline_file`]).
    #[serde(default)]
    pub timeline_file: Option<String>,
    /// `[from, to]` of this test on the timeline file's clock, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline_span_s: Option<[f64; 2]>,
    /// Repetitions flagged as throttled (None: no sensor could tell; see
    /// [`crate::throttling`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttled_repetitions: Option<usize>,
    /// Why repetitions were flagged, each cause once (`vcgencmd/throttled`,
    /// `cgroup/nr_throttled +12`, `CPU clock at 62% of its maximum`…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub throttle_reasons: Vec<String>,
    /// The wait for the device to cool down before this test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<Cooldown>,
}

/// The wait before a test until the hottest temperature sensor was back within a margin of
/// the idle baseline measured when the run started.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Cooldown {
    pub waited_s: f64,
    /// Idle temperature at the start of the run, °C.
    pub baseline_c: f64,
    /// Temperature when the wait began and when it ended, °C.
    pub start_c: f64,
    pub end_c: f64,
    /// False when the wait hit its time limit before the temperature came back.
    pub reached: bool,
}

/// A soak test: one workload run back to back for a set time, its decode rate per window.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SoakSummary {
    /// Requested duration and window length, seconds.
    pub duration_s: f64,
    pub window_s: f64,
    pub windows: Vec<SoakWindow>,
    /// Decode rate of the last window relative to the first, percent (−30: 30% slower).
    #[serde(default)]
    pub change_percent: Option<f64>,
}

/// One window of a soak test. Times are seconds from the start of the soak.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SoakWindow {
    pub start_s: f64,
    pub end_s: f64,
    /// Tokens generated in the window and the decode rate over their decode time.
    pub tokens: usize,
    pub tg_tps: Option<f64>,
    /// Hottest temperature seen, mean CPU clock and mean total power in the window.
    pub max_temp_c: Option<f64>,
    pub avg_clock_mhz: Option<f64>,
    pub avg_power_w: Option<f64>,
    pub throttled: Option<bool>,
}

/// Metric names used in `metrics` and `summary`.
pub mod metric {
    /// Prompt processing rate, tokens/s.
    pub const PP_TPS: &str = "pp_tps";
    /// Token generation rate, tokens/s.
    pub const TG_TPS: &str = "tg_tps";
    /// Time to first token, seconds.
    pub const TTFT_S: &str = "ttft_s";
    /// Inter-token latency percentiles within a repetition, seconds.
    pub const ITL_P50_S: &str = "itl_p50_s";
    pub const ITL_P90_S: &str = "itl_p90_s";
    pub const ITL_P99_S: &str = "itl_p99_s";
    /// Energy per token, joules (prefill and decode apart).
    pub const PREFILL_J_PER_TOKEN: &str = "prefill_j_per_token";
    pub const DECODE_J_PER_TOKEN: &str = "decode_j_per_token";
    /// Average power of the whole device during the phase, watts.
    pub const PREFILL_POWER_W: &str = "prefill_power_w";
    pub const DECODE_POWER_W: &str = "decode_power_w";
    /// Rate per watt: tokens/s ÷ average W over the phase (= tokens per joule).
    pub const PP_TPS_PER_W: &str = "pp_tps_per_w";
    pub const TG_TPS_PER_W: &str = "tg_tps_per_w";
    /// The memory-bandwidth roofline of token generation: weight bytes read per token ÷
    /// measured read bandwidth gives the ceiling in t/s; the percent is tg t/s of it.
    pub const ROOFLINE_CEILING_TPS: &str = "roofline_ceiling_tps";
    pub const ROOFLINE_PERCENT: &str = "roofline_percent";
    /// Speech (see `crate::speech`): seconds of the log-mel spectrogram.
    pub const MEL_S: &str = "mel_s";
    /// Speech: seconds in the audio encoder.
    pub const ENCODE_S: &str = "encode_s";
    /// Speech: seconds of a whole transcription (mel + encoder + decoder prompt + steps).
    pub const TRANSCRIBE_S: &str = "transcribe_s";
    /// Speech: real-time factor as "× real time": audio seconds ÷ `transcribe_s`. Higher is
    /// better.
    pub const RTF: &str = "rtf";
    /// Speech: `transcribe_s` ÷ audio seconds (RTF as ASR papers define it). Lower is better.
    pub const RTF_INVERSE: &str = "rtf_inverse";
    /// Speech: joules per second of audio transcribed.
    pub const J_PER_AUDIO_S: &str = "j_per_audio_s";
}
