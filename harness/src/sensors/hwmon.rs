//! hwmon chips: `/sys/class/hwmon/hwmon*/` (kernel ABI: Documentation/ABI/testing/
//! sysfs-class-hwmon). Files and units: `temp*_input` m°C, `power*_input`/`power*_average` µW,
//! `energy*_input` µJ (cumulative), `in*_input` mV, `curr*_input` mA, each named by an optional
//! `*_label`. Channels are `hwmon/<chip>/<label or file stem>`.
//!
//! TI INA3221 power monitors (the `ina3221` chip on NVIDIA Jetson modules) are read as rails:
//! power = bus voltage `inN_input` × current `currN_input`, per labelled channel, leaving out
//! channels labelled `NC` (not connected) and channel 7 (the sum of shunt voltages). The rail
//! `VDD_IN` (or `POM_5V_IN` on older modules) is the whole module and the only one counted
//! toward the device total; boards without one (AGX Orin) count every rail. This is what
//! jetson_stats does (rbonghi/jetson_stats, jtop/core/power.py) after NVIDIA's forum answers
//! on Jetson power monitoring.
//!
//! Other chips' power and energy channels are reported but not counted toward the device
//! total: which part of the machine they cover differs from chip to chip (a GPU, a socket…).
//! Over-current event counters (`oc*_event_cnt`, Jetson Orin's soctherm) are throttle counts.

use super::{entries_with_prefix, read_number, read_trimmed, Quantity, Reading, Sensor, SysRoot};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

enum Item {
    /// A value file read as is, times `scale`.
    Plain {
        channel: String,
        path: PathBuf,
        quantity: Quantity,
        scale: f64,
    },
    /// A cumulative µJ counter, reported as joules since discovery.
    Energy {
        channel: String,
        path: PathBuf,
        last_uj: Option<f64>,
        accumulated_j: f64,
    },
    /// An INA3221 channel: mV × mA.
    Rail {
        channel: String,
        volt: PathBuf,
        curr: PathBuf,
        total: bool,
    },
}

pub struct Hwmon {
    items: Vec<Item>,
    /// Chip names, for listings.
    pub chips: Vec<String>,
}

/// `temp12_input` → (`temp`, 12, `input`).
fn split_attribute(file: &str) -> Option<(&str, u32, &str)> {
    let letters = file.find(|c: char| c.is_ascii_digit())?;
    let rest = &file[letters..];
    let digits = rest.find('_')?;
    let n = rest[..digits].parse().ok()?;
    Some((&file[..letters], n, &rest[digits + 1..]))
}

impl Hwmon {
    pub fn discover(root: &SysRoot) -> Result<Self, String> {
        let class = root.path("/sys/class/hwmon");
        let chips_dirs = entries_with_prefix(&class, "hwmon");
        if chips_dirs.is_empty() {
            return Err("no /sys/class/hwmon chips".into());
        }
        let mut items = Vec::new();
        let mut chips = Vec::new();
        let mut used: HashSet<String> = HashSet::new();
        for dir in chips_dirs {
            // Old-style drivers keep their files under `device/`.
            let dir = if dir.join("name").exists() {
                dir
            } else {
                dir.join("device")
            };
            let Some(chip) = read_trimmed(&dir.join("name")).filter(|n| !n.is_empty()) else {
                continue;
            };
            let hwmon = dir
                .components()
                .rev()
                .find_map(|c| {
                    let s = c.as_os_str().to_string_lossy();
                    s.starts_with("hwmon").then(|| s.into_owned())
                })
                .unwrap_or_default();
            let mut unique = |label: &str| {
                let name = format!("hwmon/{chip}/{label}");
                let name = if used.contains(&name) {
                    format!("hwmon/{chip}-{hwmon}/{label}")
                } else {
                    name
                };
                used.insert(name.clone());
                name
            };
            let before = items.len();
            if chip == "ina3221" {
                ina3221_rails(&dir, &mut items, &mut unique);
            } else {
                plain_items(&dir, &mut items, &mut unique);
            }
            if items.len() > before {
                chips.push(chip);
            }
        }
        // INA3221: one whole-module rail if the board has it, else all rails (see above).
        let module_rail = items.iter().any(|i| {
            matches!(i, Item::Rail { channel, .. }
                if channel.ends_with("/VDD_IN") || channel.ends_with("/POM_5V_IN"))
        });
        if module_rail {
            for item in items.iter_mut() {
                if let Item::Rail { channel, total, .. } = item {
                    *total = channel.ends_with("/VDD_IN") || channel.ends_with("/POM_5V_IN");
                }
            }
        }
        if items.is_empty() {
            return Err(
                "hwmon chips have no readable temperature, power, energy, voltage or current"
                    .into(),
            );
        }
        Ok(Self { items, chips })
    }
}

fn sorted_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    files.sort_by_key(|f| split_attribute(f).map(|(p, n, s)| (p.to_string(), n, s.to_string())));
    files
}

fn label(dir: &Path, prefix: &str, n: u32) -> String {
    read_trimmed(&dir.join(format!("{prefix}{n}_label")))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| format!("{prefix}{n}"))
}

fn plain_items(dir: &Path, items: &mut Vec<Item>, unique: &mut impl FnMut(&str) -> String) {
    let mut seen_power: HashSet<u32> = HashSet::new();
    for file in sorted_files(dir) {
        let Some((prefix, n, suffix)) = split_attribute(&file) else {
            continue;
        };
        let path = dir.join(&file);
        let (quantity, scale) = match (prefix, suffix) {
            ("temp", "input") => (Quantity::TemperatureC, 1e-3),
            // Prefer the instantaneous reading; `power*_average` when that is all there is.
            ("power", "input") | ("power", "average") => (Quantity::PowerW, 1e-6),
            ("in", "input") => (Quantity::VoltageV, 1e-3),
            ("curr", "input") => (Quantity::CurrentA, 1e-3),
            ("energy", "input") => (Quantity::EnergyJ, 1e-6),
            ("oc", "event_cnt") => (Quantity::ThrottleCount, 1.0),
            _ => continue,
        };
        if read_number(&path).is_err() {
            continue;
        }
        if quantity == Quantity::PowerW && !seen_power.insert(n) {
            continue;
        }
        let channel = match quantity {
            Quantity::ThrottleCount => unique(&format!("oc{n}_events")),
            _ => unique(&label(dir, prefix, n)),
        };
        items.push(match quantity {
            Quantity::EnergyJ => Item::Energy {
                channel,
                path,
                last_uj: None,
                accumulated_j: 0.0,
            },
            _ => Item::Plain {
                channel,
                path,
                quantity,
                scale,
            },
        });
    }
}

fn ina3221_rails(dir: &Path, items: &mut Vec<Item>, unique: &mut impl FnMut(&str) -> String) {
    for file in sorted_files(dir) {
        let Some(("in", n, "label")) = split_attribute(&file) else {
            // Over-current counters live on the same chip on Orin.
            if let Some(("oc", n, "event_cnt")) = split_attribute(&file) {
                if read_number(&dir.join(&file)).is_ok() {
                    items.push(Item::Plain {
                        channel: unique(&format!("oc{n}_events")),
                        path: dir.join(&file),
                        quantity: Quantity::ThrottleCount,
                        scale: 1.0,
                    });
                }
            }
            continue;
        };
        let Some(name) = read_trimmed(&dir.join(&file)) else {
            continue;
        };
        if n == 7 || name.is_empty() || name.contains("NC") {
            continue;
        }
        let volt = dir.join(format!("in{n}_input"));
        let curr = dir.join(format!("curr{n}_input"));
        if read_number(&volt).is_err() || read_number(&curr).is_err() {
            continue;
        }
        items.push(Item::Rail {
            channel: unique(&name),
            volt,
            curr,
            total: true,
        });
    }
}

impl Sensor for Hwmon {
    fn name(&self) -> &str {
        "hwmon"
    }

    fn read(&mut self) -> Result<Vec<Reading>, String> {
        let mut readings = Vec::with_capacity(self.items.len());
        let mut errors = Vec::new();
        for item in &mut self.items {
            let reading = match item {
                Item::Plain {
                    channel,
                    path,
                    quantity,
                    scale,
                } => read_number(path).map(|v| Reading {
                    channel: channel.clone(),
                    quantity: *quantity,
                    value: v * *scale,
                    total: false,
                }),
                Item::Energy {
                    channel,
                    path,
                    last_uj,
                    accumulated_j,
                } => read_number(path).map(|uj| {
                    // hwmon energy counters are 64-bit and do not wrap in practice; a counter
                    // that goes back (driver reloaded) restarts from there.
                    if let Some(last) = *last_uj {
                        if uj >= last {
                            *accumulated_j += (uj - last) / 1e6;
                        }
                    }
                    *last_uj = Some(uj);
                    Reading {
                        channel: channel.clone(),
                        quantity: Quantity::EnergyJ,
                        value: *accumulated_j,
                        total: false,
                    }
                }),
                Item::Rail {
                    channel,
                    volt,
                    curr,
                    total,
                } => read_number(volt).and_then(|mv| {
                    read_number(curr).map(|ma| Reading {
                        channel: channel.clone(),
                        quantity: Quantity::PowerW,
                        value: mv * ma / 1e6,
                        total: *total,
                    })
                }),
            };
            match reading {
                Ok(r) => readings.push(r),
                Err(e) => errors.push(e),
            }
        }
        if readings.is_empty() && !errors.is_empty() {
            return Err(errors.join("; "));
        }
        Ok(readings)
    }
}

#[cfg(test)]
mod tests {
    use super::split_attribute;

    #[test]
    fn attribute_names() {
        assert_eq!(split_attribute("temp12_input"), Some(("temp", 12, "input")));
        assert_eq!(
            split_attribute("oc1_event_cnt"),
            Some(("oc", 1, "event_cnt"))
        );
        assert_eq!(split_attribute("name"), None);
        assert_eq!(
            split_attribute("power1_average"),
            Some(("power", 1, "average"))
        );
    }
}
