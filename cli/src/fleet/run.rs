//! `edgebench fleet run INVENTORY [-- run arguments]`: on every device at once (up to
//! `--forks`), connect, detect the platform, install the matching tarball, run `edgebench run`
//! and stream its results into `<results dir>/<device>/<fleet run id>.jsonl`.
//!
//! A device's failure (unreachable, refused, host key, authentication, no artifact, disk full,
//! the run failing, the link dropping, the timeout) is recorded for that device as one line, in
//! `<results dir>/<device>/last.json` and `<results dir>/<fleet run id>.fleet.json`; the other
//! devices go on. Exit status 0 when every device completed its run, 1 otherwise.

use super::artifact::{self, Artifact, Platform};
use super::inventory::Host;
use super::remote::{self, RunSpec};
use super::ssh::{Session, SshSettings};
use super::{columns, control_dir, device_dir, for_each_host, local_dir, Connection};
use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct FleetRunArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// Folder of release tarballs (scripts/package.sh writes them to dist/)
    #[arg(long, default_value = "dist", value_name = "DIR")]
    pub artifacts: PathBuf,
    /// Longest one device may take, from connecting to its last result (seconds, or 30m, 2h)
    #[arg(long, default_value = "2h", value_parser = crate::profile::parse_duration)]
    pub timeout: f64,
    /// Arguments for `edgebench run` on every device, after `--`
    #[arg(last = true, value_name = "RUN ARGS")]
    pub run_args: Vec<String>,
}

/// What happened on one device: the record kept in `last.json` and the fleet summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceOutcome {
    /// Inventory name.
    pub host: String,
    pub address: String,
    pub fleet_run: String,
    pub started_at: String,
    pub finished_at: String,
    /// `ok` when `edgebench run` completed (exit status 0), else `failed`.
    pub status: String,
    /// Why it failed, one line.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub os: Option<String>,
    #[serde(default)]
    pub arch: Option<String>,
    #[serde(default)]
    pub cpu: Option<String>,
    /// The tarball installed (or found installed) on the device.
    #[serde(default)]
    pub artifact: Option<String>,
    /// The local results file (absent when nothing was run).
    #[serde(default)]
    pub results: Option<PathBuf>,
    pub result_lines: u64,
    pub repetitions: u64,
    /// The remote folder used.
    pub device_dir: String,
}

impl DeviceOutcome {
    pub fn ok(&self) -> bool {
        self.status == "ok"
    }

    /// `last.json` of a device's results folder, if there is one.
    pub fn load_last(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join("last.json")).ok()?;
        serde_json::from_str(&text).ok()
    }
}

pub fn run(args: FleetRunArgs) -> anyhow::Result<ExitCode> {
    let hosts = args.conn.hosts()?;
    let settings = args.conn.ssh_settings()?;
    if args.timeout <= 0.0 {
        anyhow::bail!("--timeout must be positive");
    }
    if args
        .run_args
        .iter()
        .any(|a| a == "--results" || a.starts_with("--results="))
    {
        anyhow::bail!(
            "--results is chosen by edgebench fleet (the device's runs/ folder); leave it out"
        );
    }
    let artifacts = artifact::scan(&args.artifacts);
    let run_id = format!(
        "fleet-{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        std::process::id()
    );
    std::fs::create_dir_all(&args.conn.results_dir)
        .with_context(|| format!("{}", args.conn.results_dir.display()))?;
    let control = control_dir().context("a folder for ssh control sockets")?;
    eprintln!(
        "fleet run {run_id}: {} device(s), {} at once; tarballs from {}",
        hosts.len(),
        args.conn.forks.min(hosts.len()),
        args.artifacts.display()
    );
    let ctx = Ctx {
        settings,
        artifacts,
        artifacts_dir: args.artifacts.clone(),
        run_id: run_id.clone(),
        run_args: args.run_args.clone(),
        results_dir: args.conn.results_dir.clone(),
        timeout: Duration::from_secs_f64(args.timeout),
        control: control.path().to_path_buf(),
        hashes: Mutex::new(BTreeMap::new()),
    };
    let outcomes = for_each_host(&hosts, args.conn.forks, |i, host| {
        let outcome = ctx.device(i, host);
        let dir = local_dir(&ctx.results_dir, host);
        let saved = std::fs::create_dir_all(&dir).and_then(|_| {
            std::fs::write(
                dir.join("last.json"),
                serde_json::to_string_pretty(&outcome).unwrap_or_default(),
            )
        });
        if let Err(e) = saved {
            eprintln!(
                "[{}] warning: cannot write {}: {e}",
                host.name,
                dir.display()
            );
        }
        match &outcome.reason {
            None => eprintln!("[{}] done: {} repetitions", host.name, outcome.repetitions),
            Some(r) => eprintln!("[{}] FAILED: {r}", host.name),
        }
        outcome
    });
    let summary = args.conn.results_dir.join(format!("{run_id}.fleet.json"));
    std::fs::write(&summary, serde_json::to_string_pretty(&outcomes)?)
        .with_context(|| format!("{}", summary.display()))?;
    print!("{}", summary_table(&outcomes));
    let failed = outcomes.iter().filter(|o| !o.ok()).count();
    println!(
        "{} of {} devices completed; summary {}; merge with: edgebench fleet report {}",
        outcomes.len() - failed,
        outcomes.len(),
        summary.display(),
        args.conn.results_dir.display()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The table printed at the end of a fleet run.
pub fn summary_table(outcomes: &[DeviceOutcome]) -> String {
    let mut rows = vec![["device", "address", "platform", "artifact", "result"]
        .map(String::from)
        .to_vec()];
    for o in outcomes {
        let platform = match (&o.os, &o.arch) {
            (Some(os), Some(arch)) => format!("{os} {arch}"),
            _ => "-".into(),
        };
        let result = match &o.reason {
            None => format!(
                "ok: {} repetitions → {}",
                o.repetitions,
                o.results
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
            Some(r) => format!("FAILED: {r}"),
        };
        rows.push(vec![
            o.host.clone(),
            o.address.clone(),
            platform,
            o.artifact.clone().unwrap_or_else(|| "-".into()),
            result,
        ]);
    }
    columns(&rows)
}

/// What every device's work shares.
struct Ctx {
    settings: SshSettings,
    artifacts: Vec<Artifact>,
    artifacts_dir: PathBuf,
    run_id: String,
    run_args: Vec<String>,
    results_dir: PathBuf,
    timeout: Duration,
    control: PathBuf,
    /// SHA-256 of each tarball, computed once.
    hashes: Mutex<BTreeMap<PathBuf, Result<String, String>>>,
}

impl Ctx {
    fn device(&self, index: usize, host: &Host) -> DeviceOutcome {
        let started = Instant::now();
        let deadline = started + self.timeout;
        let dir = device_dir(host);
        let mut out = DeviceOutcome {
            host: host.name.clone(),
            address: match host.port() {
                Ok(Some(p)) => format!("{}:{p}", host.address()),
                _ => host.address().to_string(),
            },
            fleet_run: self.run_id.clone(),
            started_at: now(),
            finished_at: String::new(),
            status: "failed".into(),
            reason: None,
            os: None,
            arch: None,
            cpu: None,
            artifact: None,
            results: None,
            result_lines: 0,
            repetitions: 0,
            device_dir: dir.clone(),
        };
        if let Err(reason) = self.work(index, host, &dir, deadline, &mut out) {
            out.reason = Some(reason);
        } else {
            out.status = "ok".into();
        }
        out.finished_at = now();
        out
    }

    fn work(
        &self,
        index: usize,
        host: &Host,
        dir: &str,
        deadline: Instant,
        out: &mut DeviceOutcome,
    ) -> Result<(), String> {
        let say = |what: &str| eprintln!("[{}] {what}", host.name);
        let session = Session::open(
            host,
            &self.settings,
            self.control.join(index.to_string()),
            deadline,
        )?;
        let probe = remote::probe(&session, dir, deadline)?;
        let p = &probe.platform;
        out.os = Some(p.os.clone());
        out.arch = Some(p.arch.clone());
        out.cpu = Some(describe_cpu(p));
        say(&format!(
            "connected: {} {} ({})",
            p.os,
            p.arch,
            describe_cpu(p)
        ));
        if probe.busy {
            return Err(format!(
                "busy: another edgebench run holds the lock in {dir} on the device"
            ));
        }
        let artifact = artifact::pick(
            &self.artifacts,
            &self.artifacts_dir,
            crate::meta::VERSION,
            p,
            host.var("edgebench_cpu"),
        )?;
        out.artifact = Some(artifact.stem.clone());
        let sha = self.sha256(&artifact.path)?;
        if remote::install(&session, dir, artifact, &sha, &probe, deadline)? {
            say(&format!("installed {} into {dir}", artifact.stem));
        } else {
            say(&format!("{} already installed in {dir}", artifact.stem));
        }
        let local_dir = local_dir(&self.results_dir, host);
        std::fs::create_dir_all(&local_dir)
            .map_err(|e| format!("cannot create {}: {e}", local_dir.display()))?;
        let local = local_dir.join(format!("{}.jsonl", self.run_id));
        out.results = Some(local.clone());
        let env = host.run_env().map_err(|e| format!("{e:#}"))?;
        say(&format!(
            "running edgebench run {} (results → {})",
            self.run_args.join(" "),
            local.display()
        ));
        let streamed = remote::run_streaming(
            &session,
            &RunSpec {
                dir,
                artifact,
                run_id: &self.run_id,
                args: &self.run_args,
                env: &env,
            },
            &local,
            deadline,
        );
        out.result_lines = streamed.lines;
        out.repetitions = streamed.repetitions;
        streamed.result
    }

    fn sha256(&self, path: &Path) -> Result<String, String> {
        let mut hashes = self.hashes.lock().unwrap_or_else(|e| e.into_inner());
        hashes
            .entry(path.to_path_buf())
            .or_insert_with(|| {
                let mut file =
                    std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let mut h = Sha256::new();
                std::io::copy(&mut file, &mut h).map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(hex::encode(h.finalize()))
            })
            .clone()
    }
}

/// The board, else the CPU, else the ARM core numbers.
pub fn describe_cpu(p: &Platform) -> String {
    [&p.board, &p.cpu]
        .into_iter()
        .find(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| {
            if p.cpu_parts.is_empty() {
                "unknown CPU".into()
            } else {
                format!("CPU part {}", p.cpu_parts.join(", "))
            }
        })
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
