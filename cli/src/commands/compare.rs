//! `edgebench compare BASELINE CANDIDATE`: did the candidate get slower? Matches tests by
//! device, scenario, target and parameters, tests every metric on the raw repetitions
//! (Mann–Whitney U, see `edgebench_harness::stats`), and exits 1 when any metric regressed
//! significantly beyond the noise threshold, 2 when no test matches between the two sides
//! (nothing compared). Reads only.

use anyhow::Context;
use clap::Args;
use edgebench_reports::compare::{compare, Options};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Baseline results: a JSONL file, a folder of them, llama-bench JSON/JSONL, or a build
    /// (edgebench commit or git tag) in the history database (`edgebench history`)
    pub baseline: PathBuf,
    /// Candidate results, the same kinds
    pub candidate: PathBuf,
    /// Changes whose confidence interval reaches inside ±this percentage are "no change"
    #[arg(long, default_value_t = 2.0, value_name = "PERCENT")]
    pub threshold: f64,
    /// Significance level of the Mann–Whitney U test
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Match tests across devices (e.g. a llama-bench import, which names the device by its
    /// CPU, against an edgebench run of the same machine)
    #[arg(long)]
    pub ignore_device: bool,
    /// Also write the Markdown summary (for a pull-request comment) to this file
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Print the Markdown summary instead of the table
    #[arg(long)]
    pub md: bool,
}

pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    if !(args.threshold >= 0.0 && args.threshold < 100.0) {
        anyhow::bail!(
            "--threshold {} is not a percentage between 0 and 100",
            args.threshold
        );
    }
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        anyhow::bail!("--alpha {} is not between 0 and 1", args.alpha);
    }
    // A side that is not a file is a build (commit, tag) in the history database.
    let read = |p: &PathBuf| match p.exists() {
        true => edgebench_reports::read_results(std::slice::from_ref(p)),
        false => crate::history::records_of_build(&p.display().to_string()),
    };
    let (baseline, candidate) = (read(&args.baseline)?, read(&args.candidate)?);
    let result = compare(
        &baseline,
        &candidate,
        Options {
            alpha: args.alpha,
            noise: args.threshold / 100.0,
            ignore_device: args.ignore_device,
        },
    );
    let names = (
        args.baseline.display().to_string(),
        args.candidate.display().to_string(),
    );
    let markdown = result.markdown(&names.0, &names.1);
    if let Some(path) = &args.markdown {
        std::fs::write(path, &markdown).with_context(|| format!("{}", path.display()))?;
    }
    if args.md {
        print!("{markdown}");
    } else {
        print!("{}", result.text());
    }
    if result.tests.is_empty() {
        // Nothing was compared: a CI job must not read that as "no regression".
        eprintln!(
            "error: no test of {} matches one of {} (same device, scenario, target and \
             parameters){}: nothing was compared",
            names.0,
            names.1,
            if args.ignore_device {
                ""
            } else {
                "; --ignore-device matches across devices"
            }
        );
        return Ok(ExitCode::from(2));
    }
    Ok(if result.regressions() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
