//! `edgebench run`'s flags, and the checks of their values that need no other context.

use crate::profile;
use crate::sweep;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Suite to run: quick (default), standard, long, tiny. See `edgebench list suites`.
    #[arg(long)]
    pub suite: Option<String>,
    /// Catalog models to run, comma-separated (e.g. llama3-8b,phi3-mini). See `edgebench list scenarios`.
    #[arg(long, short = 's', value_delimiter = ',')]
    pub scenario: Vec<String>,
    /// Quantizations, comma-separated: GGUF f32, f16, q8_0, q4_0, q4_k_m, q5_k_m (ONNX Runtime
    /// runs their GenAI counterparts: q4_k_m → int4…) or GenAI fp32, fp16, int8, int4
    /// [default with --scenario: q4_k_m]
    #[arg(long, short = 'q', value_delimiter = ',')]
    pub quant: Vec<String>,
    /// Your own model: a GGUF file, an ONNX Runtime GenAI folder, or for Whisper a ggml-*.bin
    /// or a Hugging Face folder; repeat for several.
    #[arg(long, short = 'm')]
    pub model: Vec<PathBuf>,
    /// 16 kHz WAV file for Whisper workloads [default: a synthetic 30 s speech-like clip]
    #[arg(long)]
    pub audio: Option<PathBuf>,
    /// Targets (backends) to run on, comma-separated [default: every built target]
    #[arg(long, value_delimiter = ',')]
    pub target: Vec<String>,
    /// Workloads by name, comma-separated (pp512, tg128, pp512+tg128, pp4096…)
    #[arg(long, short = 'w', value_delimiter = ',')]
    pub workload: Vec<String>,
    /// Prompt-processing test of N tokens in one batch (llama-bench -p); a list or range runs each (128,512 or 128-1024*2)
    #[arg(short = 'p', long = "n-prompt", value_parser = sweep::numbers)]
    pub prompt: Vec<sweep::Numbers>,
    /// Generation test of N single-token decodes (llama-bench -n); a list or range runs each
    #[arg(short = 'n', long = "n-gen", value_parser = sweep::numbers)]
    pub gen: Vec<sweep::Numbers>,
    /// Prompt then generation in one test, as PROMPT,GEN (llama-bench -pg): gives TTFT and latency
    #[arg(long = "pg", value_parser = parse_pg)]
    pub pg: Vec<(usize, usize)>,
    /// Compute threads; a list or range runs each (1,2,4 or 1-4) [default: all cores]
    #[arg(short = 't', long, value_parser = sweep::numbers)]
    pub threads: Vec<sweep::Numbers>,
    /// A backend option, swept like -t: KEY=VALUE[,VALUE…] (numbers also as ranges, 256-2048*2);
    /// repeat for several. What each target reads, its values and defaults: `edgebench list
    /// targets`. llama-bench's -b, -ub, -fa, -ctk, -ctv, -ngl (and --ctx-size, --ep) are
    /// aliases: `-fa 0,1` is `--opt flash_attn=0,1`
    #[arg(long = "opt", value_name = "KEY=VALUES", value_parser = sweep::option_values, help_heading = "Backend options (swept like -t)")]
    pub opt: Vec<sweep::Dimension>,
    /// Run exactly N repetitions per test (turns adaptive stopping off)
    #[arg(short = 'r', long)]
    pub repetitions: Option<usize>,
    /// Fewest repetitions per test
    #[arg(long, default_value_t = 3)]
    pub min_reps: usize,
    /// Most repetitions per test [default: 20; the quick suite: 10]
    #[arg(long)]
    pub max_reps: Option<usize>,
    /// Repeat until the 95% confidence interval is within ±this percent of the mean
    /// [default: 2; the quick suite: 5]
    #[arg(long)]
    pub ci: Option<f64>,
    /// Stop repeating a test after this many seconds of measuring [default: 120; the quick
    /// suite: 20]
    #[arg(long)]
    pub max_time: Option<f64>,
    /// Untimed runs of each test before measuring
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// Seed of synthetic weights and prompt tokens
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where synthetic models are cached [default: $XDG_CACHE_HOME/edgebench/models]
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
    /// Results file to append to [default: edgebench-results/<run id>.jsonl]
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// What to print when done: table, md, csv, json, jsonl
    #[arg(long, default_value = "table")]
    pub output: String,
    /// Print the plan and exit without running anything
    #[arg(long)]
    pub dry_run: bool,
    /// Run models even when they look too large for this device's memory
    #[arg(long)]
    pub force: bool,
    /// Sensor sampling rate, Hz
    #[arg(long, default_value_t = 10.0)]
    pub sample_hz: f64,
    /// Seconds a model load or one repetition may take before the worker is stopped
    #[arg(long, default_value_t = 1800)]
    pub timeout: u64,
    /// Run each generation workload back to back for this long (e.g. 10m, 90s, 1h) and record
    /// t/s per window next to temperature and clock; without -n, the workload is tg128
    #[arg(long, value_parser = profile::parse_duration)]
    pub soak: Option<f64>,
    /// Window of the soak curve, seconds
    #[arg(long, default_value_t = 10.0)]
    pub soak_window: f64,
    /// Before each test, wait up to this long (seconds, or e.g. 2m) for the temperature to
    /// return near its idle value at the start of the run; `off` to never wait
    #[arg(long, default_value = "60", value_parser = profile::parse_cooldown)]
    pub cooldown: profile::CooldownLimit,
    /// Cooldown is done within this many °C of the idle temperature
    #[arg(long, default_value_t = edgebench_harness::cooldown::DEFAULT_MARGIN_C)]
    pub cooldown_margin: f64,
    /// Read /sys and /proc under this folder instead of / (for fixture trees)
    #[arg(long, hide = true)]
    pub sys_root: Option<PathBuf>,
}

fn parse_pg(s: &str) -> Result<(usize, usize), String> {
    let (p, g) = s
        .split_once(',')
        .ok_or_else(|| format!("'{s}' is not PROMPT,GEN (e.g. 512,128)"))?;
    let num = |x: &str| {
        x.trim()
            .parse::<usize>()
            .map_err(|_| format!("'{x}' in '{s}' is not a number"))
    };
    Ok((num(p)?, num(g)?))
}

impl RunArgs {
    pub fn threads(&self) -> Vec<usize> {
        sweep::flatten(self.threads.iter().map(|n| n.0.clone()))
    }

    /// The backend options swept, one dimension per key in the order first given (a repeated
    /// key adds values); the values are checked against the targets' own descriptions once
    /// they are discovered (`targets::check_swept_options`).
    pub fn option_dimensions(&self) -> Vec<sweep::Dimension> {
        sweep::merge_dimensions(&self.opt)
    }
}
