//! Write one synthetic GGUF and report the speed:
//! `cargo run --release -p edgebench-scenarios --example synth_gguf -- llama3-8b q4_k_m /tmp/x.gguf [seed]`
use edgebench_scenarios::{synth, Catalog, Quant};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        anyhow::bail!("usage: synth_gguf MODEL QUANT PATH [SEED]");
    }
    let catalog = Catalog::builtin();
    let model = catalog.model(&args[0])?;
    let quant = Quant::parse(&args[1])?;
    let seed = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(0);
    let path = std::path::Path::new(&args[2]);
    let r = synth::write_gguf(model, quant, seed, path, &mut |_, _| {})?;
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
