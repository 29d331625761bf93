//! The candle worker process: serves the harness's line-delimited JSON protocol on stdin/stdout.

fn main() {
    edgebench_harness::worker::main(edgebench_candle::CandleTarget::new())
}
