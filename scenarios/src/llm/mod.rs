//! LLMs (Llama, Phi-3, Gemma): one family description ([`arch`]: the tensors of each
//! architecture with llama.cpp's names, shapes and seeded weights) and one folder per format
//! written from it: [`gguf`] (llama.cpp, candle) and [`genai`] (ONNX Runtime GenAI).

pub mod arch;
pub mod genai;
pub mod gguf;
