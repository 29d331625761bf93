//! `edgebench fleet status INVENTORY`: for every device, whether it answers over ssh (or why
//! not), its OS, architecture and CPU, the edgebench builds installed in its folder, its newest
//! results file there with the run's exit status, and the last fleet run's outcome recorded
//! locally. Changes nothing on the devices. Exit status 0 when every device answered.

use super::remote::{self, Probe};
use super::run::{describe_cpu, DeviceOutcome};
use super::ssh::Session;
use super::{columns, control_dir, device_dir, for_each_host, local_dir, Connection};
use anyhow::Context;
use clap::Args;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct FleetStatusArgs {
    #[command(flatten)]
    pub conn: Connection,
}

pub fn run(args: FleetStatusArgs) -> anyhow::Result<ExitCode> {
    let hosts = args.conn.hosts()?;
    let settings = args.conn.ssh_settings()?;
    let control = control_dir().context("a folder for ssh control sockets")?;
    let probes: Vec<Result<Probe, String>> = for_each_host(&hosts, args.conn.forks, |i, host| {
        let deadline = Instant::now() + Duration::from_secs(args.conn.connect_timeout.max(1) + 60);
        let session = Session::open(
            host,
            &settings,
            control.path().join(i.to_string()),
            deadline,
        )?;
        remote::probe(&session, &device_dir(host), deadline)
    });
    let mut rows = vec![[
        "device",
        "address",
        "reachable",
        "platform",
        "installed",
        "last run on the device",
        "last fleet run",
    ]
    .map(String::from)
    .to_vec()];
    for (host, probe) in hosts.iter().zip(&probes) {
        let last = DeviceOutcome::load_last(&local_dir(&args.conn.results_dir, host))
            .map(|o| match &o.reason {
                None => format!(
                    "{} ok, {} repetitions → {}",
                    o.fleet_run,
                    o.repetitions,
                    o.results
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ),
                Some(r) => format!("{} FAILED: {r}", o.fleet_run),
            })
            .unwrap_or_else(|| "-".into());
        let address = match host.port() {
            Ok(Some(p)) => format!("{}:{p}", host.address()),
            _ => host.address().to_string(),
        };
        let row = match probe {
            Err(reason) => vec![
                host.name.clone(),
                address,
                format!("no: {reason}"),
                "-".into(),
                "-".into(),
                "-".into(),
                last,
            ],
            Ok(p) => {
                let installed = if p.installed.is_empty() {
                    "none".to_string()
                } else {
                    p.installed.keys().cloned().collect::<Vec<_>>().join(", ")
                };
                let on_device = match &p.last_results {
                    None => "none".to_string(),
                    Some(file) => format!(
                        "{file} ({} lines, {}){}",
                        p.last_results_lines.unwrap_or(0),
                        match p.last_exit {
                            Some(0) => "exit 0".to_string(),
                            Some(c) => format!("exit {c}"),
                            None => "no exit status: running, or cut off".to_string(),
                        },
                        if p.busy { "; a run is in progress" } else { "" }
                    ),
                };
                vec![
                    host.name.clone(),
                    address,
                    "yes".into(),
                    format!(
                        "{} {} ({})",
                        p.platform.os,
                        p.platform.arch,
                        describe_cpu(&p.platform)
                    ),
                    installed,
                    on_device,
                    last,
                ]
            }
        };
        rows.push(row);
    }
    print!("{}", columns(&rows));
    let unreachable = probes.iter().filter(|p| p.is_err()).count();
    Ok(if unreachable == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
