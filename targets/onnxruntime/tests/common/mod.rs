//! Helpers shared by the ONNX Runtime target's tests: tiny synthetic GenAI folders.
#![allow(dead_code, unused_imports)] // each test binary uses a different subset

use edgebench_onnxruntime::{Ep, OnnxRuntimeTarget};
use edgebench_scenarios::onnx::{write_genai_folder, OnnxQuant};
use edgebench_scenarios::Catalog;
use edgebench_target_kit::target::{LoadSpec, ModelInfo, Target};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const SEED: u64 = 7;
pub const THREADS: usize = 2;
pub const TINY: [&str; 4] = [
    "llama3-8b-tiny",
    "phi3-mini-tiny",
    "gemma-2b-tiny",
    "gemma-7b-tiny",
];

/// Write the tiny catalog model `name` at `quant` as a GenAI folder under `dir`.
pub fn tiny(name: &str, quant: OnnxQuant, dir: &Path) -> PathBuf {
    let spec = Catalog::builtin().model(name).unwrap().clone();
    let folder = dir.join(format!("{name}-{quant}"));
    write_genai_folder(&spec, quant, SEED, &folder, &mut |_, _| {}).expect("synthetic folder");
    folder
}

pub fn spec(path: &Path, context: usize) -> LoadSpec {
    LoadSpec {
        model_path: path.to_path_buf(),
        threads: THREADS,
        context,
        options: BTreeMap::new(),
    }
}

/// A target on the CPU, or a test failure saying the runtime library is missing.
pub fn target() -> OnnxRuntimeTarget {
    OnnxRuntimeTarget::new("onnxruntime", Ep::Cpu)
        .unwrap_or_else(|e| panic!("ONNX Runtime is not usable here: {e}"))
}

pub fn load(path: &Path, context: usize) -> (OnnxRuntimeTarget, ModelInfo) {
    let mut t = target();
    let info = t
        .load(&spec(path, context))
        .unwrap_or_else(|e| panic!("load {}: {e}", path.display()));
    (t, info)
}

pub use edgebench_target_kit::conformance::max_abs_diff;
