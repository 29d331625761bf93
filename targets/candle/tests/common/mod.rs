//! Helpers shared by the candle target's tests: tiny synthetic models and GGUF rewriting.
#![allow(dead_code, unused_imports)] // each test binary uses a different subset

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::QTensor;
use candle_core::Device;
use edgebench_candle::CandleTarget;
use edgebench_scenarios::{Catalog, Quant};
use edgebench_target_kit::target::{LoadSpec, ModelInfo, Target};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub const SEED: u64 = 7;
/// Every test uses the same count: candle's thread pools are sized once per process.
pub const THREADS: usize = 2;
pub const TINY: [&str; 4] = [
    "llama3-8b-tiny",
    "phi3-mini-tiny",
    "gemma-2b-tiny",
    "gemma-7b-tiny",
];

/// Write the tiny catalog model `name` at `quant` into `dir`.
pub fn tiny(name: &str, quant: Quant, dir: &Path) -> PathBuf {
    let catalog = Catalog::builtin();
    let spec = catalog.model(name).expect("tiny model in the catalog");
    let path = dir.join(format!("{name}-{}.gguf", quant.name()));
    edgebench_scenarios::synth::write_gguf(spec, quant, SEED, &path, &mut |_, _| {})
        .expect("synthetic GGUF");
    path
}

pub fn spec(path: &Path) -> LoadSpec {
    LoadSpec {
        model_path: path.to_path_buf(),
        threads: THREADS,
        context: 64,
        options: BTreeMap::new(),
    }
}

pub fn load(path: &Path) -> (CandleTarget, ModelInfo) {
    let mut target = CandleTarget::new();
    let info = target
        .load(&spec(path))
        .unwrap_or_else(|e| panic!("load {}: {e}", path.display()));
    (target, info)
}

/// Copy the GGUF at `src` to `dst`, letting `edit` change its metadata and tensors.
pub fn rewrite(
    src: &Path,
    dst: &Path,
    edit: impl FnOnce(&mut HashMap<String, Value>, &mut Vec<(String, QTensor)>),
) {
    let mut reader = std::io::BufReader::new(std::fs::File::open(src).unwrap());
    let content = gguf_file::Content::read(&mut reader).unwrap();
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors: Vec<(String, QTensor)> = names
        .into_iter()
        .map(|n| {
            let t = content.tensor(&mut reader, n, &Device::Cpu).unwrap();
            (n.clone(), t)
        })
        .collect();
    let mut metadata = content.metadata.clone();
    edit(&mut metadata, &mut tensors);
    let md: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(dst).unwrap());
    gguf_file::write(&mut out, &md, &ts).unwrap();
}

pub use edgebench_target_kit::conformance::max_abs_diff;

pub fn max_abs(a: &[f32]) -> f32 {
    a.iter().map(|x| x.abs()).fold(0.0, f32::max)
}
