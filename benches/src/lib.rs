//! Shapes and inputs shared by the kernel regression benches (`benches/`).
//!
//! The benches time one kernel at the shapes that dominate a Llama 3 8B forward pass, so a
//! kernel developer can save a criterion baseline, change a kernel, and see the change per
//! shape (`cargo bench --workspace -- --save-baseline main`, then
//! `-- --baseline main`). They are not run in CI: each takes seconds to minutes.

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

/// A bench group with the settings every kernel bench shares: 10 samples, 1 s of warm-up.
pub fn group<'a>(c: &'a mut Criterion, name: String) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group
}

/// Time `run` as one product of `shape` at `batch`, named `id`: throughput in weight elements ×
/// batch, and 20 s of measurement for a prompt-sized batch (an iteration takes up to a second)
/// against 5 s for a decode step.
pub fn bench_product(
    group: &mut BenchmarkGroup<'_, WallTime>,
    shape: &LayerShape,
    batch: usize,
    id: BenchmarkId,
    mut run: impl FnMut(),
) {
    group.throughput(Throughput::Elements(
        (shape.rows * shape.cols * batch) as u64,
    ));
    group.measurement_time(Duration::from_secs(if batch > 1 { 20 } else { 5 }));
    group.bench_function(id, |b| b.iter(&mut run));
}

/// A weight matrix of a Llama 3 8B layer: `rows` outputs × `cols` inputs (GGUF's
/// `[out, in]` layout, what candle's `QMatMul` takes).
#[derive(Debug, Clone, Copy)]
pub struct LayerShape {
    pub name: &'static str,
    pub rows: usize,
    pub cols: usize,
}

/// Llama 3 8B (hidden 4096, FFN 14336): attention q/o projections, FFN gate/up, FFN down.
pub const LLAMA3_8B_SHAPES: [LayerShape; 3] = [
    LayerShape {
        name: "attn_q 4096x4096",
        rows: 4096,
        cols: 4096,
    },
    LayerShape {
        name: "ffn_up 14336x4096",
        rows: 14336,
        cols: 4096,
    },
    LayerShape {
        name: "ffn_down 4096x14336",
        rows: 4096,
        cols: 14336,
    },
];

/// Phi-3 mini (hidden 3072, FFN 8192): fused q/k/v, attention output, fused FFN gate+up, FFN
/// down.
pub const PHI3_MINI_SHAPES: [LayerShape; 4] = [
    LayerShape {
        name: "phi3 qkv 9216x3072",
        rows: 9216,
        cols: 3072,
    },
    LayerShape {
        name: "phi3 attn_o 3072x3072",
        rows: 3072,
        cols: 3072,
    },
    LayerShape {
        name: "phi3 ffn_gate_up 16384x3072",
        rows: 16384,
        cols: 3072,
    },
    LayerShape {
        name: "phi3 ffn_down 3072x8192",
        rows: 3072,
        cols: 8192,
    },
];

/// Small shapes for a quick look (`EDGEBENCH_BENCH_QUICK=1`): seconds instead of minutes.
pub const QUICK_SHAPES: [LayerShape; 2] = [
    LayerShape {
        name: "quick 1024x1024",
        rows: 1024,
        cols: 1024,
    },
    LayerShape {
        name: "quick 2048x1024",
        rows: 2048,
        cols: 1024,
    },
];

/// The shapes a bench runs: Llama 3 8B's and Phi-3 mini's, or [`QUICK_SHAPES`] when
/// `EDGEBENCH_BENCH_QUICK` is set.
pub fn shapes() -> Vec<LayerShape> {
    if std::env::var_os("EDGEBENCH_BENCH_QUICK").is_some() {
        QUICK_SHAPES.to_vec()
    } else {
        LLAMA3_8B_SHAPES
            .iter()
            .chain(&PHI3_MINI_SHAPES)
            .copied()
            .collect()
    }
}

/// Compute threads: `EDGEBENCH_BENCH_THREADS`, else every core.
pub fn threads() -> usize {
    std::env::var("EDGEBENCH_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Batch sizes: 1 is a decode step (matrix × vector), 512 a prompt chunk (llama-bench pp512).
pub const BATCHES: [usize; 2] = [1, 512];

/// Deterministic pseudo-random values in [-1, 1) (xorshift64*): weights and activations of a
/// realistic spread, the same on every run.
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            let x = s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40;
            x as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}
