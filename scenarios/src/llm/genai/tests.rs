use super::config::CONFIG_FILE;
use super::*;
use crate::catalog::{Catalog, ModelSpec, Quant};
use crate::graph::{self, proto};
use crate::llm::arch::tensor_weights;
use prost::Message;
use std::path::Path;

fn model(name: &str) -> ModelSpec {
    Catalog::builtin().model(name).unwrap().clone()
}

fn tiny_models() -> Vec<ModelSpec> {
    Catalog::builtin()
        .models
        .into_iter()
        .filter(|m| m.tiny)
        .collect()
}

/// The initializer `name` of a written folder, as raw bytes.
fn initializer(dir: &Path, name: &str) -> (Vec<i64>, Vec<u8>) {
    let m =
        proto::ModelProto::decode(std::fs::read(dir.join(MODEL_FILE)).unwrap().as_slice()).unwrap();
    let t = m
        .graph
        .unwrap()
        .initializer
        .into_iter()
        .find(|t| t.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no initializer {name}"));
    let get = |k: &str| -> u64 {
        t.external_data
            .iter()
            .find(|e| e.key.as_deref() == Some(k))
            .unwrap()
            .value
            .as_ref()
            .unwrap()
            .parse()
            .unwrap()
    };
    let data = std::fs::read(dir.join(DATA_FILE)).unwrap();
    let (offset, len) = (get("offset") as usize, get("length") as usize);
    (t.dims.clone(), data[offset..offset + len].to_vec())
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn every_tiny_model_and_precision_writes_a_readable_folder() {
    let dir = tempfile::tempdir().unwrap();
    for m in tiny_models() {
        for q in OnnxQuant::ALL {
            let folder = dir.path().join(format!("{}-{q}", m.name));
            let r = write_genai_folder(&m, q, 3, &folder, &mut |_, _| {}).unwrap();
            assert_eq!(r.bytes, planned_folder_bytes(&m, q, 3), "{} {q}", m.name);
            let s = inspect(&folder).unwrap();
            assert_eq!(s.file_bytes, r.bytes, "{} {q}", m.name);
            assert_eq!(s.quant, q.name());
            assert!(s.synthetic);
            assert_eq!(s.seed, Some(3));
            // The builder stores a tied LM head twice: as the embedding and as lm_head.
            let tied = if m.tied_embeddings {
                m.vocab_size * m.hidden_size
            } else {
                0
            };
            assert_eq!(
                s.parameters,
                Some(m.parameter_count() + tied as u64),
                "{} {q}",
                m.name
            );
            // Decode streams every weight but the embedding table, which Gather only looks up.
            let embedding =
                (m.vocab_size * m.hidden_size) as u64 * graph::element_bytes(q.io_dtype());
            let w = s.weight_bytes.unwrap();
            assert!(
                w > 0 && w + embedding <= s.file_bytes,
                "{} {q}: weights {w} + embedding {embedding} > files {}",
                m.name,
                s.file_bytes
            );
            let g = &s.genai;
            assert_eq!(g.model_type, m.arch.gguf_name());
            assert_eq!(
                (g.layers, g.heads, g.kv_heads),
                (m.layers, m.heads, m.kv_heads)
            );
            assert_eq!((g.head_size, g.vocab_size), (m.head_dim, m.vocab_size));
            assert!(g.past_present_share_buffer);
            assert_eq!(g.past[1].0, "past_key_values.1.key");
            assert_eq!(g.present[0].1, "present.0.value");
        }
    }
}

#[test]
fn same_seed_same_folder_other_seed_other_folder() {
    let dir = tempfile::tempdir().unwrap();
    let m = model("llama3-8b-tiny");
    let w = |name: &str, seed| {
        write_genai_folder(
            &m,
            OnnxQuant::Int4,
            seed,
            &dir.path().join(name),
            &mut |_, _| {},
        )
        .unwrap()
        .sha256
    };
    let (a, b, c) = (w("a", 1), w("b", 1), w("c", 2));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

/// Float MatMul weights are the GGUF rows transposed; Llama's Q and K rows come back in
/// Hugging Face order; the embedding is stored as is.
#[test]
fn float_weights_are_the_gguf_weights() {
    let dir = tempfile::tempdir().unwrap();
    let m = model("llama3-8b-tiny");
    write_genai_folder(&m, OnnxQuant::Fp32, 9, dir.path(), &mut |_, _| {}).unwrap();
    let gguf = |name: &str| {
        let w = tensor_weights(&m, 9, name).unwrap();
        let mut v = vec![0.0; w.elements()];
        w.fill(0, &mut v);
        (w.shape().to_vec(), v)
    };
    let (dims, bytes) = initializer(dir.path(), "model.layers.1.mlp.down_proj.MatMul.weight");
    let (shape, down) = gguf("blk.1.ffn_down.weight");
    assert_eq!(dims, vec![shape[1] as i64, shape[0] as i64]);
    let onnx = f32s(&bytes);
    for k in 0..shape[1] {
        for n in 0..shape[0] {
            assert_eq!(onnx[k * shape[0] + n], down[n * shape[1] + k]);
        }
    }
    let (dims, bytes) = initializer(dir.path(), "model.layers.0.attn.qkv_proj.MatMul.weight");
    let qkv = f32s(&bytes);
    let n_total = dims[1] as usize;
    let (_, q) = gguf("blk.0.attn_q.weight");
    let (_, v) = gguf("blk.0.attn_v.weight");
    let (h, hd, q_dim, kv_dim) = (
        m.hidden_size,
        m.head_dim,
        m.heads * m.head_dim,
        m.kv_heads * m.head_dim,
    );
    assert_eq!(n_total, q_dim + 2 * kv_dim);
    // Hugging Face row hd/2 + 1 of head 1 is llama.cpp row hd + 3.
    let col = hd + hd / 2 + 1;
    for k in 0..h {
        assert_eq!(qkv[k * n_total + col], q[(hd + 3) * h + k]);
        // V is not permuted.
        assert_eq!(qkv[k * n_total + q_dim + kv_dim + 5], v[5 * h + k]);
    }
    let (_, bytes) = initializer(dir.path(), "model.embed_tokens.weight");
    assert_eq!(f32s(&bytes), gguf("token_embd.weight").1);
}

/// int4 weights dequantize to the GGUF weights within half a quantization step.
#[test]
fn int4_weights_dequantize_to_the_gguf_weights() {
    let dir = tempfile::tempdir().unwrap();
    let m = model("phi3-mini-tiny");
    write_genai_folder(&m, OnnxQuant::Int4, 4, dir.path(), &mut |_, _| {}).unwrap();
    let (dims, packed) = initializer(dir.path(), "model.layers.2.mlp.up_proj.MatMul.weight_Q4");
    let (_, scales) = initializer(
        dir.path(),
        "model.layers.2.mlp.up_proj.MatMul.weight_scales",
    );
    let scales = f32s(&scales);
    let (n, blocks) = (dims[0] as usize, dims[1] as usize);
    assert_eq!((n, blocks, dims[2]), (m.ffn_size, m.hidden_size / 32, 16));
    // Phi-3's fused ffn_up is gate|up: up is its second half.
    let w = tensor_weights(&m, 4, "blk.2.ffn_up.weight").unwrap();
    let k = m.hidden_size;
    let mut row = vec![0.0; k];
    for r in [0, 1, n - 1] {
        w.fill((m.ffn_size + r) * k, &mut row);
        for (j, &x) in row.iter().enumerate() {
            let (b, i) = (j / 32, j % 32);
            let byte = packed[(r * blocks + b) * 16 + i / 2];
            let code = if i % 2 == 0 { byte & 15 } else { byte >> 4 } as f32;
            let s = scales[r * blocks + b];
            // Half a step, or one where the code range (−8..=7) clips the positive end.
            let bound = if code == 15.0 { s.abs() } else { s.abs() / 2.0 };
            assert!(
                ((code - 8.0) * s - x).abs() <= bound + 1e-6,
                "row {r} col {j}"
            );
        }
    }
}

#[test]
fn inspect_names_the_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let m = model("gemma-2b-tiny");
    let folder = dir.path().join("f");
    write_genai_folder(&m, OnnxQuant::Fp16, 1, &folder, &mut |_, _| {}).unwrap();

    let data = folder.join(DATA_FILE);
    let len = std::fs::metadata(&data).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&data)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let e = inspect(&folder).unwrap_err().to_string();
    assert!(
        e.contains("model.onnx.data") && e.contains("truncated"),
        "{e}"
    );

    let model_file = folder.join(MODEL_FILE);
    let bytes = std::fs::read(&model_file).unwrap();
    std::fs::write(&model_file, &bytes[..bytes.len() / 2]).unwrap();
    let e = inspect(&folder).unwrap_err().to_string();
    assert!(
        e.contains("model.onnx") && e.contains("not a readable ONNX model"),
        "{e}"
    );

    std::fs::remove_file(&model_file).unwrap();
    let e = inspect(&folder).unwrap_err().to_string();
    assert!(e.contains("model.onnx: missing"), "{e}");

    std::fs::remove_file(folder.join(CONFIG_FILE)).unwrap();
    let e = inspect(&folder).unwrap_err().to_string();
    assert!(e.contains("no genai_config.json"), "{e}");
}

#[test]
fn ensure_cached_reuses_and_repairs() {
    let dir = tempfile::tempdir().unwrap();
    let m = model("gemma-7b-tiny");
    let first = ensure_cached(dir.path(), &m, OnnxQuant::Int8, 2, &mut |_, _| {}).unwrap();
    assert!(first.synthesized.is_some());
    let again = ensure_cached(dir.path(), &m, OnnxQuant::Int8, 2, &mut |_, _| {}).unwrap();
    assert!(again.synthesized.is_none());
    assert_eq!(again.sha256, first.sha256);
    // A damaged folder is written again.
    std::fs::write(first.folder.join(DATA_FILE), b"x").unwrap();
    let repaired = ensure_cached(dir.path(), &m, OnnxQuant::Int8, 2, &mut |_, _| {}).unwrap();
    assert!(repaired.synthesized.is_some());
    assert_eq!(repaired.sha256, first.sha256);
    assert_ne!(
        cache_path(dir.path(), &m, OnnxQuant::Int8, 2),
        cache_path(dir.path(), &m, OnnxQuant::Int4, 2)
    );
}

#[test]
fn gguf_quants_map_to_genai_precisions() {
    assert_eq!(
        OnnxQuant::counterpart_of(Quant::Q4KM),
        Some(OnnxQuant::Int4)
    );
    assert_eq!(
        OnnxQuant::counterpart_of(Quant::Q8_0),
        Some(OnnxQuant::Int8)
    );
    assert_eq!(OnnxQuant::counterpart_of(Quant::Q5KM), None);
    assert_eq!(OnnxQuant::parse("INT4"), Some(OnnxQuant::Int4));
    assert_eq!(OnnxQuant::parse("q4_k_m"), None);
}
