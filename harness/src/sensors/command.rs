//! Running a device tool (`vcgencmd`, `nvpmodel`) with a time limit: a hung tool costs one
//! sample, never the run.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Run `program args…` and return its standard output. An error names the program and says
/// what went wrong (could not start, exit status with the first stderr line, time limit).
pub fn run_command(program: &Path, args: &[&str], timeout: Duration) -> Result<String, String> {
    let shown = || format!("{} {}", program.display(), args.join(" "));
    // Its own process group: a Ctrl-C at the terminal stops edgebench cleanly, not the tool.
    let child = crate::client::own_process_group(&mut Command::new(program))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: cannot start: {e}", shown()))?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(out)) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into()),
        Ok(Ok(out)) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            Err(format!(
                "{}: {}{}",
                shown(),
                out.status,
                stderr
                    .lines()
                    .next()
                    .map(|l| format!(": {}", l.trim()))
                    .unwrap_or_default()
            ))
        }
        Ok(Err(e)) => Err(format!("{}: {e}", shown())),
        Err(_) => {
            // SAFETY: kill(2) on the pid of our own child, which has not been reaped (the
            // waiting thread still holds it).
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            Err(format!(
                "{}: no answer within {:.1} s",
                shown(),
                timeout.as_secs_f64()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_errors_and_time_limit() {
        let sh = Path::new("/bin/sh");
        let t = Duration::from_secs(5);
        assert_eq!(run_command(sh, &["-c", "echo hi"], t).unwrap(), "hi\n");
        let err = run_command(sh, &["-c", "echo broken >&2; exit 3"], t).unwrap_err();
        assert!(
            err.contains("exit status: 3") && err.contains("broken"),
            "{err}"
        );
        let err = run_command(sh, &["-c", "sleep 5"], Duration::from_millis(100)).unwrap_err();
        assert!(err.contains("no answer"), "{err}");
        let err = run_command(Path::new("/nonexistent/tool"), &[], t).unwrap_err();
        assert!(err.contains("/nonexistent/tool") && err.contains("cannot start"));
    }
}
