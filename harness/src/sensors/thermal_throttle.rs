//! Intel thermal throttle counters: `/sys/devices/system/cpu/cpu*/thermal_throttle/
//! {core,package}_throttle_count`, counts of "PROCHOT" thermal events that only grow (kernel
//! ABI: sysfs-devices-system-cpu, "thermal_throttle"; written by arch/x86 therm_throt.c).
//!
//! Channels with [`Quantity::ThrottleCount`]: `thermal_throttle/core` (sum over CPUs) and
//! `thermal_throttle/package` (sum over physical packages; every CPU of a package shows the
//! same package count, so it is taken once per `topology/physical_package_id`).

use super::{entries_with_prefix, read_number, read_trimmed, Quantity, Reading, Sensor, SysRoot};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct ThermalThrottle {
    cores: Vec<PathBuf>,
    /// One package counter per physical package.
    packages: Vec<PathBuf>,
}

impl ThermalThrottle {
    pub fn discover(root: &SysRoot) -> Result<Self, String> {
        let mut cores = Vec::new();
        let mut packages: BTreeMap<String, PathBuf> = BTreeMap::new();
        for dir in entries_with_prefix(&root.path("/sys/devices/system/cpu"), "cpu") {
            let dir_name = dir.file_name().unwrap_or_default().to_string_lossy();
            if !dir_name[3..].chars().all(|c| c.is_ascii_digit()) || dir_name.len() <= 3 {
                continue;
            }
            let throttle = dir.join("thermal_throttle");
            let core = throttle.join("core_throttle_count");
            if read_number(&core).is_ok() {
                cores.push(core);
            }
            let package = throttle.join("package_throttle_count");
            if read_number(&package).is_ok() {
                let id = read_trimmed(&dir.join("topology/physical_package_id"))
                    .unwrap_or_else(|| "0".into());
                packages.entry(id).or_insert(package);
            }
        }
        if cores.is_empty() && packages.is_empty() {
            return Err(
                "no /sys/devices/system/cpu/cpu*/thermal_throttle counters (Intel CPUs only)"
                    .into(),
            );
        }
        Ok(Self {
            cores,
            packages: packages.into_values().collect(),
        })
    }
}

fn sum(paths: &[PathBuf]) -> Result<Option<f64>, String> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut total = 0.0;
    for p in paths {
        total += read_number(p)?;
    }
    Ok(Some(total))
}

impl Sensor for ThermalThrottle {
    fn name(&self) -> &str {
        "thermal_throttle"
    }

    fn read(&mut self) -> Result<Vec<Reading>, String> {
        let mut readings = Vec::new();
        for (channel, paths) in [
            ("thermal_throttle/core", &self.cores),
            ("thermal_throttle/package", &self.packages),
        ] {
            if let Some(value) = sum(paths)? {
                readings.push(Reading {
                    channel: channel.into(),
                    quantity: Quantity::ThrottleCount,
                    value,
                    total: false,
                });
            }
        }
        Ok(readings)
    }
}
