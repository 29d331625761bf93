//! CPU utilisation of the whole machine and resident memory of the worker process, from the
//! OS through sysinfo (works on Linux, macOS and Windows).

use super::{Quantity, Reading, Sensor};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

pub struct ProcessLoad {
    system: System,
    worker_pid: Arc<AtomicU32>,
}

impl ProcessLoad {
    pub fn new(worker_pid: Arc<AtomicU32>) -> Self {
        let mut system = System::new();
        system.refresh_cpu_usage();
        Self { system, worker_pid }
    }
}

impl Sensor for ProcessLoad {
    fn name(&self) -> &str {
        "process"
    }

    fn read(&mut self) -> Result<Vec<Reading>, String> {
        self.system.refresh_cpu_usage();
        let mut readings = vec![Reading {
            channel: "cpu/total".into(),
            quantity: Quantity::CpuPercent,
            value: self.system.global_cpu_usage() as f64,
            total: false,
        }];
        let pid = self.worker_pid.load(Ordering::Relaxed);
        if pid != 0 {
            let pid = Pid::from_u32(pid);
            self.system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[pid]),
                false,
                ProcessRefreshKind::nothing().with_memory(),
            );
            if let Some(p) = self.system.process(pid) {
                readings.push(Reading {
                    channel: "worker/rss".into(),
                    quantity: Quantity::MemoryBytes,
                    value: p.memory() as f64,
                    total: false,
                });
            }
        }
        Ok(readings)
    }
}
