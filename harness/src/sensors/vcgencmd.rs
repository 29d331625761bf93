//! Raspberry Pi firmware readings through `vcgencmd` (Raspberry Pi documentation, "vcgencmd":
//! https://www.raspberrypi.com/documentation/computers/os.html#vcgencmd):
//! - `measure_temp` → `temp=52.6'C` (SoC);
//! - `measure_clock arm` → `frequency(0)=2400000000` (Hz);
//! - `get_throttled` → `throttled=0x50005`: bits 0–3 are conditions now (under-voltage, ARM
//!   frequency capped, throttled, soft temperature limit), bits 16–19 the same since boot;
//! - `pmic_read_adc` (Pi 5) → one rail a line, currents (`VDD_CORE_A current(7)=2.15460000A`)
//!   and voltages (`VDD_CORE_V volt(15)=0.86350000V`) apart. Board power is estimated as the sum
//!   of I × V over the rails that have both, as the Raspberry Pi community does; it leaves out
//!   the PMIC's own losses and USB devices, so it is an estimate, and named so.
//!
//! Each call starts a process, so the sensor reads at most once a second (the firmware's
//! figures do not change faster) and gives no readings in between.
//!
//! Channels: `vcgencmd/temp` °C, `vcgencmd/arm_clock` MHz, throttle flags
//! `vcgencmd/<bit>` ([`Quantity::ThrottleFlag`], now) and `vcgencmd/<bit>_occurred`
//! ([`Quantity::ThrottleCount`], 0 → 1 the first time since boot), `vcgencmd/board_power_est`
//! W (counted toward the device total) and `vcgencmd/rail/<name>` W.

use super::{run_command, Quantity, Reading, Sensor, SysRoot};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One condition of `get_throttled`: bit `bit` now, bit `bit + 16` since boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottledBit {
    pub bit: u32,
    /// Channel name part.
    pub name: &'static str,
    pub description: &'static str,
}

pub const THROTTLED_BITS: [ThrottledBit; 4] = [
    ThrottledBit {
        bit: 0,
        name: "under_voltage",
        description: "under-voltage",
    },
    ThrottledBit {
        bit: 1,
        name: "arm_freq_capped",
        description: "ARM frequency capped",
    },
    ThrottledBit {
        bit: 2,
        name: "throttled",
        description: "throttled",
    },
    ThrottledBit {
        bit: 3,
        name: "soft_temp_limit",
        description: "soft temperature limit",
    },
];

/// Every condition of a `get_throttled` value: (condition, now, has occurred since boot).
pub fn decode_throttled(value: u32) -> Vec<(ThrottledBit, bool, bool)> {
    THROTTLED_BITS
        .iter()
        .map(|b| {
            (
                *b,
                value & (1 << b.bit) != 0,
                value & (1 << (b.bit + 16)) != 0,
            )
        })
        .collect()
}

/// `throttled=0x50005` → 0x50005.
pub fn parse_throttled(text: &str) -> Result<u32, String> {
    let v = text
        .trim()
        .strip_prefix("throttled=")
        .ok_or_else(|| format!("get_throttled: unexpected output {:?}", text.trim()))?;
    let hex = v.trim_start_matches("0x").trim_start_matches("0X");
    u32::from_str_radix(hex, 16).map_err(|_| format!("get_throttled: not a hex number: {v:?}"))
}

/// `temp=52.6'C` → 52.6.
fn parse_temp(text: &str) -> Result<f64, String> {
    text.trim()
        .strip_prefix("temp=")
        .map(|v| v.trim_end_matches("'C").trim_end_matches("C"))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("measure_temp: unexpected output {:?}", text.trim()))
}

/// `frequency(0)=2400000000` → 2400 MHz.
fn parse_clock(text: &str) -> Result<f64, String> {
    text.trim()
        .split_once('=')
        .filter(|(k, _)| k.starts_with("frequency"))
        .and_then(|(_, v)| v.trim().parse::<f64>().ok())
        .map(|hz| hz / 1e6)
        .ok_or_else(|| format!("measure_clock arm: unexpected output {:?}", text.trim()))
}

/// Rails of `pmic_read_adc` with both a current and a voltage: (name, watts), in the order
/// the currents are listed. Lines that do not parse are skipped.
pub fn parse_pmic_read_adc(text: &str) -> Vec<(String, f64)> {
    let mut currents: Vec<(String, f64)> = Vec::new();
    let mut volts: Vec<(String, f64)> = Vec::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(label), Some(reading)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Some(value) = reading
            .split_once('=')
            .and_then(|(_, v)| v.trim_end_matches(['A', 'V']).parse::<f64>().ok())
        else {
            continue;
        };
        if let Some(name) = label.strip_suffix("_A") {
            currents.push((name.to_string(), value));
        } else if let Some(name) = label.strip_suffix("_V") {
            volts.push((name.to_string(), value));
        }
    }
    currents
        .into_iter()
        .filter_map(|(name, amps)| {
            let v = volts.iter().find(|(n, _)| *n == name)?.1;
            Some((name, amps * v))
        })
        .collect()
}

pub struct Vcgencmd {
    program: PathBuf,
    has_temp: bool,
    has_clock: bool,
    has_pmic: bool,
    /// Reads at most this often; samples in between get no readings.
    pub min_interval: Duration,
    last: Option<Instant>,
}

const TIMEOUT: Duration = Duration::from_secs(2);

impl Vcgencmd {
    pub fn discover(root: &SysRoot) -> Result<Self, String> {
        let program = root
            .command("vcgencmd")
            .ok_or("no vcgencmd on PATH (Raspberry Pi only)")?;
        let run = |args: &[&str]| run_command(&program, args, TIMEOUT);
        parse_throttled(&run(&["get_throttled"])?)?;
        let has_temp = run(&["measure_temp"]).and_then(|t| parse_temp(&t)).is_ok();
        let has_clock = run(&["measure_clock", "arm"])
            .and_then(|t| parse_clock(&t))
            .is_ok();
        // Only the Pi 5's PMIC answers this.
        let has_pmic = run(&["pmic_read_adc"]).is_ok_and(|t| !parse_pmic_read_adc(&t).is_empty());
        Ok(Self {
            program,
            has_temp,
            has_clock,
            has_pmic,
            min_interval: Duration::from_secs(1),
            last: None,
        })
    }

    /// Whether `pmic_read_adc` gives rails (a Pi 5).
    pub fn has_board_power(&self) -> bool {
        self.has_pmic
    }

    fn run(&self, args: &[&str]) -> Result<String, String> {
        run_command(&self.program, args, TIMEOUT)
    }
}

fn reading(channel: String, quantity: Quantity, value: f64, total: bool) -> Reading {
    Reading {
        channel,
        quantity,
        value,
        total,
    }
}

impl Sensor for Vcgencmd {
    fn name(&self) -> &str {
        "vcgencmd"
    }

    fn read(&mut self) -> Result<Vec<Reading>, String> {
        if self.last.is_some_and(|t| t.elapsed() < self.min_interval) {
            return Ok(Vec::new());
        }
        self.last = Some(Instant::now());
        let mut out = Vec::new();
        let throttled = parse_throttled(&self.run(&["get_throttled"])?)?;
        for (bit, now, occurred) in decode_throttled(throttled) {
            out.push(reading(
                format!("vcgencmd/{}", bit.name),
                Quantity::ThrottleFlag,
                now as u8 as f64,
                false,
            ));
            out.push(reading(
                format!("vcgencmd/{}_occurred", bit.name),
                Quantity::ThrottleCount,
                occurred as u8 as f64,
                false,
            ));
        }
        if self.has_temp {
            let t = parse_temp(&self.run(&["measure_temp"])?)?;
            out.push(reading(
                "vcgencmd/temp".into(),
                Quantity::TemperatureC,
                t,
                false,
            ));
        }
        if self.has_clock {
            let mhz = parse_clock(&self.run(&["measure_clock", "arm"])?)?;
            out.push(reading(
                "vcgencmd/arm_clock".into(),
                Quantity::ClockMhz,
                mhz,
                false,
            ));
        }
        if self.has_pmic {
            let rails = parse_pmic_read_adc(&self.run(&["pmic_read_adc"])?);
            if rails.is_empty() {
                return Err("pmic_read_adc: no rail with both current and voltage".into());
            }
            let total: f64 = rails.iter().map(|(_, w)| w).sum();
            out.push(reading(
                "vcgencmd/board_power_est".into(),
                Quantity::PowerW,
                total,
                true,
            ));
            for (name, w) in rails {
                out.push(reading(
                    format!("vcgencmd/rail/{name}"),
                    Quantity::PowerW,
                    w,
                    false,
                ));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_throttled_bit_now_and_since_boot() {
        // Under-voltage and throttled now and since boot (docs/sensors.md's example).
        let d = decode_throttled(parse_throttled("throttled=0x50005\n").unwrap());
        let names = |f: fn(&(ThrottledBit, bool, bool)) -> bool| -> Vec<&str> {
            d.iter().filter(|x| f(x)).map(|x| x.0.name).collect()
        };
        assert_eq!(names(|x| x.1), ["under_voltage", "throttled"]);
        assert_eq!(names(|x| x.2), ["under_voltage", "throttled"]);
        // Soft temperature limit occurred earlier, nothing now.
        let d = decode_throttled(0x80000);
        assert!(d.iter().all(|x| !x.1));
        assert_eq!(
            d.iter()
                .filter(|x| x.2)
                .map(|x| x.0.name)
                .collect::<Vec<_>>(),
            ["soft_temp_limit"]
        );
        assert_eq!(parse_throttled("throttled=0x0").unwrap(), 0);
        assert!(parse_throttled("error=1 error_msg=\"Command not registered\"").is_err());
        assert!(parse_throttled("throttled=0xZZ")
            .unwrap_err()
            .contains("hex"));
    }

    #[test]
    fn temperature_and_clock() {
        assert_eq!(parse_temp("temp=52.6'C\n").unwrap(), 52.6);
        assert_eq!(parse_clock("frequency(0)=2400000000\n").unwrap(), 2400.0);
        assert!(parse_clock("frequency(0)=fast").is_err());
    }

    #[test]
    fn pmic_rails_pair_current_and_voltage() {
        let text = "     VDD_CORE_A current(7)=2.00000000A\n\
                    \x20    3V3_SYS_A current(1)=0.10000000A\n\
                    \x20    VDD_CORE_V volt(15)=0.80000000V\n\
                    \x20    3V3_SYS_V volt(9)=3.30000000V\n\
                    \x20    EXT5V_V volt(24)=5.10000000V\n\
                    garbage line\n";
        let rails = parse_pmic_read_adc(text);
        assert_eq!(rails.len(), 2);
        assert_eq!(rails[0].0, "VDD_CORE");
        assert!((rails[0].1 - 1.6).abs() < 1e-9);
        assert!((rails[1].1 - 0.33).abs() < 1e-9);
    }
}
