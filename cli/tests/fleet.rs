//! `edgebench fleet` against real OpenSSH servers: each test starts `sshd -D` on loopback ports
//! (Debian's openssh-server, which scripts/setup.sh installs) with generated host and user keys,
//! one per "device", and drives them through the system `ssh`. Nothing about ssh is mocked.
//!
//! The devices are this machine, so each gets its own folder (`edgebench_dir`) and model cache
//! (`edgebench_env`). The tarball they install is made by scripts/package.sh from the binaries
//! this test runs.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

fn edgebench_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("edgebench")
}

fn tmp_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// The release tarball of these binaries, made once by scripts/package.sh.
fn dist() -> &'static Path {
    static DIST: OnceLock<PathBuf> = OnceLock::new();
    DIST.get_or_init(|| {
        let out = tmp_root().join("fleet-dist");
        let _ = std::fs::remove_dir_all(&out);
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let bin_dir = edgebench_bin().parent().unwrap().to_path_buf();
        let o = Command::new(repo.join("scripts/package.sh"))
            .arg("--bin-dir")
            .arg(&bin_dir)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "scripts/package.sh failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let tarball = String::from_utf8_lossy(&o.stdout)
            .lines()
            .last()
            .unwrap()
            .to_string();
        assert!(Path::new(&tarball).is_file(), "{tarball}");
        out
    })
}

fn keygen(path: &Path) {
    let o = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .expect("ssh-keygen (openssh-client; run scripts/setup.sh)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One loopback "device": its own sshd, host key and folder.
struct Device {
    name: String,
    port: u16,
    dir: PathBuf,
    host_key: PathBuf,
    sshd: Option<Child>,
}

impl Device {
    fn sshd_pid(&self) -> u32 {
        self.sshd.as_ref().unwrap().id()
    }

    /// Stops the sshd and every sshd process serving its connections: the link drops as if the
    /// device lost power or network. The device's own processes (its shell, edgebench) live on.
    fn drop_link(&mut self) {
        let listener = self.sshd_pid();
        let sessions: Vec<u32> = descendants(listener)
            .into_iter()
            .filter(|p| comm(*p).as_deref() == Some("sshd"))
            .collect();
        for pid in sessions {
            // SAFETY: killing processes this test's sshd started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        if let Some(mut c) = self.sshd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        if let Some(mut c) = self.sshd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_string())
}

fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(1)?.parse().ok()
}

fn descendants(root: u32) -> Vec<u32> {
    let all: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| Some((p, ppid(p)?)))
        .collect();
    let mut out = vec![];
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        for (c, _) in all.iter().filter(|(_, pp)| *pp == p) {
            out.push(*c);
            todo.push(*c);
        }
    }
    out
}

/// A test bench: a user key, a client ssh config and known_hosts, and its devices.
struct Lab {
    root: tempfile::TempDir,
    user_key: PathBuf,
    devices: Vec<Device>,
}

impl Lab {
    fn new() -> Self {
        assert!(
            Path::new(SSHD).is_file(),
            "{SSHD} not found: install openssh-server (scripts/setup.sh does)"
        );
        // sshd's privilege-separation folder.
        let _ = std::fs::create_dir_all("/run/sshd");
        let root = tempfile::Builder::new()
            .prefix("fleet")
            .tempdir_in(tmp_root())
            .unwrap();
        let user_key = root.path().join("user_key");
        keygen(&user_key);
        std::fs::copy(
            user_key.with_extension("pub"),
            root.path().join("authorized_keys"),
        )
        .unwrap();
        let config = format!(
            "Host *\n  UserKnownHostsFile {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  LogLevel ERROR\n",
            root.path().join("known_hosts").display(),
            user_key.display()
        );
        std::fs::write(root.path().join("ssh_config"), config).unwrap();
        Lab {
            root,
            user_key,
            devices: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// Starts a device's sshd and adds its host key to known_hosts.
    fn device(&mut self, name: &str) -> usize {
        let d = self.path(name);
        std::fs::create_dir_all(&d).unwrap();
        let host_key = d.join("host_key");
        keygen(&host_key);
        let port = free_port();
        let config = d.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\n\
                 UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nLogLevel ERROR\n",
                host_key.display(),
                self.path("authorized_keys").display(),
                d.join("sshd.pid").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(d.join("sshd.log")).unwrap();
        let sshd = Command::new(SSHD)
            .arg("-D")
            .arg("-f")
            .arg(&config)
            .arg("-p")
            .arg(port.to_string())
            .arg("-E")
            .arg(d.join("sshd.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "sshd on port {port} did not start: {}",
                std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let device = Device {
            name: name.to_string(),
            port,
            dir: d.join("device"),
            host_key: host_key.clone(),
            sshd: Some(sshd),
        };
        self.trust(&device, &host_key.with_extension("pub"));
        self.devices.push(device);
        self.devices.len() - 1
    }

    /// Adds `[127.0.0.1]:port KEY` to known_hosts.
    fn trust(&self, device: &Device, public_key: &Path) {
        let key = std::fs::read_to_string(public_key).unwrap();
        let key: Vec<&str> = key.split_whitespace().take(2).collect();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("known_hosts"))
            .unwrap();
        writeln!(f, "[127.0.0.1]:{} {}", device.port, key.join(" ")).unwrap();
    }

    /// An INI inventory of the devices (with extra variables per device).
    fn inventory(&self, extra: &[(&str, &str)]) -> PathBuf {
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let mut ini = String::from("# the test bench\n[bench]\n");
        for d in &self.devices {
            let models = self.path(&format!("{}-models", d.name));
            let cache = tmp_root().join("edgebench-cache");
            ini.push_str(&format!(
                "{} ansible_host=127.0.0.1 ansible_port={} edgebench_dir={} \
                 edgebench_env=\"EDGEBENCH_MODELS_DIR={} EDGEBENCH_CACHE_DIR={}\"",
                d.name,
                d.port,
                d.dir.display(),
                models.display(),
                cache.display()
            ));
            for (host, var) in extra {
                if *host == d.name {
                    ini.push(' ');
                    ini.push_str(var);
                }
            }
            ini.push('\n');
        }
        ini.push_str(&format!(
            "\n[bench:vars]\nansible_user={user}\nansible_ssh_private_key_file={}\n",
            self.user_key.display()
        ));
        let path = self.path("hosts.ini");
        std::fs::write(&path, ini).unwrap();
        path
    }

    fn fleet(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(edgebench_bin());
        cmd.arg("fleet")
            .args(args)
            .arg("--ssh-config")
            .arg(self.path("ssh_config"))
            .arg("--results-dir")
            .arg(self.path("results"));
        cmd
    }

    fn results(&self, device: &str) -> PathBuf {
        self.path("results").join(device)
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The device's `last.json`.
fn last(lab: &Lab, device: &str) -> serde_json::Value {
    let path = lab.results(device).join("last.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The `.jsonl` results files of a device's local folder, and their repetition lines.
fn streamed(lab: &Lab, device: &str) -> (Vec<PathBuf>, usize) {
    let mut files = vec![];
    let mut reps = 0;
    for e in std::fs::read_dir(lab.results(device)).into_iter().flatten() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "jsonl") {
            for line in std::fs::read_to_string(&p).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{}: bad line {line}: {e}", p.display()));
                if v["record"] == "repetition" {
                    reps += 1;
                }
            }
            files.push(p);
        }
    }
    (files, reps)
}

const TINY: &[&str] = &[
    "--target",
    "candle",
    "-s",
    "llama3-8b-tiny",
    "-q",
    "q8_0",
    "-t",
    "1",
    "--cooldown",
    "off",
];

#[test]
fn two_devices_run_stream_back_and_merge() {
    let dist = dist();
    let mut lab = Lab::new();
    lab.device("dev-a");
    lab.device("dev-b");
    let inv = lab.inventory(&[]);

    let status = lab.fleet(&["status"]).arg(&inv).output().unwrap();
    let out = text(&status);
    assert_eq!(status.status.code(), Some(0), "{out}");
    assert!(out.contains("dev-a") && out.contains("dev-b"), "{out}");
    assert!(
        out.contains("linux x86_64") || out.contains("linux aarch64"),
        "{out}"
    );

    let run = lab
        .fleet(&["run"])
        .arg(&inv)
        .arg("--artifacts")
        .arg(dist)
        .arg("--timeout")
        .arg("10m")
        .arg("--")
        .args(TINY)
        .args(["-p", "16", "-n", "16", "-r", "3"])
        .output()
        .unwrap();
    let out = text(&run);
    assert_eq!(run.status.code(), Some(0), "{out}");
    assert!(out.contains("2 of 2 devices completed"), "{out}");
    for d in ["dev-a", "dev-b"] {
        let (files, reps) = streamed(&lab, d);
        assert_eq!(files.len(), 1, "{d}: {files:?}");
        // pp16 and tg16, 3 repetitions each.
        assert_eq!(reps, 6, "{d}\n{out}");
        let last = last(&lab, d);
        assert_eq!(last["status"], "ok", "{last}");
        assert_eq!(last["repetitions"], 6, "{last}");
        // Installed into the device's own versioned folder.
        let stem = last["artifact"].as_str().unwrap();
        let dev = &lab.devices.iter().find(|x| x.name == d).unwrap().dir;
        assert!(
            dev.join(stem).join("bin/edgebench").is_file(),
            "{}",
            dev.display()
        );
        assert!(dev.join(stem).join("manifest.json").is_file());
    }

    // Status now names the installed build and the run's results file on each device.
    let status = lab.fleet(&["status"]).arg(&inv).output().unwrap();
    let out = text(&status);
    assert_eq!(status.status.code(), Some(0), "{out}");
    assert!(
        out.contains("edgebench-0.1.0-") && out.contains("exit 0"),
        "{out}"
    );
    assert!(out.contains("ok, 6 repetitions"), "{out}");

    // One page and one Markdown table, the devices side by side.
    let report = Command::new(edgebench_bin())
        .args(["fleet", "report"])
        .arg(lab.path("results"))
        .output()
        .unwrap();
    let out = text(&report);
    assert_eq!(report.status.code(), Some(0), "{out}");
    let md = std::fs::read_to_string(lab.path("results/report.md")).unwrap();
    let header = md
        .lines()
        .find(|l| l.starts_with("| model |"))
        .unwrap_or_else(|| panic!("{md}"));
    assert!(
        header.contains("dev-a (") && header.contains("dev-b ("),
        "{header}"
    );
    let tg = md
        .lines()
        .find(|l| l.contains("llama3-8b-tiny q8_0") && l.contains("tg16"))
        .unwrap_or_else(|| panic!("{md}"));
    assert_eq!(tg.matches(" t/s").count(), 2, "{tg}");
    let html = std::fs::read_to_string(lab.path("results/report.html")).unwrap();
    assert!(html.contains("dev-a (") && html.contains("dev-b ("));
}

#[test]
fn a_device_that_drops_mid_run_keeps_what_was_streamed() {
    let dist = dist();
    let mut lab = Lab::new();
    let a = lab.device("dev-a");
    let inv = lab.inventory(&[]);
    // Enough repetitions to last far longer than the test waits for.
    let mut child = lab
        .fleet(&["run"])
        .arg(&inv)
        .arg("--artifacts")
        .arg(dist)
        .arg("--")
        .args(TINY)
        .args(["-w", "tg32", "-r", "100000", "--max-time", "3600"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let (_, reps) = streamed(&lab, "dev-a");
        if reps >= 3 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let o = child.wait_with_output().unwrap();
            panic!("fleet run ended before the drop ({status}): {}", text(&o));
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no repetitions streamed back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    lab.devices[a].drop_link();
    let o = child.wait_with_output().unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let last = last(&lab, "dev-a");
    assert_eq!(last["status"], "failed", "{last}");
    let reason = last["reason"].as_str().unwrap();
    assert!(reason.contains("mid-run"), "{reason}");
    // Every repetition that arrived is kept, as complete JSON lines.
    let (_, reps) = streamed(&lab, "dev-a");
    assert!(reps >= 3, "{reps}");
    assert_eq!(last["repetitions"], reps as u64, "{last}");
    assert!(out.contains("0 of 1 devices completed"), "{out}");

    // The device notices its link is gone and stops its run (freeing its lock).
    let runs = lab.devices[a].dir.join("runs");
    let started = Instant::now();
    let exit = loop {
        let found = std::fs::read_dir(&runs)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "exit"));
        if let Some(p) = found {
            break std::fs::read_to_string(p).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the device's edgebench run did not stop after the link dropped"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        exit.trim(),
        "130",
        "interrupted by the device's keep-alive check"
    );

    // The report keeps the device's repetitions (an interrupted test) and says it failed.
    let report = Command::new(edgebench_bin())
        .args(["fleet", "report"])
        .arg(lab.path("results"))
        .output()
        .unwrap();
    let out = text(&report);
    assert_eq!(report.status.code(), Some(0), "{out}");
    let md = std::fs::read_to_string(lab.path("results/report.md")).unwrap();
    assert!(
        md.contains("Devices whose last fleet run failed") && md.contains("mid-run"),
        "{md}"
    );
}

#[test]
fn changed_host_key_missing_artifact_and_refused_connection_are_recorded() {
    let dist = dist();
    let mut lab = Lab::new();
    let k = lab.device("dev-key");
    lab.device("dev-cpu");
    // known_hosts holds another key for dev-key: as if the device (or someone) changed it.
    let other = lab.path("other_key");
    keygen(&other);
    std::fs::write(lab.path("known_hosts"), "").unwrap();
    lab.trust(&lab.devices[k], &other.with_extension("pub"));
    let cpu = &lab.devices[1];
    lab.trust(cpu, &cpu.host_key.with_extension("pub"));
    // A device whose sshd is not there at all.
    let closed = Device {
        name: "dev-off".into(),
        port: free_port(),
        dir: lab.path("dev-off"),
        host_key: lab.path("none"),
        sshd: None,
    };
    lab.devices.push(closed);
    let inv = lab.inventory(&[("dev-cpu", "edgebench_cpu=cortex-a76")]);

    let run = lab
        .fleet(&["run"])
        .arg(&inv)
        .arg("--artifacts")
        .arg(dist)
        .args(["--forks", "3", "--"])
        .args(TINY)
        .args(["-p", "16", "-r", "1"])
        .output()
        .unwrap();
    let out = text(&run);
    assert_eq!(run.status.code(), Some(1), "{out}");
    assert!(out.contains("0 of 3 devices completed"), "{out}");

    let key = last(&lab, "dev-key");
    let reason = key["reason"].as_str().unwrap();
    assert!(reason.starts_with("host key changed"), "{reason}");
    assert!(reason.contains("nothing was run"), "{reason}");
    assert!(key["results"].is_null(), "{key}");

    let cpu = last(&lab, "dev-cpu");
    let reason = cpu["reason"].as_str().unwrap();
    let arch = std::env::consts::ARCH;
    assert!(
        reason.contains(&format!(
            "edgebench-0.1.0-{arch}-linux-cortex-a76.tar.gz is not in"
        )),
        "{reason}"
    );
    assert!(cpu["results"].is_null(), "{cpu}");

    let off = last(&lab, "dev-off");
    assert!(
        off["reason"]
            .as_str()
            .unwrap()
            .starts_with("connection refused"),
        "{off}"
    );
    // Nothing was installed or run on any of them.
    for d in &lab.devices {
        assert!(!d.dir.exists(), "{} was touched", d.dir.display());
        assert_eq!(streamed(&lab, &d.name).0.len(), 0);
    }
    // The summary table names each failure on one line.
    for needle in [
        "dev-key",
        "FAILED: host key changed",
        "FAILED: no matching artifact",
        "FAILED: connection refused",
    ] {
        assert!(out.contains(needle), "{needle}\n{out}");
    }
}
