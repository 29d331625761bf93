//! The targets edgebench knows, and which of them are built on this machine.
//!
//! Each target is a worker executable (`edgebench-worker-<name>`) built from its folder under
//! `targets/` on the target kit (`edgebench-target-kit`). What the CLI plans with (formats,
//! quantizations, options, memory model) comes from the worker's answer to `info`
//! ([`TargetInfo::description`]), so adding a target is its folder plus one line in [`KNOWN`]
//! (docs/adding-a-target.md). Targets built outside this workspace are named in
//! `EDGEBENCH_EXTRA_TARGETS` (a comma list) instead, with their workers on `PATH` or in
//! `EDGEBENCH_WORKER_DIR`.

use crate::model::ModelKind;
use edgebench_harness::client::{locate_worker, worker_binary_name, WorkerClient, WorkerCommand};
use edgebench_harness::describe::{check_options, MemoryModel};
use edgebench_harness::protocol::{Request, Response};
use edgebench_harness::target::TargetInfo;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A target edgebench can look for: its name and how to build its worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownTarget {
    pub name: &'static str,
    /// How to build it when it is missing.
    pub build_hint: String,
}

/// The in-tree targets, one line each: name, then how to build its worker.
const KNOWN: &[(&str, &str)] = &[
    ("candle", "cargo build --release -p edgebench-candle"),
    (
        "llamacpp",
        "cargo build --release -p edgebench-llamacpp (needs cmake and libclang-dev)",
    ),
    (
        "onnxruntime",
        "cargo build --release -p edgebench-onnxruntime",
    ),
    ("coreml", "cargo build --release -p edgebench-onnxruntime"),
    (
        "whispercpp",
        "cargo build --release -p edgebench-whispercpp",
    ),
];

/// Environment variable naming targets built outside this workspace (comma-separated).
pub const EXTRA_TARGETS_VAR: &str = "EDGEBENCH_EXTRA_TARGETS";

/// Every target edgebench looks for: [`KNOWN`], then those named in `EDGEBENCH_EXTRA_TARGETS`
/// (read once per process).
pub fn known() -> &'static [KnownTarget] {
    static ALL: std::sync::OnceLock<Vec<KnownTarget>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let mut all: Vec<KnownTarget> = KNOWN
            .iter()
            .map(|(name, hint)| KnownTarget {
                name,
                build_hint: hint.to_string(),
            })
            .collect();
        let extra = std::env::var(EXTRA_TARGETS_VAR).unwrap_or_default();
        for name in extra.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !all.iter().any(|k| k.name == name) {
                all.push(KnownTarget {
                    // Names live as long as the process, as the in-tree ones do.
                    name: Box::leak(name.to_string().into_boxed_str()),
                    build_hint: format!(
                        "put {} on PATH or in $EDGEBENCH_WORKER_DIR ({EXTRA_TARGETS_VAR})",
                        worker_binary_name(name)
                    ),
                });
            }
        }
        all
    })
}

/// The names of every known target, for messages.
pub fn known_names() -> Vec<&'static str> {
    known().iter().map(|k| k.name).collect()
}

pub fn is_known(name: &str) -> bool {
    known().iter().any(|k| k.name == name)
}

/// A target as found on this machine.
pub struct FoundTarget {
    pub name: &'static str,
    pub worker: PathBuf,
    pub info: TargetInfo,
}

impl FoundTarget {
    /// Its memory model, where it describes one (see `crate::memfit`).
    pub fn memory(&self) -> Option<&MemoryModel> {
        self.info.description.memory.as_ref()
    }

    pub fn summary(&self) -> &str {
        &self.info.description.summary
    }
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
/// themselves (a worker started with `--speech` describes its speech side), and missing ones
/// with the reason.
pub fn discover(kind: ModelKind) -> (Vec<FoundTarget>, Vec<MissingTarget>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for known in known() {
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
            worker_binary_name(known.name),
            known.build_hint
        )
    })?;
    let mut client =
        WorkerClient::spawn(&worker_command(worker.clone(), 1, kind)).map_err(|e| e.to_string())?;
    let info = client.request(&Request::Info, Duration::from_secs(30), |_| {});
    client.quit();
    let info = match info {
        Ok(Response::Info(info)) => info,
        Ok(other) => return Err(format!("unexpected answer {other:?}")),
        Err(e) => return Err(e.to_string()),
    };
    if kind == ModelKind::Speech && !info.architectures.iter().any(|a| a == "whisper") {
        return Err("runs no speech models in this build".into());
    }
    Ok(FoundTarget {
        name: known.name,
        worker,
        info,
    })
}

/// The memory model `name` describes, asking every known worker once per process (for
/// commands that estimate memory without planning a run, e.g. `choose`); `None` when it is
/// not built here or describes none.
pub fn memory_model(name: &str) -> Option<MemoryModel> {
    static MODELS: std::sync::OnceLock<BTreeMap<String, MemoryModel>> = std::sync::OnceLock::new();
    MODELS
        .get_or_init(|| {
            discover(ModelKind::Text)
                .0
                .into_iter()
                .filter_map(|f| Some((f.name.to_string(), f.memory()?.clone())))
                .collect()
        })
        .get(name)
        .cloned()
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

/// Check swept option values against what the selected targets describe, before anything
/// runs: a value a target that reads the option does not take is a one-line error naming the
/// option; an option no selected target reads is returned (the caller notes it is ignored).
pub fn check_swept_options(
    found: &[FoundTarget],
    selected: &[String],
    dims: &[(String, Vec<String>)],
) -> Result<Vec<String>, String> {
    let mut unread = Vec::new();
    for (key, values) in dims {
        let mut read = false;
        for f in found
            .iter()
            .filter(|f| selected.iter().any(|s| s == f.name))
        {
            if !f.info.option_names().contains(&key.as_str()) {
                continue;
            }
            read = true;
            if f.info.description.options.is_empty() {
                continue; // an older worker: it checks its options itself
            }
            for v in values {
                let one = BTreeMap::from([(key.clone(), v.clone())]);
                check_options(f.name, &f.info.description.options, &one)
                    .map_err(|e| format!("{e} ({})", f.name))?;
            }
        }
        if !read {
            unread.push(key.clone());
        }
    }
    Ok(unread)
}

/// The options every found target describes, for `edgebench list targets`: `name=values
/// (default …): help`, one line each.
pub fn describe_options(f: &FoundTarget) -> Vec<String> {
    f.info
        .description
        .options
        .iter()
        .map(|o| {
            let default = if o.default.is_empty() {
                String::new()
            } else {
                format!(" [default: {}]", o.default)
            };
            format!("--opt {}=<{}>{default}: {}", o.name, o.expected(), o.help)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgebench_harness::describe::{Description, OptionSpec};

    fn found(name: &'static str, options: Vec<OptionSpec>) -> FoundTarget {
        FoundTarget {
            name,
            worker: PathBuf::new(),
            info: TargetInfo {
                name: name.into(),
                description: Description {
                    options,
                    ..Default::default()
                },
                ..Default::default()
            },
        }
    }

    #[test]
    fn swept_values_are_checked_by_the_targets_that_read_them() {
        let targets = [
            found("a", vec![OptionSpec::new("batch", "").number(1)]),
            found("b", vec![OptionSpec::new("ep", "").words(&["cpu", "cuda"])]),
        ];
        let both = vec!["a".to_string(), "b".to_string()];
        let dims =
            |k: &str, v: &[&str]| vec![(k.to_string(), v.iter().map(|s| s.to_string()).collect())];
        assert_eq!(
            check_swept_options(&targets, &both, &dims("batch", &["8", "16"])).unwrap(),
            Vec::<String>::new()
        );
        let e = check_swept_options(&targets, &both, &dims("batch", &["8", "0"])).unwrap_err();
        assert!(e.contains("batch=0") && e.contains("(a)"), "{e}");
        let e = check_swept_options(&targets, &both, &dims("ep", &["tpu"])).unwrap_err();
        assert!(e.contains("cpu or cuda"), "{e}");
        assert_eq!(
            check_swept_options(&targets, &["a".to_string()], &dims("ep", &["tpu"])).unwrap(),
            ["ep"]
        );
    }

    #[test]
    fn every_known_target_has_a_build_hint_and_extra_ones_are_added() {
        let names = known_names();
        assert_eq!(
            names[..5],
            ["candle", "llamacpp", "onnxruntime", "coreml", "whispercpp"]
        );
        assert!(known().iter().all(|k| k.build_hint.contains("edgebench")));
    }
}
