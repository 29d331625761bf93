//! ONNX Runtime's `MatMulNBits` (com.microsoft), the block-quantized matrix multiplication every
//! linear layer of an int4/int8 GenAI CPU model runs, as a one-node model: the same attributes
//! edgebench's GenAI folders use (block 32, symmetric, no zero points, `accuracy_level` 4, i.e.
//! int8 activations in MLAS's kernel), weights quantized as ONNX Runtime's own quantizer does,
//! at the layer shapes of Llama 3 8B and Phi-3 mini, batch 1 (a decode step) and 512 (a prompt
//! chunk). Throughput is in weight elements × batch per second, as in `ggml_qmatmul`.
//!
//! The library is the one the onnxruntime worker loads (`ORT_DYLIB_PATH`, else where
//! `scripts/setup.sh` installs it), so two ONNX Runtime builds compare by saving a baseline
//! with one and running against it with the other:
//!
//!     cargo bench --workspace --bench ort_matmulnbits -- --save-baseline stock
//!     ORT_DYLIB_PATH=/path/to/my/libonnxruntime.so \
//!       cargo bench --workspace --bench ort_matmulnbits -- --baseline stock
//!     EDGEBENCH_BENCH_QUICK=1 cargo bench --workspace --bench ort_matmulnbits   # small shapes

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use edgebench_benches::{bench_product, group, shapes, threads, values, BATCHES};
use edgebench_onnxruntime::runtime::runtime;
use edgebench_scenarios::onnx::data::quantize_block;
use edgebench_scenarios::onnx::graph::{ACCURACY_LEVEL, NBITS_BLOCK};
use edgebench_scenarios::onnx::proto::{
    self, tensor_proto::DataType, tensor_shape_proto::dimension::Value as DimValue,
};
use ort::session::Session;
use ort::value::TensorRef;
use prost::Message;

/// A `rows × cols` weight quantized block by block: MatMulNBits' `B` and `scales`.
struct Quantized {
    rows: usize,
    cols: usize,
    bits: u32,
    packed: Vec<u8>,
    scales: Vec<f32>,
}

impl Quantized {
    fn new(rows: usize, cols: usize, bits: u32) -> Self {
        let blocks = cols.div_ceil(NBITS_BLOCK);
        let weights = values(rows * cols, 1);
        let mut packed = Vec::with_capacity(rows * blocks * NBITS_BLOCK * bits as usize / 8);
        let mut scales = Vec::with_capacity(rows * blocks);
        let mut row = vec![0.0f32; blocks * NBITS_BLOCK];
        for r in 0..rows {
            row[..cols].copy_from_slice(&weights[r * cols..(r + 1) * cols]);
            for block in row.chunks(NBITS_BLOCK) {
                scales.push(quantize_block(block, bits, &mut packed));
            }
        }
        Self {
            rows,
            cols,
            bits,
            packed,
            scales,
        }
    }

    /// Row `r` dequantized: `(code − 2^(bits−1)) × scale`, the inverse of `quantize_block`.
    fn row(&self, r: usize) -> Vec<f32> {
        let blocks = self.cols.div_ceil(NBITS_BLOCK);
        let row_bytes = blocks * NBITS_BLOCK * self.bits as usize / 8;
        let bytes = &self.packed[r * row_bytes..(r + 1) * row_bytes];
        let codes: Vec<u8> = match self.bits {
            4 => bytes.iter().flat_map(|b| [b & 15, b >> 4]).collect(),
            _ => bytes.to_vec(),
        };
        let mid = (1u32 << (self.bits - 1)) as f32;
        (0..self.cols)
            .map(|k| (codes[k] as f32 - mid) * self.scales[r * blocks + k / NBITS_BLOCK])
            .collect()
    }
}

/// One `MatMulNBits` node, `Y[batch, N] = A[batch, K] × dequant(B)ᵀ`, as ONNX model bytes.
fn model(q: &Quantized) -> Vec<u8> {
    let (rows, cols, bits) = (q.rows, q.cols, q.bits);
    let blocks = cols.div_ceil(NBITS_BLOCK);
    let (packed, scales) = (q.packed.clone(), &q.scales);
    let blob = (NBITS_BLOCK * bits as usize / 8) as i64;
    let initializer =
        |name: &str, dtype: DataType, dims: Vec<i64>, raw: Vec<u8>| proto::TensorProto {
            name: Some(name.into()),
            data_type: Some(dtype as i32),
            dims,
            raw_data: Some(raw),
            ..Default::default()
        };
    let scale_bytes = scales.iter().flat_map(|s| s.to_le_bytes()).collect();
    let attr = |name: &str, i: i64| proto::AttributeProto {
        name: Some(name.into()),
        i: Some(i),
        r#type: Some(proto::attribute_proto::AttributeType::Int as i32),
        ..Default::default()
    };
    let io = |name: &str, cols: usize| proto::ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(proto::TypeProto {
            value: Some(proto::type_proto::Value::TensorType(
                proto::type_proto::Tensor {
                    elem_type: Some(DataType::Float as i32),
                    shape: Some(proto::TensorShapeProto {
                        dim: [
                            DimValue::DimParam("batch".into()),
                            DimValue::DimValue(cols as i64),
                        ]
                        .into_iter()
                        .map(|v| proto::tensor_shape_proto::Dimension {
                            value: Some(v),
                            ..Default::default()
                        })
                        .collect(),
                    }),
                },
            )),
            ..Default::default()
        }),
        ..Default::default()
    };
    let node = proto::NodeProto {
        op_type: Some("MatMulNBits".into()),
        domain: Some("com.microsoft".into()),
        name: Some("matmul".into()),
        input: vec!["A".into(), "B".into(), "scales".into()],
        output: vec!["Y".into()],
        attribute: vec![
            attr("K", cols as i64),
            attr("N", rows as i64),
            attr("accuracy_level", ACCURACY_LEVEL),
            attr("bits", bits as i64),
            attr("block_size", NBITS_BLOCK as i64),
        ],
        ..Default::default()
    };
    let opset = |domain: &str, version: i64| proto::OperatorSetIdProto {
        domain: Some(domain.into()),
        version: Some(version),
    };
    proto::ModelProto {
        ir_version: Some(10),
        opset_import: vec![opset("", 21), opset("com.microsoft", 1)],
        producer_name: Some("edgebench-benches".into()),
        graph: Some(proto::GraphProto {
            name: Some("matmulnbits".into()),
            node: vec![node],
            initializer: vec![
                initializer(
                    "B",
                    DataType::Uint8,
                    vec![rows as i64, blocks as i64, blob],
                    packed,
                ),
                initializer(
                    "scales",
                    DataType::Float,
                    vec![(rows * blocks) as i64],
                    scale_bytes,
                ),
            ],
            input: vec![io("A", cols)],
            output: vec![io("Y", rows)],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn session(model: &[u8], threads: usize) -> Session {
    let rt = runtime().unwrap_or_else(|e| panic!("{e}"));
    let built = || -> Result<Session, String> {
        let builder = Session::builder(&rt.env).map_err(|e| e.to_string())?;
        let mut builder = builder
            .with_intra_threads(threads)
            .map_err(|e| e.to_string())?;
        builder.commit_from_memory(model).map_err(|e| e.to_string())
    };
    built().unwrap_or_else(|e| panic!("MatMulNBits session: {e}"))
}

/// The node computes what it should: the first rows of a decode step against the dequantized
/// weights in f64 (within 1%: MLAS quantizes the activations to int8 at `accuracy_level` 4).
fn check(session: &mut Session, q: &Quantized) {
    let a = values(q.cols, 2);
    let input = TensorRef::from_array_view(([1usize, q.cols], &a[..])).expect("input tensor");
    let out = session
        .run(ort::inputs!["A" => input])
        .expect("MatMulNBits");
    let (_, y) = out["Y"].try_extract_tensor::<f32>().expect("f32 output");
    let (mut err, mut norm) = (0.0f64, 0.0f64);
    for (r, got) in y.iter().enumerate().take(16) {
        let want: f64 = q
            .row(r)
            .iter()
            .zip(&a)
            .map(|(w, x)| *w as f64 * *x as f64)
            .sum();
        err += (*got as f64 - want).powi(2);
        norm += want * want;
    }
    let rel = (err / norm).sqrt();
    assert!(
        rel < 0.01,
        "MatMulNBits int{} {}x{}: relative error {rel:.4}",
        q.bits,
        q.rows,
        q.cols
    );
}

fn matmulnbits(c: &mut Criterion) {
    let threads = threads();
    for bits in [4, 8] {
        let mut group = group(c, format!("ort/MatMulNBits/int{bits}"));
        for shape in shapes() {
            let quantized = Quantized::new(shape.rows, shape.cols, bits);
            let mut session = session(&model(&quantized), threads);
            check(&mut session, &quantized);
            drop(quantized);
            for batch in BATCHES {
                let input = values(shape.cols * batch, 2);
                let id = BenchmarkId::new(format!("{} t{threads}", shape.name), batch);
                bench_product(&mut group, &shape, batch, id, || {
                    let a = TensorRef::from_array_view(([batch, shape.cols], &input[..]))
                        .expect("input tensor");
                    let out = session.run(ort::inputs!["A" => a]).expect("MatMulNBits");
                    assert_eq!(out["Y"].shape()[1], shape.rows as i64);
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, matmulnbits);
criterion_main!(benches);
