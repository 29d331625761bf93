//! Core ML encoder (macOS, `coreml` feature): whisper.cpp is built with `WHISPER_COREML`, and
//! uses `ggml-<model>-encoder.mlmodelc` next to the model file when it is there (made with
//! whisper.cpp's `models/generate-coreml-model.sh`), else its CPU encoder.

pub const STATUS: &str =
    "built: whisper.cpp uses ggml-<model>-encoder.mlmodelc next to the model when present";
