use super::mixture::use_more_bits;
use super::write::write_gguf_pool;
use super::*;
use crate::cache::sidecar_path;
use crate::catalog::{Catalog, ModelSpec, Quant};
use crate::llm::arch::tensor_weights;
use crate::weights::POOL_BLOCKS;
use candle_core::quantized::{gguf_file, GgmlDType};
use candle_core::{Device, Tensor};
use sha2::{Digest, Sha256};
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

#[test]
fn use_more_bits_matches_llama_cpp() {
    let picked: Vec<usize> = (0..32).filter(|&i| use_more_bits(i, 32)).collect();
    assert_eq!(
        picked,
        vec![0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]
    );
    let picked: Vec<usize> = (0..4).filter(|&i| use_more_bits(i, 4)).collect();
    assert_eq!(picked, vec![2, 3]);
}

#[test]
fn llama3_8b_q4_k_m_matches_published_file() {
    let m = model("llama3-8b");
    let plan = tensor_plan(&m, Quant::Q4KM);
    assert_eq!(plan.len(), 291);
    let names: Vec<&str> = plan.iter().take(5).map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "output.weight",
            "output_norm.weight",
            "token_embd.weight",
            "blk.0.attn_k.weight",
            "blk.0.attn_norm.weight"
        ]
    );
    assert_eq!(plan[290].name, "blk.31.ffn_up.weight");
    let get = |n: &str| plan.iter().find(|t| t.name == n).unwrap().clone();
    assert_eq!(get("token_embd.weight").shape, vec![128256, 4096]);
    assert_eq!(get("token_embd.weight").dtype, GgmlDType::Q4K);
    assert_eq!(get("output.weight").dtype, GgmlDType::Q6K);
    assert_eq!(get("blk.0.attn_q.weight").shape, vec![4096, 4096]);
    assert_eq!(get("blk.0.attn_k.weight").shape, vec![1024, 4096]);
    assert_eq!(get("blk.0.attn_v.weight").dtype, GgmlDType::Q6K);
    assert_eq!(get("blk.4.attn_v.weight").dtype, GgmlDType::Q4K);
    assert_eq!(get("blk.6.ffn_down.weight").dtype, GgmlDType::Q6K);
    assert_eq!(get("blk.6.ffn_down.weight").shape, vec![4096, 14336]);
    assert_eq!(get("blk.7.ffn_down.weight").dtype, GgmlDType::Q4K);
    assert_eq!(get("blk.7.ffn_norm.weight").dtype, GgmlDType::F32);
    let count = |d| plan.iter().filter(|t| t.dtype == d).count();
    // As the published Meta-Llama-3-8B-Instruct Q4_K_M: 65 f32, 193 q4_K, 33 q6_K.
    assert_eq!(
        (
            count(GgmlDType::F32),
            count(GgmlDType::Q4K),
            count(GgmlDType::Q6K)
        ),
        (65, 193, 33)
    );
    let bytes = planned_file_bytes(&m, Quant::Q4KM);
    let published = 4_920_734_016f64;
    let rel = (bytes as f64 - published).abs() / published;
    assert!(rel < 0.02, "{bytes} vs {published}: {:.2}%", rel * 100.0);
}

#[test]
fn phi3_mini_q4_k_m_matches_published_file() {
    let m = model("phi3-mini");
    let plan = tensor_plan(&m, Quant::Q4KM);
    assert_eq!(plan.len(), 195);
    let get = |n: &str| plan.iter().find(|t| t.name == n).unwrap().clone();
    assert_eq!(get("blk.0.attn_qkv.weight").shape, vec![9216, 3072]);
    assert_eq!(get("blk.0.attn_qkv.weight").dtype, GgmlDType::Q5K);
    assert_eq!(get("blk.0.ffn_up.weight").shape, vec![16384, 3072]);
    assert!(plan.iter().all(|t| !t.name.contains("ffn_gate")));
    assert_eq!(get("output.weight").dtype, GgmlDType::Q6K);
    let bytes = planned_file_bytes(&m, Quant::Q4KM);
    let published = 2.39e9;
    let rel = (bytes as f64 - published).abs() / published;
    assert!(rel < 0.02, "{bytes} vs {published}: {:.2}%", rel * 100.0);
}

#[test]
fn gemma_has_no_output_and_q6_k_embedding() {
    let m = model("gemma-2b");
    let plan = tensor_plan(&m, Quant::Q4KM);
    assert!(plan.iter().all(|t| t.name != "output.weight"));
    let emb = plan.iter().find(|t| t.name == "token_embd.weight").unwrap();
    assert_eq!(emb.dtype, GgmlDType::Q6K);
    assert_eq!(emb.shape, vec![256000, 2048]);
    let q8 = tensor_plan(&m, Quant::Q8_0);
    assert!(q8
        .iter()
        .all(|t| t.shape.len() == 1 || t.dtype == GgmlDType::Q8_0));
    let q40 = tensor_plan(&m, Quant::Q4_0);
    let get = |n: &str| q40.iter().find(|t| t.name == n).unwrap().dtype;
    assert_eq!(get("token_embd.weight"), GgmlDType::Q6K);
    assert_eq!(get("blk.0.attn_q.weight"), GgmlDType::Q4_0);
    assert_eq!(get("blk.0.attn_v.weight"), GgmlDType::Q4_0);
}

#[test]
fn odd_row_lengths_fall_back_like_llama_cpp() {
    let mut m = model("llama3-8b-tiny");
    m.heads = 3; // attn_output rows of 192
    m.kv_heads = 1;
    let t = |q| {
        tensor_plan(&m, q)
            .into_iter()
            .find(|t| t.name == "blk.0.attn_output.weight")
            .unwrap()
            .dtype
    };
    assert_eq!(t(Quant::Q4KM), GgmlDType::Q5_0);
    assert_eq!(t(Quant::Q5KM), GgmlDType::Q5_1);
    assert_eq!(t(Quant::Q8_0), GgmlDType::Q8_0);
    m.layers = 1; // use_more_bits(0, 1): Q6_K ffn_down is fine (rows 768)
    assert!(tensor_plan(&m, Quant::Q4KM)
        .iter()
        .any(|t| t.name == "blk.0.ffn_down.weight" && t.dtype == GgmlDType::Q6K));
}

fn read(path: &Path) -> gguf_file::Content {
    let mut f = std::fs::File::open(path).unwrap();
    gguf_file::Content::read(&mut f).unwrap()
}

#[test]
fn every_tiny_model_and_quant_writes_a_readable_gguf() {
    let dir = tempfile::tempdir().unwrap();
    for m in tiny_models() {
        for q in Quant::ALL {
            let path = dir.path().join(format!("{}-{q}.gguf", m.name));
            let mut calls = 0;
            let r = write_gguf(&m, q, 42, &path, &mut |_, _| calls += 1).unwrap();
            assert!(calls >= 2);
            let len = std::fs::metadata(&path).unwrap().len();
            assert_eq!(len, r.bytes);
            assert_eq!(len, planned_file_bytes(&m, q), "{} {q}", m.name);
            assert_eq!(
                r.sha256,
                hex::encode(Sha256::digest(std::fs::read(&path).unwrap()))
            );
            let ct = read(&path);
            let plan = tensor_plan(&m, q);
            assert_eq!(ct.tensor_infos.len(), plan.len());
            for p in &plan {
                let info = &ct.tensor_infos[&p.name];
                assert_eq!(info.shape.dims(), p.shape.as_slice(), "{}", p.name);
                assert_eq!(info.ggml_dtype, p.dtype, "{}", p.name);
            }
            let md = &ct.metadata;
            let arch = m.arch.gguf_name();
            assert_eq!(md["general.architecture"].to_string().unwrap(), arch);
            assert_eq!(
                md["general.file_type"].to_u32().unwrap(),
                q.gguf_file_type()
            );
            assert_eq!(
                md[&format!("{arch}.block_count")].to_u32().unwrap() as usize,
                m.layers
            );
            assert_eq!(md["edgebench.seed"].to_u64().unwrap(), 42);
            let tokens = md["tokenizer.ggml.tokens"].to_vec().unwrap();
            assert_eq!(tokens.len(), m.vocab_size);
            assert_eq!(tokens[3 + 10].to_string().unwrap(), "<0x0A>");
            let uniq: std::collections::HashSet<_> =
                tokens.iter().map(|t| t.to_string().unwrap()).collect();
            assert_eq!(uniq.len(), m.vocab_size);
        }
    }
}

#[test]
fn same_seed_same_file_other_seed_other_file() {
    let dir = tempfile::tempdir().unwrap();
    let m = model("llama3-8b-tiny");
    let w = |seed, name: &str| {
        write_gguf(
            &m,
            Quant::Q4KM,
            seed,
            &dir.path().join(name),
            &mut |_, _| {},
        )
        .unwrap()
        .sha256
    };
    let a = w(1, "a.gguf");
    assert_eq!(a, w(1, "b.gguf"));
    assert_ne!(a, w(2, "c.gguf"));
}

#[test]
fn ensure_cached_reuses_and_repairs() {
    let dir = tempfile::tempdir().unwrap();
    let m = model("gemma-2b-tiny");
    let first = ensure_cached(dir.path(), &m, Quant::Q8_0, 5, &mut |_, _| {}).unwrap();
    assert!(first.synthesized.is_some());
    assert_eq!(first.path, cache_path(dir.path(), &m, Quant::Q8_0, 5));
    assert!(sidecar_path(&first.path).exists());
    let second = ensure_cached(dir.path(), &m, Quant::Q8_0, 5, &mut |_, _| {}).unwrap();
    assert!(second.synthesized.is_none());
    assert_eq!(second.sha256, first.sha256);
    assert_eq!(second.bytes, first.bytes);

    // A truncated file without its sidecar (an interrupted write) is rewritten.
    std::fs::remove_file(sidecar_path(&first.path)).unwrap();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&first.path)
        .unwrap();
    f.set_len(first.bytes / 2).unwrap();
    drop(f);
    let third = ensure_cached(dir.path(), &m, Quant::Q8_0, 5, &mut |_, _| {}).unwrap();
    assert!(third.synthesized.is_some());
    assert_eq!(third.sha256, first.sha256);
    assert_eq!(std::fs::metadata(&third.path).unwrap().len(), first.bytes);
    // A truncated file whose sidecar survived is rewritten too.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&first.path)
        .unwrap();
    f.set_len(100).unwrap();
    drop(f);
    let fourth = ensure_cached(dir.path(), &m, Quant::Q8_0, 5, &mut |_, _| {}).unwrap();
    assert!(fourth.synthesized.is_some());
    // No temp files left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn cache_path_changes_with_spec_quant_and_seed() {
    let dir = Path::new("/models");
    let m = model("llama3-8b-tiny");
    let p = cache_path(dir, &m, Quant::Q4KM, 1);
    let name = p.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with("llama3-8b-tiny-q4_k_m-s1-") && name.ends_with(".gguf"),
        "{name}"
    );
    assert_ne!(p, cache_path(dir, &m, Quant::Q8_0, 1));
    assert_ne!(p, cache_path(dir, &m, Quant::Q4KM, 2));
    let mut m2 = m.clone();
    m2.ffn_size = 1024;
    assert_ne!(p, cache_path(dir, &m2, Quant::Q4KM, 1));
    let mut m3 = m.clone();
    m3.rope_theta = 10000.0;
    assert_ne!(p, cache_path(dir, &m3, Quant::Q4KM, 1));
}

fn logits_ok(logits: &Tensor, vocab: usize) {
    let v: Vec<f32> = logits.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(v.len(), vocab);
    assert!(v.iter().all(|x| x.is_finite()));
    let mean = v.iter().sum::<f32>() / v.len() as f32;
    let std = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / v.len() as f32).sqrt();
    assert!(std > 0.1 && std < 20.0, "logit std {std}");
}

/// candle-transformers' loaders (as the candle target uses them) load the files and give
/// finite, non-degenerate logits.
#[test]
fn candle_loads_and_runs_llama_and_phi3() {
    use candle_transformers::models::{quantized_llama, quantized_phi3};
    let dir = tempfile::tempdir().unwrap();
    let dev = Device::Cpu;
    let ids = Tensor::new(&[[1u32, 300, 301, 302, 13]], &dev).unwrap();
    for q in [Quant::Q4KM, Quant::Q8_0, Quant::F16] {
        let m = model("llama3-8b-tiny");
        let path = dir.path().join("l.gguf");
        write_gguf(&m, q, 3, &path, &mut |_, _| {}).unwrap();
        let mut f = std::fs::File::open(&path).unwrap();
        let ct = gguf_file::Content::read(&mut f).unwrap();
        let mut w = quantized_llama::ModelWeights::from_gguf(ct, &mut f, &dev).unwrap();
        logits_ok(&w.forward(&ids, 0).unwrap(), m.vocab_size);

        let m = model("phi3-mini-tiny");
        let path = dir.path().join("p.gguf");
        write_gguf(&m, q, 3, &path, &mut |_, _| {}).unwrap();
        let mut f = std::fs::File::open(&path).unwrap();
        let ct = gguf_file::Content::read(&mut f).unwrap();
        let mut w = quantized_phi3::ModelWeights::from_gguf(false, ct, &mut f, &dev).unwrap();
        logits_ok(&w.forward(&ids, 0).unwrap(), m.vocab_size);
    }
}

/// Writes the full Llama 3 8B Q4_K_M (about 4.9 GB) to the temp dir and reports the speed:
/// `cargo test --release -p edgebench-scenarios -- --ignored --nocapture full_size_speed`
#[test]
#[ignore]
fn full_size_speed() {
    let m = model(&std::env::var("EDGEBENCH_SYNTH_MODEL").unwrap_or("llama3-8b".into()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.gguf");
    let r = write_gguf(&m, Quant::Q4KM, 0, &path, &mut |_, _| {}).unwrap();
    eprintln!(
        "{}: {} bytes in {:.2} s = {:.2} GB/s, sha256 {}",
        m.name,
        r.bytes,
        r.seconds,
        r.bytes as f64 / r.seconds / 1e9,
        r.sha256
    );
    assert_eq!(r.bytes, planned_file_bytes(&m, Quant::Q4KM));
}

/// `tensor_weights` gives exactly the values of the F32 GGUF, for every tensor of a tiny model,
/// read at odd offsets so block boundaries are crossed.
#[test]
fn tensor_weights_equal_the_f32_gguf() {
    let dir = tempfile::tempdir().unwrap();
    let m = model("phi3-mini-tiny");
    let path = dir.path().join("m.gguf");
    write_gguf_pool(&m, Quant::F32, 5, &path, &mut |_, _| {}, POOL_BLOCKS).unwrap();
    let mut file = std::fs::File::open(&path).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    for plan in tensor_plan(&m, Quant::F32) {
        let stored = content
            .tensor(&mut file, &plan.name, &Device::Cpu)
            .unwrap()
            .dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let w = tensor_weights(&m, 5, &plan.name).unwrap();
        assert_eq!(w.shape(), plan.shape.as_slice(), "{}", plan.name);
        let mut all = vec![0.0; w.elements()];
        w.fill(0, &mut all);
        assert_eq!(all, stored, "{}", plan.name);
        if w.elements() > 700 {
            let mut part = vec![0.0; 600];
            w.fill(77, &mut part);
            assert_eq!(part[..], stored[77..677], "{}", plan.name);
        }
    }
    assert!(tensor_weights(&m, 5, "no.such.weight").is_none());
}
