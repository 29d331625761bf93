//! From `edgebench run`'s flags to the planner's [`Selection`]: the kind of model the run is
//! about, its models (catalog scenarios, a suite, or the user's files) and workloads, then,
//! once the targets are found, which of them, with which threads and backend options.

use super::args::RunArgs;
use crate::model::{self, ModelKind, ModelSource, SynthQuant};
use crate::plan::{Selection, Targets, Workload};
use crate::sweep;
use anyhow::{bail, Context};
use edgebench_scenarios::whisper::{WhisperQuant, WhisperWorkload};
use edgebench_scenarios::{Catalog, Quant, WorkloadSpec};

/// Whether the run is about speech: a Whisper suite, scenario or file, or `--audio`.
pub fn kind(args: &RunArgs, catalog: &Catalog) -> anyhow::Result<ModelKind> {
    let by_suite = args
        .suite
        .as_ref()
        .is_some_and(|s| catalog.whisper_suite(s).is_ok());
    let by_scenario: Vec<bool> = args
        .scenario
        .iter()
        .map(|s| catalog.whisper_model(s).is_ok())
        .collect();
    let by_model: Vec<bool> = args
        .model
        .iter()
        .map(|m| model::is_whisper_model(m))
        .collect();
    let any = by_suite
        || by_scenario.iter().any(|&b| b)
        || by_model.iter().any(|&b| b)
        || args.audio.is_some();
    if any && (by_scenario.iter().any(|&b| !b) || by_model.iter().any(|&b| !b)) {
        bail!("Whisper and language models cannot share a run; run them one after the other");
    }
    Ok(if any {
        ModelKind::Speech
    } else {
        ModelKind::Text
    })
}

/// The models and workloads asked for, and the suite they came from.
pub struct Chosen {
    pub suite: Option<String>,
    pub models: Vec<ModelSource>,
    pub workloads: Vec<Workload>,
}

/// Models and workloads from `--model`, `--scenario`/`--quant` or the suite.
pub fn models(args: &RunArgs, catalog: &Catalog, kind: ModelKind) -> anyhow::Result<Chosen> {
    match kind {
        ModelKind::Text => {
            let mut chosen = text_models(args, catalog)?;
            if let Some(seconds) = args.soak {
                chosen.workloads = soak_workloads(args, catalog, chosen.workloads, seconds)?;
            }
            Ok(chosen)
        }
        ModelKind::Speech => speech_models(args, catalog),
    }
}

/// The planner's selection: the chosen models on `--target` (or every found target that runs
/// this kind of model), with the thread counts and backend option combinations asked for.
pub fn selection(
    args: &RunArgs,
    chosen: Chosen,
    targets: &Targets,
    ram_bytes: u64,
) -> anyhow::Result<Selection> {
    let threads = if args.threads.is_empty() {
        vec![std::thread::available_parallelism().map_or(1, |n| n.get())]
    } else {
        args.threads()
    };
    // Backend options are language-model options; speech jobs run with none.
    let options = match targets.kind {
        ModelKind::Text => sweep::combinations(&args.option_dimensions()),
        ModelKind::Speech => vec![Default::default()],
    };
    Ok(Selection {
        suite: chosen.suite,
        models: chosen.models,
        targets: chosen_targets(args, targets)?,
        threads,
        workloads: chosen.workloads,
        options,
        ram_bytes,
        force: args.force,
    })
}

/// `--target`, or every found target that runs this kind of model (speech-only targets such as
/// whisper.cpp run language models only when named).
fn chosen_targets(args: &RunArgs, targets: &Targets) -> anyhow::Result<Vec<String>> {
    if !args.target.is_empty() {
        return Ok(args.target.clone());
    }
    let offered = |arch: &String| targets.kind == ModelKind::Speech || arch != "whisper";
    let names: Vec<String> = targets
        .found
        .iter()
        .filter(|f| f.info.architectures.iter().any(offered))
        .map(|f| f.name.to_string())
        .collect();
    if names.is_empty() {
        let why: Vec<String> = targets
            .missing
            .iter()
            .map(|m| format!("{}: {}", m.name, m.reason))
            .collect();
        bail!(
            "no target for these models is built ({}); run scripts/setup.sh",
            why.join("; ")
        );
    }
    Ok(names)
}

/// Language models and workloads.
fn text_models(args: &RunArgs, catalog: &Catalog) -> anyhow::Result<Chosen> {
    let quants = args
        .quant
        .iter()
        .map(|q| SynthQuant::parse(q))
        .collect::<Result<Vec<_>, _>>()
        .context("--quant")?;
    let from_flags = workloads_from_flags(
        catalog,
        &args.workload,
        &sweep::flatten(args.prompt.iter().map(|n| n.0.clone())),
        &sweep::flatten(args.gen.iter().map(|n| n.0.clone())),
        &args.pg,
    )?;
    let default_workloads = || -> anyhow::Result<Vec<_>> {
        Ok(vec![
            catalog.workload("pp512")?.clone(),
            catalog.workload("tg128")?.clone(),
        ])
    };
    let text =
        |w: Vec<WorkloadSpec>| -> Vec<Workload> { w.into_iter().map(Workload::Text).collect() };
    if !args.model.is_empty() {
        if args.suite.is_some() || !args.scenario.is_empty() {
            bail!("--model runs your own file; it cannot be combined with --suite or --scenario");
        }
        let models = args
            .model
            .iter()
            .map(|p| model::inspect(p))
            .collect::<anyhow::Result<_>>()?;
        let workloads = if from_flags.is_empty() {
            default_workloads()?
        } else {
            from_flags
        };
        return Ok(Chosen {
            suite: None,
            models,
            workloads: text(workloads),
        });
    }
    let (suite, names, suite_quants, suite_workloads) = if args.scenario.is_empty() {
        let name = args.suite.clone().unwrap_or_else(|| "quick".into());
        let suite = catalog.suite(&name).context("--suite")?;
        let workloads = suite
            .workloads
            .iter()
            .map(|w| catalog.workload(w).cloned())
            .collect::<Result<Vec<_>, _>>()?;
        let quants = suite.quants.clone();
        (Some(name), suite.models.clone(), quants, workloads)
    } else {
        if args.suite.is_some() {
            bail!("--scenario picks models itself; drop --suite or --scenario");
        }
        let names = args.scenario.clone();
        (None, names, vec![Quant::Q4KM], default_workloads()?)
    };
    let quants = if quants.is_empty() {
        suite_quants.into_iter().map(SynthQuant::Gguf).collect()
    } else {
        quants
    };
    let workloads = if from_flags.is_empty() {
        suite_workloads
    } else {
        from_flags
    };
    let mut models = Vec::new();
    for name in &names {
        let spec = catalog.model(name).context("--scenario")?;
        models.extend(quants.iter().map(|q| q.synthetic(spec, args.seed)));
    }
    Ok(Chosen {
        suite,
        models,
        workloads: text(workloads),
    })
}

/// Whisper models and workloads.
fn speech_models(args: &RunArgs, catalog: &Catalog) -> anyhow::Result<Chosen> {
    if !args.prompt.is_empty() || !args.gen.is_empty() || !args.pg.is_empty() {
        bail!("-p, -n and --pg are LLM workloads; Whisper takes --workload transcribe-30s, encode or decode-tN");
    }
    let quants = args
        .quant
        .iter()
        .map(|q| WhisperQuant::parse(q))
        .collect::<Result<Vec<_>, _>>()
        .context("--quant")?;
    let mut workloads = args
        .workload
        .iter()
        .map(|w| catalog.whisper_workload(w))
        .collect::<Result<Vec<_>, _>>()
        .context("--workload")?;
    let default_workloads = || -> anyhow::Result<Vec<WhisperWorkload>> {
        Ok(vec![catalog.whisper_workload("transcribe-30s")?])
    };
    let speech = |w: Vec<WhisperWorkload>| -> Vec<Workload> {
        w.into_iter().map(Workload::Speech).collect()
    };
    if !args.model.is_empty() {
        if args.suite.is_some() || !args.scenario.is_empty() || !quants.is_empty() {
            bail!("--model runs your own file; it cannot be combined with --suite, --scenario or --quant");
        }
        let models = args
            .model
            .iter()
            .map(|p| model::inspect(p))
            .collect::<anyhow::Result<_>>()?;
        if workloads.is_empty() {
            workloads = default_workloads()?;
        }
        return Ok(Chosen {
            suite: None,
            models,
            workloads: speech(workloads),
        });
    }
    let (suite, names, suite_quants, suite_workloads) = if args.scenario.is_empty() {
        let name = args.suite.clone().unwrap_or_else(|| "whisper".into());
        let suite = catalog.whisper_suite(&name).context("--suite")?;
        let w = suite
            .workloads
            .iter()
            .map(|w| catalog.whisper_workload(w))
            .collect::<Result<Vec<_>, _>>()?;
        (Some(name), suite.models.clone(), suite.quants.clone(), w)
    } else {
        if args.suite.is_some() {
            bail!("--scenario picks models itself; drop --suite or --scenario");
        }
        let names = args.scenario.clone();
        (None, names, vec![WhisperQuant::F16], default_workloads()?)
    };
    let quants = if quants.is_empty() {
        suite_quants
    } else {
        quants
    };
    if workloads.is_empty() {
        workloads = suite_workloads;
    }
    let mut models = Vec::new();
    for name in &names {
        let spec = catalog.whisper_model(name).context("--scenario")?;
        models.extend(quants.iter().map(|&quant| ModelSource::SyntheticWhisper {
            spec: spec.clone(),
            quant,
            format: None,
            seed: args.seed,
        }));
    }
    Ok(Chosen {
        suite,
        models,
        workloads: speech(workloads),
    })
}

/// The workloads of a soak: the generation workloads chosen (tg128 when none was), named
/// `tg128 soak10m`.
fn soak_workloads(
    args: &RunArgs,
    catalog: &Catalog,
    chosen: Vec<Workload>,
    seconds: f64,
) -> anyhow::Result<Vec<Workload>> {
    let explicit = !args.gen.is_empty() || !args.workload.is_empty();
    let mut out: Vec<WorkloadSpec> = if explicit {
        chosen
            .into_iter()
            .filter_map(|w| match w {
                Workload::Text(w) if w.gen > 0 => Some(w),
                _ => None,
            })
            .collect()
    } else {
        vec![catalog.workload("tg128")?.clone()]
    };
    if out.is_empty() {
        bail!("--soak needs a generation workload (e.g. -n 128)");
    }
    let label = if seconds % 3600.0 == 0.0 {
        format!("{}h", seconds / 3600.0)
    } else if seconds % 60.0 == 0.0 {
        format!("{}m", seconds / 60.0)
    } else {
        format!("{seconds}s")
    };
    for w in out.iter_mut() {
        w.name = format!("{} soak{label}", w.name);
    }
    Ok(out.into_iter().map(Workload::Text).collect())
}

/// Workloads from `--workload` names and llama-bench style `-p`/`-n`/`--pg` numbers.
fn workloads_from_flags(
    catalog: &Catalog,
    names: &[String],
    prompts: &[usize],
    gens: &[usize],
    pg: &[(usize, usize)],
) -> anyhow::Result<Vec<WorkloadSpec>> {
    let mut out: Vec<WorkloadSpec> = Vec::new();
    for n in names {
        out.push(catalog.workload(n)?.clone());
    }
    let make = |prompt: usize, gen: usize| {
        let name = match (prompt, gen) {
            (p, 0) => format!("pp{p}"),
            (0, g) => format!("tg{g}"),
            (p, g) => format!("pp{p}+tg{g}"),
        };
        WorkloadSpec {
            name,
            prompt,
            gen,
            description: String::new(),
        }
    };
    out.extend(prompts.iter().filter(|&&p| p > 0).map(|&p| make(p, 0)));
    out.extend(gens.iter().filter(|&&g| g > 0).map(|&g| make(0, g)));
    out.extend(pg.iter().map(|&(p, g)| make(p, g)));
    let mut seen = std::collections::HashSet::new();
    out.retain(|w| seen.insert(w.name.clone()));
    Ok(out)
}
