//! CPU clocks: `/sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq` in kHz
//! (kernel ABI: sysfs-devices-system-cpu). Channels `cpufreq/cpuN` in MHz, and
//! `cpufreq/ratio`: the fastest CPU's clock as a fraction of its rated maximum
//! (`cpuinfo_max_freq`), which the throttle rule reads (see `crate::throttling`). A cap on
//! `scaling_max_freq` (by a user, a thermal daemon or a power mode) shows there too.

use super::{entries_with_prefix, read_number, Quantity, Reading, Sensor, SysRoot};
use std::path::PathBuf;

pub struct CpuFreq {
    /// (channel, scaling_cur_freq path, rated max kHz)
    cpus: Vec<(String, PathBuf, Option<f64>)>,
    /// Highest rated clock over all CPUs (`cpuinfo_max_freq`), MHz.
    pub max_mhz: Option<f64>,
}

impl CpuFreq {
    pub fn discover(root: &SysRoot) -> Option<Self> {
        let mut max_mhz: Option<f64> = None;
        let cpus: Vec<(String, PathBuf, Option<f64>)> =
            entries_with_prefix(&root.path("/sys/devices/system/cpu"), "cpu")
                .into_iter()
                .filter(|dir| {
                    let name = dir.file_name().unwrap_or_default().to_string_lossy();
                    name[3..].chars().all(|c| c.is_ascii_digit()) && name.len() > 3
                })
                .filter_map(|dir| {
                    let cur = dir.join("cpufreq/scaling_cur_freq");
                    read_number(&cur).ok()?;
                    let max_khz = read_number(&dir.join("cpufreq/cpuinfo_max_freq"))
                        .ok()
                        .filter(|k| *k > 0.0);
                    if let Some(khz) = max_khz {
                        max_mhz = Some(max_mhz.unwrap_or(0.0).max(khz / 1000.0));
                    }
                    let name = dir
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned();
                    Some((format!("cpufreq/{name}"), cur, max_khz))
                })
                .collect();
        (!cpus.is_empty()).then_some(Self { cpus, max_mhz })
    }
}

impl Sensor for CpuFreq {
    fn name(&self) -> &str {
        "cpufreq"
    }

    fn read(&mut self) -> Result<Vec<Reading>, String> {
        let mut readings = Vec::with_capacity(self.cpus.len());
        let mut errors = Vec::new();
        let mut ratio: Option<f64> = None;
        for (channel, path, max_khz) in &self.cpus {
            match read_number(path) {
                Ok(khz) => {
                    readings.push(Reading {
                        channel: channel.clone(),
                        quantity: Quantity::ClockMhz,
                        value: khz / 1000.0,
                        total: false,
                    });
                    if let Some(max) = max_khz {
                        ratio = Some(ratio.unwrap_or(0.0).max(khz / max));
                    }
                }
                // A CPU taken offline mid-run loses its cpufreq files: skip it.
                Err(e) => errors.push(e),
            }
        }
        if readings.is_empty() && !errors.is_empty() {
            return Err(errors.join("; "));
        }
        if let Some(value) = ratio {
            readings.push(Reading {
                channel: "cpufreq/ratio".into(),
                quantity: Quantity::ClockRatio,
                value,
                total: false,
            });
        }
        Ok(readings)
    }
}
