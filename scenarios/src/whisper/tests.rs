use super::*;
use crate::catalog::{Catalog, WhisperSpec};
use crate::graph::proto::{self, tensor_proto::DataType};

fn tiny() -> WhisperSpec {
    Catalog::builtin()
        .whisper_model("whisper-tiny-test")
        .unwrap()
        .clone()
}

#[test]
fn tensor_count_is_whisper_cpps() {
    // whisper_model_load: 10 input + 15 per encoder layer + 24 per decoder layer, of which
    // the loader expects 7 + 15·L_enc + 4 + 24·L_dec.
    for name in [
        "whisper-tiny",
        "whisper-base",
        "whisper-medium.en",
        "whisper-tiny-test",
    ] {
        let spec = Catalog::builtin().whisper_model(name).unwrap().clone();
        let n = tensors(&spec).len();
        assert_eq!(
            n,
            11 + 15 * spec.n_audio_layer + 24 * spec.n_text_layer,
            "{name}"
        );
    }
    // Whisper tiny has 37.8M parameters (39M with the sinusoid table counted, as OpenAI does).
    let tiny = Catalog::builtin()
        .whisper_model("whisper-tiny")
        .unwrap()
        .clone();
    let p = tiny.parameter_count();
    assert!((37_000_000..40_000_000).contains(&p), "{p}");
}

#[test]
fn hugging_face_names() {
    for (openai, hf) in [
        ("encoder.conv1.weight", "model.encoder.conv1.weight"),
        (
            "encoder.blocks.3.attn.query.weight",
            "model.encoder.layers.3.self_attn.q_proj.weight",
        ),
        (
            "decoder.blocks.0.cross_attn.out.bias",
            "model.decoder.layers.0.encoder_attn.out_proj.bias",
        ),
        (
            "decoder.blocks.1.cross_attn_ln.weight",
            "model.decoder.layers.1.encoder_attn_layer_norm.weight",
        ),
        (
            "decoder.blocks.1.attn_ln.bias",
            "model.decoder.layers.1.self_attn_layer_norm.bias",
        ),
        (
            "encoder.blocks.0.mlp.2.weight",
            "model.encoder.layers.0.fc2.weight",
        ),
        (
            "encoder.blocks.0.mlp_ln.weight",
            "model.encoder.layers.0.final_layer_norm.weight",
        ),
        (
            "decoder.token_embedding.weight",
            "model.decoder.embed_tokens.weight",
        ),
        ("encoder.ln_post.bias", "model.encoder.layer_norm.bias"),
    ] {
        assert_eq!(hf_name(openai), hf);
    }
}

#[test]
fn sinusoids_follow_openai() {
    let s = sinusoids(1500, 384);
    let inc = (10000f64).ln() / 191.0;
    for (t, c) in [(0usize, 0usize), (7, 3), (1499, 100), (20, 191)] {
        let x = t as f64 * (-(c as f64) * inc).exp();
        assert!((s[t * 384 + c] as f64 - x.sin()).abs() < 1e-3);
        assert!((s[t * 384 + 192 + c] as f64 - x.cos()).abs() < 1e-3);
    }
}

#[test]
fn ggml_file_round_trips_and_truncation_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let spec = tiny();
    for quant in [WhisperQuant::F16, WhisperQuant::Q5_0] {
        let path = dir.path().join(format!("ggml-tiny-{quant}.bin"));
        let r = ggml::write(&spec, quant, 3, &path, &mut |_, _| {}).unwrap();
        assert_eq!(r.bytes, std::fs::metadata(&path).unwrap().len());
        assert_eq!(r.bytes, ggml::planned_bytes(&spec, quant));
        let s = ggml::inspect(&path).unwrap();
        assert_eq!(s.quant, quant.name());
        assert_eq!(s.tensors, tensors(&spec).len());
        assert_eq!(
            (s.spec.n_vocab, s.spec.n_audio_state, s.spec.n_text_layer),
            (51865, 128, 2)
        );
        // Same seed, same bytes.
        let again = dir.path().join("again.bin");
        let r2 = ggml::write(&spec, quant, 3, &again, &mut |_, _| {}).unwrap();
        assert_eq!(r.sha256, r2.sha256);
    }
    let path = dir.path().join("ggml-tiny-f16.bin");
    let bytes = std::fs::read(&path).unwrap();
    // Cut inside the last tensor, which whisper.cpp itself would not notice.
    let cut = dir.path().join("cut.bin");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let e = ggml::inspect(&cut).unwrap_err().to_string();
    assert!(e.contains("cut.bin") && e.contains("truncated"), "{e}");
    assert!(!e.contains('\n'));
    // Cut between tensors.
    let header_end = bytes.len() / 3;
    std::fs::write(&cut, &bytes[..header_end]).unwrap();
    let e = ggml::inspect(&cut).unwrap_err().to_string();
    assert!(e.contains("truncated"), "{e}");
    // Not a whisper.cpp file at all.
    std::fs::write(&cut, b"GGUF\x03\x00\x00\x00").unwrap();
    let e = ggml::inspect(&cut).unwrap_err().to_string();
    assert!(e.contains("GGUF file"), "{e}");
}

#[test]
fn formats_hold_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let spec = tiny();
    let st = dir.path().join("st");
    hf::write_safetensors(&spec, WhisperQuant::F32, 5, &st, &mut |_, _| {}).unwrap();
    let gg = dir.path().join("gg");
    hf::write_gguf(&spec, WhisperQuant::Q8_0, 5, &gg, &mut |_, _| {}).unwrap();
    let st_sum = hf::inspect_folder(&st).unwrap();
    assert_eq!(st_sum.format, WhisperFormat::Safetensors);
    assert_eq!(st_sum.spec.n_audio_state, spec.n_audio_state);
    assert_eq!(hf::inspect_folder(&gg).unwrap().format, WhisperFormat::Gguf);

    let dev = candle_core::Device::Cpu;
    let tensors_st = candle_core::safetensors::load(st.join(hf::SAFETENSORS), &dev).unwrap();
    let mut reader = std::fs::File::open(gg.join(hf::GGUF)).unwrap();
    let content = candle_core::quantized::gguf_file::Content::read(&mut reader).unwrap();
    for t in tensors(&spec) {
        let want = tensor_f32(&spec, 5, &t).unwrap();
        let name = hf_name(&t.name);
        let a: Vec<f32> = tensors_st[&name].flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(a, want, "{name}");
        let q = content.tensor(&mut reader, &name, &dev).unwrap();
        assert_eq!(q.dtype(), t.ggml_dtype(WhisperQuant::Q8_0), "{name}");
        let b: Vec<f32> = q
            .dequantize(&dev)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        let err = a
            .iter()
            .zip(&b)
            .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(err <= scale * 0.02, "{name}: {err} vs scale {scale}");
    }
}

#[test]
fn cache_writes_once() {
    let dir = tempfile::tempdir().unwrap();
    let spec = tiny();
    let a = cache::ensure_cached(
        dir.path(),
        &spec,
        WhisperQuant::F16,
        WhisperFormat::Safetensors,
        1,
        &mut |_, _| {},
    )
    .unwrap();
    assert!(a.synthesized.is_some());
    assert!(a.path.join(hf::CONFIG).is_file());
    let b = cache::ensure_cached(
        dir.path(),
        &spec,
        WhisperQuant::F16,
        WhisperFormat::Safetensors,
        1,
        &mut |_, _| {},
    )
    .unwrap();
    assert!(b.synthesized.is_none());
    assert_eq!(a.sha256, b.sha256);
    let e = cache::ensure_cached(
        dir.path(),
        &spec,
        WhisperQuant::Int8,
        WhisperFormat::Ggml,
        1,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("does not hold int8"), "{e}");
}

#[test]
fn clip_is_deterministic_speech_like() {
    let a = audio::speech_like(1, 30);
    assert_eq!(a.len(), 480_000);
    assert_eq!(a, audio::speech_like(1, 30));
    assert_ne!(a, audio::speech_like(2, 30));
    let peak = a.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!((peak - 0.5).abs() < 1e-4);
    // Speech has pauses: a good share of 20 ms frames is much quieter than the loud ones.
    let rms: Vec<f32> = a
        .chunks(320)
        .map(|c| (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).sqrt())
        .collect();
    let loud = rms.iter().fold(0f32, |m, &v| m.max(v));
    let quiet = rms.iter().filter(|&&v| v < loud * 0.05).count();
    assert!(
        quiet > rms.len() / 10 && quiet < rms.len() * 2 / 3,
        "{quiet} of {}",
        rms.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let p = audio::ensure_clip(dir.path(), 1).unwrap();
    assert!(std::fs::metadata(&p).unwrap().len() < 1_000_000);
    let r = hound::WavReader::open(&p).unwrap();
    assert_eq!(r.spec().sample_rate, 16_000);
    assert_eq!(r.len(), 480_000);
}

#[test]
fn catalog_workloads_and_suites() {
    let c = Catalog::builtin();
    let t = c.whisper_workload("transcribe-30s").unwrap();
    assert!(t.mel && t.encode && t.decode == 64);
    assert_eq!(c.whisper_workload("decode-t8").unwrap().decode, 8);
    assert!(c.whisper_workload("decode-t0").is_err());
    let e = c.whisper_workload("tx").unwrap_err().to_string();
    assert!(e.contains("decode-tN"), "{e}");
    for s in &c.whisper_suites {
        for m in &s.models {
            c.whisper_model(m).unwrap();
        }
        for w in &s.workloads {
            c.whisper_workload(w).unwrap();
        }
    }
    assert_eq!(WhisperQuant::parse("FP16").unwrap(), WhisperQuant::F16);
    assert!(WhisperQuant::parse("q4_k_m").is_err());
}

/// A synthetic int8 Optimum folder of the tiny test shape, seed 3.
fn int8_onnx_folder(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("tiny-int8.onnx");
    let report = cache::write(
        &tiny(),
        WhisperQuant::Int8,
        WhisperFormat::Onnx,
        3,
        &path,
        &mut |_, _| {},
    )
    .unwrap();
    assert!(report.bytes > 0 && report.sha256.len() == 64);
    path
}

fn read_graph(path: &std::path::Path, file: &str) -> proto::GraphProto {
    use prost::Message;
    proto::ModelProto::decode(std::fs::read(path.join(file)).unwrap().as_slice())
        .unwrap()
        .graph
        .unwrap()
}

/// (name, location, offset, length) of every external initializer of `g`.
fn external(g: &proto::GraphProto) -> Vec<(String, String, u64, u64)> {
    g.initializer
        .iter()
        .filter(|t| !t.external_data.is_empty())
        .map(|t| {
            let get = |k: &str| {
                t.external_data
                    .iter()
                    .find(|e| e.key.as_deref() == Some(k))
                    .and_then(|e| e.value.clone())
                    .unwrap()
            };
            (
                t.name.clone().unwrap(),
                get("location"),
                get("offset").parse().unwrap(),
                get("length").parse().unwrap(),
            )
        })
        .collect()
}

/// The ONNX folder: Optimum's files and names, and external data within the files, the
/// with-past decoder sharing the decoder's data file.
#[test]
fn onnx_folder_layout() {
    let spec = tiny();
    let dir = tempfile::tempdir().unwrap();
    let path = int8_onnx_folder(dir.path());
    let size = |f: &str| std::fs::metadata(path.join(f)).unwrap().len();
    assert_eq!(
        size(onnx::ENCODER_DATA) + size(onnx::DECODER_DATA),
        onnx::planned_bytes(&spec, WhisperQuant::Int8)
    );
    let names = |v: &[proto::ValueInfoProto]| -> Vec<String> {
        v.iter().map(|i| i.name.clone().unwrap()).collect()
    };
    let enc = read_graph(&path, onnx::ENCODER);
    assert_eq!(names(&enc.input), ["input_features"]);
    assert_eq!(names(&enc.output), ["last_hidden_state"]);
    let dec = read_graph(&path, onnx::DECODER);
    assert_eq!(names(&dec.input), ["input_ids", "encoder_hidden_states"]);
    let out = names(&dec.output);
    assert_eq!(out.len(), 1 + 4 * spec.n_text_layer);
    assert!(out.contains(&"present.1.encoder.value".to_string()));
    let past = read_graph(&path, onnx::DECODER_WITH_PAST);
    let inputs = names(&past.input);
    assert_eq!(inputs.len(), 1 + 4 * spec.n_text_layer);
    assert!(inputs.contains(&"past_key_values.0.decoder.key".to_string()));
    assert_eq!(names(&past.output).len(), 1 + 2 * spec.n_text_layer);
    let ops: std::collections::BTreeSet<String> = enc
        .node
        .iter()
        .chain(&dec.node)
        .map(|n| n.op_type.clone().unwrap())
        .collect();
    for op in [
        "Conv",
        "Gelu",
        "LayerNormalization",
        "Softmax",
        "DynamicQuantizeLinear",
        "MatMulInteger",
    ] {
        assert!(ops.contains(op), "{op} missing from {ops:?}");
    }
    // Every external tensor lies inside its data file; the with-past decoder uses the decoder's.
    for (g, file) in [
        (&enc, onnx::ENCODER_DATA),
        (&dec, onnx::DECODER_DATA),
        (&past, onnx::DECODER_DATA),
    ] {
        for (name, location, offset, length) in external(g) {
            assert_eq!(location, file, "{name}");
            assert!(offset + length <= size(file), "{name}");
        }
    }
    assert!(path.join(onnx::GENERATION_CONFIG).is_file());
}

/// An int8 weight of the ONNX folder: round(wᵀ / scale) with scale = max|w| / 127.
#[test]
fn onnx_int8_weights_are_the_transposed_weights_over_a_scale() {
    let spec = tiny();
    let dir = tempfile::tempdir().unwrap();
    let path = int8_onnx_folder(dir.path());
    let dec = read_graph(&path, onnx::DECODER);
    let q_name = "model.decoder.layers.1.fc1.weight.T_quantized";
    let (_, _, offset, length) = external(&dec).into_iter().find(|t| t.0 == q_name).unwrap();
    let scale_t = dec
        .initializer
        .iter()
        .find(|t| t.name.as_deref() == Some("model.decoder.layers.1.fc1.weight.T_scale"))
        .unwrap();
    assert_eq!(scale_t.data_type, Some(DataType::Float as i32));
    let scale = f32::from_le_bytes(scale_t.raw_data.clone().unwrap().try_into().unwrap());
    let data = std::fs::read(path.join(onnx::DECODER_DATA)).unwrap();
    let q = &data[offset as usize..(offset + length) as usize];
    let t = tensors(&spec)
        .into_iter()
        .find(|t| t.name == "decoder.blocks.1.mlp.0.weight")
        .unwrap();
    let w = tensor_f32(&spec, 3, &t).unwrap();
    let (rows, cols) = (t.shape[0], t.shape[1]);
    let max = w.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!((scale - max / 127.0).abs() < 1e-9);
    for (r, c) in [(0, 0), (5, 17), (rows - 1, cols - 1)] {
        let stored = q[c * rows + r] as i8 as f32 * scale;
        assert!((stored - w[r * cols + c]).abs() <= scale / 2.0 + 1e-7);
    }
}

/// `inspect_folder` reads the shape back and the quantization from the graph, picks a variant
/// by its encoder file, and names a missing decoder.
#[test]
fn onnx_inspect_folder_finds_variants_and_names_missing_files() {
    use prost::Message;
    let dir = tempfile::tempdir().unwrap();
    let path = int8_onnx_folder(dir.path());
    let f = onnx::inspect_folder(&path).unwrap();
    assert_eq!(f.quant, "int8");
    assert_eq!(
        (f.spec.n_audio_state, f.spec.n_text_layer, f.spec.n_vocab),
        (128, 2, 51865)
    );
    // A variant picked by its encoder file, as in repositories with several exports.
    for f in [onnx::ENCODER, onnx::DECODER, onnx::DECODER_WITH_PAST] {
        std::fs::copy(
            path.join(f),
            path.join(f.replace(".onnx", "_quantized.onnx")),
        )
        .unwrap();
    }
    std::fs::remove_file(path.join("decoder_with_past_model.onnx")).unwrap();
    let f = onnx::inspect_folder(&path.join("encoder_model_quantized.onnx")).unwrap();
    assert_eq!(
        f.decoder_with_past,
        path.join("decoder_with_past_model_quantized.onnx")
    );
    // Without edgebench's metadata the quantization is read from the graph's ops.
    let variant = path.join("encoder_model_quantized.onnx");
    let mut m = proto::ModelProto::decode(std::fs::read(&variant).unwrap().as_slice()).unwrap();
    m.metadata_props.clear();
    std::fs::write(&variant, m.encode_to_vec()).unwrap();
    assert_eq!(onnx::inspect_folder(&variant).unwrap().quant, "int8");
    let e = onnx::inspect_folder(&path).unwrap_err().to_string();
    assert!(e.contains("decoder_with_past_model.onnx"), "{e}");
    std::fs::remove_file(path.join(onnx::DECODER)).unwrap();
    let e = onnx::inspect_folder(&path).unwrap_err().to_string();
    assert!(e.contains("decoder_model.onnx"), "{e}");
}
