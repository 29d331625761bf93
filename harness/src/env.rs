//! The environment fingerprint stored with every result: which device, CPU, OS and software.

use crate::schema::Environment;
use crate::sensors::SysRoot;
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
    Environment {
        device: device_name(root).unwrap_or_else(|| format!("unknown {arch} host")),
        hostname: System::host_name().unwrap_or_default(),
        cpu_model,
        cpu_cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        ram_bytes: sys.total_memory(),
        os: System::long_os_version().unwrap_or_else(|| std::env::consts::OS.into()),
        kernel: System::kernel_version().unwrap_or_default(),
        arch,
        governor: root.read_trimmed("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        edgebench_version: edgebench_version.into(),
        edgebench_commit: edgebench_commit.into(),
        extra: Default::default(),
    }
}

/// The board's own name, where it has one (`/proc/device-tree/model` on ARM boards).
pub fn device_name(root: &SysRoot) -> Option<String> {
    root.read_trimmed("/proc/device-tree/model")
        .map(|s| s.trim_end_matches('\0').trim().to_string())
        .filter(|s| !s.is_empty())
}
