//! `edgebench`: benchmark and profile on-device AI inference.
//!
//! The binary reads as a pipeline: parse what the user typed (no side effects), resolve it
//! against the catalog, this device and the built targets into a plan (`--dry-run` prints it),
//! then run the plan and export what was measured.

mod ab;
mod choose;
mod commands;
mod fleet;
mod gguf;
mod history;
mod memfit;
mod meta;
mod model;
mod output;
mod plan;
mod profile;
mod progress;
mod sweep;
mod synthesis;
mod targets;
mod units;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "edgebench",
    version = meta::LONG_VERSION,
    about = "Benchmark on-device AI inference across backends and devices",
    long_about = "Benchmark on-device AI inference across backends and devices.\n\n\
        edgebench runs standard LLM scenarios (Llama 3 8B, Phi-3 mini, Gemma 2B/7B at common \
        quantizations) on every built backend, measures prompt processing and generation \
        speed, time to first token, latency, memory, power and temperature, and writes every \
        repetition to a JSONL results file as it happens.\n\n\
        No downloads: models of the exact published shapes are synthesized with seeded \
        weights (speed does not depend on weight values), as GGUF files and as ONNX Runtime GenAI \
        folders. Point --model at a real GGUF or GenAI folder to measure your own model.",
    after_help = "Examples:\n  \
        edgebench run                         quick suite on this machine\n  \
        edgebench run --suite standard        every standard scenario that fits in memory\n  \
        edgebench run --scenario llama3-8b --quant q4_k_m -p 512 -n 128 -r 5\n  \
        edgebench run --model my.gguf         your own GGUF file\n  \
        edgebench run --model phi3-int4/      your own ONNX Runtime GenAI folder\n  \
        edgebench list scenarios              what can be run\n  \
        edgebench report results/ --html report.html\n  \
        edgebench compare base.jsonl new.jsonl  exit 1 on a significant regression\n  \
        edgebench check                       do all targets compute the same function?\n  \
        edgebench choose -s llama3-8b --max-watts 15   which device, with sources\n  \
        edgebench models synth phi3-mini --quant q4_k_m\n  \
        edgebench fleet run lab.ini -- --suite quick   every device of an Ansible inventory"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run benchmarks and print a table (the default suite is `quick`).
    Run(Box<commands::run::RunArgs>),
    /// List scenarios, targets, quantizations, workloads or suites.
    List(commands::list::ListArgs),
    /// Synthesize or list models in the model cache.
    Models(commands::models::ModelsArgs),
    /// Show what this machine is and the sensors edgebench can read.
    Device(commands::device::DeviceArgs),
    /// Print a table (or Markdown/CSV/JSON), charts and the HTML page from results files.
    Report(commands::report::ReportArgs),
    /// Compare a candidate's results with a baseline's; exit 1 on a significant regression.
    Compare(commands::compare::CompareArgs),
    /// Check that the speech targets compute the same Whisper (encoder outputs, logits).
    CheckWhisper(commands::check_whisper::CheckWhisperArgs),
    /// Check that every built target computes the same model (logits and greedy tokens).
    Check(commands::check::CheckArgs),
    /// Which device for a model: rank the catalog's devices by measured, published and
    /// predicted speed, power and price; check published claims against physics.
    Choose(commands::choose::ChooseArgs),
    /// Benchmark every device of an Ansible inventory over ssh and merge the results.
    Fleet(fleet::FleetArgs),
    /// A/B: the same tests on two builds, libraries or option sets, interleaved in paired
    /// blocks; exit 1 on a significant regression.
    Ab(Box<ab::AbArgs>),
    /// The trend of a test over builds, from the local history database (every run adds to it).
    History(history::HistoryArgs),
}

fn main() -> ExitCode {
    // A build for another CPU profile would die with SIGILL somewhere later: say why now.
    if let Some(why) = edgebench_harness::cpu_features::rust_mismatch() {
        eprintln!("edgebench: {why}");
        return ExitCode::FAILURE;
    }
    let cli = match Cli::try_parse_from(sweep::llama_bench_aliases(std::env::args_os())) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // Commands that only print (to a pager, `| head`) end quietly when the reader goes away,
    // as other Unix tools do. Commands that talk to workers over pipes keep Rust's default
    // (SIGPIPE ignored), so a worker that dies is an error to record, not the end of the run.
    #[cfg(unix)]
    if matches!(
        cli.command,
        Command::List(_)
            | Command::Models(_)
            | Command::Device(_)
            | Command::Report(_)
            | Command::Compare(_)
            | Command::Choose(_)
            | Command::History(_)
    ) {
        // SAFETY: called before any thread is started; restores the default disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let outcome = match cli.command {
        Command::Run(args) => commands::run::run(*args),
        Command::List(args) => commands::list::run(args),
        Command::Models(args) => commands::models::run(args),
        Command::Device(args) => commands::device::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Compare(args) => commands::compare::run(args),
        Command::CheckWhisper(args) => commands::check_whisper::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::Choose(args) => commands::choose::run(args),
        Command::Fleet(args) => fleet::run(args),
        Command::Ab(args) => ab::run(*args),
        Command::History(args) => history::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            // One line: the error and its causes, most specific last.
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", chain.join(": "));
            ExitCode::from(2)
        }
    }
}
