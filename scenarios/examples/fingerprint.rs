//! Print the SHA-256 of every file of every tiny synthetic model, in every format and
//! quantization, with its planned size and cache path: run it before and after a change to the
//! writers to show that the same key still gives the same bytes.
//! `cargo run --release -p edgebench-scenarios --example fingerprint -- [OUT_DIR]`
use edgebench_scenarios::onnx::{self, OnnxQuant};
use edgebench_scenarios::whisper::{self, WhisperFormat};
use edgebench_scenarios::{gguf, synth, Catalog, Quant};
use sha2::{Digest, Sha256};
use std::path::Path;

/// `name sha256` of the file, or of every file in the folder (sorted).
fn hashes(path: &Path) -> Vec<String> {
    let mut files = if path.is_dir() {
        let mut v: Vec<_> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    files.retain(|f| f.is_file());
    files
        .iter()
        .map(|f| {
            let digest = Sha256::digest(std::fs::read(f).unwrap());
            let name = f.file_name().unwrap().to_string_lossy();
            format!("{name} {}", hex::encode(digest))
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let out = std::env::args().nth(1).map_or_else(
        || std::env::temp_dir().join("edgebench-fingerprint"),
        std::path::PathBuf::from,
    );
    let _ = std::fs::remove_dir_all(&out);
    let catalog = Catalog::builtin();
    let seed = 7;
    let quiet = &mut |_: u64, _: u64| {};
    for model in catalog.models.iter().filter(|m| m.tiny) {
        println!(
            "{} params {} streamed(q4_k_m) {}",
            model.name,
            model.parameter_count(),
            gguf::planned_streamed_bytes(model, Quant::Q4KM)
        );
        for quant in Quant::ALL {
            let c = synth::ensure_cached(&out, model, quant, seed, quiet)?;
            let name = c.path.file_name().unwrap().to_string_lossy();
            println!(
                "  gguf {quant} {name} planned {} bytes {} sha {}",
                synth::planned_file_bytes(model, quant),
                c.bytes,
                c.sha256
            );
            for h in hashes(&c.path) {
                println!("    {h}");
            }
        }
        for quant in OnnxQuant::ALL {
            let c = onnx::ensure_cached(&out, model, quant, seed, quiet)?;
            let name = c.folder.file_name().unwrap().to_string_lossy();
            println!(
                "  genai {quant} {name} planned {} bytes {} sha {}",
                onnx::planned_folder_bytes(model, quant, seed),
                c.bytes,
                c.sha256
            );
            for h in hashes(&c.folder) {
                println!("    {h}");
            }
            let s = onnx::inspect(&c.folder)?;
            println!(
                "    inspect {} {:?} {:?} {}",
                s.quant, s.parameters, s.weight_bytes, s.file_bytes
            );
        }
    }
    for spec in catalog.whisper.iter().filter(|w| w.tiny) {
        println!("{} params {}", spec.name, spec.parameter_count());
        for format in WhisperFormat::ALL {
            for quant in format.quants() {
                let c = whisper::cache::ensure_cached(&out, spec, quant, format, seed, quiet)?;
                let name = c.path.file_name().unwrap().to_string_lossy();
                println!(
                    "  {format} {quant} {name} planned {} bytes {} sha {}",
                    whisper::cache::planned_bytes(spec, quant, format),
                    c.bytes,
                    c.sha256
                );
                for h in hashes(&c.path) {
                    println!("    {h}");
                }
            }
        }
    }
    let clip = whisper::audio::ensure_clip(&out, seed)?;
    println!("clip {}", hashes(&clip).join(" "));
    let mut sidecars: Vec<_> = std::fs::read_dir(&out)?
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    sidecars.sort();
    for s in sidecars {
        let text = std::fs::read_to_string(&s)?;
        let v: serde_json::Value = serde_json::from_str(&text)?;
        println!("sidecar {} {v}", s.file_name().unwrap().to_string_lossy());
    }
    Ok(())
}
