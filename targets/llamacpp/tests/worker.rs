//! The worker binary: the protocol, what `info` reports, and an abort inside llama.cpp turned
//! into an error that carries llama.cpp's own message.

mod common;

use common::*;
use edgebench_llamacpp::{LlamaCppTarget, LLAMA_CPP_2_VERSION};
use edgebench_scenarios::Quant;
use edgebench_target_kit::client::{WorkerClient, WorkerCommand, WorkerError};
use edgebench_target_kit::protocol::{Request, Response, RunSpec};
use edgebench_target_kit::target::{LoadSpec, Target};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn worker() -> WorkerClient {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_edgebench-worker-llamacpp"));
    WorkerClient::spawn(&WorkerCommand::for_target(exe, THREADS)).unwrap()
}

fn ask(w: &mut WorkerClient, r: &Request) -> Result<Response, WorkerError> {
    w.request(r, Duration::from_secs(120), |_| {})
}

fn load_request(path: &Path) -> Request {
    Request::Load(LoadSpec {
        model_path: path.to_path_buf(),
        threads: THREADS,
        context: 64,
        options: Default::default(),
    })
}

#[test]
fn worker_speaks_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny("llama3-8b-tiny", Quant::Q4KM, dir.path());
    let mut w = worker();
    let Response::Info(info) = ask(&mut w, &Request::Info).unwrap() else {
        panic!()
    };
    assert_eq!(info.name, "llamacpp");

    let err = ask(&mut w, &load_request(&dir.path().join("missing.gguf"))).unwrap_err();
    assert!(err.to_string().contains("missing.gguf"), "{err}");

    let Response::Loaded { model, .. } = ask(&mut w, &load_request(&model)).unwrap() else {
        panic!()
    };
    assert_eq!(model.architecture, "llama");
    let run = Request::Run(RunSpec {
        prompt: 8,
        gen: 4,
        seed: 1,
    });
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let mut phases = Vec::new();
        let rep = w
            .request(&run, Duration::from_secs(120), |p| phases.push(p.as_str()))
            .unwrap();
        assert_eq!(phases, ["prefill", "decode", "idle"]);
        let Response::Repetition(rep) = rep else {
            panic!("{rep:?}")
        };
        assert!(rep.prefill_s.unwrap() > 0.0);
        assert_eq!(rep.decode_s.len(), 4);
        tokens.push(rep.tokens);
    }
    assert_eq!(tokens[0], tokens[1], "greedy decoding is deterministic");

    let Response::Generated {
        prefill_logits,
        tokens,
    } = ask(
        &mut w,
        &Request::Generate {
            prompt: vec![300, 301, 302],
            gen: 3,
        },
    )
    .unwrap()
    else {
        panic!()
    };
    assert_eq!(prefill_logits.len(), 2048);
    assert_eq!(tokens.len(), 3);
    w.quit();
}

/// llama.cpp aborting (a GGML_ASSERT) kills the worker only; the error says how it died and
/// carries the assertion from its stderr.
#[test]
fn an_abort_inside_llama_cpp_is_reported_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad = aborting_model(dir.path());
    let mut w = worker();
    assert!(matches!(
        ask(&mut w, &load_request(&bad)),
        Ok(Response::Loaded { .. })
    ));
    let err = ask(
        &mut w,
        &Request::Run(RunSpec {
            prompt: 8,
            gen: 0,
            seed: 1,
        }),
    )
    .unwrap_err();
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(matches!(err, WorkerError::Died { .. }), "{msg}");
    assert!(msg.contains("SIGABRT"), "{msg}");
    assert!(msg.contains("GGML_ASSERT(n_dims <= ne0) failed"), "{msg}");
}

#[test]
fn info_describes_the_build() {
    let info = LlamaCppTarget::new().info();
    assert_eq!(info.name, "llamacpp");
    assert_eq!(info.device, "cpu");
    assert_eq!(info.formats, ["gguf"]);
    for arch in ["llama", "phi3", "gemma"] {
        assert!(info.architectures.iter().any(|a| a == arch), "{arch}");
    }
    for q in Quant::ALL {
        assert!(info.quants.contains(&q.name().to_string()), "{q}");
    }
    assert!(
        info.build_flags.contains(&"cpu".to_string()),
        "{:?}",
        info.build_flags
    );
    assert!(
        info.extra["system_info"].contains("CPU :"),
        "{:?}",
        info.extra
    );
    assert!(
        info.library_version.contains("ggml"),
        "{}",
        info.library_version
    );
    assert!(info.extra["load_options"].contains("flash_attn"));
    // The build is for this CPU: every SIMD extension it has that ggml reports is on.
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            assert!(
                info.build_flags.contains(&"avx2".to_string()),
                "{:?}",
                info.build_flags
            );
        }
        if std::is_x86_feature_detected!("avx512f") {
            assert!(
                info.build_flags.contains(&"avx512".to_string()),
                "{:?}",
                info.build_flags
            );
        }
    }
    // On ARM: the int8 dot-product kernels Q4/Q8 models use (a Pi 5, a Jetson Orin, Apple M).
    #[cfg(target_arch = "aarch64")]
    if std::arch::is_aarch64_feature_detected!("dotprod") {
        assert!(
            info.build_flags.contains(&"dotprod".to_string()),
            "{:?}",
            info.build_flags
        );
    }
    // Native on Linux, unless built for a named CPU profile (scripts/cross.sh passes the
    // profile's ARM architecture to ggml in GGML_CPU_ARM_ARCH).
    if cfg!(target_os = "linux") {
        match option_env!("GGML_CPU_ARM_ARCH").filter(|a| !a.is_empty()) {
            Some(arch) => assert!(
                info.extra["cpu_build"].contains(arch),
                "{arch}: {:?}",
                info.extra
            ),
            None => assert!(
                info.extra["cpu_build"].starts_with("native"),
                "{:?}",
                info.extra
            ),
        }
    }
}

/// `LLAMA_CPP_2_VERSION` is what Cargo.lock resolved.
#[test]
fn llama_cpp_2_version_matches_the_lock_file() {
    let lock =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock")).unwrap();
    let entry = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"llama-cpp-2\""))
        .expect("llama-cpp-2 in Cargo.lock");
    assert!(
        entry.contains(&format!("version = \"{LLAMA_CPP_2_VERSION}\"")),
        "{entry}"
    );
}
