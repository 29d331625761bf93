//! The planner: what the user selected (models, targets, threads, workloads, backend options),
//! resolved against the targets found on this machine into a [`Plan`]: one job per model ×
//! target × thread count × option combination, each with its model in the format that target
//! reads, a memory estimate, and the reason when it will not run. One planner for every model
//! kind (language and speech). Nothing runs here and nothing is written, so `--dry-run` prints a
//! plan, tests check one, and a plan is plain data (serde) that could be sent to another machine.

use crate::memfit::{self, MemoryEstimate};
use crate::model::{ModelKind, ModelSource};
use crate::sweep;
use crate::targets::{supports, FoundTarget, MissingTarget};
use crate::units::gib;
use edgebench_harness::target::TargetInfo;
use edgebench_scenarios::whisper::WhisperWorkload;
use edgebench_scenarios::WorkloadSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// A unit of work on a loaded model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// `prompt` tokens in one batch, then `gen` single-token decodes.
    Text(WorkloadSpec),
    /// Log-mel, encoder and decoder steps on the run's audio clip.
    Speech(WhisperWorkload),
}

impl Workload {
    pub fn name(&self) -> &str {
        match self {
            Workload::Text(w) => &w.name,
            Workload::Speech(w) => &w.name,
        }
    }

    /// Prompt and generated tokens, as the results record them (speech: 0 and the decoder
    /// steps).
    pub fn tokens(&self) -> (usize, usize) {
        match self {
            Workload::Text(w) => (w.prompt, w.gen),
            Workload::Speech(w) => (0, w.decode),
        }
    }
}

/// Everything the user chose, already validated by name.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The catalog suite the models came from, if any.
    pub suite: Option<String>,
    /// Models as asked for: a synthetic model's format is chosen per target by the planner.
    pub models: Vec<ModelSource>,
    pub targets: Vec<String>,
    pub threads: Vec<usize>,
    pub workloads: Vec<Workload>,
    /// Every combination of the swept backend options (one empty map when none was given).
    pub options: Vec<BTreeMap<String, String>>,
    pub ram_bytes: u64,
    pub force: bool,
}

/// One model on one target with one thread count and option combination, and the workloads to
/// run on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub model: ModelSource,
    pub target: String,
    /// The target's worker executable (`None` when the target is not built here).
    pub worker: Option<PathBuf>,
    pub threads: usize,
    /// Backend options of this job (one combination of a sweep), only those the target reads.
    pub options: BTreeMap<String, String>,
    pub workloads: Vec<Workload>,
    /// Estimated peak resident memory while running: weights + KV cache + what the backend
    /// adds + runtime (see `crate::memfit`).
    pub memory_estimate_bytes: u64,
    /// Set when the job will not run, with the reason recorded in the results.
    pub skip: Option<String>,
}

impl Job {
    /// The context the worker loads the model with: the longest workload's tokens and one
    /// more (speech: the decoder prompt of at most 4 tokens and the steps).
    pub fn context(&self) -> usize {
        match self.model.kind() {
            ModelKind::Text => context_of(&self.workloads),
            ModelKind::Speech => {
                4 + self
                    .workloads
                    .iter()
                    .map(|w| w.tokens().1)
                    .max()
                    .unwrap_or(0)
            }
        }
    }
}

/// The positions the largest workload fills: its prompt, then one per generated token (a tg
/// test starts from one seeded token at position 0). llama-bench's `n_ctx` is the same,
/// `n_prompt + n_gen`, so pp512 fits a model with a 512-token context.
fn context_of(workloads: &[Workload]) -> usize {
    workloads
        .iter()
        .map(|w| {
            let (prompt, gen) = w.tokens();
            prompt + gen
        })
        .max()
        .unwrap_or(0)
}

/// What a run will do: its jobs, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub kind: ModelKind,
    pub suite: Option<String>,
    pub jobs: Vec<Job>,
}

impl Plan {
    /// The jobs that will run.
    pub fn runnable(&self) -> impl Iterator<Item = &Job> {
        self.jobs.iter().filter(|j| j.skip.is_none())
    }

    /// The plan as text, for `--dry-run` and the run's header.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for j in &self.jobs {
            let workloads: Vec<&str> = j.workloads.iter().map(|w| w.name()).collect();
            let options = if j.options.is_empty() {
                String::new()
            } else {
                format!(" ({})", sweep::describe(&j.options))
            };
            let _ = write!(
                out,
                "  {} on {}{options} with {} thread{}: {} [{} file, ~{} in memory]",
                j.model.describe(),
                j.target,
                j.threads,
                if j.threads == 1 { "" } else { "s" },
                workloads.join(", "),
                gib(j.model.file_bytes()),
                gib(j.memory_estimate_bytes)
            );
            if let Some(reason) = &j.skip {
                let _ = write!(out, "\n      skipped: {reason}");
            }
            out.push('\n');
        }
        out
    }
}

/// The targets of a run, found once: what each built one reports, and why the others are
/// missing.
pub struct Targets {
    pub kind: ModelKind,
    pub found: Vec<FoundTarget>,
    pub missing: Vec<MissingTarget>,
}

impl Targets {
    /// Ask every known target's worker about models of `kind`.
    pub fn discover(kind: ModelKind) -> Targets {
        let (found, missing) = crate::targets::discover(kind);
        Targets {
            kind,
            found,
            missing,
        }
    }

    pub fn get(&self, name: &str) -> Option<&FoundTarget> {
        self.found.iter().find(|f| f.name == name)
    }

    /// Why `name` cannot run anything here.
    fn unavailable(&self, name: &str) -> String {
        self.missing
            .iter()
            .find(|m| m.name == name)
            .map(|m| format!("target {name} is not available: {}", m.reason))
            .unwrap_or_else(|| format!("unknown target {name}"))
    }
}

/// The formats a target reads (the one place the planner asks).
pub fn formats(target: &FoundTarget) -> &[String] {
    &target.info.formats
}

/// The load options a target reads (its description; see `TargetInfo::option_names`).
pub fn load_options(info: &TargetInfo) -> Vec<&str> {
    info.option_names()
}

/// Resolve a selection into a plan: one job per model × target × thread count × option
/// combination the target reads, skipped (with the reason) when the target is missing,
/// cannot read the model, or the model looks too big for this device's memory.
pub fn resolve(sel: &Selection, targets: &Targets) -> Plan {
    let context = context_of(&sel.workloads);
    let mut jobs = Vec::new();
    for model in &sel.models {
        for target in &sel.targets {
            let found = targets.get(target);
            let combos = sweep::for_target(
                &sel.options,
                &found.map(|f| load_options(&f.info)).unwrap_or_default(),
            );
            let (model, skip) = match found {
                None => (model.clone(), Some(targets.unavailable(target))),
                Some(f) => fit_model(model, f),
            };
            let estimate = memfit::estimate(&model, found.and_then(|f| f.memory()), context);
            let skip = skip.or_else(|| too_big(&model, &estimate, sel));
            for &threads in &sel.threads {
                for options in &combos {
                    jobs.push(Job {
                        model: model.clone(),
                        target: target.clone(),
                        worker: found.map(|f| f.worker.clone()),
                        threads,
                        options: options.clone(),
                        workloads: sel.workloads.clone(),
                        memory_estimate_bytes: estimate.total(),
                        skip: skip.clone(),
                    });
                }
            }
        }
    }
    Plan {
        kind: targets.kind,
        suite: sel.suite.clone(),
        jobs,
    }
}

/// The model in the format `target` reads, and why the target cannot run it, if it cannot.
fn fit_model(model: &ModelSource, target: &FoundTarget) -> (ModelSource, Option<String>) {
    match model.for_formats(target.name, formats(target)) {
        Ok(m) => {
            let skip = supports(&target.info, m.format(), &m.architecture(), &m.quant_name()).err();
            (m, skip)
        }
        Err(reason) => (model.clone(), Some(reason)),
    }
}

/// Why a model is skipped for its memory, unless `--force`.
fn too_big(model: &ModelSource, estimate: &MemoryEstimate, sel: &Selection) -> Option<String> {
    let needs = estimate.total();
    if sel.force || needs <= sel.ram_bytes {
        return None;
    }
    Some(match model.kind() {
        ModelKind::Text => format!(
            "needs about {} of memory ({}), this device has {}: pick a smaller model or \
             quantization, or use --force to try anyway",
            gib(needs),
            estimate.breakdown(),
            gib(sel.ram_bytes)
        ),
        ModelKind::Speech => format!(
            "needs about {} of memory, this device has {} (use --force to try anyway)",
            gib(needs),
            gib(sel.ram_bytes)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgebench_harness::describe::MemoryModel;
    use edgebench_scenarios::whisper::{WhisperFormat, WhisperQuant};
    use edgebench_scenarios::{Catalog, Quant};

    fn target(
        name: &'static str,
        formats: &[&str],
        archs: &[&str],
        quants: &[&str],
    ) -> FoundTarget {
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        FoundTarget {
            name,
            worker: PathBuf::from(format!("/bin/edgebench-worker-{name}")),
            info: TargetInfo {
                name: name.into(),
                formats: list(formats),
                architectures: list(archs),
                quants: list(quants),
                extra: BTreeMap::from([("load_options".into(), "batch".into())]),
                ..Default::default()
            },
        }
    }

    fn text_targets() -> Targets {
        Targets {
            kind: ModelKind::Text,
            found: vec![
                target("candle", &["gguf"], &["llama"], &["q4_k_m"]),
                target("onnxruntime", &["onnx-genai"], &["llama"], &["int4"]),
            ],
            missing: vec![MissingTarget {
                name: "llamacpp",
                reason: "worker not found".into(),
            }],
        }
    }

    fn selection(
        models: Vec<ModelSource>,
        targets: &[&str],
        workloads: Vec<Workload>,
    ) -> Selection {
        Selection {
            suite: None,
            models,
            targets: targets.iter().map(|t| t.to_string()).collect(),
            threads: vec![1, 2],
            workloads,
            options: vec![
                BTreeMap::from([("batch".into(), "256".into())]),
                BTreeMap::from([("batch".into(), "512".into())]),
            ],
            ram_bytes: 64 << 30,
            force: false,
        }
    }

    fn tiny_llama(quant: Quant) -> ModelSource {
        let catalog = Catalog::builtin();
        ModelSource::Synthetic {
            spec: catalog.model("llama3-8b-tiny").unwrap().clone(),
            quant,
            seed: 1,
        }
    }

    #[test]
    fn a_text_plan_has_a_job_per_target_thread_and_option_with_reasons() {
        let catalog = Catalog::builtin();
        let pp = Workload::Text(catalog.workload("pp512").unwrap().clone());
        let sel = selection(
            vec![tiny_llama(Quant::Q4KM), tiny_llama(Quant::Q5KM)],
            &["candle", "onnxruntime", "llamacpp"],
            vec![pp],
        );
        let plan = resolve(&sel, &text_targets());
        // 2 models × 2 thread counts × (2 batch sizes on each target that reads batch, 1 on the
        // missing one, whose skip is recorded once per thread count).
        assert_eq!(plan.jobs.len(), 20);
        let job = |model: usize, target: &str| {
            plan.jobs
                .iter()
                .filter(|j| j.target == target)
                .nth(model * 4)
                .unwrap()
        };
        // candle runs the q4_k_m GGUF; onnxruntime its GenAI counterpart, int4.
        assert_eq!(job(0, "candle").skip, None);
        assert_eq!(job(0, "candle").context(), 512);
        assert_eq!(job(0, "onnxruntime").model.quant_name(), "int4");
        assert_eq!(job(0, "onnxruntime").model.format(), "onnx-genai");
        assert_eq!(job(0, "onnxruntime").skip, None);
        assert_eq!(
            job(0, "llamacpp").skip.as_deref(),
            Some("target llamacpp is not available: worker not found")
        );
        assert!(job(1, "candle")
            .skip
            .as_deref()
            .unwrap()
            .contains("does not run q5_k_m"));
        assert!(job(1, "onnxruntime")
            .skip
            .as_deref()
            .unwrap()
            .contains("no counterpart of q5_k_m"));
        assert!(plan.jobs.iter().all(|j| j.memory_estimate_bytes > 0));
        let text = plan.describe();
        assert!(text.contains("llama3-8b-tiny q4_k_m (synthetic, seed 1) on candle (batch=256) with 2 threads: pp512"), "{text}");
    }

    #[test]
    fn a_model_too_big_for_the_memory_is_skipped_unless_forced() {
        let catalog = Catalog::builtin();
        let tg = Workload::Text(catalog.workload("tg128").unwrap().clone());
        let mut sel = selection(vec![tiny_llama(Quant::Q4KM)], &["candle"], vec![tg]);
        sel.ram_bytes = 1 << 20;
        let plan = resolve(&sel, &text_targets());
        let reason = plan.jobs[0].skip.as_deref().unwrap();
        assert!(reason.starts_with("needs about "), "{reason}");
        assert!(reason.contains("this device has 0.00 GiB"), "{reason}");
        sel.force = true;
        assert!(resolve(&sel, &text_targets()).runnable().count() == 4);
    }

    #[test]
    fn a_speech_plan_gives_each_target_the_format_it_reads() {
        let catalog = Catalog::builtin();
        let spec = catalog.whisper_model("whisper-tiny-test").unwrap().clone();
        let model = |quant| ModelSource::SyntheticWhisper {
            spec: spec.clone(),
            quant,
            format: None,
            seed: 1,
        };
        let targets = Targets {
            kind: ModelKind::Speech,
            found: vec![
                target(
                    "whispercpp",
                    &["whisper-ggml"],
                    &["whisper"],
                    &["f16", "q8_0"],
                ),
                {
                    let mut t = target(
                        "onnxruntime",
                        &["whisper-onnx"],
                        &["whisper"],
                        &["f32", "f16", "int8"],
                    );
                    // As the onnxruntime worker describes its speech side.
                    t.info.description.memory = Some(MemoryModel {
                        weights_factor: [("f16".to_string(), 4.0), ("*".to_string(), 2.0)].into(),
                        runtime_bytes: memfit::SPEECH_OVERHEAD_BYTES,
                        ..Default::default()
                    });
                    t
                },
            ],
            missing: vec![],
        };
        let workload = Workload::Speech(catalog.whisper_workload("decode-t16").unwrap());
        let mut sel = selection(
            vec![model(WhisperQuant::F16), model(WhisperQuant::Q8_0)],
            &["whispercpp", "onnxruntime"],
            vec![workload],
        );
        sel.options = vec![BTreeMap::new()];
        sel.threads = vec![2];
        let plan = resolve(&sel, &targets);
        assert_eq!(plan.kind, ModelKind::Speech);
        let formats: Vec<(&str, &str, Option<&str>)> = plan
            .jobs
            .iter()
            .map(|j| (j.target.as_str(), j.model.format(), j.skip.as_deref()))
            .collect();
        assert_eq!(
            formats,
            vec![
                ("whispercpp", WhisperFormat::Ggml.name(), None),
                ("onnxruntime", WhisperFormat::Onnx.name(), None),
                ("whispercpp", WhisperFormat::Ggml.name(), None),
                (
                    "onnxruntime",
                    "whisper",
                    Some(
                        "onnxruntime reads no format that holds q8_0 Whisper weights (reads whisper-onnx)"
                    )
                ),
            ]
        );
        // The decoder prompt (at most 4 tokens) and 16 steps.
        assert_eq!(plan.jobs[0].context(), 20);
        // ONNX Runtime holds an f16 graph's weights 4 times over, plus the runtime allowance.
        let onnx = &plan.jobs[1];
        assert_eq!(
            onnx.memory_estimate_bytes,
            4 * onnx.model.file_bytes() + memfit::SPEECH_OVERHEAD_BYTES
        );
    }

    #[test]
    fn a_plan_survives_a_round_trip_through_json() {
        let catalog = Catalog::builtin();
        let sel = selection(
            vec![tiny_llama(Quant::Q4KM)],
            &["candle", "onnxruntime", "llamacpp"],
            vec![Workload::Text(catalog.workload("tg128").unwrap().clone())],
        );
        let plan = resolve(&sel, &text_targets());
        let json = serde_json::to_string(&plan).unwrap();
        let back: Plan = serde_json::from_str(&json).unwrap();
        assert_eq!(back, plan);
        assert_eq!(back.describe(), plan.describe());
    }
}
