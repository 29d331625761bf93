//! Thermal zones: `/sys/class/thermal/thermal_zone*/temp` in millidegrees Celsius, named by
//! the zone's `type` file (kernel ABI: sysfs-class-thermal).

use super::{entries_with_prefix, read_number, read_trimmed, Quantity, Reading, Sensor, SysRoot};
use std::path::PathBuf;

pub struct ThermalZones {
    zones: Vec<(String, PathBuf)>,
}

impl ThermalZones {
    pub fn discover(root: &SysRoot) -> Option<Self> {
        let zones: Vec<(String, PathBuf)> =
            entries_with_prefix(&root.path("/sys/class/thermal"), "thermal_zone")
                .into_iter()
                .filter(|dir| read_number(&dir.join("temp")).is_ok())
                .map(|dir| {
                    let zone = dir
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned();
                    let kind = read_trimmed(&dir.join("type"))
                        .filter(|t| !t.is_empty())
                        .unwrap_or(zone);
                    (format!("thermal/{kind}"), dir.join("temp"))
                })
                .collect();
        (!zones.is_empty()).then_some(Self { zones })
    }
}

impl Sensor for ThermalZones {
    fn name(&self) -> &str {
        "thermal"
    }

    fn read(&mut self) -> Result<Vec<Reading>, String> {
        let mut readings = Vec::with_capacity(self.zones.len());
        let mut errors = Vec::new();
        for (channel, path) in &self.zones {
            match read_number(path) {
                Ok(milli_c) => readings.push(Reading {
                    channel: channel.clone(),
                    quantity: Quantity::TemperatureC,
                    value: milli_c / 1000.0,
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
