//! The environment fingerprint stored with every result: which device, CPU, OS and software.

use crate::devices::{self, Probe};
use crate::schema::Environment;
use crate::sensors::{self, SysRoot};
use std::collections::BTreeMap;
use std::time::Duration;
use sysinfo::System;

/// Detect this machine. `root` is where `/sys` and `/proc` are read (a fixture tree in tests).
pub fn detect(root: &SysRoot, edgebench_version: &str, edgebench_commit: &str) -> Environment {
    let mut sys = System::new();
    sys.refresh_memory();
    sys.refresh_cpu_all();
    let cpu_model = sys
        .cpus()
        .first()
        .map(|c| c.brand().trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown CPU".into());
    let arch = std::env::consts::ARCH.to_string();
    let model = device_name(root);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let power_mode = sensors::nvpmodel_mode(root);
    // A fixture tree describes its own machine's memory.
    let ram_bytes = if root.is_live() {
        sys.total_memory()
    } else {
        meminfo_total(root).unwrap_or(sys.total_memory())
    };
    let spec = devices::identify(&Probe {
        model: model.as_deref(),
        cpu_brand: &cpu_model,
        cores,
        ram_bytes,
        power_mode: power_mode.as_deref(),
    });
    let mut extra = platform_extra(root, model.as_deref(), spec, power_mode);
    // Emulation is a property of this process (a fixture tree read under an emulator is still
    // read by emulated code).
    let emulator = crate::emulation::detect();
    if let Some(how) = &emulator {
        extra.insert("emulator".into(), how.clone());
    }
    Environment {
        device: spec
            .map(|d| d.name.clone())
            .or(model)
            .unwrap_or_else(|| format!("unknown {arch} host")),
        hostname: System::host_name().unwrap_or_default(),
        cpu_model,
        cpu_cores: cores,
        ram_bytes,
        os: System::long_os_version().unwrap_or_else(|| std::env::consts::OS.into()),
        kernel: System::kernel_version().unwrap_or_default(),
        arch,
        governor: root.read_trimmed("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        edgebench_version: edgebench_version.into(),
        edgebench_commit: edgebench_commit.into(),
        emulated: emulator.is_some(),
        extra,
    }
}

/// `MemTotal` of `/proc/meminfo`, bytes.
fn meminfo_total(root: &SysRoot) -> Option<u64> {
    let text = root.read_trimmed("/proc/meminfo")?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Platform facts for `Environment::extra`: the board's own model string, the catalog entry
/// and its peak bandwidth, the Jetson power mode and L4T release, the Pi firmware, the NVIDIA
/// GPUs.
fn platform_extra(
    root: &SysRoot,
    model: Option<&str>,
    spec: Option<&devices::DeviceSpec>,
    power_mode: Option<String>,
) -> BTreeMap<String, String> {
    let mut extra = BTreeMap::new();
    if let Some(m) = model {
        extra.insert("board_model".into(), m.to_string());
    }
    if let Some(d) = spec {
        extra.insert("catalog_id".into(), d.id.clone());
        if let Some(bw) = d.peak_bandwidth_gbs {
            extra.insert("catalog_peak_bandwidth_gbs".into(), bw.to_string());
        }
    }
    if let Some(p) = power_mode {
        extra.insert("power_mode".into(), p);
    }
    if let Some(l4t) = root
        .read_trimmed("/etc/nv_tegra_release")
        .and_then(|t| sensors::parse_tegra_release(&t))
    {
        extra.insert("l4t".into(), l4t);
    }
    if let Some(program) = root.command("vcgencmd") {
        if let Ok(text) = sensors::run_command(&program, &["version"], Duration::from_secs(3)) {
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let version = lines.iter().find_map(|l| l.strip_prefix("version "));
            if let (Some(date), Some(v)) = (lines.first(), version) {
                let hash: String = v
                    .split_whitespace()
                    .next()
                    .unwrap_or(v)
                    .chars()
                    .take(12)
                    .collect();
                extra.insert("firmware".into(), format!("{date} ({hash})"));
            }
        }
    }
    if root.is_live() {
        let gpus = sensors::gpu_names();
        if !gpus.is_empty() {
            extra.insert("gpus".into(), gpus.join("; "));
        }
    }
    extra
}

/// The board's own name, where it has one (`/proc/device-tree/model` on ARM boards).
pub fn device_name(root: &SysRoot) -> Option<String> {
    root.read_trimmed("/proc/device-tree/model")
        .map(|s| s.trim_end_matches('\0').trim().to_string())
        .filter(|s| !s.is_empty())
}
