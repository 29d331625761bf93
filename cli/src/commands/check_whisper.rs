//! `edgebench check-whisper`: do the speech targets compute the same function?
//!
//! Every target gets the same synthetic Whisper (one seed, each in its own format) and the same
//! log-mel input (computed once here with candle-transformers' `pcm_to_mel`, so differences in
//! each engine's own spectrogram code do not enter), runs its encoder, then its decoder on the
//! start-of-transcript prompt and 8 greedy steps. Results are compared with a reference: the
//! first F32 result that exposes its encoder output (candle F32).
//!
//! Compared, as relative RMS difference ‖x − ref‖ / ‖ref‖:
//! - the encoder output (`1500 × d_model`), where the engine exposes it (whisper.cpp keeps it
//!   internal, so it is checked through the next item);
//! - the decoder logits after the prompt, which depend on the whole encoder output through
//!   cross-attention; and whether their argmax agrees.
//!
//! Tolerances ([`tolerance`]), from what the engines reach on `whisper-tiny-test` and
//! `whisper-tiny` (logits Δ measured: candle F16 5e-4, whisper.cpp F16 7e-4, Q8_0 ~2e-2, Q5_0
//! ~1.1e-1), with room for other shapes: F32 1e-3, F16 5e-3 (2e-2 on aarch64:
//! [`F16_TOLERANCE`]), Q8_0 and int8 5e-2, Q5_0 2.5e-1
//! (random weights amplify quantization error through the blocks more than trained ones do). A
//! wrong tensor, name or layout gives differences of order 1.
//!
//! ONNX Runtime (Optimum's ONNX layout) exposes its encoder output, so it is compared directly.
//! Measured on `whisper-tiny-test`, encoder Δ / logits Δ: f32 1.4e-4 / 1.6e-4 (its graph uses
//! the exact-erf GELU of the exported PyTorch model, candle and whisper.cpp the tanh
//! approximation), f16 4.4e-4 / 7.3e-4 (computed in f16), dynamic int8 1.3e-2 / 2.9e-2.
//!
//! whisper.cpp runs without flash attention here unless `-o flash_attn=on` is given: its CPU
//! flash attention accumulates the 1500 cross-attention values in F16, which moves the logits
//! by about 3e-2 (measured on whisper-tiny), more than F16 weights do. The benchmarks run it
//! with flash attention on, whisper.cpp's default.

use crate::model::ModelKind;
use crate::targets::{self, FoundTarget};
use anyhow::{bail, Context};
use clap::Args;
use edgebench_harness::client::WorkerClient;
use edgebench_harness::protocol::{Request, Response, SpeechCheckSpec};
use edgebench_harness::target::LoadSpec;
use edgebench_harness::tokens::argmax;
use edgebench_scenarios::whisper::{cache, mel, WhisperFormat, WhisperQuant};
use edgebench_scenarios::{Catalog, WhisperSpec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct CheckWhisperArgs {
    /// Whisper model of the catalog
    #[arg(long, short = 's', default_value = "whisper-tiny-test")]
    pub scenario: String,
    /// Quantizations to compare, comma-separated
    #[arg(long, short = 'q', value_delimiter = ',', default_value = "f32,f16")]
    pub quant: Vec<String>,
    /// Targets, comma-separated [default: every built speech target]
    #[arg(long, value_delimiter = ',')]
    pub target: Vec<String>,
    /// Seed of the synthetic weights (and of the synthetic clip)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Compute threads of each engine
    #[arg(short = 't', long, default_value_t = 2)]
    pub threads: usize,
    /// 16 kHz WAV file to take the log-mel from [default: the synthetic speech-like clip]
    #[arg(long)]
    pub audio: Option<PathBuf>,
    /// Model cache folder [default: $XDG_CACHE_HOME/edgebench/models]
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
    /// Backend load option KEY=VALUE for every target (e.g. flash_attn=off for whisper.cpp)
    #[arg(long = "option", short = 'o', value_parser = parse_option)]
    pub options: Vec<(String, String)>,
}

fn parse_option(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("'{s}' is not KEY=VALUE"))
}

/// The F16 tolerance. On ARM CPUs with FP16 vector arithmetic (Raspberry Pi 5, Jetson Orin) ONNX
/// Runtime runs its fp16 MatMuls in fp16, accumulating in fp16, and ggml sums F16 dot products in
/// F16: measured on the Pi 5 build under QEMU's Cortex-A76 on `whisper-tiny-test`, logits Δ
/// 8.4e-3 for ONNX Runtime f16 (encoder Δ 7.1e-3) and 1.5e-3 for whisper.cpp f16, every token
/// agreeing (x86_64: 7.3e-4 and 7e-4).
const F16_TOLERANCE: f64 = if cfg!(target_arch = "aarch64") {
    2e-2
} else {
    5e-3
};

/// Largest relative RMS difference from the F32 reference accepted at `quant`.
pub fn tolerance(quant: WhisperQuant) -> f64 {
    match quant {
        WhisperQuant::F32 => 1e-3,
        WhisperQuant::F16 => F16_TOLERANCE,
        WhisperQuant::Q8_0 | WhisperQuant::Int8 => 5e-2,
        WhisperQuant::Q5_0 => 2.5e-1,
    }
}

struct Outcome {
    target: String,
    quant: WhisperQuant,
    format: String,
    encoder: Option<Vec<f32>>,
    logits: Vec<f32>,
    tokens: Vec<u32>,
}

fn relative_rms(a: &[f32], reference: &[f32]) -> Option<f64> {
    if a.len() != reference.len() {
        return None;
    }
    let num: f64 = a
        .iter()
        .zip(reference)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum();
    let den: f64 = reference.iter().map(|y| (*y as f64).powi(2)).sum();
    Some((num / den.max(1e-30)).sqrt())
}

/// The one log-mel every engine gets: n_mels rows of the first 3000 frames of `audio`.
fn log_mel(spec: &WhisperSpec, audio: &edgebench_harness::audio::Audio) -> Vec<f32> {
    let config = candle_transformers::models::whisper::Config {
        num_mel_bins: spec.n_mels,
        max_source_positions: spec.n_audio_ctx,
        d_model: spec.n_audio_state,
        encoder_attention_heads: spec.n_audio_head,
        encoder_layers: spec.n_audio_layer,
        vocab_size: spec.n_vocab,
        max_target_positions: spec.n_text_ctx,
        decoder_attention_heads: spec.n_text_head,
        decoder_layers: spec.n_text_layer,
        suppress_tokens: Vec::new(),
    };
    let full = candle_transformers::models::whisper::audio::pcm_to_mel(
        &config,
        audio.window(),
        &mel::filters(spec.n_mels),
    );
    let frames = full.len() / spec.n_mels;
    let n = candle_transformers::models::whisper::N_FRAMES.min(frames);
    (0..spec.n_mels)
        .flat_map(|m| full[m * frames..m * frames + n].iter().copied())
        .collect()
}

/// One engine's answer for the shared log-mel.
struct Check<'a> {
    model: &'a Path,
    threads: usize,
    options: &'a BTreeMap<String, String>,
    log_mel: &'a [f32],
    n_mels: usize,
}

impl Check<'_> {
    /// Load the model in `target`'s speech worker and ask for its encoder output, first logits
    /// and greedy tokens.
    fn run(
        &self,
        target: &FoundTarget,
        quant: WhisperQuant,
        format: WhisperFormat,
    ) -> anyhow::Result<Outcome> {
        let command =
            targets::worker_command(target.worker.clone(), self.threads, ModelKind::Speech);
        let mut client = WorkerClient::spawn(&command)?;
        let timeout = Duration::from_secs(1800);
        client.request(
            &Request::Load(LoadSpec {
                model_path: self.model.to_path_buf(),
                threads: self.threads,
                context: 16,
                options: self.options.clone(),
            }),
            timeout,
            |_| {},
        )?;
        let answer = client.request(
            &Request::SpeechCheck(SpeechCheckSpec {
                mel: self.log_mel.to_vec(),
                n_mels: self.n_mels,
                gen: 8,
            }),
            timeout,
            |_| {},
        )?;
        client.quit();
        match answer {
            Response::SpeechChecked {
                encoder_output,
                prompt_logits,
                tokens,
            } => Ok(Outcome {
                target: target.name.to_string(),
                quant,
                format: format.name().to_string(),
                encoder: encoder_output,
                logits: prompt_logits,
                tokens,
            }),
            other => bail!("unexpected answer {other:?}"),
        }
    }
}

/// The table of every outcome against the reference; returns how many are off tolerance.
fn print_comparison(outcomes: &[Outcome], reference: &Outcome) -> usize {
    let mut problems = 0;
    println!(
        "reference: {} {} ({})\n",
        reference.target, reference.quant, reference.format
    );
    println!(
        "{:<11} {:<5} {:<20} {:>10} {:>10} {:>6} {:>7} {:>9}  verdict",
        "target", "quant", "format", "encoder Δ", "logits Δ", "top-1", "tokens", "tolerance"
    );
    let ref_top = argmax(&reference.logits);
    for o in outcomes {
        let enc = o
            .encoder
            .as_ref()
            .zip(reference.encoder.as_ref())
            .and_then(|(a, r)| relative_rms(a, r));
        let logits = relative_rms(&o.logits, &reference.logits);
        let top = argmax(&o.logits) == ref_top;
        let same_tokens = o
            .tokens
            .iter()
            .zip(&reference.tokens)
            .take_while(|(a, b)| a == b)
            .count();
        let tol = tolerance(o.quant);
        let ok = logits.is_some_and(|l| l <= tol) && enc.is_none_or(|e| e <= tol);
        if !ok {
            problems += 1;
        }
        let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2e}"));
        println!(
            "{:<11} {:<5} {:<20} {:>10} {:>10} {:>6} {:>5}/{} {:>9.0e}  {}",
            o.target,
            o.quant.name(),
            o.format,
            show(enc),
            show(logits),
            if top { "same" } else { "differ" },
            same_tokens,
            reference.tokens.len().min(o.tokens.len()),
            tol,
            if ok { "ok" } else { "MISMATCH" }
        );
    }
    println!(
        "\nΔ: relative RMS difference from the reference; tokens: greedy steps equal to the \
         reference's before the first difference (informative: random weights give close logits)."
    );
    problems
}

pub fn run(args: CheckWhisperArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::builtin();
    let spec = catalog
        .whisper_model(&args.scenario)
        .context("--scenario")?
        .clone();
    let quants = args
        .quant
        .iter()
        .map(|q| WhisperQuant::parse(q))
        .collect::<Result<Vec<_>, _>>()
        .context("--quant")?;
    if args.threads == 0 {
        bail!("--threads must be at least 1");
    }
    let models_dir = crate::meta::models_dir(&args.models_dir);
    let clip = match &args.audio {
        Some(p) => p.clone(),
        None => edgebench_scenarios::whisper::audio::ensure_clip(&models_dir, args.seed)?,
    };
    let audio = edgebench_harness::audio::read_wav(&clip).context("--audio")?;

    let log_mel = log_mel(&spec, &audio);

    let mut options: BTreeMap<String, String> = args.options.iter().cloned().collect();
    options
        .entry("flash_attn".into())
        .or_insert_with(|| "off".into());
    let (found, missing) = targets::discover(ModelKind::Speech);
    let names: Vec<String> = if args.target.is_empty() {
        found.iter().map(|f| f.name.to_string()).collect()
    } else {
        args.target.clone()
    };
    eprintln!(
        "checking {} ({} + {} layers, width {}) with seed {} on {} (log-mel of {})",
        spec.name,
        spec.n_audio_layer,
        spec.n_text_layer,
        spec.n_audio_state,
        args.seed,
        names.join(", "),
        clip.display()
    );
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut problems = 0usize;
    for name in &names {
        let Some(target) = found.iter().find(|f| f.name == name) else {
            let why = missing
                .iter()
                .find(|m| m.name == name)
                .map_or("unknown target".to_string(), |m| m.reason.clone());
            eprintln!("  {name}: not available: {why}");
            problems += 1;
            continue;
        };
        for &quant in &quants {
            let format = quant
                .formats()
                .iter()
                .copied()
                .find(|f| target.info.formats.iter().any(|x| x == f.name()));
            let Some(format) =
                format.filter(|_| target.info.quants.iter().any(|q| q == quant.name()))
            else {
                eprintln!("  {name} {quant}: not run by this target (skipped)");
                continue;
            };
            let cached =
                cache::ensure_cached(&models_dir, &spec, quant, format, args.seed, &mut |_, _| {})?;
            let check = Check {
                model: &cached.path,
                threads: args.threads,
                options: &options,
                log_mel: &log_mel,
                n_mels: spec.n_mels,
            };
            let outcome = check.run(target, quant, format);
            match outcome {
                Ok(o) => outcomes.push(o),
                Err(e) => {
                    eprintln!("  {name} {quant}: failed: {e:#}");
                    problems += 1;
                }
            }
        }
    }
    let Some(reference) = outcomes
        .iter()
        .find(|o| o.quant == WhisperQuant::F32 && o.encoder.is_some())
        .or_else(|| outcomes.iter().find(|o| o.encoder.is_some()))
    else {
        bail!("no target exposed an encoder output to compare with (is candle built?)");
    };
    problems += print_comparison(&outcomes, reference);
    Ok(if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
