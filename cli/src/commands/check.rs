//! `edgebench check`: does every built target compute the same model?
//!
//! Each target runs the same synthetic model (the same seed gives the same weights in every
//! format a target reads) on the same prompt tokens, through its worker's `generate` request.
//! The reference target (candle, at the same quantization) generates `n` greedy tokens; every
//! target then sees the prompt followed by the reference's first `k` tokens, for each `k < n`
//! ("teacher forcing"), so each position is compared on the same text: one early near-tie
//! decided differently does not make every later position differ. Each target also generates
//! freely, which shows how long the two continuations stay the same. The last prompt position
//! is also compared with the reference at F32, the most exact version of the same function,
//! which tells how much of a difference is the quantization itself.
//!
//! Figures (pure functions below, tested):
//! - `top-1`: positions where the target's most likely next token is the reference's;
//! - `max abs`: largest |logit − reference logit| over the vocabulary and every position;
//! - `max rel`: `max abs` ÷ the largest |reference logit| at that position (element-wise
//!   relative differences explode where a logit is near zero, so the scale is the logits' own);
//! - `free run`: how many generated tokens agree before the free-running continuations part.
//!
//! A target passes when it is within the [`tolerance`] of its quantization. Adding a target that
//! reads another format means adding its case to [`model_file`] and [`tolerance`]. A target
//! that reads ONNX Runtime GenAI folders runs the GenAI counterpart of each GGUF quantization
//! (q4_k_m → int4…), written from the same seeded weights.

use crate::model::ModelKind;
use crate::targets::{self, FoundTarget};
use crate::units::gib;
use anyhow::{bail, Context};
use clap::Args;
use edgebench_harness::client::{WorkerClient, WorkerCommand};
use edgebench_harness::protocol::{Request, Response};
use edgebench_harness::target::LoadSpec;
use edgebench_harness::tokens::{argmax, prompt_tokens};
use edgebench_scenarios::onnx::{self, OnnxQuant};
use edgebench_scenarios::{synth, Catalog, ModelSpec, Quant};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Catalog models, comma-separated [default: the tiny test shapes of every architecture]
    #[arg(long, short = 's', value_delimiter = ',')]
    pub scenario: Vec<String>,
    /// Quantizations, comma-separated
    #[arg(
        long,
        short = 'q',
        value_delimiter = ',',
        default_value = "f16,q8_0,q4_k_m"
    )]
    pub quant: Vec<String>,
    /// Targets to check, comma-separated [default: every built target]
    #[arg(long, value_delimiter = ',')]
    pub target: Vec<String>,
    /// The target the others are compared with
    #[arg(long, default_value = "candle")]
    pub reference: String,
    /// Prompt tokens (pseudo-random from --seed, the same for every target)
    #[arg(short = 'p', long = "n-prompt", default_value_t = 16)]
    pub prompt: usize,
    /// Greedy tokens generated and compared
    #[arg(short = 'n', long = "n-gen", default_value_t = 32)]
    pub gen: usize,
    /// Compute threads [default: all cores]
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
    /// Seed of the synthetic weights and the prompt
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where synthetic models are cached [default: $XDG_CACHE_HOME/edgebench/models]
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
    /// What to print: table or json
    #[arg(long, default_value = "table")]
    pub output: String,
    /// Seconds one target may take for one model before its worker is stopped
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

/// How far one target's output is from a reference's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Comparison {
    /// Largest |logit difference| over every position compared.
    pub max_abs: f32,
    /// Largest `max abs` ÷ max |reference logit| of a position.
    pub max_rel: f32,
    /// Positions compared (the last prompt position and each teacher-forced one).
    pub positions: usize,
    /// Positions where the most likely token is the same.
    pub top1_agree: usize,
    /// Free-running greedy tokens equal before the first difference.
    pub free_run_agree: usize,
    pub free_run_total: usize,
}

impl Comparison {
    pub fn top1_fraction(&self) -> f64 {
        if self.positions == 0 {
            1.0
        } else {
            self.top1_agree as f64 / self.positions as f64
        }
    }
}

/// What a target produced for the check prompt.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Output {
    /// Logits of the last prompt position, then of each teacher-forced position.
    pub logits: Vec<Vec<f32>>,
    /// Free-running greedy continuation of the prompt.
    pub tokens: Vec<u32>,
}

/// Compare `out` with `reference` over the positions both have (see the module docs).
pub fn compare(out: &Output, reference: &Output) -> Result<Comparison, String> {
    let positions = out.logits.len().min(reference.logits.len());
    if positions == 0 {
        return Err("no logits to compare".into());
    }
    let mut c = Comparison {
        max_abs: 0.0,
        max_rel: 0.0,
        positions,
        top1_agree: 0,
        free_run_agree: 0,
        free_run_total: out.tokens.len().min(reference.tokens.len()),
    };
    for (a, r) in out.logits.iter().zip(&reference.logits) {
        if a.len() != r.len() {
            return Err(format!("{} logits, the reference has {}", a.len(), r.len()));
        }
        let mut max_abs = 0f32;
        let mut scale = 0f32;
        for (x, y) in a.iter().zip(r) {
            let d = (x - y).abs();
            if !d.is_finite() {
                return Err("logits hold NaN or infinity".into());
            }
            max_abs = max_abs.max(d);
            scale = scale.max(y.abs());
        }
        c.max_abs = c.max_abs.max(max_abs);
        c.max_rel = c.max_rel.max(if scale > 0.0 {
            max_abs / scale
        } else {
            max_abs
        });
        if argmax(a) == argmax(r) {
            c.top1_agree += 1;
        }
    }
    c.free_run_agree = out
        .tokens
        .iter()
        .zip(&reference.tokens)
        .take_while(|(a, b)| a == b)
        .count();
    Ok(c)
}

/// How close a target must be to the reference at the same quantization.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tolerance {
    /// Largest allowed `max rel`.
    pub max_rel: f32,
    /// Smallest allowed fraction of positions with the same top-1 token.
    pub top1: f64,
}

/// The documented tolerance per quantization (README, "Do the targets agree?").
///
/// F32 and F16 weights are the same numbers in every backend; differences come from the order
/// of floating-point sums and F16 intermediates, so logits agree to a few 1e-4 of their scale
/// and every top-1 token agrees. Quantized weights are multiplied with quantized activations
/// (8-bit blocks) in each library's own kernels, and candle and llama.cpp differ there by about
/// 1% of the logit scale whatever the weight format (measured: `edgebench check`), enough to
/// decide a near-tie between two tokens differently now and then: most, not all, positions
/// agree.
pub fn tolerance(format: &str, quant: Quant) -> Tolerance {
    if format == "onnx-genai" {
        return onnx_tolerance(quant);
    }
    match quant {
        Quant::F32 => Tolerance {
            max_rel: 0.005,
            top1: 0.99,
        },
        Quant::F16 => Tolerance {
            max_rel: F16_MAX_REL,
            top1: 0.99,
        },
        // Measured up to 0.05 for Gemma at q8_0: its synthetic residual branches are scaled up
        // (so its tied output does not echo the input token), which magnifies the kernels'
        // different activation rounding.
        Quant::Q8_0 | Quant::Q4_0 | Quant::Q4KM | Quant::Q5KM => Tolerance {
            max_rel: 0.06,
            top1: 0.90,
        },
    }
}

/// The largest `max rel` of an F16 GGUF model. On ARM CPUs with FP16 vector arithmetic
/// (Raspberry Pi 5, Jetson Orin, Apple M) ggml sums F16 dot products in F16, where candle sums in
/// F32: measured on the Pi 5 build under QEMU's Cortex-A76 (whose floating point is ARM's, bit
/// for bit), max rel 0.0014 to 0.0066 for llama.cpp on the four tiny models, every token
/// agreeing. Elsewhere ≤ 0.002.
const F16_MAX_REL: f32 = if cfg!(target_arch = "aarch64") {
    0.01
} else {
    0.005
};

/// The largest `max rel` of an fp16 GenAI folder. On ARM CPUs with FP16 vector arithmetic ONNX
/// Runtime also runs its fp16 MatMuls in fp16, accumulating in fp16 (the rounding error of a
/// K-long dot product grows about as 2⁻¹¹·√K: 0.016 for K = 1024). Measured on the Pi 5 build
/// under QEMU's Cortex-A76: max rel 0.0067 to 0.0155 on the four tiny models, every token
/// agreeing. Elsewhere ≤ 0.002.
const GENAI_FP16_MAX_REL: f32 = if cfg!(target_arch = "aarch64") {
    0.02
} else {
    0.005
};

/// The tolerance of a target reading ONNX Runtime GenAI folders, which runs the GenAI
/// counterpart of `quant` (README, "Do the targets agree?"). Measured on the four tiny models,
/// seeds 1–3, 16 prompt tokens and 32 positions each (ONNX Runtime 1.31 against candle 0.11):
/// - fp32 holds the F32 GGUF's weights exactly: max rel < 1e-5, every top-1 agrees;
/// - fp16 runs activations, KV cache and norms in fp16 where candle keeps f32: max rel ≤ 0.002;
/// - int8 (MatMulNBits, 8-bit blocks of 32, f32 scales) against Q8_0 (f16 scales), each
///   multiplied with int8-quantized activations: max rel ≤ 0.081, top-1 ≥ 84%. Against f32 it
///   is as close as Q8_0 or closer (`rel vs f32` ≤ 0.03);
/// - int4 is the same symmetric 4-bit block-32 scheme as Q4_0, but GenAI's mixture quantizes the
///   LM head to 4 bits and keeps an fp32 embedding where GGUF has a Q6_K output and a quantized
///   embedding: against Q4_0 max rel ≤ 0.19, top-1 ≥ 72%; against Q4_K_M (6-bit scales, Q6_K
///   and Q5_K parts) max rel ≤ 0.68, top-1 ≥ 31% (the tied Gemma head is the farthest). Either
///   way int4 is about as far from f32 as the GGUF 4-bit files are (`rel vs f32` 0.10–0.43 for
///   both), so the tolerance is set to tell a different rounding from a different function
///   (unrelated logits: max rel well above 1, top-1 near 0).
fn onnx_tolerance(quant: Quant) -> Tolerance {
    let t = |max_rel, top1| Tolerance { max_rel, top1 };
    match quant {
        Quant::F32 => t(0.005, 0.99),
        Quant::F16 => t(GENAI_FP16_MAX_REL, 0.99),
        Quant::Q8_0 => t(0.12, 0.75),
        Quant::Q4_0 => t(0.30, 0.60),
        Quant::Q4KM | Quant::Q5KM => t(1.0, 0.20),
    }
}

/// The name of the quantization a target reading `format` runs for the GGUF quantization
/// `quant` (`None`: that format has none).
pub fn quant_for_format(format: &str, quant: Quant) -> Option<&'static str> {
    match format {
        "gguf" => Some(quant.name()),
        "onnx-genai" => OnnxQuant::counterpart_of(quant).map(OnnxQuant::name),
        _ => None,
    }
}

/// The format a target reads, of those edgebench checks (the first it lists).
fn target_format(target: &FoundTarget) -> &str {
    target
        .info
        .formats
        .iter()
        .map(String::as_str)
        .find(|f| matches!(*f, "gguf" | "onnx-genai"))
        .unwrap_or("gguf")
}

/// Why `c` is outside `t`, if it is.
pub fn verdict(c: &Comparison, t: &Tolerance) -> Result<(), String> {
    let mut why = Vec::new();
    if c.top1_fraction() < t.top1 {
        why.push(format!(
            "top-1 {}/{} < {:.0}%",
            c.top1_agree,
            c.positions,
            t.top1 * 100.0
        ));
    }
    if c.max_rel > t.max_rel {
        why.push(format!("max rel {:.4} > {}", c.max_rel, t.max_rel));
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why.join(", "))
    }
}

/// The file a target reading `format` loads for `spec` at `quant` with weights from `seed`,
/// synthesized into the model cache if needed; `None` when edgebench cannot write that format.
/// Every format must give the same weights for the same seed: that is what makes the check
/// meaningful.
pub fn model_file(
    format: &str,
    spec: &ModelSpec,
    quant: Quant,
    seed: u64,
    models_dir: &Path,
) -> anyhow::Result<Option<PathBuf>> {
    match format {
        "gguf" => {
            let cached = synth::ensure_cached(models_dir, spec, quant, seed, &mut |_, _| {})?;
            Ok(Some(cached.path))
        }
        "onnx-genai" => match OnnxQuant::counterpart_of(quant) {
            Some(q) => {
                let cached = onnx::ensure_cached(models_dir, spec, q, seed, &mut |_, _| {})?;
                Ok(Some(cached.folder))
            }
            None => Ok(None),
        },
        _ => Ok(None),
    }
}

/// One line of the check table.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRow {
    pub model: String,
    pub quant: String,
    pub target: String,
    pub reference: bool,
    /// Against the reference target at the same quantization (`None` for the reference).
    pub vs_reference: Option<Comparison>,
    /// Against the reference target at F32.
    pub vs_f32: Option<Comparison>,
    pub tolerance: Option<Tolerance>,
    /// `ok`, `reference`, `FAIL: why`, `error: why` or `skipped: why`.
    pub verdict: String,
}

impl CheckRow {
    pub fn failed(&self) -> bool {
        self.verdict.starts_with("FAIL") || self.verdict.starts_with("error")
    }
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    // Step 1: what was typed.
    if args.output != "table" && args.output != "json" {
        bail!("--output: '{}' is not table or json", args.output);
    }
    if args.prompt == 0 {
        bail!("--n-prompt must be at least 1");
    }
    if args.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    let quants = args
        .quant
        .iter()
        .map(|q| Quant::parse(q))
        .collect::<Result<Vec<_>, _>>()
        .context("--quant")?;
    let catalog = Catalog::builtin();
    let models: Vec<ModelSpec> = if args.scenario.is_empty() {
        catalog.models.iter().filter(|m| m.tiny).cloned().collect()
    } else {
        args.scenario
            .iter()
            .map(|n| catalog.model(n).cloned())
            .collect::<Result<_, _>>()
            .context("--scenario")?
    };
    for t in args.target.iter().chain([&args.reference]) {
        if !targets::is_known(t) {
            let known = targets::known_names();
            bail!("unknown target '{t}' (known: {})", known.join(", "));
        }
    }

    // Step 2: what is built here.
    let (found, missing) = targets::discover(ModelKind::Text);
    let Some(reference) = found.iter().find(|f| f.name == args.reference) else {
        let why = missing
            .iter()
            .find(|m| m.name == args.reference)
            .map_or("not found".to_string(), |m| m.reason.clone());
        bail!(
            "the reference target {} is not available: {why}",
            args.reference
        );
    };
    let checked: Vec<&FoundTarget> = if args.target.is_empty() {
        found.iter().collect()
    } else {
        let mut v = Vec::new();
        for t in &args.target {
            match found.iter().find(|f| f.name == t) {
                Some(f) => v.push(f),
                None => {
                    let why = missing
                        .iter()
                        .find(|m| m.name == t)
                        .map_or("not found".to_string(), |m| m.reason.clone());
                    bail!("target {t} is not available: {why}");
                }
            }
        }
        v
    };
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let models_dir = crate::meta::models_dir(&args.models_dir);
    let run = Runner {
        threads,
        seed: args.seed,
        prompt: args.prompt,
        gen: args.gen,
        timeout: Duration::from_secs(args.timeout),
        models_dir,
    };

    // Step 3: run every target on every model and compare.
    let mut rows = Vec::new();
    for spec in &models {
        let prompt = prompt_tokens(args.seed, args.prompt, spec.vocab_size);
        let exact = run.output(reference, spec, Quant::F32, &prompt, Forced::Own);
        for &quant in &quants {
            let reference_out = if quant == Quant::F32 {
                exact.clone()
            } else {
                run.output(reference, spec, quant, &prompt, Forced::Own)
            };
            let forced = match &reference_out {
                Ok(r) => Forced::Tokens(&r.tokens),
                Err(_) => Forced::Nothing,
            };
            for target in std::iter::once(reference)
                .chain(checked.iter().copied().filter(|t| t.name != reference.name))
            {
                let is_reference = target.name == reference.name;
                let out = if is_reference {
                    reference_out.clone()
                } else {
                    run.output(target, spec, quant, &prompt, forced)
                };
                rows.push(row(
                    spec,
                    quant,
                    target,
                    is_reference,
                    &out,
                    &reference_out,
                    &exact,
                ));
            }
        }
    }

    match args.output.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&rows)?),
        _ => print!("{}", render(&rows, args.prompt, args.gen, args.seed)),
    }
    Ok(if rows.iter().any(CheckRow::failed) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Only the logits of the last prompt position (for comparisons of texts that part after it).
fn last_prompt_position(out: &Output) -> Output {
    Output {
        logits: out.logits.iter().take(1).cloned().collect(),
        tokens: out.tokens.clone(),
    }
}

/// A target's result: its output, or why there is none (`Err(("skipped"|"error", why))`).
type Outcome = Result<Output, (&'static str, String)>;

fn row(
    spec: &ModelSpec,
    quant: Quant,
    target: &FoundTarget,
    is_reference: bool,
    out: &Outcome,
    reference: &Outcome,
    exact: &Outcome,
) -> CheckRow {
    let format = target_format(target);
    let mut row = CheckRow {
        model: spec.name.clone(),
        quant: quant.name().into(),
        target: match quant_for_format(format, quant) {
            Some(q) if q != quant.name() => format!("{} ({q})", target.name),
            _ => target.name.into(),
        },
        reference: is_reference,
        vs_reference: None,
        vs_f32: None,
        tolerance: None,
        verdict: String::new(),
    };
    let out = match out {
        Ok(o) => o,
        Err((kind, why)) => {
            row.verdict = format!("{kind}: {why}");
            return row;
        }
    };
    if let Ok(exact) = exact {
        row.vs_f32 = compare(&last_prompt_position(out), exact).ok();
    }
    if is_reference {
        row.verdict = "reference".into();
        return row;
    }
    let reference = match reference {
        Ok(r) => r,
        Err((_, why)) => {
            row.verdict = format!("error: the reference failed: {why}");
            return row;
        }
    };
    let tol = tolerance(format, quant);
    row.tolerance = Some(tol);
    row.verdict = match compare(out, reference) {
        Ok(c) => {
            row.vs_reference = Some(c);
            match verdict(&c, &tol) {
                Ok(()) => "ok".into(),
                Err(why) => format!("FAIL: {why}"),
            }
        }
        Err(why) => format!("FAIL: {why}"),
    };
    row
}

struct Runner {
    threads: usize,
    seed: u64,
    prompt: usize,
    gen: usize,
    timeout: Duration,
    models_dir: PathBuf,
}

/// Which tokens a target is fed after the prompt, one position at a time.
#[derive(Clone, Copy)]
enum Forced<'a> {
    /// Only the free-running generation.
    Nothing,
    /// Its own greedy tokens (the reference).
    Own,
    /// The reference's greedy tokens.
    Tokens(&'a [u32]),
}

impl Runner {
    /// Run `target` on `spec` at `quant`: find or synthesize its model file, load it in a fresh
    /// worker, generate freely from `prompt`, then take the logits after each forced prefix.
    fn output(
        &self,
        target: &FoundTarget,
        spec: &ModelSpec,
        quant: Quant,
        prompt: &[u32],
        forced: Forced,
    ) -> Outcome {
        let info = &target.info;
        let arch = spec.arch.gguf_name();
        if !info.architectures.iter().any(|a| a == arch) {
            return Err(("skipped", format!("{} does not run {arch}", target.name)));
        }
        let runs = info
            .formats
            .iter()
            .filter_map(|f| quant_for_format(f, quant))
            .any(|q| info.quants.iter().any(|x| x == q));
        if !runs {
            return Err(("skipped", format!("{} does not run {quant}", target.name)));
        }
        let mut file = None;
        for format in &info.formats {
            match model_file(format, spec, quant, self.seed, &self.models_dir) {
                Ok(Some(path)) => {
                    file = Some(path);
                    break;
                }
                Ok(None) => {}
                Err(e) => return Err(("error", format!("cannot synthesize the model: {e:#}"))),
            }
        }
        let Some(path) = file else {
            return Err((
                "skipped",
                format!(
                    "edgebench cannot synthesize {} files yet",
                    info.formats.join(", ")
                ),
            ));
        };
        eprintln!(
            "check: {} {} on {} ({} file)",
            spec.name,
            quant,
            target.name,
            gib(std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0))
        );
        let mut client = WorkerClient::spawn(&WorkerCommand::for_target(
            target.worker.clone(),
            self.threads,
        ))
        .map_err(|e| ("error", e.to_string()))?;
        let load = Request::Load(LoadSpec {
            model_path: path,
            threads: self.threads,
            context: self.prompt + self.gen + 1,
            options: Default::default(),
        });
        match client.request(&load, self.timeout, |_| {}) {
            Ok(Response::Loaded { .. }) => {}
            Ok(other) => return Err(("error", format!("worker answered {other:?} to load"))),
            Err(e) => return Err(("error", format!("load failed: {e}"))),
        }
        // One `generate`: the logits after `prompt`, and `gen` greedy tokens.
        let mut generate = |prompt: Vec<u32>, gen: usize| -> Outcome {
            match client.request(&Request::Generate { prompt, gen }, self.timeout, |_| {}) {
                Ok(Response::Generated {
                    prefill_logits,
                    tokens,
                }) => Ok(Output {
                    logits: vec![prefill_logits],
                    tokens,
                }),
                Ok(other) => Err(("error", format!("worker answered {other:?} to generate"))),
                Err(e) => Err(("error", e.to_string())),
            }
        };
        let mut out = generate(prompt.to_vec(), self.gen)?;
        let forced: Vec<u32> = match forced {
            Forced::Nothing => Vec::new(),
            Forced::Own => out.tokens.clone(),
            Forced::Tokens(t) => t.to_vec(),
        };
        for k in 1..forced.len() {
            let mut text = prompt.to_vec();
            text.extend_from_slice(&forced[..k]);
            out.logits.append(&mut generate(text, 0)?.logits);
        }
        client.quit();
        Ok(out)
    }
}

/// The check table, with a caption and the tolerances used.
pub fn render(rows: &[CheckRow], prompt: usize, gen: usize, seed: u64) -> String {
    let headers = [
        "model",
        "quant",
        "target",
        "top-1",
        "max abs",
        "max rel",
        "free run",
        "rel vs f32",
        "verdict",
    ];
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            let c = r.vs_reference.as_ref();
            let dash = || "-".to_string();
            [
                r.model.clone(),
                r.quant.clone(),
                r.target.clone(),
                c.map_or_else(dash, |c| format!("{}/{}", c.top1_agree, c.positions)),
                c.map_or_else(dash, |c| format!("{:.4}", c.max_abs)),
                c.map_or_else(dash, |c| format!("{:.5}", c.max_rel)),
                c.map_or_else(dash, |c| {
                    format!("{}/{}", c.free_run_agree, c.free_run_total)
                }),
                r.vs_f32
                    .as_ref()
                    .map_or_else(dash, |c| format!("{:.5}", c.max_rel)),
                r.verdict.clone(),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let numeric = |i: usize| (3..8).contains(&i);
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == cells.len() - 1 {
                s.push_str(c);
            } else if numeric(i) {
                let _ = write!(s, "{c:>w$}  ", w = widths[i]);
            } else {
                let _ = write!(s, "{c:<w$}  ", w = widths[i]);
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = format!(
        "Same synthetic weights (seed {seed}) and {prompt} prompt tokens on every target, \
         compared with the reference at the same quantization: top-1 token and logits at the \
         last prompt position and after each of the reference's {gen} greedy tokens, and how \
         many freely generated tokens agree; rel vs f32: last prompt position against the \
         reference at f32.\n\n"
    );
    out.push_str(&line(&headers.map(String::from)));
    for row in &cells {
        out.push_str(&line(row));
    }
    // Per quantization, and per GenAI counterpart (`q4_k_m → int4`) where a target runs one.
    let mut parts: Vec<String> = Vec::new();
    for r in rows {
        let Some(t) = r.tolerance else { continue };
        let label = match r.target.split_once(" (") {
            Some((_, q)) => format!("{} → {}", r.quant, q.trim_end_matches(')')),
            None => r.quant.clone(),
        };
        let part = format!(
            "{label}: max rel ≤ {}, top-1 ≥ {:.0}%",
            t.max_rel,
            t.top1 * 100.0
        );
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    let _ = writeln!(out, "\nTolerances: {}", parts.join("; "));
    let failed = rows.iter().filter(|r| r.failed()).count();
    if failed > 0 {
        let _ = writeln!(
            out,
            "{failed} of {} rows outside tolerance or failed.",
            rows.len()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(logits: &[&[f32]], tokens: &[u32]) -> Output {
        Output {
            logits: logits.iter().map(|l| l.to_vec()).collect(),
            tokens: tokens.to_vec(),
        }
    }

    #[test]
    fn identical_outputs_agree_exactly() {
        let a = out(&[&[0.5, -2.0, 3.0], &[1.0, 0.0, 0.0]], &[2, 0, 1]);
        let c = compare(&a, &a).unwrap();
        assert_eq!(
            c,
            Comparison {
                max_abs: 0.0,
                max_rel: 0.0,
                positions: 2,
                top1_agree: 2,
                free_run_agree: 3,
                free_run_total: 3,
            }
        );
        assert_eq!(verdict(&c, &tolerance("gguf", Quant::F16)), Ok(()));
    }

    #[test]
    fn differences_are_measured_against_each_positions_scale() {
        let reference = out(
            &[&[1.0, -4.0, 2.0, 0.0], &[0.1, 0.2, 0.39, 0.4]],
            &[5, 6, 7, 8],
        );
        // Position 0: 0.1 off at a scale of 4; position 1: 0.02 off at a scale of 0.4 and the
        // top token differs. The free run parts at the third token.
        let other = out(
            &[&[1.1, -4.0, 2.0, 0.05], &[0.1, 0.2, 0.41, 0.4]],
            &[5, 6, 9, 8],
        );
        let c = compare(&other, &reference).unwrap();
        assert!((c.max_abs - 0.1).abs() < 1e-6, "{}", c.max_abs);
        assert!((c.max_rel - 0.05).abs() < 1e-6, "{}", c.max_rel);
        assert_eq!((c.top1_agree, c.positions), (1, 2));
        assert_eq!((c.free_run_agree, c.free_run_total), (2, 4));
        assert_eq!(c.top1_fraction(), 0.5);
        let err = verdict(
            &c,
            &Tolerance {
                max_rel: 0.03,
                top1: 0.90,
            },
        )
        .unwrap_err();
        assert!(err.contains("top-1 1/2 < 90%"), "{err}");
        assert!(err.contains("max rel 0.0500 > 0.03"), "{err}");
    }

    #[test]
    fn tolerances_pass_what_they_should() {
        let c = Comparison {
            max_abs: 0.04,
            max_rel: 0.012,
            positions: 32,
            top1_agree: 31,
            free_run_agree: 7,
            free_run_total: 32,
        };
        assert!(verdict(&c, &tolerance("gguf", Quant::Q8_0)).is_ok());
        assert!(verdict(&c, &tolerance("onnx-genai", Quant::Q8_0)).is_ok());
        assert!(verdict(&c, &tolerance("gguf", Quant::Q4KM)).is_ok());
        let err = verdict(&c, &tolerance("gguf", Quant::F16)).unwrap_err();
        assert!(
            err.contains("top-1 31/32 < 99%") && err.contains("max rel"),
            "{err}"
        );
    }

    #[test]
    fn incomparable_outputs_are_errors() {
        let a = out(&[&[1.0, 2.0]], &[]);
        assert!(compare(&a, &out(&[&[1.0]], &[]))
            .unwrap_err()
            .contains("2 logits"));
        assert!(compare(&out(&[&[f32::NAN, 1.0]], &[]), &a)
            .unwrap_err()
            .contains("NaN"));
        assert!(compare(&out(&[], &[]), &a).is_err());
    }

    #[test]
    fn gguf_and_genai_folders_are_synthesized_and_unknown_formats_are_none() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::builtin();
        let spec = catalog.model("llama3-8b-tiny").unwrap();
        let path = model_file("gguf", spec, Quant::Q8_0, 3, dir.path())
            .unwrap()
            .unwrap();
        assert!(path.starts_with(dir.path()) && path.is_file());
        // The GenAI counterpart of q8_0: an int8 folder.
        let folder = model_file("onnx-genai", spec, Quant::Q8_0, 3, dir.path())
            .unwrap()
            .unwrap();
        assert!(
            folder.join("genai_config.json").is_file(),
            "{}",
            folder.display()
        );
        assert_eq!(
            edgebench_scenarios::onnx::inspect(&folder).unwrap().quant,
            "int8"
        );
        assert_eq!(quant_for_format("onnx-genai", Quant::Q4KM), Some("int4"));
        assert!(model_file("onnx-genai", spec, Quant::Q5KM, 3, dir.path())
            .unwrap()
            .is_none());
        assert!(model_file("tflite", spec, Quant::Q8_0, 3, dir.path())
            .unwrap()
            .is_none());
    }

    #[test]
    fn table_shows_every_row_and_the_tolerances() {
        let c = Comparison {
            max_abs: 0.0123,
            max_rel: 0.00123,
            positions: 32,
            top1_agree: 32,
            free_run_agree: 32,
            free_run_total: 32,
        };
        let row = |quant: &str, target: &str, reference: bool, verdict: &str| CheckRow {
            model: "llama3-8b-tiny".into(),
            quant: quant.into(),
            target: target.into(),
            reference,
            vs_reference: (!reference).then_some(c),
            vs_f32: Some(c),
            tolerance: (!reference).then(|| {
                let format = if target.contains('(') {
                    "onnx-genai"
                } else {
                    "gguf"
                };
                tolerance(format, Quant::parse(quant).unwrap())
            }),
            verdict: verdict.into(),
        };
        let rows = vec![
            row("f16", "candle", true, "reference"),
            row("f16", "llamacpp", false, "ok"),
            row("q8_0", "candle", true, "reference"),
            row("q8_0", "llamacpp", false, "FAIL: top-1 1/2 < 90%"),
            row("q8_0", "onnxruntime (int8)", false, "ok"),
        ];
        let text = render(&rows, 16, 32, 1);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[2].starts_with("model"), "{text}");
        assert!(
            lines[3].contains("candle") && lines[3].ends_with("reference"),
            "{text}"
        );
        assert!(
            lines[4].contains("llamacpp")
                && lines[4].contains("0.00123")
                && lines[4].contains("32/32")
                && lines[4].ends_with("ok"),
            "{text}"
        );
        assert_eq!(
            text.matches(&format!(
                "Tolerances: f16: max rel ≤ {F16_MAX_REL}, top-1 ≥ 99%; q8_0: max rel ≤ 0.06, \
                 top-1 ≥ 90%; q8_0 → int8: max rel ≤ 0.12, top-1 ≥ 75%"
            ))
            .count(),
            1,
            "{text}"
        );
        assert!(text.contains("1 of 5 rows outside tolerance"), "{text}");
        assert_eq!(rows.iter().filter(|r| r.failed()).count(), 1);
    }
}
