//! Thermal cooling devices that slow the machine down: `/sys/class/thermal/cooling_device*/`
//! with `type`, `cur_state` and `max_state` (kernel ABI: sysfs-class-thermal). A passive
//! cooling device (cpufreq or devfreq capping, Jetson's `cpu-balanced`/`gpu-balanced`, ACPI
//! `Processor`) above state 0 means the kernel is capping clocks for temperature: the device's
//! own "I am throttling" flag. Fans are active cooling and are left out (a spinning fan slows
//! nothing down).
//!
//! Channels `cooling/<type>` with [`Quantity::ThrottleFlag`]: 1 while `cur_state > 0`.

use super::{entries_with_prefix, read_number, read_trimmed, Quantity, Reading, Sensor, SysRoot};
use std::path::PathBuf;

pub struct CoolingDevices {
    devices: Vec<(String, PathBuf)>,
}

/// Cooling device types that cap performance (as the kernel's thermal drivers name them).
fn caps_performance(kind: &str) -> bool {
    let k = kind.to_ascii_lowercase();
    k.starts_with("cpufreq")
        || k.starts_with("thermal-cpufreq")
        || k.starts_with("devfreq")
        || k.starts_with("thermal-devfreq")
        || k.ends_with("-balanced")
        || k == "processor"
        || k == "intel_powerclamp"
}

impl CoolingDevices {
    pub fn discover(root: &SysRoot) -> Result<Self, String> {
        let devices: Vec<(String, PathBuf)> =
            entries_with_prefix(&root.path("/sys/class/thermal"), "cooling_device")
                .into_iter()
                .filter_map(|dir| {
                    let kind = read_trimmed(&dir.join("type"))?;
                    if !caps_performance(&kind) {
                        return None;
                    }
                    let state = dir.join("cur_state");
                    read_number(&state).ok()?;
                    Some((kind, state))
                })
                .collect();
        let mut seen = std::collections::HashMap::<String, usize>::new();
        let devices: Vec<(String, PathBuf)> = devices
            .into_iter()
            .map(|(kind, state)| {
                let n = seen.entry(kind.clone()).or_default();
                *n += 1;
                let channel = if *n == 1 {
                    format!("cooling/{kind}")
                } else {
                    format!("cooling/{kind}.{n}")
                };
                (channel, state)
            })
            .collect();
        if devices.is_empty() {
            return Err("no clock-capping cooling device in /sys/class/thermal".into());
        }
        Ok(Self { devices })
    }
}

impl Sensor for CoolingDevices {
    fn name(&self) -> &str {
        "cooling"
    }

    fn read(&mut self) -> Result<Vec<Reading>, String> {
        let mut readings = Vec::new();
        let mut errors = Vec::new();
        for (channel, path) in &self.devices {
            match read_number(path) {
                Ok(state) => readings.push(Reading {
                    channel: channel.clone(),
                    quantity: Quantity::ThrottleFlag,
                    value: if state > 0.0 { 1.0 } else { 0.0 },
                    total: false,
                }),
                Err(e) => errors.push(e),
            }
        }
        if readings.is_empty() && !errors.is_empty() {
            return Err(errors.join("; "));
        }
        Ok(readings)
    }
}
