//! `edgebench device`: what this machine is and what its sensors read now.

use clap::Args;
use edgebench_harness::sensors::{self, SysRoot};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct DeviceArgs {
    /// Read /sys and /proc under this folder instead of / (for fixture trees)
    #[arg(long, hide = true)]
    pub sys_root: Option<PathBuf>,
}

pub fn run(args: DeviceArgs) -> anyhow::Result<ExitCode> {
    let root = args.sys_root.map(SysRoot::new).unwrap_or_default();
    let env = edgebench_harness::env::detect(&root, crate::VERSION, crate::COMMIT);
    println!("device     {}", env.device);
    println!(
        "cpu        {} ({} cores, {})",
        env.cpu_model, env.cpu_cores, env.arch
    );
    println!("memory     {}", crate::plan::gib(env.ram_bytes));
    println!("os         {} (kernel {})", env.os, env.kernel);
    println!("governor   {}", env.governor.as_deref().unwrap_or("-"));
    println!(
        "edgebench  {} (commit {})",
        env.edgebench_version, env.edgebench_commit
    );
    let mut found = sensors::discover(&root, Arc::new(AtomicU32::new(0)));
    if found.is_empty() {
        println!("sensors    none readable");
    }
    // CPU utilisation needs two samples some time apart.
    for s in found.iter_mut() {
        let _ = s.read();
    }
    std::thread::sleep(std::time::Duration::from_millis(250));
    for s in found.iter_mut() {
        match s.read() {
            Ok(readings) => {
                for r in readings {
                    println!(
                        "sensor     {:<24} {:>10.1} {:?}",
                        r.channel, r.value, r.quantity
                    );
                }
            }
            Err(e) => println!("sensor     {:<24} unreadable: {e}", s.name()),
        }
    }
    Ok(ExitCode::SUCCESS)
}
