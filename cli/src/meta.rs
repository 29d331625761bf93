//! What this binary is (version, commit) and where it keeps its model cache: the few facts
//! every command may need, kept apart from `main.rs` so no command imports the binary's root.

use std::path::PathBuf;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = env!("EDGEBENCH_COMMIT");
/// `0.1.0 (commit abc1234)`, for `--version`.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("EDGEBENCH_COMMIT"),
    ")"
);

/// The model cache: `--models-dir`, else `$EDGEBENCH_MODELS_DIR`, else the XDG cache.
pub fn models_dir(flag: &Option<PathBuf>) -> PathBuf {
    flag.clone()
        .unwrap_or_else(edgebench_scenarios::synth::default_models_dir)
}
