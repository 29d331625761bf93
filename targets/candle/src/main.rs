//! The candle worker process: serves the harness's line-delimited JSON protocol on stdin/stdout,
//! for language models, or for Whisper when started with `--speech`.

fn main() {
    edgebench_target_kit::cpu_features::exit_if_this_cpu_cannot_run("edgebench-worker-candle");
    if std::env::args().skip(1).any(|a| a == "--speech") {
        edgebench_target_kit::speech::main(edgebench_candle::whisper::CandleWhisper::new())
    } else {
        edgebench_target_kit::worker::main(edgebench_candle::CandleTarget::new())
    }
}
