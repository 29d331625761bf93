//! What runs on a device, as POSIX `sh` scripts over a [`Session`]: probing it, installing a
//! tarball into its versioned folder, and running `edgebench run` there while its results file
//! streams back line by line.
//!
//! On the device, everything lives under one folder (`edgebench_dir`, default
//! `~/.cache/edgebench-fleet`): `<tarball name>/` per installed build (with
//! `.edgebench-sha256`, the tarball's hash), `runs/<fleet run id>.jsonl` (+ `.log`, edgebench's
//! own output, and `.exit`, its exit status), and `run.lock`, which one run (or install) holds at
//! a time (`flock`, or a `run.lock.d` folder where there is no flock, as on macOS).

use super::artifact::{Artifact, Platform};
use super::ssh::{self, quote, remote_path, Session};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

/// The folder on the device when the inventory names none.
pub const DEFAULT_DIR: &str = "~/.cache/edgebench-fleet";

/// Exit status of a script that found the device busy with another run.
const BUSY: i32 = 75;

/// A shell function `lock` that takes `$D/run.lock` or exits with [`BUSY`]. With flock the lock
/// is file descriptor 9, inherited by `edgebench run`, so it holds until that run ends.
const LOCK_FN: &str = r#"
LOCKD=
lock() {
  if command -v flock >/dev/null 2>&1; then
    exec 9>>"$D/run.lock" && flock -n 9 && return 0
  elif mkdir "$D/run.lock.d" 2>/dev/null; then
    LOCKD="$D/run.lock.d"; echo $$ >"$LOCKD/pid"; return 0
  else
    p=$(cat "$D/run.lock.d/pid" 2>/dev/null) || p=
    if [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; then
      LOCKD="$D/run.lock.d"; echo $$ >"$LOCKD/pid"; return 0
    fi
  fi
  echo "busy: another edgebench run holds the lock in $D" >&2
  exit 75
}
"#;

/// What a device said about itself and its edgebench folder.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub platform: Platform,
    /// `$HOME` on the device.
    pub home: String,
    /// Installed builds: folder name → tarball SHA-256.
    pub installed: BTreeMap<String, String>,
    /// Free space where the folder is (or would be), KiB.
    pub free_kib: Option<u64>,
    /// The newest results file on the device, its line count and its run's exit status.
    pub last_results: Option<String>,
    pub last_results_lines: Option<u64>,
    pub last_exit: Option<i32>,
    /// Another run holds the lock now.
    pub busy: bool,
}

/// Asks the device what it is and what its edgebench folder holds (changes nothing there).
pub fn probe(session: &Session, dir: &str, deadline: Instant) -> Result<Probe, String> {
    let script = format!(
        r#"D={d}
echo "os=$(uname -s)"
echo "arch=$(uname -m)"
echo "home=$HOME"
echo "board=$(tr -d '\000' </proc/device-tree/model 2>/dev/null)"
c=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
[ -n "$c" ] || c=$(sysctl -n machdep.cpu.brand_string 2>/dev/null)
echo "cpu=$c"
echo "cpu_parts=$(sed -n 's/^CPU part[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | sort -u | tr '\n' ' ')"
for f in "$D"/edgebench-*/.edgebench-sha256; do
  [ -f "$f" ] && echo "installed=$(basename "$(dirname "$f")") $(cat "$f")"
done
p="$D"; while [ ! -d "$p" ]; do p=$(dirname "$p"); done
echo "free_kib=$(df -Pk "$p" 2>/dev/null | awk 'NR==2 {{print $4}}')"
l=$(ls -t "$D"/runs/*.jsonl 2>/dev/null | grep -v '[.]timeline[.]jsonl$' | head -n 1)
if [ -n "$l" ]; then
  echo "last_results=$l"
  echo "last_results_lines=$(wc -l <"$l" | tr -d ' ')"
  echo "last_exit=$(cat "${{l%.jsonl}}.exit" 2>/dev/null)"
fi
if command -v flock >/dev/null 2>&1; then
  [ -e "$D/run.lock" ] && ! flock -n "$D/run.lock" true && echo busy=1
elif [ -d "$D/run.lock.d" ]; then
  echo busy=1
fi
exit 0
"#,
        d = remote_path(dir)
    );
    let out = session.run(&script, None, deadline)?;
    if !out.status.success() {
        return Err(format!(
            "probing the device failed: {}",
            ssh::last_line(&out.stderr).unwrap_or("no message")
        ));
    }
    Ok(parse_probe(&out.stdout))
}

fn parse_probe(text: &str) -> Probe {
    let mut p = Probe::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        match k {
            "os" => {
                p.platform.os = match v {
                    "Linux" => "linux".into(),
                    "Darwin" => "macos".into(),
                    other => other.to_ascii_lowercase(),
                }
            }
            "arch" => p.platform.arch = v.into(),
            "home" => p.home = v.into(),
            "board" => p.platform.board = v.into(),
            "cpu" => p.platform.cpu = v.into(),
            "cpu_parts" => p.platform.cpu_parts = v.split_whitespace().map(String::from).collect(),
            "installed" => {
                if let Some((name, sha)) = v.split_once(' ') {
                    p.installed.insert(name.into(), sha.trim().into());
                }
            }
            "free_kib" => p.free_kib = v.parse().ok(),
            "last_results" if !v.is_empty() => p.last_results = Some(v.into()),
            "last_results_lines" => p.last_results_lines = v.parse().ok(),
            "last_exit" => p.last_exit = v.parse().ok(),
            "busy" => p.busy = true,
            _ => {}
        }
    }
    p
}

/// Puts `artifact` into `<dir>/<its name>/` unless the same tarball (by SHA-256) is there.
/// Returns whether it uploaded.
pub fn install(
    session: &Session,
    dir: &str,
    artifact: &Artifact,
    sha256: &str,
    probe: &Probe,
    deadline: Instant,
) -> Result<bool, String> {
    if probe.installed.get(&artifact.stem).map(String::as_str) == Some(sha256) {
        return Ok(false);
    }
    let size = std::fs::metadata(&artifact.path)
        .map_err(|e| format!("{}: {e}", artifact.path.display()))?
        .len();
    // The tarball, then the unpacked files (about three times as big) beside it.
    let need_kib = size * 4 / 1024 + 1024;
    if let Some(free) = probe.free_kib.filter(|f| *f < need_kib) {
        return Err(format!(
            "disk full on device: {} MiB free for {dir}, installing {} needs about {} MiB",
            free / 1024,
            artifact.stem,
            need_kib / 1024
        ));
    }
    let script = format!(
        r#"D={d}; S={s}
set -e
mkdir -p "$D"
{LOCK_FN}
lock
T="$D/.upload-$$"
trap 'rm -rf "$T"; [ -z "$LOCKD" ] || rm -rf "$LOCKD"' EXIT
rm -rf "$T"; mkdir "$T"
cat >"$T/t.tar.gz"
tar -xzf "$T/t.tar.gz" -C "$T"
rm -f "$T/t.tar.gz"
if [ ! -x "$T/$S/bin/edgebench" ]; then echo "the tarball holds no $S/bin/edgebench" >&2; exit 1; fi
echo {sha} >"$T/$S/.edgebench-sha256"
rm -rf "$D/$S"
mv "$T/$S" "$D/$S"
"$D/$S/bin/edgebench" --version
"#,
        d = remote_path(dir),
        s = quote(&artifact.stem),
        sha = quote(sha256),
    );
    let out = session.run(&script, Some(&artifact.path), deadline)?;
    if out.status.code() == Some(BUSY) {
        return Err(busy_reason(&out.stderr));
    }
    if !out.status.success() {
        let line = ssh::last_line(&out.stderr).unwrap_or("no message");
        return Err(if out.stderr.contains("No space left on device") {
            format!(
                "disk full on device while installing {}: {line}",
                artifact.stem
            )
        } else {
            format!("installing {} failed: {line}", artifact.stem)
        });
    }
    Ok(true)
}

fn busy_reason(stderr: &str) -> String {
    ssh::last_line(stderr)
        .unwrap_or("busy: another edgebench run holds the device's lock")
        .to_string()
}

/// How a run on a device ended.
#[derive(Debug, Clone)]
pub struct Streamed {
    /// Complete result lines written to the local file.
    pub lines: u64,
    /// Of those, `repetition` records.
    pub repetitions: u64,
    /// `Ok` when `edgebench run` ran to its end with status 0; else the reason.
    pub result: Result<(), String>,
}

/// What to run on a device.
pub struct RunSpec<'a> {
    pub dir: &'a str,
    pub artifact: &'a Artifact,
    /// Names the results file on the device (`runs/<id>.jsonl`).
    pub run_id: &'a str,
    pub args: &'a [String],
    pub env: &'a [(String, String)],
}

/// Runs `edgebench run` on the device and appends every complete results line to `local` as it
/// arrives. A dropped link or a timeout keeps what arrived; the device stops its run when it
/// notices its link is gone (its keep-alive write to ssh's stderr fails, every 2 s): SIGINT
/// (edgebench ends after the current repetition), SIGTERM 10 s later, SIGKILL 5 s after that,
/// so its lock is freed. The script's own shell ignores SIGPIPE: the shell reports a killed
/// job on its stderr, and that write to a dead link must not kill it before it records the
/// run's exit status.
pub fn run_streaming(
    session: &Session,
    spec: &RunSpec,
    local: &Path,
    deadline: Instant,
) -> Streamed {
    let mut out = Streamed {
        lines: 0,
        repetitions: 0,
        result: Ok(()),
    };
    let mut file = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(local)
    {
        Ok(f) => f,
        Err(e) => {
            out.result = Err(format!("cannot write {}: {e}", local.display()));
            return out;
        }
    };
    let mut cmd = session.command(&remote_script(spec));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            out.result = Err(format!("cannot start ssh: {e}"));
            return out;
        }
    };
    let stderr = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut e) = stderr {
            let _ = std::io::Read::read_to_end(&mut e, &mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    });
    let watchdog = Watchdog::start(child.id() as libc::pid_t, deadline);
    let mut write_error = None;
    if let Some(stdout) = child.stdout.take() {
        write_error = append_lines(BufReader::new(stdout), &mut file, local, &mut out);
    }
    let timed_out = watchdog.stop();
    let status = child.wait();
    let stderr = err_reader.join().unwrap_or_default();
    if let Some(e) = write_error {
        out.result = Err(e);
        return out;
    }
    let code = match (timed_out, status) {
        (true, _) => {
            out.result = Err(out.kept("timed out"));
            return out;
        }
        (false, Ok(s)) => s.code(),
        (false, Err(e)) => {
            out.result = Err(format!("ssh: {e}"));
            return out;
        }
    };
    if let Some(reason) = ssh_failure(code, &stderr, &out) {
        out.result = Err(reason);
        return out;
    }
    finish_run(
        session,
        spec,
        code.unwrap_or(-1),
        &mut file,
        &mut out,
        deadline,
    );
    out
}

impl Streamed {
    /// `what` with the count of what was kept.
    fn kept(&self, what: &str) -> String {
        format!(
            "{what} ({} result lines, {} repetitions kept)",
            self.lines, self.repetitions
        )
    }

    /// Count a line written to the local file.
    fn count(&mut self, line: &[u8]) {
        self.lines += 1;
        if is_repetition(line) {
            self.repetitions += 1;
        }
    }
}

/// The shell script that runs `edgebench run` on the device under its lock and streams its
/// results file (see [`run_streaming`]).
fn remote_script(spec: &RunSpec) -> String {
    let env: String = spec
        .env
        .iter()
        .map(|(k, v)| format!(" {}", quote(&format!("{k}={v}"))))
        .collect();
    let args: String = spec.args.iter().map(|a| format!(" {}", quote(a))).collect();
    format!(
        r#"D={d}; S={s}; ID={id}
mkdir -p "$D/runs" || exit 71
{LOCK_FN}
lock
trap '[ -z "$LOCKD" ] || rm -rf "$LOCKD"' EXIT
R="$D/runs/$ID.jsonl"; L="$D/runs/$ID.log"
: >>"$R" || exit 71
env{env} "$D/$S/bin/edgebench" run --results "$R"{args} </dev/null >"$L" 2>&1 &
pid=$!
tail -n +1 -f "$R" 9>&- &
tpid=$!
( trap '' PIPE
  while kill -0 $pid 2>/dev/null; do
    sleep 2
    printf . >&2 && continue
    kill -INT $pid 2>/dev/null
    for s in 1 2 3 4 5 6 7 8 9 10; do kill -0 $pid 2>/dev/null || exit 0; sleep 1; done
    kill -TERM $pid 2>/dev/null; sleep 5; kill -KILL $pid 2>/dev/null; exit 0
  done ) 9>&- &
hpid=$!
trap '' PIPE
wait $pid; rc=$?
kill $tpid $hpid 2>/dev/null
echo $rc >"$D/runs/$ID.exit"
exit $rc
"#,
        d = remote_path(spec.dir),
        s = quote(&spec.artifact.stem),
        id = quote(spec.run_id),
    )
}

/// Kills ssh at the deadline (the device notices its link is gone and stops its run).
struct Watchdog {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<bool>,
}

impl Watchdog {
    fn start(pid: libc::pid_t, deadline: Instant) -> Self {
        let (stop, stop_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let wait = deadline.saturating_duration_since(Instant::now());
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop_rx.recv_timeout(wait) {
                // SAFETY: `pid` is our own ssh child, not yet waited for (so not reused).
                unsafe { libc::kill(pid, libc::SIGKILL) };
                true
            } else {
                false
            }
        });
        Watchdog { stop, thread }
    }

    /// Stop watching; whether the deadline had already killed ssh.
    fn stop(self) -> bool {
        let _ = self.stop.send(());
        self.thread.join().unwrap_or(false)
    }
}

/// Append every complete line of `reader` to `file` as it arrives; the first write error, if
/// any (reading goes on, so ssh is never blocked).
fn append_lines(
    mut reader: impl BufRead,
    file: &mut std::fs::File,
    local: &Path,
    out: &mut Streamed,
) -> Option<String> {
    let mut write_error = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            // A line cut off by a dropped link is not kept: it is not a record.
            Ok(_) if line.last() != Some(&b'\n') => break,
            Ok(_) => {
                if let Err(e) = file.write_all(&line).and_then(|_| file.flush()) {
                    write_error.get_or_insert(format!("cannot write {}: {e}", local.display()));
                    continue;
                }
                out.count(&line);
            }
        }
    }
    write_error
}

/// Why ssh's exit `code` means the run did not end on the device, if it does: the link was
/// lost or ssh killed (255, none), the device busy, its results folder not writable.
fn ssh_failure(code: Option<i32>, stderr: &str, out: &Streamed) -> Option<String> {
    match code {
        Some(255) | None => {
            // ssh's own words where it said any (LogLevel may silence it).
            let why = match ssh::last_line(stderr) {
                Some(_) => ssh::classify(stderr, code),
                None if code.is_none() => "ssh was killed".to_string(),
                None => "connection lost (ssh ended with status 255)".to_string(),
            };
            Some(out.kept(&format!("{why} mid-run")))
        }
        Some(BUSY) => Some(busy_reason(stderr)),
        Some(71) => Some(format!(
            "cannot write the results folder on the device: {}",
            ssh::last_line(stderr).unwrap_or("no message")
        )),
        _ => None,
    }
}

/// The run ended with status `rc`: fetch what the stream had not delivered yet, and
/// edgebench's last words when it failed.
fn finish_run(
    session: &Session,
    spec: &RunSpec,
    rc: i32,
    file: &mut std::fs::File,
    out: &mut Streamed,
    deadline: Instant,
) {
    match catch_up(session, spec, out.lines, deadline) {
        Ok((rest, log)) => {
            for line in rest.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
                if file
                    .write_all(line.as_bytes())
                    .and_then(|_| file.flush())
                    .is_ok()
                {
                    out.count(line.as_bytes());
                }
            }
            if rc != 0 {
                out.result = Err(run_failure(rc, &log));
            }
        }
        Err(e) => {
            out.result = Err(if rc == 0 {
                out.kept(&format!("fetching the end of the results failed: {e}"))
            } else {
                run_failure(rc, "")
            });
        }
    }
}

/// The results lines after the first `have`, and the end of edgebench's output.
fn catch_up(
    session: &Session,
    spec: &RunSpec,
    have: u64,
    deadline: Instant,
) -> Result<(String, String), String> {
    let script = format!(
        r#"D={d}; ID={id}
tail -n +{from} "$D/runs/$ID.jsonl"
tail -n 20 "$D/runs/$ID.log" >&2
exit 0
"#,
        d = remote_path(spec.dir),
        id = quote(spec.run_id),
        from = have + 1
    );
    let out = session.run(&script, None, deadline)?;
    Ok((out.stdout, out.stderr))
}

/// One line for a run that did not end with status 0, from edgebench's own output.
fn run_failure(rc: i32, log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let said = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("error:"))
        .or_else(|| lines.last())
        .copied()
        .unwrap_or("no output");
    let what = match rc {
        1 => "edgebench run finished with failed tests".to_string(),
        130 => "edgebench run was interrupted".to_string(),
        126 | 127 => format!("edgebench could not start on the device (status {rc})"),
        rc if rc > 128 => format!("edgebench run crashed (signal {})", rc - 128),
        rc => format!("edgebench run exited with status {rc}"),
    };
    if log.contains("No space left on device") {
        format!("disk full on device: {what}: {said}")
    } else {
        format!("{what}: {said}")
    }
}

fn is_repetition(line: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(line)
        .ok()
        .is_some_and(|v| v.get("record").and_then(|r| r.as_str()) == Some("repetition"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_output_parses() {
        let p = parse_probe(
            "os=Linux\narch=aarch64\nhome=/home/pi\nboard=Raspberry Pi 5 Model B Rev 1.0\n\
             cpu=\ncpu_parts=0xd0b \ninstalled=edgebench-0.1.0-aarch64-linux-cortex-a76 abc123\n\
             free_kib=123456\nlast_results=/home/pi/.cache/edgebench-fleet/runs/f1.jsonl\n\
             last_results_lines=12\nlast_exit=0\n",
        );
        assert_eq!(p.platform.os, "linux");
        assert_eq!(p.platform.cpu_parts, ["0xd0b"]);
        assert_eq!(p.platform.board, "Raspberry Pi 5 Model B Rev 1.0");
        assert_eq!(
            p.installed
                .get("edgebench-0.1.0-aarch64-linux-cortex-a76")
                .map(String::as_str),
            Some("abc123")
        );
        assert_eq!(p.free_kib, Some(123456));
        assert_eq!(p.last_results_lines, Some(12));
        assert_eq!(p.last_exit, Some(0));
        assert!(!p.busy);
        assert_eq!(parse_probe("os=Darwin\narch=arm64\n").platform.os, "macos");
    }

    #[test]
    fn run_failures_say_what_edgebench_said() {
        assert_eq!(
            run_failure(2, "Loading…\nerror: unknown scenario llama9\n"),
            "edgebench run exited with status 2: error: unknown scenario llama9"
        );
        assert!(run_failure(139, "").starts_with("edgebench run crashed (signal 11)"));
        assert!(run_failure(
            2,
            "error: results.jsonl: No space left on device (os error 28)"
        )
        .starts_with("disk full on device"));
        assert!(is_repetition(br#"{"record":"repetition","index":0}"#));
        assert!(!is_repetition(br#"{"record":"test"}"#));
    }
}
