//! Not macOS: no Core ML.
pub const COREML_UNAVAILABLE: Option<&str> = Some(
    "needs macOS: Core ML (ONNX Runtime's CoreML execution provider) runs only on Apple devices",
);
