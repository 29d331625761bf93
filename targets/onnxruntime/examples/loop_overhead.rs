//! How much time the generation loop adds around ONNX Runtime's own run call.
//!
//! `cargo run --release -p edgebench-onnxruntime --example loop_overhead -- FOLDER [PROMPT GEN THREADS REPS]`
//!
//! Runs the harness's repetition loop (`run_repetition`, as the worker does) on a GenAI folder
//! and splits every step's time into: inside `RunWithBinding` (the runtime), the rest of the
//! target's step (building `input_ids`/`attention_mask` tensors, binding them, copying the last
//! logits row out), and the harness's greedy pick (the remainder of what the harness times).

use edgebench_onnxruntime::{Ep, OnnxRuntimeTarget};
use edgebench_target_kit::protocol::RunSpec;
use edgebench_target_kit::target::{LoadSpec, Target};
use edgebench_target_kit::worker::run_repetition;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let folder = args
        .first()
        .ok_or_else(|| anyhow::anyhow!("usage: loop_overhead FOLDER [PROMPT GEN THREADS REPS]"))?;
    let num = |i: usize, d: usize| args.get(i).map_or(Ok(d), |s| s.parse());
    let (prompt, gen, threads, reps) = (num(1, 512)?, num(2, 128)?, num(3, 2)?, num(4, 3)?);
    let mut t = OnnxRuntimeTarget::new("onnxruntime", Ep::Cpu).map_err(anyhow::Error::msg)?;
    let info = t.load(&LoadSpec {
        model_path: folder.into(),
        threads,
        context: prompt + gen + 1,
        options: Default::default(),
    })?;
    println!(
        "{folder}: {} {:?}, {threads} threads",
        info.architecture, info.quant
    );
    println!("{:?}", t.info().extra);
    for (label, spec) in [
        (
            "prefill",
            RunSpec {
                prompt,
                gen: 0,
                seed: 1,
            },
        ),
        (
            "decode",
            RunSpec {
                prompt: 0,
                gen,
                seed: 1,
            },
        ),
    ] {
        run_repetition(&mut t, info.vocab_size, spec, |_| {})?; // warm-up
        t.reset_loop_stats();
        let mut harness_s = 0.0;
        for _ in 0..reps {
            let r = run_repetition(&mut t, info.vocab_size, spec, |_| {})?;
            harness_s += r.first_token_s.unwrap_or(0.0) + r.decode_s.iter().sum::<f64>();
        }
        let s = t.loop_stats().expect("loaded");
        let per = |x: f64| x / s.steps as f64 * 1e6;
        println!(
            "{label}: {} steps; per step: harness {:.1} µs = run {:.1} µs + target loop {:.1} µs \
             + greedy pick {:.1} µs; loop overhead {:.3}% of the step, pick {:.3}%",
            s.steps,
            per(harness_s),
            per(s.run_s),
            per(s.total_s - s.run_s),
            per(harness_s - s.total_s),
            (s.total_s - s.run_s) / harness_s * 100.0,
            (harness_s - s.total_s) / harness_s * 100.0,
        );
    }
    Ok(())
}
