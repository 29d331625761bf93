//! The Sensor seam: one source of readings (a thermal zone, cpufreq, a RAPL counter…).
//!
//! Sensors are discovered at start-up; a missing one is simply absent, never an error. Every
//! path is read under a [`SysRoot`], so tests run against fixture trees copied from real
//! devices (see `harness/tests/fixtures/`). Units follow the kernel's sysfs ABI documents
//! (Documentation/ABI/testing/sysfs-class-thermal, sysfs-devices-system-cpu,
//! sysfs-class-powercap, sysfs-class-hwmon) and are converted to °C, MHz, W, J, V and A here.
//! Sensors that run a command (`vcgencmd`, `nvpmodel`, `powermetrics`) find it through
//! [`SysRoot::command`], so fixture trees carry small scripts that print recorded output.

mod apple_powermetrics;
mod cgroup;
mod command;
mod cooling;
mod cpufreq;
mod hwmon;
mod jetson;
mod nvml;
mod process;
mod rapl;
mod thermal;
mod thermal_throttle;
mod vcgencmd;

// macOS power and thermal pressure: compiled on macOS only, with a twin elsewhere that says why.
#[cfg_attr(target_os = "macos", path = "apple_macos.rs")]
#[cfg_attr(not(target_os = "macos"), path = "apple_disabled.rs")]
mod apple;

pub use apple_powermetrics::{parse_powermetrics, PowerMetrics, PowermetricsSample};
pub use cgroup::CgroupCpu;
pub use command::run_command;
pub use cooling::CoolingDevices;
pub use cpufreq::CpuFreq;
pub use hwmon::Hwmon;
pub use jetson::{nvpmodel_mode, parse_nvpmodel, parse_tegra_release, JetsonGpu};
pub use nvml::{decode_clock_event_reasons, gpu_names, Nvml, CLOCK_EVENT_REASONS};
pub use process::ProcessLoad;
pub use rapl::Rapl;
pub use thermal::ThermalZones;
pub use thermal_throttle::ThermalThrottle;
pub use vcgencmd::{decode_throttled, parse_pmic_read_adc, ThrottledBit, Vcgencmd, THROTTLED_BITS};

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
    /// Voltage, volts.
    VoltageV,
    /// Current, amperes.
    CurrentA,
    /// Utilisation of an accelerator (GPU), percent.
    LoadPercent,
    /// Clock as a fraction of its rated maximum (1.0 = at max); the throttle rule reads it.
    ClockRatio,
    /// 1 while the device reports that it is throttling (or capped) now, else 0.
    ThrottleFlag,
    /// A count of throttle events that only grows; an increase means throttling happened.
    ThrottleCount,
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

    /// Whether this is the real machine's root (`/`), where OS APIs (NVML, sysinfo, process
    /// ids) describe the same machine as the files.
    pub fn is_live(&self) -> bool {
        self.0 == Path::new("/")
    }

    /// An executable by name: on the real machine from `PATH` (and the sbin folders, where
    /// `nvpmodel` lives); under a fixture root only from its `usr/bin` and `usr/sbin`, so
    /// tests run recorded scripts and never the host's tools.
    pub fn command(&self, name: &str) -> Option<PathBuf> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        if self.is_live() {
            if let Some(path) = std::env::var_os("PATH") {
                dirs.extend(std::env::split_paths(&path));
            }
            dirs.extend(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
        } else {
            dirs.extend(["usr/bin", "usr/sbin"].map(|d| self.0.join(d)));
        }
        dirs.into_iter()
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
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

/// A sensor kind this machine does not have, and why (shown by `edgebench device`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absent {
    pub name: &'static str,
    pub reason: String,
}

/// Every sensor this machine has. `worker_pid` is the process whose memory is tracked
/// (0 while no worker runs).
pub fn discover(root: &SysRoot, worker_pid: Arc<AtomicU32>) -> Vec<Box<dyn Sensor>> {
    survey(root, worker_pid).0
}

/// Every sensor kind edgebench knows: the ones found, and the others with the reason.
pub fn survey(root: &SysRoot, worker_pid: Arc<AtomicU32>) -> (Vec<Box<dyn Sensor>>, Vec<Absent>) {
    let mut found: Vec<Box<dyn Sensor>> = Vec::new();
    let mut absent = Vec::new();
    let mut add = |name: &'static str, probe: Result<Box<dyn Sensor>, String>| match probe {
        Ok(s) => found.push(s),
        Err(reason) => absent.push(Absent { name, reason }),
    };
    fn boxed<S: Sensor + 'static>(s: S) -> Box<dyn Sensor> {
        Box::new(s)
    }
    add(
        "thermal",
        ThermalZones::discover(root)
            .map(boxed)
            .ok_or_else(|| "no readable /sys/class/thermal/thermal_zone*/temp".into()),
    );
    add(
        "cpufreq",
        CpuFreq::discover(root).map(boxed).ok_or_else(|| {
            "no readable /sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq".into()
        }),
    );
    add(
        "rapl",
        Rapl::discover(root).map(boxed).ok_or_else(|| {
            if root.path("/sys/class/powercap").exists() {
                "/sys/class/powercap has no readable intel-rapl energy_uj (root only on kernels ≥ 5.10)"
                    .into()
            } else {
                "no /sys/class/powercap (no RAPL driver, or a virtual machine)".into()
            }
        }),
    );
    add("hwmon", Hwmon::discover(root).map(boxed));
    add("cooling", CoolingDevices::discover(root).map(boxed));
    add(
        "thermal_throttle",
        ThermalThrottle::discover(root).map(boxed),
    );
    add(
        "cgroup",
        CgroupCpu::discover(root, Arc::clone(&worker_pid)).map(boxed),
    );
    add("vcgencmd", Vcgencmd::discover(root).map(boxed));
    add("jetson_gpu", JetsonGpu::discover(root).map(boxed));
    // NVML, powermetrics and the process table describe the live machine, not a fixture tree.
    if root.is_live() {
        add("nvml", Nvml::discover(Arc::clone(&worker_pid)).map(boxed));
        add("apple", apple::discover());
        found.push(Box::new(ProcessLoad::new(worker_pid)));
    }
    (found, absent)
}
