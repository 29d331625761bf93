//! The whisper.cpp worker process: serves the harness's line-delimited JSON protocol for speech
//! models on stdin/stdout. whisper.cpp vendors its own ggml, so it never shares a process with
//! llama.cpp's.

fn main() {
    edgebench_target_kit::cpu_features::exit_if_this_cpu_cannot_run("edgebench-worker-whispercpp");
    edgebench_target_kit::speech::main(edgebench_whispercpp::WhisperCppTarget::new())
}
