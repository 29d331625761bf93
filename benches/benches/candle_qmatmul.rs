//! candle's quantized matmul (`QMatMul`) on CPU for Q4_K and Q8_0 at Llama 3 8B layer shapes,
//! batch 1 (decode: matrix × vector) and 512 (prompt processing). Throughput is reported in
//! weight elements per second (rows × cols × batch multiply-adds per iteration).
//!
//!     cargo bench --workspace --bench candle_qmatmul -- --save-baseline before
//!     # change a kernel, then
//!     cargo bench --workspace --bench candle_qmatmul -- --baseline before

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use edgebench_benches::{bench_product, group, values, BATCHES, LLAMA3_8B_SHAPES};
use std::hint::black_box;

fn qmatmul(c: &mut Criterion) {
    let device = Device::Cpu;
    for (dtype, name) in [(GgmlDType::Q4K, "q4_k"), (GgmlDType::Q8_0, "q8_0")] {
        let mut group = group(c, format!("candle/qmatmul/{name}"));
        for shape in LLAMA3_8B_SHAPES {
            let w = Tensor::from_vec(
                values(shape.rows * shape.cols, 1),
                (shape.rows, shape.cols),
                &device,
            )
            .expect("weights");
            let qw = QMatMul::from_qtensor(QTensor::quantize(&w, dtype).expect("quantize"))
                .expect("qmatmul");
            drop(w);
            for batch in BATCHES {
                let x =
                    Tensor::from_vec(values(batch * shape.cols, 2), (batch, shape.cols), &device)
                        .expect("input");
                bench_product(
                    &mut group,
                    &shape,
                    batch,
                    BenchmarkId::new(shape.name, format!("batch{batch}")),
                    || {
                        black_box(qw.forward(&x).expect("forward"));
                    },
                );
            }
        }
        group.finish();
    }
}

criterion_group!(benches, qmatmul);
criterion_main!(benches);
