//! The ONNX Runtime worker process (CPU execution provider unless a load asks for another).

fn main() {
    edgebench_onnxruntime::worker_main("onnxruntime", edgebench_onnxruntime::Ep::Cpu)
}
