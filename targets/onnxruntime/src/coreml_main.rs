//! The Core ML worker process: ONNX Runtime with the CoreML execution provider (macOS only;
//! elsewhere it answers every request with "needs macOS").

fn main() {
    edgebench_onnxruntime::worker_main("coreml", edgebench_onnxruntime::Ep::CoreMl)
}
