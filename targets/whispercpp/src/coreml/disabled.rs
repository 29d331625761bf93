//! Core ML encoder: not in this build. whisper.cpp's Core ML encoder needs Apple's frameworks,
//! so the `coreml` feature only switches it on when compiling for macOS.

pub const STATUS: &str = if cfg!(feature = "coreml") {
    "macOS only: the coreml feature is compiled, but this is not a macOS build"
} else {
    "not built (macOS only: cargo build --features coreml)"
};
