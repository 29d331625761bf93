//! macOS: Core ML is there (the CoreML execution provider must still be in the library).
pub const COREML_UNAVAILABLE: Option<&str> = None;
