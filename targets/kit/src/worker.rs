//! The worker side of the protocol: the one generation loop every target is measured with.
//!
//! A target's worker binary is just `fn main() { edgebench_target_kit::worker::main(MyTarget::new()) }`.
//! The loop times only the backend calls (and the greedy pick of the next token, which real
//! generation also pays for); protocol I/O happens outside the timed spans.

use crate::protocol::{Phase, RepetitionTiming, Request, Response, RunSpec};
use crate::target::{Target, TargetError, TargetResult};
use crate::tokens::{argmax, prompt_tokens};
use std::io::{BufRead, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// Serve requests from stdin until `quit` or end of input. Exits the process with 0.
pub fn main<T: Target>(target: T) -> ! {
    let out = protocol_output();
    let stdin = std::io::stdin();
    serve(target, stdin.lock(), out);
    std::process::exit(0)
}

/// Serve requests read from `input`, writing responses to `output`.
pub fn serve<T: Target>(mut target: T, input: impl BufRead, output: impl Write) {
    let mut vocab = 0usize;
    serve_with(input, output, |request, output| {
        handle(&mut target, &mut vocab, request, output)
    });
}

/// The request loop of every worker (LLM and speech): read a request a line, answer it with
/// `handle`, turn errors and panics into [`Response::Error`], stop at `quit` or end of input.
pub(crate) fn serve_with<W: Write>(
    input: impl BufRead,
    mut output: W,
    mut handle: impl FnMut(Request, &mut W) -> TargetResult<Response>,
) {
    for line in input.lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let request: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                send(
                    &mut output,
                    &Response::Error {
                        message: format!("bad request: {e}"),
                    },
                );
                continue;
            }
        };
        if request == Request::Quit {
            send(&mut output, &Response::Bye);
            break;
        }
        // A panic inside a backend is reported like any other error; the worker lives on.
        let outcome = catch_unwind(AssertUnwindSafe(|| handle(request, &mut output)));
        let response = match outcome {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Response::Error {
                message: e.to_string(),
            },
            Err(panic) => Response::Error {
                message: format!("backend panicked: {}", panic_message(&panic)),
            },
        };
        send(&mut output, &response);
    }
}

fn handle<T: Target>(
    target: &mut T,
    vocab: &mut usize,
    request: Request,
    output: &mut impl Write,
) -> TargetResult<Response> {
    match request {
        Request::Info => Ok(Response::Info(target.info())),
        Request::Load(spec) => {
            let start = Instant::now();
            let model = target.load(&spec)?;
            let load_s = start.elapsed().as_secs_f64();
            *vocab = model.vocab_size;
            Ok(Response::Loaded {
                load_s,
                model,
                peak_rss_bytes: peak_rss_bytes(),
            })
        }
        Request::Run(spec) => {
            if *vocab == 0 {
                return Err(TargetError::NotLoaded);
            }
            let timing = run_repetition(target, *vocab, spec, |phase| {
                send(output, &Response::Phase { phase })
            })?;
            Ok(Response::Repetition(timing))
        }
        Request::Generate { prompt, gen } => {
            target.reset()?;
            let mut logits = target.prefill(&prompt)?;
            let prefill_logits = logits.clone();
            let mut tokens = Vec::with_capacity(gen);
            for _ in 0..gen {
                let next = pick(&logits)?;
                tokens.push(next);
                logits = target.decode(next)?;
            }
            Ok(Response::Generated {
                prefill_logits,
                tokens,
            })
        }
        Request::RunSpeech(_) | Request::SpeechCheck(_) => Err(TargetError::Unsupported(
            "speech requests: this worker runs language models".into(),
        )),
        Request::Quit => unreachable!("handled by serve"),
    }
}

/// One repetition: reset, prefill `spec.prompt` seeded tokens in one batch, then `spec.gen`
/// greedy single-token decodes. With no prompt, decoding starts from one seeded token at
/// position 0 (llama-bench's tg test).
pub fn run_repetition<T: Target>(
    target: &mut T,
    vocab: usize,
    spec: RunSpec,
    mut on_phase: impl FnMut(Phase),
) -> TargetResult<RepetitionTiming> {
    target.reset()?;
    let mut timing = RepetitionTiming::default();
    let mut next = if spec.prompt > 0 {
        let prompt = prompt_tokens(spec.seed, spec.prompt, vocab);
        on_phase(Phase::Prefill);
        let start = Instant::now();
        let logits = target.prefill(&prompt)?;
        timing.prefill_s = Some(start.elapsed().as_secs_f64());
        let next = pick(&logits)?;
        timing.first_token_s = Some(start.elapsed().as_secs_f64());
        next
    } else {
        prompt_tokens(spec.seed, 1, vocab)[0]
    };
    if spec.gen > 0 {
        on_phase(Phase::Decode);
        timing.decode_s.reserve(spec.gen);
        for _ in 0..spec.gen {
            let start = Instant::now();
            let logits = target.decode(next)?;
            next = pick(&logits)?;
            timing.decode_s.push(start.elapsed().as_secs_f64());
            timing.tokens.push(next);
        }
    }
    on_phase(Phase::Idle);
    timing.peak_rss_bytes = peak_rss_bytes();
    Ok(timing)
}

pub(crate) fn pick(logits: &[f32]) -> TargetResult<u32> {
    argmax(logits).ok_or_else(|| {
        TargetError::Backend(format!(
            "backend returned {} logits with a NaN or none at all",
            logits.len()
        ))
    })
}

pub(crate) fn send(output: &mut impl Write, response: &Response) {
    let line = serde_json::to_string(response).expect("responses always serialize");
    // If the harness is gone there is nobody to tell; the next read ends the loop.
    let _ = writeln!(output, "{line}");
    let _ = output.flush();
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

/// Peak resident set size of this process (`getrusage`), bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage only writes into the struct we pass.
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
            return None;
        }
        let max = usage.ru_maxrss as u64;
        // Linux reports kilobytes, macOS bytes.
        if cfg!(target_os = "macos") {
            Some(max)
        } else {
            Some(max * 1024)
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The stream protocol responses go to. On Unix, the real stdout is kept for the protocol and
/// file descriptor 1 is pointed at stderr, so a backend library that prints to stdout cannot
/// corrupt the protocol.
pub(crate) fn protocol_output() -> Box<dyn Write> {
    #[cfg(unix)]
    {
        use std::os::fd::FromRawFd;
        // SAFETY: plain descriptor duplication; the new descriptor is owned by the File.
        unsafe {
            let proto = libc::dup(1);
            if proto >= 0 && libc::dup2(2, 1) >= 0 {
                return Box::new(std::io::BufWriter::new(std::fs::File::from_raw_fd(proto)));
            }
        }
    }
    Box::new(std::io::stdout())
}
