//! The llama.cpp worker process: serves the harness's line-delimited JSON protocol on
//! stdin/stdout.

fn main() {
    edgebench_target_kit::cpu_features::exit_if_this_cpu_cannot_run("edgebench-worker-llamacpp");
    // ggml prints a backtrace (and may try to attach gdb) when it aborts; that would push the
    // assertion message out of the stderr lines the harness keeps as the failure reason.
    if std::env::var_os("GGML_NO_BACKTRACE").is_none()
        && std::env::var_os("EDGEBENCH_WORKER_BACKTRACE").is_none()
    {
        // Single-threaded here, before anything reads the environment.
        std::env::set_var("GGML_NO_BACKTRACE", "1");
    }
    edgebench_target_kit::worker::main(edgebench_llamacpp::LlamaCppTarget::new())
}
