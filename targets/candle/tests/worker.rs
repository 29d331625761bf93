//! The worker binary over the line-delimited JSON protocol, and what `info` reports.

mod common;

use common::*;
use edgebench_candle::{CandleTarget, CANDLE_VERSION};
use edgebench_scenarios::Quant;
use edgebench_target_kit::protocol::Response;
use edgebench_target_kit::target::Target;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

#[test]
fn worker_speaks_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny("gemma-2b-tiny", Quant::Q4KM, dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgebench-worker-candle"))
        .env("RAYON_NUM_THREADS", "2")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut ask = |request: serde_json::Value| -> Vec<Response> {
        writeln!(stdin, "{request}").unwrap();
        stdin.flush().unwrap();
        let mut responses = Vec::new();
        loop {
            let line = lines.next().expect("a response").unwrap();
            let response: Response = serde_json::from_str(&line).unwrap();
            let done = !matches!(response, Response::Phase { .. });
            responses.push(response);
            if done {
                return responses;
            }
        }
    };

    let info = ask(serde_json::json!({"cmd": "info"}));
    let Response::Info(info) = &info[0] else {
        panic!("{info:?}")
    };
    assert_eq!(info.name, "candle");

    let missing = dir.path().join("missing.gguf");
    let err =
        ask(serde_json::json!({"cmd": "load", "model_path": missing, "threads": 2, "context": 64}));
    let Response::Error { message } = &err[0] else {
        panic!("{err:?}")
    };
    assert!(message.contains("missing.gguf"), "{message}");

    let loaded =
        ask(serde_json::json!({"cmd": "load", "model_path": model, "threads": 2, "context": 64}));
    let Response::Loaded { model, .. } = &loaded[0] else {
        panic!("{loaded:?}")
    };
    assert_eq!(model.architecture, "gemma");
    assert_eq!(model.quant.as_deref(), Some("q4_k_m"));

    let mut tokens = Vec::new();
    for _ in 0..2 {
        let run = ask(serde_json::json!({"cmd": "run", "prompt": 8, "gen": 4, "seed": 1}));
        let phases: Vec<_> = run
            .iter()
            .filter_map(|r| match r {
                Response::Phase { phase } => Some(phase.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(phases, ["prefill", "decode", "idle"]);
        let Some(Response::Repetition(rep)) = run.last() else {
            panic!("{run:?}")
        };
        assert!(rep.prefill_s.unwrap() > 0.0);
        assert_eq!(rep.decode_s.len(), 4);
        tokens.push(rep.tokens.clone());
    }
    assert_eq!(tokens[0], tokens[1]);

    let generated =
        ask(serde_json::json!({"cmd": "generate", "prompt": [300, 301, 302], "gen": 3}));
    let Response::Generated {
        prefill_logits,
        tokens,
    } = &generated[0]
    else {
        panic!("{generated:?}")
    };
    assert_eq!(prefill_logits.len(), 2048);
    assert_eq!(tokens.len(), 3);

    assert_eq!(ask(serde_json::json!({"cmd": "quit"})), [Response::Bye]);
    assert!(child.wait().unwrap().success());
}

#[test]
fn info_describes_the_build() {
    let info = CandleTarget::new().info();
    assert_eq!(info.name, "candle");
    assert_eq!(
        info.library_version,
        format!("candle-core {CANDLE_VERSION}")
    );
    assert_eq!(info.device, "cpu");
    assert_eq!(info.formats, ["gguf"]);
    assert_eq!(info.architectures, ["llama", "phi3", "gemma"]);
    for q in Quant::ALL {
        assert!(info.quants.contains(&q.name().to_string()), "{q}");
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        assert!(info.build_flags.contains(&"avx2".to_string()));
    }
    #[cfg(target_arch = "aarch64")]
    assert!(
        info.build_flags.contains(&"neon".to_string()),
        "{:?}",
        info.build_flags
    );
    assert!(info.extra.contains_key("threads"));
}

/// `CANDLE_VERSION` is what Cargo.lock resolved.
#[test]
fn candle_version_matches_the_lock_file() {
    let lock =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock")).unwrap();
    let entry = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"candle-core\""))
        .expect("candle-core in Cargo.lock");
    assert!(
        entry.contains(&format!("version = \"{CANDLE_VERSION}\"")),
        "{entry}"
    );
}

#[test]
fn threads_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (target, _) = load(&tiny("llama3-8b-tiny", Quant::Q4_0, dir.path()));
    assert_eq!(target.info().extra["threads"], THREADS.to_string());
}
