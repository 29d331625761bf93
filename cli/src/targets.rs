//! The targets edgebench knows, and which of them are built on this machine.
//!
//! Each target is a worker executable (`edgebench-worker-<name>`) built from its folder under
//! `targets/`. Adding a target means adding its folder and one line here.

use crate::model::ModelKind;
use edgebench_harness::client::{locate_worker, WorkerClient, WorkerCommand};
use edgebench_harness::protocol::{Request, Response};
use edgebench_harness::target::TargetInfo;
use std::path::PathBuf;
use std::time::Duration;

pub struct KnownTarget {
    pub name: &'static str,
    pub summary: &'static str,
    /// How to build it when it is missing.
    pub build_hint: &'static str,
}

pub const KNOWN: &[KnownTarget] = &[
    KnownTarget {
        name: "candle",
        summary: "Hugging Face candle (Rust): GGUF llama, phi3, gemma, and Whisper, on CPU",
        build_hint: "cargo build --release -p edgebench-candle",
    },
    KnownTarget {
        name: "llamacpp",
        summary: "llama.cpp (C++, via llama-cpp-2): GGUF LLMs, measured as llama-bench does",
        build_hint: "cargo build --release -p edgebench-llamacpp (needs cmake and libclang-dev)",
    },
    KnownTarget {
        name: "onnxruntime",
        summary: "ONNX Runtime (official library): GenAI model folders and Whisper (Optimum ONNX) on CPU, CUDA if the library has it",
        build_hint: "cargo build --release -p edgebench-onnxruntime",
    },
    KnownTarget {
        name: "coreml",
        summary: "Core ML through ONNX Runtime's CoreML execution provider (macOS)",
        build_hint: "cargo build --release -p edgebench-onnxruntime",
    },
    KnownTarget {
        name: "whispercpp",
        summary: "whisper.cpp (C/C++, ggml): Whisper ggml-*.bin models on CPU",
        build_hint: "cargo build --release -p edgebench-whispercpp",
    },
];

/// A target as found on this machine.
pub struct FoundTarget {
    pub name: &'static str,
    pub worker: PathBuf,
    pub info: TargetInfo,
}

/// Why a known target cannot be used here.
pub struct MissingTarget {
    pub name: &'static str,
    pub reason: String,
}

/// The argument that makes a worker serve speech models (whisper.cpp's serves only those).
pub const SPEECH_ARG: &str = "--speech";

/// The command that starts `worker` for models of `kind` with `threads` threads.
pub fn worker_command(worker: PathBuf, threads: usize, kind: ModelKind) -> WorkerCommand {
    let mut command = WorkerCommand::for_target(worker, threads);
    if kind == ModelKind::Speech {
        command.args.push(SPEECH_ARG.into());
    }
    command
}

/// Every known target, asked about models of `kind`: built ones with what they report about
/// themselves, and missing ones with the reason.
pub fn discover(kind: ModelKind) -> (Vec<FoundTarget>, Vec<MissingTarget>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for known in KNOWN {
        match probe(known, kind) {
            Ok(t) => found.push(t),
            Err(reason) => missing.push(MissingTarget {
                name: known.name,
                reason,
            }),
        }
    }
    (found, missing)
}

fn probe(known: &KnownTarget, kind: ModelKind) -> Result<FoundTarget, String> {
    let worker = locate_worker(known.name).ok_or_else(|| {
        format!(
            "worker {} not found (build it: {})",
            edgebench_harness::client::worker_binary_name(known.name),
            known.build_hint
        )
    })?;
    let mut client =
        WorkerClient::spawn(&worker_command(worker.clone(), 1, kind)).map_err(|e| e.to_string())?;
    let info = match client.request(&Request::Info, Duration::from_secs(30), |_| {}) {
        Ok(Response::Info(info)) => info,
        Ok(other) => return Err(format!("unexpected answer {other:?}")),
        Err(e) => return Err(e.to_string()),
    };
    client.quit();
    if kind == ModelKind::Speech && !info.architectures.iter().any(|a| a == "whisper") {
        return Err("runs no speech models in this build".into());
    }
    Ok(FoundTarget {
        name: known.name,
        worker,
        info,
    })
}

/// Whether a target can run a model, and if not, why.
pub fn supports(
    info: &TargetInfo,
    format: &str,
    architecture: &str,
    quant: &str,
) -> Result<(), String> {
    let has = |list: &[String], x: &str| list.iter().any(|y| y == x);
    if !has(&info.formats, format) {
        return Err(format!(
            "{} does not read {format} files (reads {})",
            info.name,
            info.formats.join(", ")
        ));
    }
    if !has(&info.architectures, architecture) {
        return Err(format!(
            "{} does not run the {architecture} architecture (runs {})",
            info.name,
            info.architectures.join(", ")
        ));
    }
    if !quant.is_empty() && quant != "unknown" && !has(&info.quants, quant) {
        return Err(format!(
            "{} does not run {quant} (runs {})",
            info.name,
            info.quants.join(", ")
        ));
    }
    Ok(())
}
