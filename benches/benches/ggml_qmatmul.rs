//! ggml's quantized matrix multiplication on CPU, through the llama.cpp build edgebench links
//! (llama-cpp-sys-2: the same ggml, the same compiler flags as the llama.cpp worker), for Q4_0,
//! Q4_K and Q8_0 weights at the layer shapes of Llama 3 8B and Phi-3 mini, batch 1 (decode:
//! `ggml_vec_dot` of each weight row against the activation quantized to Q8) and 512 (prompt
//! processing). Throughput is in weight elements × batch per second.
//!
//! The graph is computed with `ggml_graph_compute_with_ctx` from a plain context, so the weights
//! stay in their GGUF layout: this times the generic quantized dot-product kernels, not the
//! repacked (Q4_0 → 8×8 interleaved) path the CPU backend's extra buffer type can pick when it
//! loads a model.
//!
//!     cargo bench --workspace --bench ggml_qmatmul -- --save-baseline before
//!     # change a kernel in the llama.cpp tree, rebuild, then
//!     cargo bench --workspace --bench ggml_qmatmul -- --baseline before
//!     EDGEBENCH_BENCH_QUICK=1 cargo bench --workspace --bench ggml_qmatmul   # small shapes

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use edgebench_benches::{bench_product, group, shapes, threads, values, BATCHES};
use llama_cpp_sys_2 as sys;

/// One `W × X` product in its own ggml context, with a work buffer of its own that every run
/// reuses (`ggml_graph_compute_with_ctx` would allocate a new one inside the context on every
/// call, until the context ran out: it did after ~30 runs at batch 512).
struct MatMul {
    ctx: *mut sys::ggml_context,
    graph: *mut sys::ggml_cgraph,
    work: Vec<u8>,
}

impl MatMul {
    fn new(dtype: sys::ggml_type, rows: usize, cols: usize, batch: usize) -> Self {
        let weights = values(rows * cols, 1);
        let input = values(cols * batch, 2);
        // Weights (at most f32 size), input, output and the graph; the work buffer is apart.
        let mem = rows * cols * 4 + cols * batch * 4 + rows * batch * 4 + (16 << 20);
        // SAFETY: plain ggml C API; every pointer comes from this context, which outlives them.
        unsafe {
            sys::ggml_cpu_init();
            let ctx = sys::ggml_init(sys::ggml_init_params {
                mem_size: mem,
                mem_buffer: std::ptr::null_mut(),
                no_alloc: false,
            });
            assert!(!ctx.is_null(), "ggml_init({mem} bytes)");
            let w = sys::ggml_new_tensor_2d(ctx, dtype, cols as i64, rows as i64);
            sys::ggml_quantize_chunk(
                dtype,
                weights.as_ptr(),
                (*w).data,
                0,
                rows as i64,
                cols as i64,
                std::ptr::null(),
            );
            let x = sys::ggml_new_tensor_2d(ctx, sys::GGML_TYPE_F32, cols as i64, batch as i64);
            std::ptr::copy_nonoverlapping(input.as_ptr(), (*x).data as *mut f32, input.len());
            let y = sys::ggml_mul_mat(ctx, w, x);
            let graph = sys::ggml_new_graph(ctx);
            sys::ggml_build_forward_expand(graph, y);
            MatMul {
                ctx,
                graph,
                work: Vec::new(),
            }
        }
    }

    fn run(&mut self, threads: usize) {
        // SAFETY: the graph and context are alive; the plan's work buffer is `self.work`, sized
        // to what the plan asks and alive for the call; ggml computes in place.
        let status = unsafe {
            let mut plan = sys::ggml_graph_plan(self.graph, threads as i32, std::ptr::null_mut());
            if self.work.len() < plan.work_size {
                self.work.resize(plan.work_size, 0);
            }
            plan.work_data = self.work.as_mut_ptr();
            sys::ggml_graph_compute(self.graph, &mut plan)
        };
        assert_eq!(status, 0, "ggml_graph_compute");
    }
}

impl Drop for MatMul {
    fn drop(&mut self) {
        // SAFETY: the context was made by ggml_init and is freed once.
        unsafe { sys::ggml_free(self.ctx) }
    }
}

fn qmatmul(c: &mut Criterion) {
    let threads = threads();
    for (dtype, name) in [
        (sys::GGML_TYPE_Q4_0, "q4_0"),
        (sys::GGML_TYPE_Q4_K, "q4_k"),
        (sys::GGML_TYPE_Q8_0, "q8_0"),
    ] {
        let mut group = group(c, format!("ggml/mul_mat/{name}"));
        for shape in shapes() {
            for batch in BATCHES {
                let mut mm = MatMul::new(dtype, shape.rows, shape.cols, batch);
                let id = BenchmarkId::new(format!("{} t{threads}", shape.name), batch);
                bench_product(&mut group, &shape, batch, id, || mm.run(threads));
            }
        }
        group.finish();
    }
}

criterion_group!(benches, qmatmul);
criterion_main!(benches);
