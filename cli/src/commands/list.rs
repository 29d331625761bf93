//! `edgebench list`: what can be run.

use crate::model::ModelKind;
use crate::targets;
use crate::units::gib;
use clap::{Args, ValueEnum};
use edgebench_scenarios::onnx::OnnxQuant;
use edgebench_scenarios::whisper::{self, WhisperFormat, WhisperQuant};
use edgebench_scenarios::{synth, Catalog, Quant};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// What to list
    #[arg(value_enum)]
    pub what: ListWhat,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ListWhat {
    /// Model architectures and sizes of the catalog
    Scenarios,
    /// Backends: which are built and what they run
    Targets,
    /// Quantizations
    Quants,
    /// Workloads (pp512, tg128…)
    Workloads,
    /// Named sets of scenarios
    Suites,
}

pub fn run(args: ListArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::builtin();
    match args.what {
        ListWhat::Scenarios => scenarios(&catalog),
        ListWhat::Targets => list_targets(),
        ListWhat::Quants => quants(&catalog)?,
        ListWhat::Workloads => workloads(&catalog),
        ListWhat::Suites => suites(&catalog),
    }
    Ok(ExitCode::SUCCESS)
}

/// The catalog's language and Whisper models, with their shapes and q4_k_m / f16 file sizes.
fn scenarios(catalog: &Catalog) {
    println!(
        "{:<16} {:<18} {:>6} {:>7} {:>6} {:>6} {:>8} {:>9}  q4_k_m file",
        "name", "model", "arch", "params", "layers", "hidden", "heads/kv", "context"
    );
    for m in &catalog.models {
        println!(
            "{:<16} {:<18} {:>6} {:>6.2}B {:>6} {:>6} {:>5}/{:<2} {:>9}  {}",
            m.name,
            m.display_name,
            m.arch.gguf_name(),
            m.parameter_count() as f64 / 1e9,
            m.layers,
            m.hidden_size,
            m.heads,
            m.kv_heads,
            m.context_length,
            gib(synth::planned_file_bytes(m, Quant::Q4KM))
        );
    }
    println!(
        "\n{:<18} {:<25} {:>7} {:>6} {:>6} {:>6} {:>6}  ggml f16 file",
        "Whisper", "model", "params", "layers", "width", "heads", "vocab"
    );
    for w in &catalog.whisper {
        println!(
            "{:<18} {:<25} {:>6.0}M {:>3}+{:<2} {:>6} {:>6} {:>6}  {}",
            w.name,
            w.display_name,
            w.parameter_count() as f64 / 1e6,
            w.n_audio_layer,
            w.n_text_layer,
            w.n_audio_state,
            w.n_audio_head,
            w.n_vocab,
            gib(whisper::cache::planned_bytes(
                w,
                WhisperQuant::F16,
                WhisperFormat::Ggml
            ))
        );
    }
}

/// Every known target: built ones with what they describe (formats, options, worker), missing
/// ones with the reason.
fn list_targets() {
    let (found, missing) = targets::discover(ModelKind::Text);
    let (speech, _) = targets::discover(ModelKind::Speech);
    for f in &found {
        let i = &f.info;
        println!("{:<12} {}", f.name, f.summary());
        println!(
            "{:<12} built: {} on {} [{}]",
            "",
            i.library_version,
            i.device,
            i.build_flags.join(" ")
        );
        println!(
            "{:<12} formats {}; architectures {}; quants {}",
            "",
            i.formats.join(", "),
            i.architectures.join(", "),
            i.quants.join(", ")
        );
        if let Some(speech) = speech
            .iter()
            .find(|s| s.name == f.name && s.info.architectures != i.architectures)
        {
            println!(
                "{:<12} with --speech: formats {}; quants {}",
                "",
                speech.info.formats.join(", "),
                speech.info.quants.join(", ")
            );
        }
        for option in targets::describe_options(f) {
            println!("{:<12} {option}", "");
        }
        println!("{:<12} worker {}", "", f.worker.display());
    }
    for m in &missing {
        println!("{:<12} not available: {}", m.name, m.reason);
    }
}

/// The quantizations of each format, and which ONNX one a GGUF one maps to.
fn quants(catalog: &Catalog) -> anyhow::Result<()> {
    println!(
        "{:<8} {:<10} {:>9}  {:>10}  for ONNX Runtime",
        "quant", "format", "file_type", "llama3-8b"
    );
    let llama = catalog.model("llama3-8b")?;
    for q in Quant::ALL {
        println!(
            "{:<8} {:<10} {:>9}  {:>10}  {}",
            q.name(),
            "gguf",
            q.gguf_file_type(),
            gib(synth::planned_file_bytes(llama, q)),
            OnnxQuant::counterpart_of(q).map_or("-", |o| o.name())
        );
    }
    for q in OnnxQuant::ALL {
        println!(
            "{:<8} {:<10} {:>9}  {:>10}",
            q.name(),
            "onnx-genai",
            "-",
            gib(edgebench_scenarios::onnx::planned_folder_bytes(llama, q, 1))
        );
    }
    println!(
        "\nGGUF quantizations run on GGUF targets; targets that read ONNX Runtime GenAI \
         folders run the counterpart in the last column."
    );
    println!("\nWhisper   formats (the first one a target reads is used)");
    for q in WhisperQuant::ALL {
        let formats: Vec<&str> = q.formats().iter().map(|f| f.name()).collect();
        println!("{:<9} {}", q.name(), formats.join(", "));
    }
    Ok(())
}

/// The language and Whisper workloads.
fn workloads(catalog: &Catalog) {
    for w in &catalog.workloads {
        println!(
            "{:<14} prompt {:>5}  gen {:>4}  {}",
            w.name, w.prompt, w.gen, w.description
        );
    }
    println!("\nWhisper (on the first 30 s window of the clip; decode-tN for any N):");
    for w in &catalog.whisper_workloads {
        println!("{:<14} {}", w.name, w.description);
    }
}

/// The named suites and their stopping rules.
fn suites(catalog: &Catalog) {
    for s in &catalog.suites {
        let mut rule = Vec::new();
        if let Some(ci) = s.ci_percent {
            rule.push(format!("repeat until ±{ci}%"));
        }
        if let Some(n) = s.max_reps {
            rule.push(format!("at most {n} repetitions"));
        }
        if let Some(t) = s.max_time_s {
            rule.push(format!("{t} s a test"));
        }
        let quants: Vec<&str> = s.quants.iter().map(|q| q.name()).collect();
        suite(
            &s.name,
            &s.description,
            &s.models,
            &quants,
            &s.workloads,
            &rule,
        );
    }
    for s in &catalog.whisper_suites {
        let quants: Vec<&str> = s.quants.iter().map(|q| q.name()).collect();
        suite(
            &s.name,
            &s.description,
            &s.models,
            &quants,
            &s.workloads,
            &[],
        );
    }
}

/// One suite: its name and description, then what it runs and its stopping rule.
fn suite(
    name: &str,
    description: &str,
    models: &[String],
    quants: &[&str],
    workloads: &[String],
    rule: &[String],
) {
    println!("{name:<10} {description}");
    let rule = if rule.is_empty() {
        String::new()
    } else {
        format!("; {}", rule.join(", "))
    };
    println!(
        "{:<10} models {}; quants {}; workloads {}{rule}",
        "",
        models.join(", "),
        quants.join(", "),
        workloads.join(", ")
    );
}
