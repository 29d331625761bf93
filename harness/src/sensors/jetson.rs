//! NVIDIA Jetson specifics. (Its INA3221 power rails are hwmon chips: see `hwmon.rs`; its
//! thermal zones are ordinary ones, named `cpu-thermal`, `gpu-thermal`, `tj-thermal`…)
//!
//! - Integrated GPU load and clock from devfreq: `/sys/class/devfreq/<dev>/` whose
//!   `device/of_node/name` is `ga10b` (Orin), `gv11b` (Xavier), `gp10b` (TX2) or `gpu`;
//!   `cur_freq`/`max_freq` in Hz and `device/load` in per-mille (as jetson_stats reads them,
//!   rbonghi/jetson_stats jtop/core/gpu.py). Channels `jetson_gpu/clock` MHz,
//!   `jetson_gpu/load` %.
//! - The power mode from `nvpmodel -q` (`NV Power Mode: 15W` then the mode number) and the
//!   L4T release from `/etc/nv_tegra_release` (`# R36 (release), REVISION: 4.0, …`), for the
//!   environment fingerprint.

use super::{entries_with_prefix, read_number, read_trimmed, run_command, Quantity, Reading};
use super::{Sensor, SysRoot};
use std::path::PathBuf;
use std::time::Duration;

/// devfreq node names of NVIDIA integrated GPUs.
const GPU_NODES: [&str; 4] = ["ga10b", "gv11b", "gp10b", "gpu"];

pub struct JetsonGpu {
    /// GPU node name (`ga10b`).
    pub gpu: String,
    cur_freq: PathBuf,
    load: Option<PathBuf>,
}

impl JetsonGpu {
    pub fn discover(root: &SysRoot) -> Result<Self, String> {
        for dir in entries_with_prefix(&root.path("/sys/class/devfreq"), "") {
            let Some(node) = read_trimmed(&dir.join("device/of_node/name")) else {
                continue;
            };
            let node = node.trim_end_matches('\0').to_string();
            if !GPU_NODES.contains(&node.as_str()) {
                continue;
            }
            let cur_freq = dir.join("cur_freq");
            if read_number(&cur_freq).is_err() {
                continue;
            }
            let load = Some(dir.join("device/load")).filter(|p| read_number(p).is_ok());
            return Ok(Self {
                gpu: node,
                cur_freq,
                load,
            });
        }
        Err("no NVIDIA integrated GPU in /sys/class/devfreq (Jetson only)".into())
    }
}

impl Sensor for JetsonGpu {
    fn name(&self) -> &str {
        "jetson_gpu"
    }

    fn read(&mut self) -> Result<Vec<Reading>, String> {
        let mut out = vec![Reading {
            channel: "jetson_gpu/clock".into(),
            quantity: Quantity::ClockMhz,
            value: read_number(&self.cur_freq)? / 1e6,
            total: false,
        }];
        if let Some(load) = &self.load {
            out.push(Reading {
                channel: "jetson_gpu/load".into(),
                quantity: Quantity::LoadPercent,
                value: read_number(load)? / 10.0,
                total: false,
            });
        }
        Ok(out)
    }
}

/// `NV Power Mode: 15W\n0\n` → `15W (mode 0)`.
pub fn parse_nvpmodel(text: &str) -> Option<String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let name = lines
        .find_map(|l| l.strip_prefix("NV Power Mode:"))?
        .trim()
        .to_string();
    match lines
        .next()
        .filter(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        Some(n) => Some(format!("{name} (mode {n})")),
        None => Some(name),
    }
}

/// The Jetson power mode now, where `nvpmodel` exists.
pub fn nvpmodel_mode(root: &SysRoot) -> Option<String> {
    let program = root.command("nvpmodel")?;
    parse_nvpmodel(&run_command(&program, &["-q"], Duration::from_secs(3)).ok()?)
}

/// `# R36 (release), REVISION: 4.0, GCID: …` → `R36.4.0`.
pub fn parse_tegra_release(text: &str) -> Option<String> {
    let line = text.lines().next()?.trim().trim_start_matches('#').trim();
    let major = line.split_whitespace().next()?.to_string();
    let revision = line
        .split(',')
        .find_map(|part| part.trim().strip_prefix("REVISION:"))
        .map(|r| r.trim().to_string());
    Some(match revision {
        Some(r) => format!("{major}.{r}"),
        None => major,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_mode_and_release() {
        assert_eq!(
            parse_nvpmodel("NV Power Mode: 15W\n0\n").as_deref(),
            Some("15W (mode 0)")
        );
        assert_eq!(
            parse_nvpmodel("NVPM WARN: something\nNV Power Mode: MAXN_SUPER\n2\n").as_deref(),
            Some("MAXN_SUPER (mode 2)")
        );
        assert_eq!(parse_nvpmodel("garbage"), None);
        assert_eq!(
            parse_tegra_release(
                "# R36 (release), REVISION: 4.0, GCID: 37537400, BOARD: generic, EABI: aarch64, DATE: Fri Sep 13 04:36:44 UTC 2024\n"
            )
            .as_deref(),
            Some("R36.4.0")
        );
    }
}
