//! Intel/AMD RAPL energy counters: `/sys/class/powercap/intel-rapl:N[:M]/energy_uj`, a
//! microjoule counter that wraps at `max_energy_range_uj` (kernel ABI: sysfs-class-powercap).
//! Readable only by root on kernels ≥ 5.10; unreadable zones are left out.
//!
//! Top-level zones (`intel-rapl:N`, named `package-N`, or `psys`) count toward the device total;
//! sub-zones (`core`, `uncore`, `dram`) are reported but not added, since the package already
//! includes core and uncore. Where a `psys` zone exists it covers the whole SoC and is the only
//! total.

use super::{entries_with_prefix, read_number, read_trimmed, Quantity, Reading, Sensor, SysRoot};
use std::path::PathBuf;

struct Zone {
    channel: String,
    energy: PathBuf,
    range_uj: f64,
    total: bool,
    last_uj: Option<f64>,
    accumulated_j: f64,
}

pub struct Rapl {
    zones: Vec<Zone>,
}

impl Rapl {
    pub fn discover(root: &SysRoot) -> Option<Self> {
        let dir = root.path("/sys/class/powercap");
        let mut zones: Vec<Zone> = entries_with_prefix(&dir, "intel-rapl:")
            .into_iter()
            .filter_map(|zone| {
                let energy = zone.join("energy_uj");
                read_number(&energy).ok()?;
                let id = zone.file_name()?.to_string_lossy().into_owned();
                let name = read_trimmed(&zone.join("name")).unwrap_or_else(|| id.clone());
                let top_level = id.matches(':').count() == 1;
                Some(Zone {
                    channel: format!("rapl/{name}"),
                    energy,
                    range_uj: read_number(&zone.join("max_energy_range_uj")).unwrap_or(f64::MAX),
                    total: top_level,
                    last_uj: None,
                    accumulated_j: 0.0,
                })
            })
            .collect();
        if zones.iter().any(|z| z.total && z.channel == "rapl/psys") {
            for z in zones.iter_mut() {
                z.total = z.channel == "rapl/psys";
            }
        }
        (!zones.is_empty()).then_some(Self { zones })
    }
}

/// Energy between two counter readings, undoing one wrap at `range`.
pub fn counter_delta(previous: f64, now: f64, range: f64) -> f64 {
    if now >= previous {
        now - previous
    } else {
        range - previous + now
    }
}

impl Sensor for Rapl {
    fn name(&self) -> &str {
        "rapl"
    }

    fn read(&mut self) -> Result<Vec<Reading>, String> {
        let mut readings = Vec::with_capacity(self.zones.len());
        let mut errors = Vec::new();
        for zone in &mut self.zones {
            match read_number(&zone.energy) {
                Ok(uj) => {
                    if let Some(last) = zone.last_uj {
                        zone.accumulated_j += counter_delta(last, uj, zone.range_uj) / 1e6;
                    }
                    zone.last_uj = Some(uj);
                    readings.push(Reading {
                        channel: zone.channel.clone(),
                        quantity: Quantity::EnergyJ,
                        value: zone.accumulated_j,
                        total: zone.total,
                    });
                }
                Err(e) => errors.push(e),
            }
        }
        if readings.is_empty() && !errors.is_empty() {
            return Err(errors.join("; "));
        }
        Ok(readings)
    }
}
