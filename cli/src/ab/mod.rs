//! `edgebench ab`: the same tests with two sides, A (baseline) and B (candidate), in one
//! invocation, interleaved in paired blocks, until the difference is known or time is up.
//!
//! A side is an edgebench binary with its workers (`--b-bin`), a llama.cpp or whisper.cpp source
//! tree the backend's worker is built against (`--b-llama-cpp`, `--b-whisper-cpp`, see
//! [`tree`]), an ONNX Runtime library
//! (`--b-ort`), extra environment (`--b-env`) or extra `run` options (`--b-args "-fa 1"`), in
//! any combination; a side with none of them is the stock edgebench beside this one.
//!
//! Each block runs `edgebench run` once per side per half, in the order ABBA or BAAB (drawn
//! per block), each side its own binary, environment and options, into its own JSONL file. A
//! block gives one log-ratio ln(B/A) per test and metric (geometric means of the block's
//! repetitions), and the blocks are compared as pairs ([`paired`]): a minute in which another
//! job slows the machine slows both sides of that block. After `--min-blocks`, it stops once
//! every metric is settled — its interval wholly inside the noise band, or wholly outside —
//! or when the next block would overrun `--budget`, or at `--max-blocks`. The table and the
//! Markdown summary are `compare`'s; exit 1 on a significant regression beyond the threshold.

pub mod paired;
pub mod tree;

use crate::profile;
use anyhow::{bail, Context};
use clap::Args;
use edgebench_harness::schema::TestRecord;
use edgebench_reports::compare::{self, Better, Comparison, MetricChange, Options, TestChange};
use edgebench_reports::merge::TestKey;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// The metrics a gate judges by default: each test's headline rate. `--all-metrics` adds
/// latency percentiles, TTFT and energy, at the price of more chances of a false alarm.
const HEADLINE: [&str; 4] = ["pp_tps", "tg_tps", "rtf", "encode_s"];

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    edgebench ab --b-args '--flash-attn 1' -- -s llama3-8b-tiny -q q4_0 -w tg16 --target llamacpp\n  \
    edgebench ab --b-ort ~/ort-1.22/libonnxruntime.so -- -s phi3-mini-tiny -q int4 --target onnxruntime\n  \
    edgebench ab --b-llama-cpp ~/src/llama.cpp -- -s gemma-2b -q q4_0 -w pp64,tg16 --target llamacpp\n  \
    edgebench ab --b-whisper-cpp ~/src/whisper.cpp -- --model ggml-tiny.bin -w encode,decode-t64 --target whispercpp\n  \
    edgebench ab --a-bin base/bin --b-bin head/bin -- --suite tiny --target candle")]
pub struct AbArgs {
    #[command(flatten)]
    pub a: SideArgsA,
    #[command(flatten)]
    pub b: SideArgsB,
    /// Fewest blocks (6 is the fewest a two-sided signed-rank test can find significant)
    #[arg(long, default_value_t = 6)]
    pub min_blocks: usize,
    /// Most blocks
    #[arg(long, default_value_t = 30)]
    pub max_blocks: usize,
    /// Time budget (e.g. 90s, 10m): no block is started that would end after it
    #[arg(long, default_value = "10m", value_parser = profile::parse_duration)]
    pub budget: f64,
    /// Repetitions of each test per side and half-block (`run -r`), unless the run options
    /// set -r themselves
    #[arg(long, default_value_t = 2)]
    pub reps: usize,
    /// Changes whose interval reaches inside ±this percentage are "no change"
    #[arg(long, default_value_t = 3.0, value_name = "PERCENT")]
    pub threshold: f64,
    /// Significance level of the signed-rank test
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Judge every metric (latency percentiles, TTFT, energy), not only each test's rate
    #[arg(long)]
    pub all_metrics: bool,
    /// Seed of the block order [default: from the clock]
    #[arg(long)]
    pub seed: Option<u64>,
    /// What to print: table or md
    #[arg(long, default_value = "table")]
    pub output: String,
    /// Also write the Markdown summary to this file
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Folder for both sides' results (a.jsonl, b.jsonl, blocks.csv, runs/) [default:
    /// edgebench-results/ab-<time>]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The edgebench source checkout llama.cpp/whisper.cpp sides are built from [default: the one this
    /// binary was built from]
    #[arg(long)]
    pub source: Option<PathBuf>,
    /// Print the sides and the first block's commands, run nothing
    #[arg(long)]
    pub dry_run: bool,
    /// `edgebench run` options both sides share (after `--`)
    #[arg(last = true)]
    pub run_args: Vec<String>,
}

macro_rules! side_args {
    ($name:ident, $side:literal, $bin:literal, $llama:literal, $whisper:literal, $build:literal, $ort:literal, $env:literal, $args:literal, $label:literal) => {
        #[derive(Args, Debug, Default, Clone)]
        pub struct $name {
            #[doc = concat!("Side ", $side, ": a folder with an edgebench binary and its workers")]
            #[arg(long = $bin, id = $bin, value_name = "DIR")]
            pub bin: Option<PathBuf>,
            #[doc = concat!("Side ", $side, ": a llama.cpp source tree to build the llama.cpp worker against")]
            #[arg(long = $llama, id = $llama, value_name = "DIR")]
            pub llama_cpp: Option<PathBuf>,
            #[doc = concat!("Side ", $side, ": a whisper.cpp source tree to build the whisper.cpp worker against")]
            #[arg(long = $whisper, id = $whisper, value_name = "DIR")]
            pub whisper_cpp: Option<PathBuf>,
            #[doc = concat!("Side ", $side, ": a GGML_*/CMAKE_* option for those builds (GGML_CPU_REPACK=OFF)")]
            #[arg(long = $build, id = $build, value_name = "KEY=VALUE")]
            pub build_env: Vec<String>,
            #[doc = concat!("Side ", $side, ": the ONNX Runtime library (ORT_DYLIB_PATH)")]
            #[arg(long = $ort, id = $ort, value_name = "FILE")]
            pub ort: Option<PathBuf>,
            #[doc = concat!("Side ", $side, ": an environment variable for its runs")]
            #[arg(long = $env, id = $env, value_name = "KEY=VALUE")]
            pub env: Vec<String>,
            #[doc = concat!("Side ", $side, ": extra `run` options, one shell-quoted string ('--flash-attn 1')")]
            #[arg(long = $args, id = $args, value_name = "OPTIONS", allow_hyphen_values = true)]
            pub args: Option<String>,
            #[doc = concat!("Side ", $side, ": its name in the output")]
            #[arg(long = $label, id = $label, value_name = "NAME")]
            pub name: Option<String>,
        }
        impl From<$name> for SideArgs {
            fn from(s: $name) -> Self {
                SideArgs {
                    bin: s.bin,
                    llama_cpp: s.llama_cpp,
                    whisper_cpp: s.whisper_cpp,
                    build_env: s.build_env,
                    ort: s.ort,
                    env: s.env,
                    args: s.args,
                    name: s.name,
                }
            }
        }
    };
}
side_args!(
    SideArgsA,
    "A",
    "a-bin",
    "a-llama-cpp",
    "a-whisper-cpp",
    "a-build-env",
    "a-ort",
    "a-env",
    "a-args",
    "a-name"
);
side_args!(
    SideArgsB,
    "B",
    "b-bin",
    "b-llama-cpp",
    "b-whisper-cpp",
    "b-build-env",
    "b-ort",
    "b-env",
    "b-args",
    "b-name"
);

/// What the user said about one side.
#[derive(Debug, Default, Clone)]
pub struct SideArgs {
    pub bin: Option<PathBuf>,
    pub llama_cpp: Option<PathBuf>,
    pub whisper_cpp: Option<PathBuf>,
    pub build_env: Vec<String>,
    pub ort: Option<PathBuf>,
    pub env: Vec<String>,
    pub args: Option<String>,
    pub name: Option<String>,
}

/// A side ready to run: which edgebench, with what environment and extra options.
#[derive(Debug, Clone)]
pub struct Side {
    /// `A` or `B`.
    pub letter: char,
    pub name: String,
    pub edgebench: PathBuf,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
}

fn key_value(text: &str, what: &str) -> anyhow::Result<(String, String)> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => bail!("{what} '{text}' is not KEY=VALUE"),
    }
}

/// Resolve a side: check its files, build its llama.cpp/whisper.cpp worker if it names a tree.
fn resolve(letter: char, s: SideArgs, source: &Path, dry_run: bool) -> anyhow::Result<Side> {
    let flag = |name: &str| format!("--{}-{name}", letter.to_ascii_lowercase());
    let mut env = Vec::new();
    let mut parts = Vec::new();
    let (edgebench, workers) = match &s.bin {
        Some(dir) => {
            let exe = dir.join("edgebench");
            if !exe.is_file() {
                bail!(
                    "{} {}: no edgebench binary in it",
                    flag("bin"),
                    dir.display()
                );
            }
            let dir = fs::canonicalize(dir)?;
            env.push((
                "EDGEBENCH_WORKER_DIR".to_string(),
                dir.display().to_string(),
            ));
            parts.push(dir.display().to_string());
            (dir.join("edgebench"), dir)
        }
        None => {
            let exe = std::env::current_exe().context("this edgebench's path")?;
            let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
            (exe, dir)
        }
    };
    let build_env = s
        .build_env
        .iter()
        .map(|t| key_value(t, &flag("build-env")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let trees = [
        (&tree::LLAMA_CPP, &s.llama_cpp),
        (&tree::WHISPER_CPP, &s.whisper_cpp),
    ];
    // The whisper.cpp worker is built after the llama.cpp one, beside links to it.
    let mut side_workers = workers.clone();
    for (backend, dir) in trees {
        let Some(dir) = dir else { continue };
        let spec = tree::SourceTree {
            backend,
            tree: dir.clone(),
            build_env: build_env.clone(),
        };
        parts.push(format!(
            "{} {}{}",
            backend.name,
            dir.display(),
            build_env
                .iter()
                .map(|(k, v)| format!(" {k}={v}"))
                .collect::<String>()
        ));
        if !dry_run {
            let cache = edgebench_scenarios::synth::default_models_dir()
                .parent()
                .map(|p| p.join("ab"))
                .unwrap_or_else(|| PathBuf::from("target/ab"));
            side_workers = tree::build_worker(&spec, source, &side_workers, &cache)?;
            env.retain(|(k, _)| k != "EDGEBENCH_WORKER_DIR");
            env.push((
                "EDGEBENCH_WORKER_DIR".into(),
                side_workers.display().to_string(),
            ));
        }
    }
    if !build_env.is_empty() && s.llama_cpp.is_none() && s.whisper_cpp.is_none() {
        bail!(
            "{} needs {} or {}",
            flag("build-env"),
            flag("llama-cpp"),
            flag("whisper-cpp")
        );
    }
    if let Some(lib) = &s.ort {
        if !lib.is_file() {
            bail!("{} {}: no such file", flag("ort"), lib.display());
        }
        let lib = fs::canonicalize(lib)?;
        parts.push(format!("ONNX Runtime {}", lib.display()));
        env.push(("ORT_DYLIB_PATH".into(), lib.display().to_string()));
    }
    for text in &s.env {
        let kv = key_value(text, &flag("env"))?;
        parts.push(format!("{}={}", kv.0, kv.1));
        env.push(kv);
    }
    let args = match &s.args {
        Some(text) => shlex::split(text)
            .with_context(|| format!("{} '{text}': unbalanced quotes", flag("args")))?,
        None => Vec::new(),
    };
    if !args.is_empty() {
        parts.push(args.join(" "));
    }
    let name = s.name.unwrap_or_else(|| {
        if parts.is_empty() {
            "stock".to_string()
        } else {
            parts.join(", ")
        }
    });
    Ok(Side {
        letter,
        name,
        edgebench,
        env,
        args,
    })
}

/// A tiny deterministic generator for the block order (splitmix64).
struct Order(u64);

impl Order {
    fn a_first(&mut self) -> bool {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) & 1 == 0
    }
}

/// One `edgebench run` of one side in one block.
struct Half {
    block: usize,
    side: usize,
    tests: Vec<TestRecord>,
}

fn run_half(
    side: &Side,
    run_args: &[String],
    out: &Path,
    block: usize,
    position: usize,
) -> anyhow::Result<(Vec<TestRecord>, PathBuf)> {
    let runs = out.join("runs");
    fs::create_dir_all(&runs)?;
    let stem = format!("{block:03}-{position}-{}", side.letter.to_ascii_lowercase());
    let results = runs.join(format!("{stem}.jsonl"));
    let log = runs.join(format!("{stem}.log"));
    let status = Command::new(&side.edgebench)
        .arg("run")
        .args(run_args)
        .args(&side.args)
        .arg("--results")
        .arg(&results)
        .envs(side.env.iter().map(|(k, v)| (k, v)))
        .env("EDGEBENCH_NO_REPORT", "1")
        // The halves are one A/B experiment, not builds of their own: kept out of the history.
        .env("EDGEBENCH_HISTORY", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log)?)
        .status()
        .with_context(|| format!("{}", side.edgebench.display()))?;
    let tests = if results.exists() {
        edgebench_reports::read_results(std::slice::from_ref(&results))?
    } else {
        Vec::new()
    };
    match status.code() {
        Some(0) | Some(1) if !tests.is_empty() => Ok((tests, results)),
        _ => {
            let text = fs::read_to_string(&log).unwrap_or_default();
            let last: Vec<&str> = text.lines().rev().take(6).collect();
            bail!(
                "side {} ({}) block {}: `edgebench run` ended with {status}; the end of {}:\n{}",
                side.letter,
                side.name,
                block + 1,
                log.display(),
                last.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        }
    }
}

/// Do the sides' tests differ in their keys (`--b-args '--flash-attn 1'` or `-t 1`)? Then
/// tests are paired by model, quantization, workload and target, options and threads left out.
fn keys_differ(a: &[TestRecord], b: &[TestRecord]) -> bool {
    let ka: BTreeSet<TestKey> = a.iter().map(TestKey::of).collect();
    let kb: BTreeSet<TestKey> = b.iter().map(TestKey::of).collect();
    ka != kb
}

fn key_of(t: &TestRecord, strip_options: bool) -> TestKey {
    let mut k = TestKey::of(t);
    if strip_options {
        k.options.clear();
        k.threads = 0;
    }
    k
}

/// Geometric mean of one metric over a side's repetitions of a test within a block.
fn block_value(tests: &[&TestRecord], metric: &str) -> Option<(f64, Vec<f64>)> {
    let values: Vec<f64> = tests
        .iter()
        .flat_map(|t| &t.repetitions)
        .filter_map(|r| r.metrics.get(metric).copied())
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    if values.is_empty() {
        return None;
    }
    let mean_log = values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64;
    Some((mean_log, values))
}

/// Per test and metric: the block log-ratios and every repetition of each side.
#[derive(Default)]
struct Series {
    ratios: Vec<f64>,
    blocks: Vec<usize>,
    a: Vec<f64>,
    b: Vec<f64>,
}

fn series(
    halves: &[Half],
    metrics: &[(&'static str, &'static str, Better)],
) -> BTreeMap<(TestKey, &'static str), Series> {
    let all_a: Vec<TestRecord> = halves
        .iter()
        .filter(|h| h.side == 0)
        .flat_map(|h| h.tests.clone())
        .collect();
    let all_b: Vec<TestRecord> = halves
        .iter()
        .filter(|h| h.side == 1)
        .flat_map(|h| h.tests.clone())
        .collect();
    let strip = keys_differ(&all_a, &all_b);
    let mut out: BTreeMap<(TestKey, &'static str), Series> = BTreeMap::new();
    let blocks: BTreeSet<usize> = halves.iter().map(|h| h.block).collect();
    for block in blocks {
        let side = |s: usize| -> BTreeMap<TestKey, Vec<&TestRecord>> {
            let mut m: BTreeMap<TestKey, Vec<&TestRecord>> = BTreeMap::new();
            for h in halves.iter().filter(|h| h.block == block && h.side == s) {
                for t in &h.tests {
                    m.entry(key_of(t, strip)).or_default().push(t);
                }
            }
            m
        };
        let (a, b) = (side(0), side(1));
        for (key, ta) in &a {
            let Some(tb) = b.get(key) else { continue };
            for (metric, _, _) in metrics {
                if let (Some((la, va)), Some((lb, vb))) =
                    (block_value(ta, metric), block_value(tb, metric))
                {
                    let s = out.entry((key.clone(), metric)).or_default();
                    s.ratios.push(lb - la);
                    s.blocks.push(block);
                    s.a.extend(va);
                    s.b.extend(vb);
                }
            }
        }
    }
    out
}

fn comparison(
    halves: &[Half],
    metrics: &[(&'static str, &'static str, Better)],
    options: Options,
    blocks_run: usize,
) -> Comparison {
    let series = series(halves, metrics);
    let mut tests: BTreeMap<TestKey, Vec<MetricChange>> = BTreeMap::new();
    for ((key, metric), s) in &series {
        let Some((_, name, better)) = metrics.iter().find(|m| m.0 == *metric) else {
            continue;
        };
        let Some(stats) = paired::compare_paired(&s.ratios, options.alpha, options.noise) else {
            continue;
        };
        let (outcome, why) = compare::judge(
            &stats,
            *better,
            &options,
            (s.ratios.len(), s.ratios.len()),
            "blocks (--min-blocks 6)",
        );
        tests.entry(key.clone()).or_default().push(MetricChange {
            metric,
            name,
            baseline: s.a.clone(),
            candidate: s.b.clone(),
            stats,
            outcome,
            why,
        });
    }
    Comparison {
        options,
        tests: tests
            .into_iter()
            .map(|(key, metrics)| TestChange {
                key,
                baseline_runs: 1,
                candidate_runs: 1,
                metrics,
            })
            .collect(),
        only_baseline: Vec::new(),
        only_candidate: Vec::new(),
        command: "ab",
        method: format!(
            "Wilcoxon signed-rank on {blocks_run} paired blocks (ABBA or BAAB, one log-ratio \
             of geometric means a block), α = {}, noise threshold ±{}%",
            options.alpha,
            options.noise * 100.0
        ),
    }
}

/// Every metric has an answer (see [`paired::settled`]).
fn all_settled(
    halves: &[Half],
    metrics: &[(&'static str, &'static str, Better)],
    noise: f64,
    alpha: f64,
) -> bool {
    let series = series(halves, metrics);
    !series.is_empty()
        && series.values().all(|s| {
            paired::compare_paired(&s.ratios, alpha, noise)
                .is_some_and(|c| paired::settled(&c, noise))
        })
}

fn default_source() -> PathBuf {
    // cli/ of the checkout this binary was built from.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The metrics compared: `(key, label, better)`.
type Metric = (&'static str, &'static str, Better);

pub fn run(args: AbArgs) -> anyhow::Result<ExitCode> {
    validate(&args)?;
    let run_args = run_args_with_reps(&args);
    let source = args.source.clone().unwrap_or_else(default_source);
    let sides = [
        resolve('A', args.a.clone().into(), &source, args.dry_run)?,
        resolve('B', args.b.clone().into(), &source, args.dry_run)?,
    ];
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("edgebench-results").join(format!(
            "ab-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ))
    });
    let metrics: Vec<Metric> = compare::METRICS
        .iter()
        .filter(|m| args.all_metrics || HEADLINE.contains(&m.0))
        .map(|m| (m.0, m.1, m.4))
        .collect();
    for s in &sides {
        eprintln!("side {}: {} ({})", s.letter, s.name, s.edgebench.display());
    }
    if args.dry_run {
        print_dry_run(&sides, &run_args, &out);
        return Ok(ExitCode::SUCCESS);
    }
    fs::create_dir_all(&out).with_context(|| out.display().to_string())?;
    let options = Options {
        alpha: args.alpha,
        noise: args.threshold / 100.0,
        ignore_device: false,
    };
    let blocks = run_blocks(&args, &sides, &run_args, &out, &metrics, options)?;
    finish(&args, &sides, &out, &metrics, options, blocks)
}

/// Flags that need no other context; a bad one is one line and exit code 2.
fn validate(args: &AbArgs) -> anyhow::Result<()> {
    if !(args.threshold >= 0.0 && args.threshold < 100.0) {
        bail!(
            "--threshold {} is not a percentage between 0 and 100",
            args.threshold
        );
    }
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        bail!("--alpha {} is not between 0 and 1", args.alpha);
    }
    if args.min_blocks == 0 || args.max_blocks < args.min_blocks {
        bail!(
            "--min-blocks {} and --max-blocks {}: need 1 ≤ min ≤ max",
            args.min_blocks,
            args.max_blocks
        );
    }
    if !matches!(args.output.as_str(), "table" | "md") {
        bail!("--output {}: table or md", args.output);
    }
    if let Some(bad) = args
        .run_args
        .iter()
        .find(|a| matches!(a.as_str(), "--results" | "--dry-run" | "--soak"))
    {
        bail!("run option {bad} cannot be used with ab (each block writes its own results)");
    }
    Ok(())
}

/// The `edgebench run` arguments of every half: the user's, with `-r --reps` unless they set
/// the repetitions themselves.
fn run_args_with_reps(args: &AbArgs) -> Vec<String> {
    let mut run_args = args.run_args.clone();
    let sets_reps = run_args.iter().any(|a| {
        a == "-r"
            || a == "--repetitions"
            || a.starts_with("--repetitions=")
            || (a.starts_with("-r") && a.len() > 2 && a[2..].chars().all(|c| c.is_ascii_digit()))
    });
    if !sets_reps {
        run_args.extend(["-r".to_string(), args.reps.to_string()]);
    }
    run_args
}

fn print_dry_run(sides: &[Side; 2], run_args: &[String], out: &Path) {
    for s in sides {
        let env: String = s.env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        eprintln!(
            "  {env}{} run {} {} --results {}/runs/…-{}.jsonl",
            s.edgebench.display(),
            shlex::try_join(run_args.iter().map(String::as_str)).unwrap_or_default(),
            shlex::try_join(s.args.iter().map(String::as_str)).unwrap_or_default(),
            out.display(),
            s.letter.to_ascii_lowercase()
        );
    }
}

/// What the blocks measured, and why they stopped.
struct Blocks {
    halves: Vec<Half>,
    run: usize,
    why_stopped: String,
    /// A half that failed: the block it was in is dropped, the finished ones are reported.
    failure: Option<anyhow::Error>,
    start: Instant,
}

/// Run blocks (ABBA or BAAB, in a seeded random order) until every metric settles, the budget
/// or `--max-blocks` is reached, or a half fails; `blocks.csv` logs each block.
fn run_blocks(
    args: &AbArgs,
    sides: &[Side; 2],
    run_args: &[String],
    out: &Path,
    metrics: &[Metric],
    options: Options,
) -> anyhow::Result<Blocks> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let mut order = Order(seed);
    let mut b = Blocks {
        halves: Vec::new(),
        run: 0,
        why_stopped: format!("--max-blocks {}", args.max_blocks),
        failure: None,
        start: Instant::now(),
    };
    let mut log = String::from("block,order,seconds,load1\n");
    // Ctrl-C reaches the half's `edgebench run` too (same process group): it stops and keeps
    // what it measured; ab then reports the finished blocks instead of dying with them.
    let _ = ctrlc::set_handler(|| {});
    for block in 0..args.max_blocks {
        let elapsed = b.start.elapsed().as_secs_f64();
        if block > 0 {
            let per_block = elapsed / block as f64;
            if elapsed + per_block > args.budget {
                b.why_stopped = format!(
                    "the budget: {elapsed:.0} s spent, a block takes {per_block:.0} s, --budget {:.0} s",
                    args.budget
                );
                break;
            }
        }
        let seq: [usize; 4] = if order.a_first() {
            [0, 1, 1, 0]
        } else {
            [1, 0, 0, 1]
        };
        let t0 = Instant::now();
        let mut done = Vec::new();
        for (position, &s) in seq.iter().enumerate() {
            match run_half(&sides[s], run_args, out, block, position) {
                Ok((tests, file)) => {
                    let letter = sides[s].letter.to_ascii_lowercase();
                    let run_ids: BTreeSet<String> =
                        tests.iter().map(|t| t.run_id.clone()).collect();
                    append_jsonl(
                        &out.join(format!("{letter}.jsonl")),
                        &file,
                        &run_ids.into_iter().collect::<Vec<_>>(),
                        &format!("b{:03}h{position}", block + 1),
                    )?;
                    done.push(Half {
                        block,
                        side: s,
                        tests,
                    });
                }
                Err(e) => {
                    b.failure = Some(e);
                    break;
                }
            }
        }
        if b.failure.is_some() {
            b.why_stopped = format!("a failed half in block {}", block + 1);
            break;
        }
        b.halves.extend(done);
        b.run += 1;
        let load = fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|t| t.split_whitespace().next().map(str::to_string))
            .unwrap_or_default();
        let order_text: String = seq.iter().map(|&s| sides[s].letter).collect();
        let seconds = t0.elapsed().as_secs_f64();
        let _ = writeln!(log, "{},{order_text},{seconds:.1},{load}", block + 1);
        eprintln!(
            "ab: block {}/{} {order_text} {seconds:.1} s (load {load})",
            block + 1,
            args.max_blocks,
        );
        if b.run >= args.min_blocks && all_settled(&b.halves, metrics, options.noise, options.alpha)
        {
            b.why_stopped =
                "every metric settled (its interval wholly inside or outside the noise band)"
                    .into();
            break;
        }
    }
    fs::write(out.join("blocks.csv"), &log)?;
    Ok(b)
}

/// Write the comparison (ratios.csv, summary.md), print it, and the exit code: 0 no
/// regression, 1 a regression, 2 nothing compared or a half failed.
fn finish(
    args: &AbArgs,
    sides: &[Side; 2],
    out: &Path,
    metrics: &[Metric],
    options: Options,
    blocks: Blocks,
) -> anyhow::Result<ExitCode> {
    let result = comparison(&blocks.halves, metrics, options, blocks.run);
    write_ratios(&out.join("ratios.csv"), &blocks.halves, metrics)?;
    let a_name = format!("A: {}", sides[0].name);
    let b_name = format!("B: {}", sides[1].name);
    let markdown = result.markdown(&a_name, &b_name);
    fs::write(out.join("summary.md"), &markdown)?;
    if let Some(path) = &args.markdown {
        fs::write(path, &markdown).with_context(|| path.display().to_string())?;
    }
    if args.output == "md" {
        print!("{markdown}");
    } else {
        println!(
            "A (baseline): {}\nB (candidate): {}\n",
            sides[0].name, sides[1].name
        );
        print!("{}", result.text());
    }
    eprintln!(
        "ab: {} blocks in {:.0} s, stopped by {}; results in {}",
        blocks.run,
        blocks.start.elapsed().as_secs_f64(),
        blocks.why_stopped,
        out.display()
    );
    if let Some(e) = blocks.failure {
        let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
        eprintln!("error: {}", chain.join(": "));
        return Ok(ExitCode::from(2));
    }
    if result.tests.is_empty() {
        eprintln!(
            "error: no test was measured on both sides in the same block: nothing was compared"
        );
        return Ok(ExitCode::from(2));
    }
    Ok(if result.regressions() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Append a half's results file to its side's file (the record of the whole run, readable by
/// `compare` and `report`). Two halves of a side can start within the same second and so share
/// a run id; the appended copy names the block and half (`run-…-b003h1`) so every test id in
/// the side's file is unique. The half's own file in `runs/` is left as it was written.
fn append_jsonl(path: &Path, from: &Path, run_ids: &[String], tag: &str) -> anyhow::Result<()> {
    let mut text = fs::read_to_string(from).with_context(|| from.display().to_string())?;
    for id in run_ids {
        text = text.replace(&format!("\"{id}"), &format!("\"{id}-{tag}"));
    }
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| path.display().to_string())?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// Every block's log-ratio, for anyone who wants to check the statistics by hand.
fn write_ratios(
    path: &Path,
    halves: &[Half],
    metrics: &[(&'static str, &'static str, Better)],
) -> anyhow::Result<()> {
    let series = series(halves, metrics);
    let mut text = String::from("test,metric,block,ratio_b_over_a\n");
    for ((key, metric), s) in &series {
        for (block, r) in s.blocks.iter().zip(&s.ratios) {
            let _ = writeln!(text, "\"{key}\",{metric},{},{:.6}", block + 1, r.exp());
        }
    }
    fs::write(path, text).with_context(|| path.display().to_string())?;
    Ok(())
}
