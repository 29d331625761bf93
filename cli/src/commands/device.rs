//! `edgebench device`: what this machine is (catalog match or "unknown host"), its fingerprint,
//! its memory bandwidth next to the catalog's peak, every sensor found with a live reading, and
//! the sensor kinds not found with the reason. `--catalog` lists the device catalog.

use clap::Args;
use edgebench_harness::bandwidth::{self, BandwidthCache};
use edgebench_harness::devices::{self, DeviceSpec};
use edgebench_harness::sensors::{self, Quantity, Reading, SysRoot};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct DeviceArgs {
    /// List the device catalog (published peak bandwidth, power, price, sources) and exit
    #[arg(long)]
    pub catalog: bool,
    /// Threads for the memory bandwidth measurement [default: all cores]
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
    /// Measure the memory bandwidth again instead of using the cached figure
    #[arg(long, conflicts_with = "no_bandwidth")]
    pub measure: bool,
    /// Do not measure the memory bandwidth (show the cached figure if there is one)
    #[arg(long)]
    pub no_bandwidth: bool,
    /// Read /sys and /proc under this folder instead of / (for fixture trees)
    #[arg(long, hide = true)]
    pub sys_root: Option<PathBuf>,
}

pub fn run(args: DeviceArgs) -> anyhow::Result<ExitCode> {
    if args.catalog {
        print_catalog();
        return Ok(ExitCode::SUCCESS);
    }
    if args.threads == Some(0) {
        anyhow::bail!("--threads must be at least 1");
    }
    let root = args.sys_root.clone().map(SysRoot::new).unwrap_or_default();
    let env = edgebench_harness::env::detect(&root, crate::meta::VERSION, crate::meta::COMMIT);
    let spec = env
        .extra
        .get("catalog_id")
        .and_then(|id| devices::by_id(id));
    let line = |key: &str, value: &str| println!("{key:<12}{value}");
    match spec {
        Some(d) => line("device", &format!("{} (catalog: {})", env.device, d.id)),
        None => line("device", &format!("{} (not in the catalog)", env.device)),
    }
    if let Some(board) = env.extra.get("board_model").filter(|b| **b != env.device) {
        line("board", board);
    }
    line(
        "cpu",
        &format!("{} ({} cores, {})", env.cpu_model, env.cpu_cores, env.arch),
    );
    line("memory", &crate::units::gib(env.ram_bytes));
    line("os", &format!("{} (kernel {})", env.os, env.kernel));
    line("governor", env.governor.as_deref().unwrap_or("-"));
    if env.emulated {
        let how = env.extra.get("emulator").map_or("", String::as_str);
        line("emulated", &format!("yes: {how}"));
    }
    for (key, label) in [
        ("power_mode", "power mode"),
        ("l4t", "L4T"),
        ("firmware", "firmware"),
        ("gpus", "GPUs"),
    ] {
        if let Some(v) = env.extra.get(key) {
            line(label, v);
        }
    }
    if let Some(gpus) = env.extra.get("gpus") {
        for name in gpus.split("; ") {
            if let Some(g) = devices::identify_gpu(name) {
                line("", &format!("{name}: {}", spec_summary(g)));
            }
        }
    }
    if let Some(d) = spec {
        line("catalog", &spec_summary(d));
    }
    if (root.is_live() && !args.no_bandwidth) || args.measure {
        let threads = args.threads.unwrap_or(env.cpu_cores);
        let cache = BandwidthCache::in_dir(&bandwidth::cache_dir());
        let key = bandwidth::device_key(&env);
        let buffer =
            bandwidth::default_buffer_bytes(bandwidth::last_level_cache_bytes(), env.ram_bytes);
        let (bw, decision) = if args.measure {
            let (bw, decision) = cache.measure_and_store(&key, threads, buffer);
            (bw, Some(decision))
        } else {
            cache.get_or_measure(&key, threads, buffer)
        };
        let how = crate::profile::describe(&bw, decision.as_ref());
        let peak = spec
            .and_then(|d| d.peak_bandwidth_gbs)
            .map(|p| {
                format!(
                    "; catalog peak {p} GB/s ({:.0}% of it)",
                    bw.read_gbs / p * 100.0
                )
            })
            .unwrap_or_default();
        line(
            "bandwidth",
            &format!(
                "{how} with {} thread{} over {} MiB{peak}",
                bw.threads,
                if bw.threads == 1 { "" } else { "s" },
                bw.buffer_bytes >> 20
            ),
        );
    }
    line(
        "edgebench",
        &format!(
            "{} (commit {})",
            env.edgebench_version, env.edgebench_commit
        ),
    );

    let (mut found, absent) = sensors::survey(&root, Arc::new(AtomicU32::new(0)));
    // CPU utilisation and power from energy counters need two readings some time apart.
    let first: Vec<Result<Vec<Reading>, String>> = found.iter_mut().map(|s| s.read()).collect();
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(500));
    let elapsed = started.elapsed().as_secs_f64();
    println!();
    println!("sensors found: {}", found.len());
    for (sensor, before) in found.iter_mut().zip(first) {
        // Sensors that read at most once a second (vcgencmd) keep their first readings.
        let readings = match sensor.read() {
            Ok(r) if r.is_empty() => before,
            other => other,
        };
        match readings {
            Ok(readings) if readings.is_empty() => {
                println!("  {:<36} (no reading yet)", sensor.name())
            }
            Ok(readings) => {
                for r in readings {
                    println!("  {:<36} {}", r.channel, show(&r, elapsed));
                }
            }
            Err(e) => println!("  {:<36} unreadable: {e}", sensor.name()),
        }
    }
    if !absent.is_empty() {
        println!("not found:");
        for a in absent {
            println!("  {:<16} {}", a.name, a.reason);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A reading with its unit. Energy counters count from the first reading, so their value over
/// the pause between the two readings is a power.
fn show(r: &Reading, elapsed_s: f64) -> String {
    let total = if r.total { " (device total)" } else { "" };
    match r.quantity {
        Quantity::TemperatureC => format!("{:.1} °C", r.value),
        Quantity::ClockMhz => format!("{:.0} MHz", r.value),
        Quantity::PowerW => format!("{:.2} W{total}", r.value),
        Quantity::EnergyJ => format!(
            "{:.2} J in {elapsed_s:.1} s = {:.2} W{total}",
            r.value,
            r.value / elapsed_s
        ),
        Quantity::CpuPercent | Quantity::LoadPercent => format!("{:.1} %", r.value),
        Quantity::MemoryBytes => crate::units::gib(r.value as u64),
        Quantity::VoltageV => format!("{:.3} V", r.value),
        Quantity::CurrentA => format!("{:.3} A", r.value),
        Quantity::ClockRatio => format!("{:.0} % of max clock", r.value * 100.0),
        Quantity::ThrottleFlag => (if r.value >= 0.5 { "yes" } else { "no" }).into(),
        Quantity::ThrottleCount if r.channel.ends_with("_s") => {
            format!("{:.2} s (counter)", r.value)
        }
        Quantity::ThrottleCount => format!("{} (counter)", r.value),
    }
}

/// `17.1 GB/s peak · LPDDR4X-4267, 32-bit · 27 W supply… · $80`.
fn spec_summary(d: &DeviceSpec) -> String {
    let mut parts = Vec::new();
    if let Some(bw) = d.peak_bandwidth_gbs {
        parts.push(format!("{bw} GB/s peak"));
    }
    if let Some(m) = &d.memory {
        parts.push(m.clone());
    }
    if let Some(tdp) = d.tdp_w {
        parts.push(format!("{tdp} W"));
    }
    if let Some(p) = &d.power {
        parts.push(p.clone());
    }
    if let Some(price) = d.price_usd {
        parts.push(format!("${price}"));
    }
    parts.join(" · ")
}

fn print_catalog() {
    println!(
        "{:<28} {:<34} {:>9} {:>7} {:>7}  recognised by",
        "id", "name", "peak GB/s", "TDP W", "price $"
    );
    for d in devices::catalog() {
        let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_else(|| "-".into());
        let how = d
            .match_model
            .as_ref()
            .map(|m| format!("device-tree model ~ \"{m}\""))
            .or_else(|| d.match_cpu.as_ref().map(|c| format!("CPU \"{c}\"")))
            .or_else(|| d.match_gpu.as_ref().map(|g| format!("NVML name ~ \"{g}\"")))
            .unwrap_or_else(|| "(reference, not matched)".into());
        println!(
            "{:<28} {:<34} {:>9} {:>7} {:>7}  {how}",
            d.id,
            d.name,
            num(d.peak_bandwidth_gbs),
            num(d.tdp_w),
            num(d.price_usd)
        );
    }
    println!("\nSources of every figure: harness/devices.toml.");
}
