//! A worker for a target that cannot run here: it answers every request with the reason, so
//! `edgebench list targets` and a run's skipped tests say why instead of showing a crash.

use edgebench_target_kit::protocol::{Request, Response};
use std::io::{BufRead, Write};

/// Serve `reason` as the answer to every request until `quit` or end of input; exit 0.
pub fn serve(reason: &str) -> ! {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let response = match serde_json::from_str::<Request>(&line) {
            Ok(Request::Quit) => Response::Bye,
            Ok(_) => Response::Error {
                message: reason.to_string(),
            },
            Err(e) => Response::Error {
                message: format!("bad request: {e}"),
            },
        };
        let quit = response == Response::Bye;
        let text = serde_json::to_string(&response).expect("responses always serialize");
        if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() || quit {
            break;
        }
    }
    std::process::exit(0)
}
