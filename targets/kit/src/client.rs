//! The harness side of the worker protocol: spawn a target's worker process, send requests,
//! read responses, and turn a dead or hung worker into an error that says why.

use crate::protocol::{Phase, Request, Response};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How many of the worker's last stderr lines are kept for error messages.
const STDERR_TAIL_LINES: usize = 12;

/// Name of the worker executable of a target.
pub fn worker_binary_name(target: &str) -> String {
    format!("edgebench-worker-{target}{}", std::env::consts::EXE_SUFFIX)
}

/// Find a target's worker executable: `$EDGEBENCH_WORKER_DIR`, then next to the running
/// executable (and its parent, for test binaries under `target/*/deps`), then `PATH`.
pub fn locate_worker(target: &str) -> Option<PathBuf> {
    let name = worker_binary_name(target);
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("EDGEBENCH_WORKER_DIR") {
        dirs.push(dir.into());
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            dirs.push(dir.to_path_buf());
            if let Some(parent) = dir.parent() {
                dirs.push(parent.to_path_buf());
            }
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter()
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
}

/// A worker process to start.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl WorkerCommand {
    /// The worker of `target`, with thread-count variables set for libraries that read them.
    pub fn for_target(program: PathBuf, threads: usize) -> Self {
        let t = threads.to_string();
        Self {
            program,
            args: Vec::new(),
            env: vec![
                ("RAYON_NUM_THREADS".into(), t.clone()),
                ("OMP_NUM_THREADS".into(), t),
            ],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot start worker {}: {source}", program.display())]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("worker {status}{}", tail_suffix(stderr_tail))]
    Died { status: String, stderr_tail: String },
    #[error("worker did not answer within {secs} s{}", tail_suffix(stderr_tail))]
    Timeout { secs: u64, stderr_tail: String },
    /// The backend reported an error and the worker is still alive.
    #[error("{0}")]
    Backend(String),
    #[error("worker protocol error: {0}")]
    Protocol(String),
}

fn tail_suffix(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("; last stderr: {tail}")
    }
}

/// A running worker.
pub struct WorkerClient {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<std::io::Result<String>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

/// Start `command` away from the terminal's signals, tied to this process's life.
///
/// A terminal's Ctrl-C goes to its whole foreground process group. A child in that group
/// would die with SIGINT in the middle of its work (a worker mid-repetition, losing it),
/// while edgebench itself stops cleanly after the current repetition. So children get a
/// process group of their own (`setpgid(0, 0)`), and only edgebench decides when they stop.
/// That must not leave orphans: on Linux the child asks the kernel for SIGKILL when its
/// parent dies (`PR_SET_PDEATHSIG`; the "parent" is the thread that spawned it, so children
/// are spawned from threads that outlive them). Elsewhere a worker sees end of input on stdin
/// when edgebench dies and quits after its current request.
pub fn own_process_group(command: &mut Command) -> &mut Command {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
        #[cfg(target_os = "linux")]
        {
            let parent = std::process::id();
            // SAFETY: between fork and exec only async-signal-safe calls (prctl, getppid).
            unsafe {
                command.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // The parent died before the request took effect: do not start at all.
                    if libc::getppid() as u32 != parent {
                        return Err(std::io::Error::other("edgebench exited"));
                    }
                    Ok(())
                });
            }
        }
    }
    command
}

impl WorkerClient {
    pub fn spawn(command: &WorkerCommand) -> Result<Self, WorkerError> {
        let mut child = own_process_group(&mut Command::new(&command.program))
            .args(&command.args)
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| WorkerError::Spawn {
                program: command.program.clone(),
                source,
            })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let stop = line.is_err();
                if tx.send(line).is_err() || stop {
                    break;
                }
            }
        });
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = Arc::clone(&stderr_tail);
        let echo = std::env::var_os("EDGEBENCH_WORKER_STDERR").is_some();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if echo {
                    eprintln!("[worker] {line}");
                }
                let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
                if tail.len() == STDERR_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        Ok(Self {
            child,
            stdin,
            lines,
            stderr_tail,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send `request` and wait up to `timeout` for its final response, passing phase events to
    /// `on_phase` as they arrive. A backend error comes back as [`WorkerError::Backend`].
    pub fn request(
        &mut self,
        request: &Request,
        timeout: Duration,
        mut on_phase: impl FnMut(Phase),
    ) -> Result<Response, WorkerError> {
        let line = serde_json::to_string(request).expect("requests always serialize");
        let written = self
            .stdin
            .as_mut()
            .map(|stdin| writeln!(stdin, "{line}").and_then(|_| stdin.flush()));
        if !matches!(written, Some(Ok(()))) {
            return Err(self.death());
        }
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Ok(line)) => match serde_json::from_str::<Response>(&line) {
                    Ok(Response::Phase { phase }) => on_phase(phase),
                    Ok(Response::Error { message }) => return Err(WorkerError::Backend(message)),
                    Ok(response) => return Ok(response),
                    Err(e) => {
                        return Err(WorkerError::Protocol(format!(
                            "unreadable line from worker ({e}): {}",
                            truncate(&line, 200)
                        )))
                    }
                },
                Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => return Err(self.death()),
                Err(RecvTimeoutError::Timeout) => {
                    self.kill();
                    return Err(WorkerError::Timeout {
                        secs: timeout.as_secs(),
                        stderr_tail: self.stderr_tail(),
                    });
                }
            }
        }
    }

    /// Ask the worker to quit and wait for it (killing it if it does not go).
    pub fn quit(mut self) {
        let _ = self.request(&Request::Quit, Duration::from_secs(5), |_| {});
        self.stdin = None;
        self.kill();
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The worker's last stderr lines, joined with " | ".
    pub fn stderr_tail(&self) -> String {
        // Give the stderr thread a moment to drain what a dying process wrote.
        std::thread::sleep(Duration::from_millis(50));
        let tail = self.stderr_tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" | ")
    }

    fn death(&mut self) -> WorkerError {
        self.stdin = None;
        let status = match self.child.wait() {
            Ok(status) => describe_exit(status),
            Err(e) => format!("could not be waited for: {e}"),
        };
        WorkerError::Died {
            status,
            stderr_tail: self.stderr_tail(),
        }
    }
}

impl Drop for WorkerClient {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// "exited with code 1", "was killed by signal 9 (SIGKILL)"…
pub fn describe_exit(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = match signal {
                4 => " (SIGILL: illegal instruction; a build for another CPU?)",
                6 => " (SIGABRT: the library aborted)",
                7 => " (SIGBUS)",
                9 => " (SIGKILL: out of memory, or killed)",
                11 => " (SIGSEGV: crash)",
                15 => " (SIGTERM)",
                _ => "",
            };
            return format!("was killed by signal {signal}{name}");
        }
    }
    match status.code() {
        Some(code) => format!("exited with code {code}"),
        None => "exited".into(),
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Whether `path` looks like an executable file (for listing which targets are built).
pub fn is_executable(path: &Path) -> bool {
    path.is_file()
}
