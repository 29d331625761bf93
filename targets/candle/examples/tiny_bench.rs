//! Quick pp/tg numbers of the tiny synthetic models through the shared generation loop, for a
//! sanity check of the candle target's speed (the real measurements go through `edgebench run`).
//!
//! `cargo run --release -p edgebench-candle --example tiny_bench -- [threads] [prompt] [gen] [reps]`

use edgebench_candle::CandleTarget;
use edgebench_scenarios::{Catalog, Quant};
use edgebench_target_kit::protocol::RunSpec;
use edgebench_target_kit::target::{LoadSpec, Target};
use edgebench_target_kit::worker::run_repetition;

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let arg = |i: usize, default: usize| args.get(i).copied().unwrap_or(default);
    let (threads, prompt, gen, reps) = (arg(0, 2), arg(1, 128), arg(2, 64), arg(3, 5));
    let dir = tempfile::tempdir()?;
    let catalog = Catalog::builtin();
    println!("threads {threads}, pp{prompt}, tg{gen}, median of {reps} repetitions");
    println!(
        "{:<16} {:<7} {:>10} {:>10}",
        "model", "quant", "pp t/s", "tg t/s"
    );
    for name in [
        "llama3-8b-tiny",
        "phi3-mini-tiny",
        "gemma-2b-tiny",
        "gemma-7b-tiny",
    ] {
        for quant in [Quant::F32, Quant::Q8_0, Quant::Q4_0, Quant::Q4KM] {
            let path = dir.path().join(format!("{name}-{quant}.gguf"));
            edgebench_scenarios::synth::write_gguf(
                catalog.model(name)?,
                quant,
                1,
                &path,
                &mut |_, _| {},
            )?;
            let mut target = CandleTarget::new();
            let spec = LoadSpec {
                model_path: path,
                threads,
                context: prompt.max(gen),
                options: Default::default(),
            };
            let vocab = target.load(&spec)?.vocab_size;
            let mut pp = Vec::new();
            let mut tg = Vec::new();
            // One warm-up repetition of each, then the measured ones.
            for rep in 0..=reps {
                let p = run_repetition(
                    &mut target,
                    vocab,
                    RunSpec {
                        prompt,
                        gen: 0,
                        seed: 1,
                    },
                    |_| {},
                )?;
                let t = run_repetition(
                    &mut target,
                    vocab,
                    RunSpec {
                        prompt: 0,
                        gen,
                        seed: 1,
                    },
                    |_| {},
                )?;
                if rep > 0 {
                    pp.push(prompt as f64 / p.prefill_s.unwrap_or(f64::NAN));
                    tg.push(gen as f64 / t.decode_s.iter().sum::<f64>());
                }
            }
            println!(
                "{name:<16} {:<7} {:>10.1} {:>10.1}",
                quant.name(),
                median(&mut pp),
                median(&mut tg)
            );
        }
    }
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
