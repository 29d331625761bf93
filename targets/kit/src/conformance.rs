//! The conformance suite: what every target must do, checked the same way for each, so a
//! target's tests call it in one line instead of carrying their own copy:
//!
//! ```ignore
//! #[test]
//! fn conforms() {
//!     let dir = tempfile::tempdir().unwrap();
//!     let model = write_tiny_model(dir.path());
//!     edgebench_target_kit::conformance::llm(MyTarget::new, &model, &load_spec(&model));
//! }
//! ```
//!
//! - [`llm`]: bad files (missing, empty, not a model, cut short) give one line naming the path
//!   and leave the target usable; calls before a load are [`TargetError::NotLoaded`]; the
//!   shared guards (empty prefill, token past the vocabulary, sequence past the context);
//!   greedy generation is the same after a reset; the worker loop serves it over the protocol.
//! - [`speech`]: the same for a [`SpeechTarget`], plus the speech steps (mel, encode, decoder
//!   prompt and steps) run by the shared loop, twice with the same tokens.
//! - [`worker_crash`]: the worker executable answers `info` with its description, and a
//!   worker that dies mid-request is reported as [`WorkerError::Died`] with how it died.
//!
//! Every check panics with a message saying which one failed and why (these are tests).

use crate::audio;
use crate::client::{WorkerClient, WorkerCommand, WorkerError};
use crate::protocol::{Request, Response, RunSpec, SpeechRunSpec};
use crate::speech::{self, State};
use crate::target::{LoadSpec, ModelInfo, SpeechTarget, Target, TargetError};
use crate::tokens::{argmax, prompt_tokens};
use crate::worker;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every check of an LLM target. `new_target` makes a fresh, unloaded target; `model` is a
/// model it runs (a tiny one: the checks fill its context); `load` the spec to load it with
/// (its `model_path` is replaced for the bad files; its context should be at least 16).
pub fn llm<T: Target>(new_target: impl Fn() -> T, model: &Path, load: &LoadSpec) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut target = new_target();
    not_loaded(&mut target);
    bad_files(model, dir.path(), |path| {
        target
            .load(&LoadSpec {
                model_path: path.to_path_buf(),
                ..load.clone()
            })
            .map(|_| ())
    });
    let info = target
        .load(load)
        .unwrap_or_else(|e| panic!("after the bad files, the good model must load: {e}"));
    llm_bounds(&mut target, &info, load.context);
    llm_determinism(&mut target, &info);
    llm_protocol(new_target(), load);
}

/// Every check of a speech target; `new_target`, `model` and `load` as for [`llm`].
pub fn speech<T: SpeechTarget>(new_target: impl Fn() -> T, model: &Path, load: &LoadSpec) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut target = new_target();
    assert!(
        target.encode().is_err() && target.reset_decoder().is_err(),
        "speech calls before a load must be errors"
    );
    assert!(target.decode(&[1]).is_err(), "decode before a load");
    bad_files(model, dir.path(), |path| {
        target
            .load(&LoadSpec {
                model_path: path.to_path_buf(),
                ..load.clone()
            })
            .map(|_| ())
    });
    let info = target
        .load(load)
        .unwrap_or_else(|e| panic!("after the bad files, the good model must load: {e}"));
    speech_steps(&mut target, &info, dir.path());
    speech_protocol(new_target(), load, dir.path());
}

/// The worker executable `exe` (started with `args`, e.g. `--speech`) answers `info` with a
/// name and a description, loads with `load`, answers `request`, and when it is killed during a
/// request, the client says it died and how.
pub fn worker_crash(exe: &Path, args: &[&str], load: &LoadSpec, request: &Request) {
    let mut command = WorkerCommand::for_target(exe.to_path_buf(), load.threads.max(1));
    command.args = args.iter().map(|a| a.to_string()).collect();
    let mut w =
        WorkerClient::spawn(&command).unwrap_or_else(|e| panic!("spawn {}: {e}", exe.display()));
    let ask = |w: &mut WorkerClient, r: &Request| w.request(r, Duration::from_secs(300), |_| {});
    let info = match ask(&mut w, &Request::Info) {
        Ok(Response::Info(info)) => info,
        other => panic!("info: {other:?}"),
    };
    assert!(!info.name.is_empty(), "the worker names its target");
    assert!(
        !info.description.summary.is_empty(),
        "{}: the worker describes itself (summary)",
        info.name
    );
    assert!(
        info.description.memory.is_some(),
        "{}: the worker describes its memory model",
        info.name
    );
    // A default that is a value (not a phrase like "what the workloads need") is one it takes.
    for o in &info.description.options {
        if !o.default.is_empty() && !o.default.contains(' ') {
            assert!(
                o.check(&o.default).is_ok(),
                "{}: the default of {}, {}, is not a value it takes",
                info.name,
                o.name,
                o.default
            );
        }
    }
    match ask(&mut w, &Request::Load(load.clone())) {
        Ok(Response::Loaded { .. }) => {}
        other => panic!("{}: load: {other:?}", info.name),
    }
    match ask(&mut w, request) {
        Ok(Response::Repetition(_)) => {}
        other => panic!("{}: {request:?}: {other:?}", info.name),
    }
    // Kill it from outside, as the OOM killer would, then ask again.
    #[cfg(unix)]
    {
        // SAFETY: a signal to the worker process this function started.
        let killed = unsafe { libc::kill(w.pid() as libc::pid_t, libc::SIGKILL) };
        assert_eq!(killed, 0, "kill the worker");
        let err = ask(&mut w, request).expect_err("a dead worker cannot answer");
        let msg = err.to_string();
        assert!(matches!(err, WorkerError::Died { .. }), "{msg}");
        assert!(msg.contains("SIGKILL"), "says how it died: {msg}");
        assert!(!msg.is_empty());
    }
    #[cfg(not(unix))]
    w.quit();
}

/// The greedy tokens of a decoder prompt and `steps` steps on `wav`, with every step's logits
/// (for targets' own comparisons between formats or options).
pub fn transcribe<T: SpeechTarget>(
    target: &mut T,
    wav: &Path,
    vocab: usize,
    steps: usize,
) -> Vec<Vec<f32>> {
    let pcm = audio::read_wav(wav).unwrap_or_else(|e| panic!("{e}"));
    target
        .mel(pcm.window())
        .unwrap_or_else(|e| panic!("mel: {e}"));
    target.encode().unwrap_or_else(|e| panic!("encode: {e}"));
    target.reset_decoder().unwrap_or_else(|e| panic!("{e}"));
    let prompt = speech::decoder_prompt(vocab).expect("a Whisper vocabulary");
    let mut all = vec![target.decode(&prompt).unwrap_or_else(|e| panic!("{e}"))];
    for _ in 0..steps {
        let next = argmax(all.last().unwrap()).expect("finite logits");
        all.push(target.decode(&[next]).unwrap_or_else(|e| panic!("{e}")));
    }
    all
}

/// ‖a − b‖ / ‖a‖.
pub fn relative_rms(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let num: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let den: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum();
    (num / den.max(1e-30)).sqrt()
}

/// The largest |a − b|.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The error of loading `path`, checked to be one line that names the path.
pub fn load_error(result: Result<(), TargetError>, path: &Path) -> String {
    let msg = match result {
        Ok(()) => panic!("{} loaded", path.display()),
        Err(e) => e.to_string(),
    };
    assert!(!msg.contains('\n'), "one line: {msg}");
    assert!(
        msg.contains(&path.display().to_string()),
        "names the file: {msg}"
    );
    msg
}

fn not_loaded<T: Target>(target: &mut T) {
    for (what, r) in [
        ("decode", target.decode(1).map(|_| ())),
        ("prefill", target.prefill(&[1]).map(|_| ())),
        ("reset", target.reset()),
    ] {
        assert!(
            matches!(r, Err(TargetError::NotLoaded)),
            "{what} before a load: {r:?}"
        );
    }
}

/// Bad variants of `model` (a file, or a folder of files) written into `dir`: each must fail
/// to load with one line naming it.
fn bad_files(model: &Path, dir: &Path, mut load: impl FnMut(&Path) -> Result<(), TargetError>) {
    let name = model
        .file_name()
        .map_or("model".into(), |n| n.to_string_lossy().into_owned());
    let missing = dir.join(format!("missing-{name}"));
    load_error(load(&missing), &missing);
    let junk = "this is not a model\n".repeat(100);
    if model.is_dir() {
        let empty = dir.join(format!("empty-{name}"));
        std::fs::create_dir_all(&empty).unwrap();
        load_error(load(&empty), &empty);
        // Every file of the folder replaced by text.
        let garbled = dir.join(format!("garbled-{name}"));
        std::fs::create_dir_all(&garbled).unwrap();
        for entry in std::fs::read_dir(model).unwrap() {
            let entry = entry.unwrap();
            if entry.path().is_file() {
                std::fs::write(garbled.join(entry.file_name()), &junk).unwrap();
            }
        }
        load_error(load(&garbled), &garbled);
    } else {
        let empty = dir.join(format!("empty-{name}"));
        std::fs::write(&empty, b"").unwrap();
        load_error(load(&empty), &empty);
        let text = dir.join(format!("text-{name}"));
        std::fs::write(&text, &junk).unwrap();
        load_error(load(&text), &text);
        let bytes = std::fs::read(model).unwrap();
        let cut = dir.join(format!("cut-{name}"));
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        load_error(load(&cut), &cut);
    }
}

/// The shared guards: no empty prefill, no token past the vocabulary, no sequence past the
/// context; a refused call leaves the sequence as it was.
fn llm_bounds<T: Target>(target: &mut T, info: &ModelInfo, context: usize) {
    let vocab = info.vocab_size;
    assert!(vocab > 1, "a vocabulary: {info:?}");
    let msg = target.prefill(&[]).unwrap_err().to_string();
    assert!(msg.contains("zero tokens"), "empty prefill: {msg}");
    let msg = target.prefill(&[1, vocab as u32]).unwrap_err().to_string();
    assert!(
        msg.contains("outside the vocabulary"),
        "token id {vocab}: {msg}"
    );
    target
        .decode(5)
        .expect("a refused call leaves the target usable");
    target.reset().unwrap();

    // Fill what the load asked for, then keep decoding until the target refuses: at the
    // context it reported at the latest.
    let max = info.max_context.unwrap_or(context);
    let asked = context.min(max);
    let prompt = prompt_tokens(3, asked, vocab);
    target
        .prefill(&prompt)
        .unwrap_or_else(|e| panic!("a prefill of the {asked} tokens the load asked for: {e}"));
    let mut pos = asked;
    let refused = loop {
        match target.decode(7) {
            Ok(_) => pos += 1,
            Err(e) => break e,
        }
        assert!(
            pos <= max,
            "decoded to {pos} tokens, past the reported context of {max}"
        );
    };
    assert!(
        matches!(refused, TargetError::Unsupported(_)),
        "past the context at {pos} tokens: {refused}"
    );
    target.reset().unwrap();
    target.decode(7).expect("usable after a reset");
    target.reset().unwrap();
}

/// Greedy generation is the same after a reset, through the shared loop.
fn llm_determinism<T: Target>(target: &mut T, info: &ModelInfo) {
    let spec = RunSpec {
        prompt: 8,
        gen: 8,
        seed: 1,
    };
    let runs: Vec<Vec<u32>> = (0..2)
        .map(|_| {
            worker::run_repetition(target, info.vocab_size, spec, |_| {})
                .unwrap_or_else(|e| panic!("repetition: {e}"))
                .tokens
        })
        .collect();
    assert_eq!(runs[0].len(), 8);
    assert_eq!(runs[0], runs[1], "greedy tokens after a reset");
}

/// The worker loop serves the target: info, load, a repetition, greedy generation, a speech
/// request refused, quit.
fn llm_protocol<T: Target>(target: T, load: &LoadSpec) {
    let requests = [
        Request::Info,
        Request::Load(load.clone()),
        Request::Run(RunSpec {
            prompt: 4,
            gen: 2,
            seed: 2,
        }),
        Request::Generate {
            prompt: prompt_tokens(2, 4, 256),
            gen: 2,
        },
        Request::RunSpeech(SpeechRunSpec::default()),
        Request::Quit,
    ];
    let responses = serve_lines(&requests, |input, out| worker::serve(target, input, out));
    let finals: Vec<&Response> = responses
        .iter()
        .filter(|r| !matches!(r, Response::Phase { .. }))
        .collect();
    assert!(matches!(finals[0], Response::Info(i) if !i.name.is_empty()));
    assert!(
        matches!(finals[1], Response::Loaded { .. }),
        "{:?}",
        finals[1]
    );
    assert!(
        matches!(finals[2], Response::Repetition(t) if t.decode_s.len() == 2 && t.prefill_s.is_some()),
        "{:?}",
        finals[2]
    );
    assert!(
        matches!(finals[3], Response::Generated { tokens, .. } if tokens.len() == 2),
        "{:?}",
        finals[3]
    );
    assert!(
        matches!(finals[4], Response::Error { .. }),
        "{:?}",
        finals[4]
    );
    assert_eq!(finals[5], &Response::Bye);
}

/// The speech steps through the shared loop, twice with the same tokens; the loop's bounds;
/// the target's own refusals.
fn speech_steps<T: SpeechTarget>(target: &mut T, info: &ModelInfo, dir: &Path) {
    let wav = clip(dir);
    let vocab = info.vocab_size;
    let ctx = info
        .max_context
        .expect("a speech target reports its decoder context");
    let mut state = State::for_model(vocab, ctx);
    let spec = SpeechRunSpec {
        audio_path: wav.clone(),
        mel: true,
        encode: true,
        decode: 4,
    };
    let mut phases = Vec::new();
    let runs: Vec<Vec<u32>> = (0..2)
        .map(|_| {
            let t = speech::run_repetition(target, &mut state, &spec, |p| phases.push(p))
                .unwrap_or_else(|e| panic!("speech repetition: {e}"));
            assert!(t.mel_s.is_some() && t.encode_s.is_some() && t.prefill_s.is_some());
            assert_eq!(t.decode_s.len(), 4);
            t.tokens
        })
        .collect();
    assert_eq!(runs[0], runs[1], "greedy decoder steps after a reset");
    assert_eq!(phases.len(), 10, "{phases:?}");
    let too_long = SpeechRunSpec {
        decode: ctx,
        ..spec.clone()
    };
    let e = speech::run_repetition(target, &mut state, &too_long, |_| {}).unwrap_err();
    assert!(e.to_string().contains("holds"), "{e}");

    target.reset_decoder().unwrap();
    assert!(target.decode(&[]).is_err(), "a decoder call of no tokens");
    let e = target.decode(&[vocab as u32]).unwrap_err().to_string();
    assert!(
        e.contains("outside the vocabulary"),
        "token id {vocab}: {e}"
    );
    target.reset_decoder().unwrap();
    let prompt = speech::decoder_prompt(vocab).expect("a Whisper vocabulary");
    target
        .decode(&prompt)
        .expect("usable after a refused decoder call");
}

/// The speech worker loop serves the target: load, a repetition, an LLM request refused, quit.
fn speech_protocol<T: SpeechTarget>(target: T, load: &LoadSpec, dir: &Path) {
    let requests = [
        Request::Info,
        Request::Load(load.clone()),
        Request::RunSpeech(SpeechRunSpec {
            audio_path: clip(dir),
            mel: true,
            encode: true,
            decode: 2,
        }),
        Request::Run(RunSpec::default()),
        Request::Quit,
    ];
    let responses = serve_lines(&requests, |input, out| speech::serve(target, input, out));
    let finals: Vec<&Response> = responses
        .iter()
        .filter(|r| !matches!(r, Response::Phase { .. }))
        .collect();
    assert!(matches!(finals[0], Response::Info(i) if !i.name.is_empty()));
    assert!(
        matches!(finals[1], Response::Loaded { .. }),
        "{:?}",
        finals[1]
    );
    assert!(
        matches!(finals[2], Response::Repetition(t) if t.decode_s.len() == 2),
        "{:?}",
        finals[2]
    );
    assert!(
        matches!(finals[3], Response::Error { .. }),
        "{:?}",
        finals[3]
    );
    assert_eq!(finals[4], &Response::Bye);
}

fn clip(dir: &Path) -> PathBuf {
    let path = dir.join("conformance-clip.wav");
    if !path.exists() {
        audio::write_test_wav(&path, 2.0).unwrap_or_else(|e| panic!("{e}"));
    }
    path
}

fn serve_lines(requests: &[Request], serve: impl FnOnce(&[u8], &mut Vec<u8>)) -> Vec<Response> {
    let input = requests
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    serve(input.as_bytes(), &mut out);
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}
