//! Apple Silicon power, clocks and thermal pressure from `powermetrics` (macOS; root only).
//! `powermetrics --samplers cpu_power,gpu_power,ane_power,thermal -i 100` prints a block per
//! sample with lines such as `CPU Power: 1234 mW`, `GPU Power: 56 mW`, `ANE Power: 0 mW`,
//! `Combined Power (CPU + GPU + ANE): 1290 mW`, `P-Cluster HW active frequency: 3204 MHz` and
//! `Current pressure level: Nominal` (Nominal/Moderate/Heavy/Trapping/Sleeping), as asitop and
//! macmon parse it (tlkh/asitop, vladkens/macmon).
//!
//! The parser and the streaming sensor are plain Rust and tested everywhere with a recorded
//! output; only starting the real tool is macOS-only (`apple_macos.rs`). Not verified on a
//! Mac by this repository's CI.
//!
//! Channels: `apple/cpu_power`, `apple/gpu_power`, `apple/ane_power` W, `apple/combined_power`
//! W (counted toward the device total: the SoC, not the whole Mac), `apple/cpu_e_cluster`,
//! `apple/cpu_p_cluster`, `apple/gpu_clock` MHz, and `apple/thermal_pressure`
//! ([`Quantity::ThrottleFlag`]: 1 when the pressure level is anything but Nominal).

use super::{Quantity, Reading, Sensor};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The latest values seen in powermetrics output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PowermetricsSample {
    pub cpu_w: Option<f64>,
    pub gpu_w: Option<f64>,
    pub ane_w: Option<f64>,
    pub combined_w: Option<f64>,
    pub e_cluster_mhz: Option<f64>,
    pub p_cluster_mhz: Option<f64>,
    pub gpu_mhz: Option<f64>,
    pub pressure: Option<String>,
}

impl PowermetricsSample {
    /// Update from one output line; true when the line carried a value.
    pub fn update(&mut self, line: &str) -> bool {
        let Some((key, value)) = line.trim().split_once(':') else {
            return false;
        };
        let (key, value) = (key.trim(), value.trim());
        if key == "Current pressure level" {
            self.pressure = Some(value.to_string());
            return true;
        }
        let number = |unit: &str| {
            value
                .strip_suffix(unit)
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        let (slot, v) = match key {
            "CPU Power" => (&mut self.cpu_w, number("mW").map(|v| v / 1e3)),
            "GPU Power" => (&mut self.gpu_w, number("mW").map(|v| v / 1e3)),
            "ANE Power" => (&mut self.ane_w, number("mW").map(|v| v / 1e3)),
            k if k.starts_with("Combined Power") => {
                (&mut self.combined_w, number("mW").map(|v| v / 1e3))
            }
            k if k.starts_with("E-Cluster HW active frequency") => {
                (&mut self.e_cluster_mhz, number("MHz"))
            }
            k if k.starts_with("P-Cluster HW active frequency")
                || k.starts_with("P0-Cluster HW active frequency") =>
            {
                (&mut self.p_cluster_mhz, number("MHz"))
            }
            "GPU HW active frequency" | "GPU active frequency" => {
                (&mut self.gpu_mhz, number("MHz"))
            }
            _ => return false,
        };
        match v {
            Some(v) => {
                *slot = Some(v);
                true
            }
            None => false,
        }
    }

    fn readings(&self) -> Vec<Reading> {
        let mut out = Vec::new();
        let mut push = |channel: &str, quantity, value: Option<f64>, total| {
            if let Some(value) = value {
                out.push(Reading {
                    channel: channel.into(),
                    quantity,
                    value,
                    total,
                });
            }
        };
        push("apple/cpu_power", Quantity::PowerW, self.cpu_w, false);
        push("apple/gpu_power", Quantity::PowerW, self.gpu_w, false);
        push("apple/ane_power", Quantity::PowerW, self.ane_w, false);
        push(
            "apple/combined_power",
            Quantity::PowerW,
            self.combined_w,
            true,
        );
        push(
            "apple/cpu_e_cluster",
            Quantity::ClockMhz,
            self.e_cluster_mhz,
            false,
        );
        push(
            "apple/cpu_p_cluster",
            Quantity::ClockMhz,
            self.p_cluster_mhz,
            false,
        );
        push("apple/gpu_clock", Quantity::ClockMhz, self.gpu_mhz, false);
        let pressure = self
            .pressure
            .as_deref()
            .map(|p| if p == "Nominal" { 0.0 } else { 1.0 });
        push(
            "apple/thermal_pressure",
            Quantity::ThrottleFlag,
            pressure,
            false,
        );
        out
    }
}

/// Every sample block of a recorded powermetrics output (blocks start with `*** Sampled`).
pub fn parse_powermetrics(text: &str) -> Vec<PowermetricsSample> {
    let mut samples = Vec::new();
    let mut current: Option<PowermetricsSample> = None;
    for line in text.lines() {
        if line.starts_with("*** Sampled") {
            samples.extend(current.take());
            current = Some(PowermetricsSample::default());
        } else if let Some(s) = current.as_mut() {
            s.update(line);
        }
    }
    samples.extend(current);
    samples
}

type Latest = Arc<Mutex<(Option<Instant>, PowermetricsSample, Option<String>)>>;

/// powermetrics running in the background; each read returns the latest values.
pub struct PowerMetrics {
    child: Child,
    /// (time of the last value, values, why the stream ended)
    latest: Latest,
}

impl PowerMetrics {
    /// Start `program args…` and follow its output.
    pub fn spawn(program: &Path, args: &[&str]) -> Result<Self, String> {
        // Its own process group: a Ctrl-C at the terminal must not end the sampling while the
        // current repetition finishes.
        let mut child = crate::client::own_process_group(&mut Command::new(program))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: cannot start: {e}", program.display()))?;
        let stdout = child.stdout.take().ok_or("powermetrics: no stdout")?;
        let latest: Latest = Arc::new(Mutex::new((None, PowermetricsSample::default(), None)));
        let shared = Arc::clone(&latest);
        std::thread::Builder::new()
            .name("edgebench-powermetrics".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let mut l = shared.lock().unwrap_or_else(|e| e.into_inner());
                    if l.1.update(&line) {
                        l.0 = Some(Instant::now());
                    }
                }
                shared.lock().unwrap_or_else(|e| e.into_inner()).2 =
                    Some("powermetrics stopped".into());
            })
            .map_err(|e| format!("powermetrics: cannot start reader: {e}"))?;
        Ok(Self { child, latest })
    }
}

/// Values older than this are not reported (the tool hangs or stopped printing).
const STALE: Duration = Duration::from_secs(5);

impl Sensor for PowerMetrics {
    fn name(&self) -> &str {
        "apple"
    }

    fn read(&mut self) -> Result<Vec<Reading>, String> {
        let l = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        match (&l.0, &l.2) {
            (Some(t), _) if t.elapsed() < STALE => Ok(l.1.readings()),
            (_, Some(ended)) => Err(ended.clone()),
            (Some(_), None) => Err("powermetrics printed nothing for 5 s".into()),
            (None, None) => Ok(Vec::new()),
        }
    }
}

impl Drop for PowerMetrics {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDED: &str = "\
*** Sampled system activity (Wed Nov 27 10:00:00 2024 +0100) (102.31ms elapsed) ***

**** Processor usage ****

E-Cluster HW active frequency: 1020 MHz
P-Cluster HW active frequency: 3204 MHz
CPU Power: 4512 mW
GPU Power: 56 mW
ANE Power: 0 mW
Combined Power (CPU + GPU + ANE): 4568 mW

**** GPU usage ****

GPU HW active frequency: 389 MHz

**** Thermal pressure ****

Current pressure level: Nominal

*** Sampled system activity (Wed Nov 27 10:00:00 2024 +0100) (101.02ms elapsed) ***
CPU Power: 9000 mW
Combined Power (CPU + GPU + ANE): 9100 mW
Current pressure level: Heavy
";

    #[test]
    fn blocks_values_and_pressure() {
        let s = parse_powermetrics(RECORDED);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].cpu_w, Some(4.512));
        assert_eq!(s[0].combined_w, Some(4.568));
        assert_eq!(s[0].p_cluster_mhz, Some(3204.0));
        assert_eq!(s[0].gpu_mhz, Some(389.0));
        assert_eq!(s[0].pressure.as_deref(), Some("Nominal"));
        assert_eq!(s[1].combined_w, Some(9.1));
        let r = s[1].readings();
        let flag = r
            .iter()
            .find(|r| r.channel == "apple/thermal_pressure")
            .unwrap();
        assert_eq!(flag.value, 1.0);
        let totals: Vec<_> = r.iter().filter(|r| r.total).map(|r| &r.channel).collect();
        assert_eq!(totals, ["apple/combined_power"]);
    }

    #[test]
    fn streams_from_a_running_tool() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("powermetrics");
        std::fs::write(dir.path().join("out.txt"), RECORDED).unwrap();
        std::fs::write(
            &script,
            "#!/bin/sh\ncat \"$(dirname \"$0\")/out.txt\"\nexec sleep 30\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut pm = PowerMetrics::spawn(&script, &[]).unwrap();
        let mut readings = Vec::new();
        for _ in 0..200 {
            readings = pm.read().unwrap();
            if readings
                .iter()
                .any(|r| r.channel == "apple/combined_power" && r.value == 9.1)
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            readings
                .iter()
                .any(|r| r.channel == "apple/combined_power" && r.value == 9.1),
            "{readings:?}"
        );
        // Values not in the last block stay from the one before (the GPU clock).
        assert!(readings
            .iter()
            .any(|r| r.channel == "apple/gpu_clock" && r.value == 389.0));
    }
}
