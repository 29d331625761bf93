//! The Sensor seam: one source of readings (a thermal zone, cpufreq, a RAPL counter…).
//!
//! Sensors are discovered at start-up; a missing one is simply absent, never an error. Every
//! path is read under a [`SysRoot`], so tests run against fixture trees copied from real
//! devices (see `harness/tests/fixtures/`). Units follow the kernel's sysfs ABI documents
//! (Documentation/ABI/testing/sysfs-class-thermal, sysfs-devices-system-cpu,
//! sysfs-class-powercap) and are converted to °C, MHz, W and J here.

mod cpufreq;
mod process;
mod rapl;
mod thermal;

pub use cpufreq::CpuFreq;
pub use process::ProcessLoad;
pub use rapl::Rapl;
pub use thermal::ThermalZones;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::sync::Arc;

/// What a reading measures, with its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    /// Degrees Celsius.
    TemperatureC,
    /// Clock frequency, MHz.
    ClockMhz,
    /// Power, watts.
    PowerW,
    /// Cumulative energy since the sensor was opened, joules (counter wrap already undone).
    EnergyJ,
    /// CPU utilisation, percent of all cores.
    CpuPercent,
    /// Memory, bytes.
    MemoryBytes,
}

/// One value from one channel of a sensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// Stable channel name, e.g. `thermal/cpu-thermal`, `cpufreq/cpu0`, `rapl/package-0`.
    pub channel: String,
    pub quantity: Quantity,
    pub value: f64,
    /// This channel measures the whole device (or package) and is summed into the total
    /// energy/power; sub-rails that are part of another channel are `false`.
    #[serde(default)]
    pub total: bool,
}

/// A source of readings, polled by the sampler thread.
pub trait Sensor: Send {
    /// Short name for listings (`thermal`, `cpufreq`, `rapl`, `process`).
    fn name(&self) -> &str;
    /// Read every channel now. An error is a warning for this sample; the run goes on.
    fn read(&mut self) -> Result<Vec<Reading>, String>;
}

/// The filesystem root that `/sys` and `/proc` paths are read under (`/` on a real machine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysRoot(PathBuf);

impl Default for SysRoot {
    fn default() -> Self {
        Self(PathBuf::from("/"))
    }
}

impl SysRoot {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self(path.into())
    }

    /// `absolute` ("/sys/class/thermal") under this root.
    pub fn path(&self, absolute: &str) -> PathBuf {
        self.0.join(absolute.trim_start_matches('/'))
    }

    /// Contents of a file, trimmed; `None` when it cannot be read.
    pub fn read_trimmed(&self, absolute: &str) -> Option<String> {
        read_trimmed(&self.path(absolute))
    }
}

pub(crate) fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Parse a sysfs integer file, with an error that names the file.
pub(crate) fn read_number(path: &Path) -> Result<f64, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.trim().parse::<f64>().map_err(|_| {
        format!(
            "{}: not a number: {:?}",
            path.display(),
            truncate(text.trim(), 40)
        )
    })
}

fn truncate(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// Entries of `dir` whose file name starts with `prefix`, sorted naturally (zone2 before zone10).
pub(crate) fn entries_with_prefix(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|p| natural_key(p));
    found
}

fn natural_key(p: &Path) -> (String, u64) {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let digits: String = name
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let num = digits
        .chars()
        .rev()
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    (name[..name.len() - digits.len()].to_string(), num)
}

/// Every sensor this machine has. `worker_pid` is the process whose memory is tracked
/// (0 while no worker runs).
pub fn discover(root: &SysRoot, worker_pid: Arc<AtomicU32>) -> Vec<Box<dyn Sensor>> {
    let mut sensors: Vec<Box<dyn Sensor>> = Vec::new();
    if let Some(s) = ThermalZones::discover(root) {
        sensors.push(Box::new(s));
    }
    if let Some(s) = CpuFreq::discover(root) {
        sensors.push(Box::new(s));
    }
    if let Some(s) = Rapl::discover(root) {
        sensors.push(Box::new(s));
    }
    // Process load comes from the OS (sysinfo), not from the fixture root.
    if *root == SysRoot::default() {
        sensors.push(Box::new(ProcessLoad::new(worker_pid)));
    }
    sensors
}
