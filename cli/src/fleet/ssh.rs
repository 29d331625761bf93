//! One OpenSSH connection per device, through the system `ssh`.
//!
//! The first `ssh` authenticates and stays in the background as the connection's master
//! (`ControlMaster=yes`, `-f -N`); every later command of that device runs over it
//! (`ControlMaster=no`, the same `ControlPath`), so a device is one TCP connection and one
//! authentication. `BatchMode=yes`: nothing ever prompts. The user's `~/.ssh/config` (or
//! `--ssh-config FILE`) and known_hosts apply as they do to a plain `ssh`; host-key checking
//! is left as the user configured it (edgebench never turns it off). Every ssh failure becomes
//! one line that says what happened ([`classify`]).

use super::inventory::Host;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How edgebench calls `ssh`, for every device.
#[derive(Debug, Clone, Default)]
pub struct SshSettings {
    /// `-F FILE` instead of `~/.ssh/config`.
    pub config: Option<PathBuf>,
    /// `ConnectTimeout`, seconds.
    pub connect_timeout_s: u64,
}

/// An open connection to one device.
#[derive(Debug)]
pub struct Session {
    /// Options before the destination (config, batch mode, port, user, key, the inventory's
    /// extra arguments).
    args: Vec<String>,
    destination: String,
    control_path: PathBuf,
}

/// What a finished remote command gave back.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Session {
    /// Connects (authenticates) and leaves the master connection running in the background.
    /// `control_path` must be short (a Unix socket path, ≤ 100 bytes).
    pub fn open(
        host: &Host,
        settings: &SshSettings,
        control_path: PathBuf,
        deadline: Instant,
    ) -> Result<Self, String> {
        let session = Session {
            args: base_args(host, settings).map_err(|e| format!("{e:#}"))?,
            destination: host.address().to_string(),
            control_path,
        };
        // The master's stderr goes to a file: the backgrounded master keeps it open, so a pipe
        // would never reach end-of-file.
        let err_path = session.control_path.with_extension("err");
        let err_file = std::fs::File::create(&err_path)
            .map_err(|e| format!("cannot create {}: {e}", err_path.display()))?;
        let mut cmd = Command::new("ssh");
        cmd.args(&session.args)
            .arg("-o")
            .arg("ControlMaster=yes")
            .arg("-o")
            .arg(format!("ControlPath={}", session.control_path.display()))
            // Idle time before a forgotten master goes away by itself (edgebench closes it).
            .args(["-o", "ControlPersist=300", "-f", "-N", "--"])
            .arg(&session.destination)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err_file);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start ssh: {e} (install OpenSSH's client)"))?;
        let status = wait_until(child, deadline);
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        let _ = std::fs::remove_file(&err_path);
        match status {
            Some(s) if s.success() => Ok(session),
            Some(s) => Err(classify(&stderr, s.code())),
            None => Err(format!(
                "timed out connecting to {} ({})",
                session.destination,
                last_line(&stderr).unwrap_or("no answer")
            )),
        }
    }

    /// `ssh` over the master connection, running `script` with the device's `sh`.
    pub fn command(&self, script: &str) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(&self.args)
            .args(["-o", "ControlMaster=no", "-o"])
            .arg(format!("ControlPath={}", self.control_path.display()))
            .arg("--")
            .arg(&self.destination)
            .arg(format!("sh -c {}", quote(script)));
        cmd
    }

    /// Runs `script` on the device (with `stdin` from a local file, if given) and returns its
    /// output. `Err` when ssh itself failed (status 255: the link, not the script) or the
    /// deadline passed.
    pub fn run(
        &self,
        script: &str,
        stdin: Option<&Path>,
        deadline: Instant,
    ) -> Result<Output, String> {
        let mut cmd = self.command(script);
        match stdin {
            Some(path) => {
                let f =
                    std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
                cmd.stdin(f);
            }
            None => {
                cmd.stdin(Stdio::null());
            }
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("cannot start ssh: {e}"))?;
        let out = read_in_background(child.stdout.take());
        let err = read_in_background(child.stderr.take());
        let status = wait_until(child, deadline);
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        match status {
            None => Err("timed out".into()),
            Some(s) if s.code() == Some(255) => Err(classify(&stderr, Some(255))),
            Some(status) => Ok(Output {
                status,
                stdout,
                stderr,
            }),
        }
    }

    /// Ends the master connection.
    pub fn close(&self) {
        let _ = Command::new("ssh")
            .args(&self.args)
            .arg("-o")
            .arg(format!("ControlPath={}", self.control_path.display()))
            .args(["-O", "exit", "--"])
            .arg(&self.destination)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}

/// The options every `ssh` of this host gets, before the destination.
fn base_args(host: &Host, settings: &SshSettings) -> anyhow::Result<Vec<String>> {
    let mut args: Vec<String> = Vec::new();
    if let Some(config) = &settings.config {
        args.push("-F".into());
        args.push(config.display().to_string());
    }
    // Ours that must hold come first (for ssh the first value of an option wins), then the
    // inventory's own arguments, then defaults the inventory or config may override.
    args.extend(["-o".into(), "BatchMode=yes".into()]);
    args.extend(host.extra_ssh_args()?);
    if settings.connect_timeout_s > 0 {
        args.push("-o".into());
        args.push(format!("ConnectTimeout={}", settings.connect_timeout_s));
    }
    // A link that goes silent (a device unplugged) is noticed within ~30 s.
    args.extend(
        [
            "-o",
            "ServerAliveInterval=10",
            "-o",
            "ServerAliveCountMax=3",
        ]
        .map(String::from),
    );
    if let Some(port) = host.port()? {
        args.push("-p".into());
        args.push(port.to_string());
    }
    if let Some(user) = host.user() {
        args.push("-l".into());
        args.push(user.to_string());
    }
    if let Some(key) = host.key_file() {
        args.push("-i".into());
        args.push(expand_home(key));
    }
    Ok(args)
}

fn expand_home(path: &str) -> String {
    match (path.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if !home.is_empty() => format!("{home}/{rest}"),
        _ => path.to_string(),
    }
}

/// Waits for `child`, killing it at `deadline` (then `None`).
pub fn wait_until(mut child: Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => return None,
        }
    }
}

fn read_in_background<R: Read + Send + 'static>(
    pipe: Option<R>,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// The last meaningful line of ssh's stderr (not its notices, not the run's keep-alive dots).
pub fn last_line(stderr: &str) -> Option<&str> {
    stderr
        .lines()
        .map(|l| l.trim().trim_start_matches('.').trim())
        .rfind(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
}

/// One line saying why ssh failed, from its stderr.
pub fn classify(stderr: &str, code: Option<i32>) -> String {
    let line = last_line(stderr).unwrap_or_default();
    if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        return "host key changed: the device's host key is not the one known_hosts holds, so \
                ssh refused to connect and nothing was run (if the device was reinstalled, check \
                its new key and remove the old one with ssh-keygen -R)"
            .into();
    }
    if stderr.contains("Host key verification failed") {
        return "host key not verified: the device is not in known_hosts and BatchMode cannot \
                ask (connect once with ssh, or add its key to known_hosts); nothing was run"
            .into();
    }
    let kind = if stderr.contains("Permission denied") {
        "authentication failed"
    } else if stderr.contains("Connection refused") {
        "connection refused"
    } else if [
        "Could not resolve hostname",
        "No route to host",
        "Network is unreachable",
        "Connection timed out",
        "Operation timed out",
    ]
    .iter()
    .any(|m| stderr.contains(m))
    {
        "unreachable"
    } else if [
        "Connection closed",
        "Connection reset",
        "Broken pipe",
        "mux_client",
        "Timeout, server",
        "closed by remote host",
    ]
    .iter()
    .any(|m| stderr.contains(m))
    {
        "connection lost"
    } else if line.is_empty() {
        return match code {
            Some(c) => format!("ssh failed (status {c}, nothing on stderr)"),
            None => "ssh was killed".into(),
        };
    } else {
        "ssh failed"
    };
    format!("{kind}: {line}")
}

/// `s` as one word for a POSIX shell.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A path on the device as a shell word: `~` and `~/…` become `"$HOME"…` (quoted, so spaces
/// and the like survive), anything else is quoted as it is.
pub fn remote_path(path: &str) -> String {
    if path == "~" {
        "\"$HOME\"".into()
    } else if let Some(rest) = path.strip_prefix("~/") {
        format!("\"$HOME\"/{}", quote(rest))
    } else {
        quote(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_one_clear_line() {
        let changed = "@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
                       Host key verification failed.\n";
        assert!(classify(changed, Some(255)).starts_with("host key changed"));
        assert!(classify("Host key verification failed.\n", Some(255))
            .starts_with("host key not verified"));
        assert_eq!(
            classify(
                "ssh: connect to host 127.0.0.1 port 22992: Connection refused\n",
                Some(255)
            ),
            "connection refused: ssh: connect to host 127.0.0.1 port 22992: Connection refused"
        );
        assert!(
            classify("root@h: Permission denied (publickey).\n", Some(255))
                .starts_with("authentication failed: ")
        );
        assert!(classify(
            "ssh: Could not resolve hostname pi9: Name or service not known\n",
            Some(255)
        )
        .starts_with("unreachable: "));
        assert!(classify(
            "...\n..Connection to 127.0.0.1 closed by remote host.\n",
            Some(255)
        )
        .starts_with("connection lost: Connection to"));
        assert_eq!(
            classify("", Some(255)),
            "ssh failed (status 255, nothing on stderr)"
        );
    }

    #[test]
    fn shell_words() {
        assert_eq!(quote("abc-1.2"), "abc-1.2");
        assert_eq!(quote("it's here"), r"'it'\''s here'");
        assert_eq!(quote(""), "''");
        assert_eq!(
            remote_path("~/.cache/eb fleet"),
            "\"$HOME\"/'.cache/eb fleet'"
        );
        assert_eq!(remote_path("/opt/eb"), "/opt/eb");
    }
}
