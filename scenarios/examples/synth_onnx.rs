//! Write one synthetic ONNX Runtime GenAI folder and report the speed:
//! `cargo run --release -p edgebench-scenarios --example synth_onnx -- phi3-mini int4 /tmp/phi3 [seed]`
use edgebench_scenarios::onnx::{self, OnnxQuant};
use edgebench_scenarios::Catalog;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        anyhow::bail!("usage: synth_onnx MODEL fp32|fp16|int8|int4 FOLDER [SEED]");
    }
    let catalog = Catalog::builtin();
    let model = catalog.model(&args[0])?;
    let quant = OnnxQuant::parse(&args[1])
        .ok_or_else(|| anyhow::anyhow!("unknown ONNX precision {}", args[1]))?;
    let seed = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(0);
    let dir = std::path::Path::new(&args[2]);
    let r = onnx::write_genai_folder(model, quant, seed, dir, &mut |_, _| {})?;
    println!(
        "{} {}: {} bytes in {:.2} s = {:.2} GB/s, sha256 {}",
        model.name,
        quant,
        r.bytes,
        r.seconds,
        r.bytes as f64 / r.seconds / 1e9,
        r.sha256
    );
    Ok(())
}
