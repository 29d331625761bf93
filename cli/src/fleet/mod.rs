//! `edgebench fleet`: benchmark every device of an Ansible inventory over OpenSSH and merge the
//! results.
//!
//! - [`inventory`]: Ansible inventories (INI, YAML) and `--limit` patterns;
//! - [`ssh`]: one connection per device through the system `ssh` (ControlMaster);
//! - [`artifact`]: release tarballs (`scripts/package.sh`) and which one a device gets;
//! - [`remote`]: the scripts run on a device: probe, install, run while streaming results;
//! - [`run`], [`status`], [`report`]: the three subcommands.
//!
//! No agent and no daemon: a device needs only sshd and a POSIX shell with `tar`, `tail` and
//! `df`. Everything a device does is kept in one folder there ([`remote::DEFAULT_DIR`], or the
//! inventory's `edgebench_dir`).

pub mod artifact;
pub mod inventory;
pub mod remote;
pub mod report;
pub mod run;
pub mod ssh;
pub mod status;

use clap::{Args, Subcommand};
use inventory::{Host, Inventory};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Args, Debug)]
pub struct FleetArgs {
    #[command(subcommand)]
    pub command: FleetCommand,
}

#[derive(Subcommand, Debug)]
pub enum FleetCommand {
    /// Install edgebench on every device of an inventory, run it there and stream the results
    /// back (`edgebench fleet run hosts.ini -- --suite quick`)
    Run(run::FleetRunArgs),
    /// Reachability, platform, installed edgebench and last run of every device
    Status(status::FleetStatusArgs),
    /// Merge every device's results into one HTML page and a Markdown table, devices side by side
    Report(report::FleetReportArgs),
}

/// How to reach the devices: shared by `fleet run` and `fleet status`.
#[derive(Args, Debug, Clone)]
pub struct Connection {
    /// Ansible inventory, INI or YAML (hosts, groups, ansible_host, ansible_port, ansible_user,
    /// ansible_ssh_private_key_file, ansible_ssh_common_args)
    pub inventory: PathBuf,
    /// Only these hosts or groups, as Ansible's --limit (`pis`, `pi5-a,orin`, `arm:!jetsons`)
    #[arg(short = 'l', long, value_name = "PATTERN")]
    pub limit: Option<String>,
    /// Devices worked on at once (never two runs on one device)
    #[arg(short = 'f', long, default_value_t = 5, value_name = "N")]
    pub forks: usize,
    /// ssh client configuration to use instead of ~/.ssh/config (ssh -F)
    #[arg(long, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// Seconds to wait for a device to answer when connecting
    #[arg(long, default_value_t = 20, value_name = "SECONDS")]
    pub connect_timeout: u64,
    /// Local folder of the results: one subfolder per device
    #[arg(long, default_value = "fleet-results", value_name = "DIR")]
    pub results_dir: PathBuf,
}

impl Connection {
    /// The inventory's hosts after `--limit`.
    pub fn hosts(&self) -> anyhow::Result<Vec<Host>> {
        let inv = Inventory::load(&self.inventory)?;
        if inv.hosts.is_empty() {
            anyhow::bail!("inventory {}: no hosts", self.inventory.display());
        }
        match &self.limit {
            Some(pattern) => inv.limit(pattern),
            None => Ok(inv.hosts),
        }
    }

    pub fn ssh_settings(&self) -> anyhow::Result<ssh::SshSettings> {
        if let Some(f) = &self.ssh_config {
            if !f.is_file() {
                anyhow::bail!("--ssh-config {}: no such file", f.display());
            }
        }
        Ok(ssh::SshSettings {
            config: self.ssh_config.clone(),
            connect_timeout_s: self.connect_timeout,
        })
    }
}

pub fn run(args: FleetArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        FleetCommand::Run(a) => run::run(a),
        FleetCommand::Status(a) => status::run(a),
        FleetCommand::Report(a) => report::run(a),
    }
}

/// The device's folder on the device: `edgebench_dir`, else [`remote::DEFAULT_DIR`].
pub fn device_dir(host: &Host) -> String {
    host.var("edgebench_dir")
        .unwrap_or(remote::DEFAULT_DIR)
        .to_string()
}

/// The device's local results folder (its inventory name, made safe for a file name).
pub fn local_dir(results_dir: &Path, host: &Host) -> PathBuf {
    let safe: String = host
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    results_dir.join(safe)
}

/// A folder for the connections' control sockets: short (a socket path has ~100 bytes), and
/// only ours to read.
pub fn control_dir() -> anyhow::Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new().prefix("ebf").tempdir_in("/tmp")?)
}

/// `f` for every host, at most `forks` at once; results in the hosts' order.
pub fn for_each_host<T: Send>(
    hosts: &[Host],
    forks: usize,
    f: impl Fn(usize, &Host) -> T + Sync,
) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<T>>> =
        hosts.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..forks.clamp(1, hosts.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(host) = hosts.get(i) else { break };
                let value = f(i, host);
                *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every host was worked on")
        })
        .collect()
}

/// Plain text columns, padded to the widest cell.
pub fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
