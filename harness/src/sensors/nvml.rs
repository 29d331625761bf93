//! NVIDIA GPUs through NVML (crate `nvml-wrapper`, which loads `libnvidia-ml.so.1` at run time:
//! a machine without the driver simply has no such sensor). Units from the NVML reference
//! (https://docs.nvidia.com/deploy/nvml-api/): power in mW, total energy since the driver
//! loaded in mJ (Volta and newer), temperature °C, clocks MHz, and the clock-event ("throttle")
//! reasons bitmask.
//!
//! Channels, per GPU `N`: `nvml/gpuN/power` W, `nvml/gpuN/energy` J (since discovery; counted
//! toward the device total, or the power is where the GPU has no energy counter),
//! `nvml/gpuN/temp` °C, `nvml/gpuN/sm_clock` and `nvml/gpuN/mem_clock` MHz,
//! `nvml/gpuN/load` %, one [`Quantity::ThrottleFlag`] per clock-event reason that slows the
//! GPU down (`nvml/gpuN/sw_power_cap`, `…/hw_thermal_slowdown`…), and `worker/gpuN_memory`,
//! the memory the worker process holds on that GPU.
//!
//! Not proven on hardware in this repository's CI (no GPU there): the calls are the
//! documented ones, and the decoding of the reasons is tested on its own.

use super::{Quantity, Reading, Sensor};
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::enums::device::UsedGpuMemory;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// NVML clock-event reasons: (bit, channel name, whether it slows the GPU below what the
/// work asks for). Idle, application clock settings, sync boost and display clocks are not
/// slowdowns. Values from nvml.h (`nvmlClocksEventReason…`, formerly `…ThrottleReason…`).
pub const CLOCK_EVENT_REASONS: [(u64, &str, bool); 9] = [
    (0x1, "gpu_idle", false),
    (0x2, "applications_clocks_setting", false),
    (0x4, "sw_power_cap", true),
    (0x8, "hw_slowdown", true),
    (0x10, "sync_boost", false),
    (0x20, "sw_thermal_slowdown", true),
    (0x40, "hw_thermal_slowdown", true),
    (0x80, "hw_power_brake_slowdown", true),
    (0x100, "display_clock_setting", false),
];

/// The reasons set in `bits`, as (name, slows the GPU down).
pub fn decode_clock_event_reasons(bits: u64) -> Vec<(&'static str, bool)> {
    CLOCK_EVENT_REASONS
        .iter()
        .filter(|(bit, _, _)| bits & bit != 0)
        .map(|&(_, name, slows)| (name, slows))
        .collect()
}

struct Gpu {
    index: u32,
    /// First energy reading, mJ (None: no energy counter on this GPU).
    energy_start_mj: Option<u64>,
}

pub struct Nvml {
    nvml: nvml_wrapper::Nvml,
    gpus: Vec<Gpu>,
    worker_pid: Arc<AtomicU32>,
}

/// Names of the NVIDIA GPUs NVML sees (empty without the driver).
pub fn gpu_names() -> Vec<String> {
    let Ok(nvml) = nvml_wrapper::Nvml::init() else {
        return Vec::new();
    };
    let count = nvml.device_count().unwrap_or(0);
    (0..count)
        .filter_map(|i| nvml.device_by_index(i).ok()?.name().ok())
        .collect()
}

impl Nvml {
    pub fn discover(worker_pid: Arc<AtomicU32>) -> Result<Self, String> {
        let nvml = nvml_wrapper::Nvml::init()
            .map_err(|e| format!("NVML not available (no NVIDIA driver: {e})"))?;
        let count = nvml
            .device_count()
            .map_err(|e| format!("NVML: cannot count GPUs: {e}"))?;
        if count == 0 {
            return Err("NVML sees no GPU".into());
        }
        let gpus = (0..count)
            .map(|index| Gpu {
                index,
                energy_start_mj: nvml
                    .device_by_index(index)
                    .ok()
                    .and_then(|d| d.total_energy_consumption().ok()),
            })
            .collect();
        Ok(Self {
            nvml,
            gpus,
            worker_pid,
        })
    }
}

fn push(out: &mut Vec<Reading>, channel: String, quantity: Quantity, value: f64, total: bool) {
    out.push(Reading {
        channel,
        quantity,
        value,
        total,
    });
}

impl Sensor for Nvml {
    fn name(&self) -> &str {
        "nvml"
    }

    fn read(&mut self) -> Result<Vec<Reading>, String> {
        let mut out = Vec::new();
        let worker = self.worker_pid.load(Ordering::Relaxed);
        for gpu in &self.gpus {
            let n = gpu.index;
            let device = self
                .nvml
                .device_by_index(n)
                .map_err(|e| format!("NVML GPU {n}: {e}"))?;
            // Calls a GPU does not support are left out of its readings.
            let has_energy = gpu.energy_start_mj.is_some();
            if let Ok(mw) = device.power_usage() {
                let p = format!("nvml/gpu{n}/power");
                push(&mut out, p, Quantity::PowerW, mw as f64 / 1e3, !has_energy);
            }
            if let (Some(start), Ok(mj)) = (gpu.energy_start_mj, device.total_energy_consumption())
            {
                let joules = mj.saturating_sub(start) as f64 / 1e3;
                push(
                    &mut out,
                    format!("nvml/gpu{n}/energy"),
                    Quantity::EnergyJ,
                    joules,
                    true,
                );
            }
            if let Ok(c) = device.temperature(TemperatureSensor::Gpu) {
                let t = format!("nvml/gpu{n}/temp");
                push(&mut out, t, Quantity::TemperatureC, c as f64, false);
            }
            for (clock, name) in [(Clock::SM, "sm_clock"), (Clock::Memory, "mem_clock")] {
                if let Ok(mhz) = device.clock_info(clock) {
                    let c = format!("nvml/gpu{n}/{name}");
                    push(&mut out, c, Quantity::ClockMhz, mhz as f64, false);
                }
            }
            if let Ok(u) = device.utilization_rates() {
                let l = format!("nvml/gpu{n}/load");
                push(&mut out, l, Quantity::LoadPercent, u.gpu as f64, false);
            }
            if let Ok(reasons) = device.current_throttle_reasons() {
                let bits = reasons.bits();
                for &(bit, name, slows) in &CLOCK_EVENT_REASONS {
                    if slows {
                        let on = if bits & bit != 0 { 1.0 } else { 0.0 };
                        let c = format!("nvml/gpu{n}/{name}");
                        push(&mut out, c, Quantity::ThrottleFlag, on, false);
                    }
                }
            }
            if worker != 0 {
                if let Ok(procs) = device.running_compute_processes() {
                    let used: u64 = procs
                        .iter()
                        .filter(|p| p.pid == worker)
                        .map(|p| match p.used_gpu_memory {
                            UsedGpuMemory::Used(b) => b,
                            UsedGpuMemory::Unavailable => 0,
                        })
                        .sum();
                    let c = format!("worker/gpu{n}_memory");
                    push(&mut out, c, Quantity::MemoryBytes, used as f64, false);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_bit_by_bit() {
        assert!(decode_clock_event_reasons(0).is_empty());
        // Idle alone is not a slowdown.
        assert_eq!(decode_clock_event_reasons(0x1), [("gpu_idle", false)]);
        // SW power cap + HW thermal slowdown.
        assert_eq!(
            decode_clock_event_reasons(0x44),
            [("sw_power_cap", true), ("hw_thermal_slowdown", true)]
        );
        let all: u64 = CLOCK_EVENT_REASONS.iter().map(|r| r.0).sum();
        assert_eq!(all, 0x1ff);
        assert_eq!(decode_clock_event_reasons(all).len(), 9);
    }
}
