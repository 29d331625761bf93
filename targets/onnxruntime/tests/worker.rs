//! The worker executables: what a missing or wrong runtime library, or a platform without
//! Core ML, looks like to the harness; and a tiny folder run through the protocol.

mod common;

use edgebench_onnxruntime::session_options::SessionOptions;
use edgebench_scenarios::onnx::OnnxQuant;
use edgebench_target_kit::client::{WorkerClient, WorkerCommand, WorkerError};
use edgebench_target_kit::protocol::{Request, Response, RunSpec};
use std::path::PathBuf;
use std::time::Duration;

fn worker(name: &str, env: &[(&str, &str)]) -> WorkerClient {
    let program = PathBuf::from(match name {
        "coreml" => env!("CARGO_BIN_EXE_edgebench-worker-coreml"),
        _ => env!("CARGO_BIN_EXE_edgebench-worker-onnxruntime"),
    });
    let mut cmd = WorkerCommand::for_target(program, common::THREADS);
    cmd.env
        .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    WorkerClient::spawn(&cmd).unwrap()
}

fn info_error(client: &mut WorkerClient) -> String {
    match client.request(&Request::Info, Duration::from_secs(30), |_| {}) {
        Err(WorkerError::Backend(message)) => message,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn a_missing_runtime_library_is_a_one_line_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("libonnxruntime.so.1.31.1");
    let mut w = worker(
        "onnxruntime",
        &[("ORT_DYLIB_PATH", missing.to_str().unwrap())],
    );
    let e = info_error(&mut w);
    assert!(!e.contains('\n'), "{e}");
    assert!(
        e.contains("ORT_DYLIB_PATH")
            && e.contains("no such file")
            && e.contains("scripts/setup.sh"),
        "{e}"
    );
    // Still answering, and it quits when asked.
    assert_eq!(info_error(&mut w), e);
    w.quit();

    let not_a_library = dir.path().join("libonnxruntime.so");
    std::fs::write(&not_a_library, "not a library").unwrap();
    let mut w = worker(
        "onnxruntime",
        &[("ORT_DYLIB_PATH", not_a_library.to_str().unwrap())],
    );
    let e = info_error(&mut w);
    assert!(
        e.contains("cannot load ONNX Runtime from") && e.contains("scripts/setup.sh"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
}

#[cfg(not(target_os = "macos"))]
#[test]
fn coreml_says_it_needs_macos() {
    let mut w = worker("coreml", &[]);
    let e = info_error(&mut w);
    assert!(e.starts_with("needs macOS"), "{e}");
}

#[test]
fn setup_installs_the_version_the_target_expects() {
    let setup = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/setup.sh"),
    )
    .unwrap();
    let line = format!(
        "ORT_VERSION={}",
        edgebench_onnxruntime::runtime::ORT_VERSION
    );
    assert!(
        setup.lines().any(|l| l == line),
        "scripts/setup.sh lacks {line}"
    );
    let minor: u32 = edgebench_onnxruntime::runtime::ORT_VERSION
        .split('.')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(minor >= edgebench_onnxruntime::runtime::MIN_MINOR);
}

/// Through the protocol: info, load, a repetition, and info again with the session's
/// providers.
#[test]
fn the_worker_runs_a_tiny_folder() {
    let dir = tempfile::tempdir().unwrap();
    let folder = common::tiny("phi3-mini-tiny", OnnxQuant::Int4, dir.path());
    let mut w = worker("onnxruntime", &[]);
    let t = Duration::from_secs(60);
    let info = match w.request(&Request::Info, t, |_| {}).unwrap() {
        Response::Info(i) => i,
        other => panic!("{other:?}"),
    };
    assert_eq!(info.name, "onnxruntime");
    assert!(
        info.library_version.starts_with("onnxruntime 1."),
        "{}",
        info.library_version
    );
    assert!(info.formats.contains(&"onnx-genai".to_string()));
    let loaded = w
        .request(&Request::Load(common::spec(&folder, 40)), t, |_| {})
        .unwrap();
    assert!(matches!(loaded, Response::Loaded { .. }), "{loaded:?}");
    let run = RunSpec {
        prompt: 8,
        gen: 4,
        seed: 1,
    };
    match w.request(&Request::Run(run), t, |_| {}).unwrap() {
        Response::Repetition(r) => {
            assert_eq!(r.tokens.len(), 4);
            assert!(r.prefill_s.unwrap() > 0.0);
        }
        other => panic!("{other:?}"),
    }
    match w.request(&Request::Info, t, |_| {}).unwrap() {
        Response::Info(i) => {
            assert!(
                i.extra["session_providers"].starts_with("CPUExecutionProvider:"),
                "{:?}",
                i.extra
            );
            // The session options the results record are the ones the session was built with.
            let threads = common::spec(&folder, 40).threads;
            assert_eq!(
                i.extra["session_options"],
                SessionOptions::decoder(threads).describe()
            );
            assert!(
                i.extra["session_options"].contains("session.intra_op.allow_spinning=1"),
                "{:?}",
                i.extra
            );
        }
        other => panic!("{other:?}"),
    }
    w.quit();
}
