//! Tiny synthetic GenAI folders of every architecture at every precision, run through the
//! shared generation loop on ONNX Runtime.

mod common;

use common::*;
use edgebench_scenarios::onnx::OnnxQuant;
use edgebench_scenarios::Catalog;
use edgebench_target_kit::protocol::RunSpec;
use edgebench_target_kit::target::Target;
use edgebench_target_kit::tokens::{argmax, prompt_tokens};
use edgebench_target_kit::worker::run_repetition;

/// Load, prefill 16, decode 16 greedy tokens, twice: finite logits, the same tokens both
/// times, tokens that vary, and a model that reports what it is.
#[test]
fn every_precision_loads_prefills_and_decodes() {
    let dir = tempfile::tempdir().unwrap();
    for name in TINY {
        let arch = Catalog::builtin().model(name).unwrap().arch.gguf_name();
        for quant in OnnxQuant::ALL {
            let what = format!("{name} {quant}");
            let folder = tiny(name, quant, dir.path());
            let (mut t, info) = load(&folder, 64);
            assert_eq!(info.vocab_size, 2048, "{what}");
            assert_eq!(info.architecture, arch, "{what}");
            assert_eq!(info.quant.as_deref(), Some(quant.name()), "{what}");
            assert_eq!(info.max_context, Some(512), "{what}");

            t.reset().unwrap();
            let logits = t.prefill(&prompt_tokens(3, 16, 2048)).unwrap();
            assert_eq!(logits.len(), 2048, "{what}");
            assert!(
                logits.iter().all(|x| x.is_finite()),
                "{what}: prefill logits"
            );
            let logits = t.decode(5).unwrap();
            assert!(
                logits.iter().all(|x| x.is_finite()),
                "{what}: decode logits"
            );

            let run = RunSpec {
                prompt: 16,
                gen: 16,
                seed: 3,
            };
            let first = run_repetition(&mut t, 2048, run, |_| {}).unwrap();
            let second = run_repetition(&mut t, 2048, run, |_| {}).unwrap();
            assert_eq!(first.tokens.len(), 16, "{what}");
            assert_eq!(first.tokens, second.tokens, "{what}: same tokens again");
            assert!(
                first.tokens.iter().any(|&x| x != first.tokens[0]),
                "{what}: degenerate generation {:?}",
                first.tokens
            );
            let info = t.info();
            assert!(
                info.extra["session_providers"].contains("CPUExecutionProvider"),
                "{what}: {:?}",
                info.extra
            );
            assert!(info.extra["kv_cache"].starts_with("shared"), "{what}");
        }
    }
}

/// The KV cache gives the logits a full prefill gives: prefill([a..z]) equals prefill([a..y])
/// then decode(z), a split prefill, and token-by-token decoding (fp32, up to rounding).
#[test]
fn kv_cache_matches_full_prefill() {
    let dir = tempfile::tempdir().unwrap();
    for name in TINY {
        let folder = tiny(name, OnnxQuant::Fp32, dir.path());
        let (mut t, _) = load(&folder, 64);
        let p = prompt_tokens(11, 12, 2048);
        t.reset().unwrap();
        let full = t.prefill(&p).unwrap();
        let scale = full.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let tol = 1e-4 * scale.max(1.0);

        t.reset().unwrap();
        t.prefill(&p[..11]).unwrap();
        let step = t.decode(p[11]).unwrap();
        assert!(max_abs_diff(&full, &step) < tol, "{name}: prefill+decode");

        t.reset().unwrap();
        t.prefill(&p[..5]).unwrap();
        let split = t.prefill(&p[5..]).unwrap();
        assert!(max_abs_diff(&full, &split) < tol, "{name}: split prefill");

        t.reset().unwrap();
        let mut last = Vec::new();
        for &tok in &p {
            last = t.decode(tok).unwrap();
        }
        assert!(max_abs_diff(&full, &last) < tol, "{name}: one at a time");
    }
}

/// The same seed gives the same function in GGUF and ONNX: greedy tokens from ONNX Runtime on
/// the fp32 folder agree with candle on the F32 GGUF on at least 99% of positions, and the
/// prefill logits agree closely.
#[test]
fn fp32_greedy_tokens_agree_with_candle_f32_gguf() {
    use edgebench_candle::CandleTarget;
    use edgebench_scenarios::{synth, Quant};
    let dir = tempfile::tempdir().unwrap();
    let (mut agree, mut total) = (0usize, 0usize);
    for name in TINY {
        let spec = Catalog::builtin().model(name).unwrap().clone();
        let gguf = dir.path().join(format!("{name}.gguf"));
        synth::write_gguf(&spec, Quant::F32, SEED, &gguf, &mut |_, _| {}).unwrap();
        let mut candle = CandleTarget::new();
        candle.load(&spec_for(&gguf)).unwrap();
        let (mut ort, _) = load(&tiny(name, OnnxQuant::Fp32, dir.path()), 64);
        let mut worst = 0.0f32;
        for seed in 0..4 {
            let prompt = prompt_tokens(100 + seed, 16, 2048);
            let (a, la) = greedy(&mut candle, &prompt, 24);
            let (b, lb) = greedy(&mut ort, &prompt, 24);
            let scale = la.iter().fold(1.0f32, |m, x| m.max(x.abs()));
            worst = worst.max(max_abs_diff(&la, &lb) / scale);
            agree += a.iter().zip(&b).filter(|(x, y)| x == y).count();
            total += a.len();
        }
        eprintln!("{name}: prefill logits differ by at most {worst:.2e} (relative)");
        assert!(worst < 1e-3, "{name}: prefill logits differ by {worst}");
    }
    let share = agree as f64 / total as f64;
    eprintln!("greedy tokens agree on {agree} of {total} positions");
    assert!(
        share >= 0.99,
        "tokens agree on {agree} of {total} positions"
    );
}

fn spec_for(path: &std::path::Path) -> edgebench_target_kit::target::LoadSpec {
    spec(path, 64)
}

/// Greedy generation of `n` tokens after `prompt`; also the prefill logits.
fn greedy(t: &mut impl Target, prompt: &[u32], n: usize) -> (Vec<u32>, Vec<f32>) {
    t.reset().unwrap();
    let first = t.prefill(prompt).unwrap();
    let mut logits = first.clone();
    let mut tokens = Vec::new();
    for _ in 0..n {
        let next = argmax(&logits).unwrap();
        tokens.push(next);
        logits = t.decode(next).unwrap();
    }
    (tokens, first)
}

/// A bad folder is a one-line error that names the file at fault.
#[test]
fn broken_folders_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = tiny("llama3-8b-tiny", OnnxQuant::Int4, dir.path());
    let copy = |name: &str| {
        let to = dir.path().join(name);
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(&good).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
        to
    };
    let error = |folder: &std::path::Path| {
        let e = target().load(&spec(folder, 64)).unwrap_err().to_string();
        assert!(!e.contains('\n'), "not one line: {e}");
        e
    };

    let no_config = copy("no-config");
    std::fs::remove_file(no_config.join("genai_config.json")).unwrap();
    let e = error(&no_config);
    assert!(
        e.contains("no-config") && e.contains("no genai_config.json"),
        "{e}"
    );

    let truncated = copy("truncated-model");
    let model = truncated.join("model.onnx");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 3]).unwrap();
    let e = error(&truncated);
    assert!(
        e.contains("model.onnx:") && e.contains("not a readable ONNX model"),
        "{e}"
    );

    let short_data = copy("truncated-data");
    let data = short_data.join("model.onnx.data");
    let len = std::fs::metadata(&data).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&data)
        .unwrap()
        .set_len(len - 1000)
        .unwrap();
    let e = error(&short_data);
    assert!(
        e.contains("model.onnx.data") && e.contains("truncated"),
        "{e}"
    );

    let e = error(&dir.path().join("nowhere"));
    assert!(e.contains("nowhere: no such folder"), "{e}");

    // A context longer than the folder's max_length is refused before anything runs.
    let e = target().load(&spec(&good, 4096)).unwrap_err().to_string();
    assert!(e.contains("max_length"), "{e}");
}

/// Without `past_present_share_buffer` the loop feeds each step's `present` back as `past`
/// (GenAI's other KV mode); the model computes the same logits either way.
#[test]
fn growing_kv_cache_gives_the_shared_buffers_logits() {
    let dir = tempfile::tempdir().unwrap();
    let shared = tiny("phi3-mini-tiny", OnnxQuant::Fp32, dir.path());
    let growing = dir.path().join("growing");
    std::fs::create_dir_all(&growing).unwrap();
    for f in std::fs::read_dir(&shared).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, growing.join(f.file_name().unwrap())).unwrap();
    }
    let cfg = growing.join("genai_config.json");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("\"past_present_share_buffer\": true"));
    std::fs::write(
        &cfg,
        text.replace(
            "\"past_present_share_buffer\": true",
            "\"past_present_share_buffer\": false",
        ),
    )
    .unwrap();
    let (mut a, _) = load(&shared, 64);
    let (mut b, _) = load(&growing, 64);
    assert!(b.info().extra["kv_cache"].starts_with("present→past"));
    let p = prompt_tokens(4, 10, 2048);
    for t in [&mut a, &mut b] {
        t.reset().unwrap();
    }
    let (la, lb) = (a.prefill(&p).unwrap(), b.prefill(&p).unwrap());
    assert!(max_abs_diff(&la, &lb) < 1e-4, "prefill");
    for tok in [3, 500, 7] {
        let (la, lb) = (a.decode(tok).unwrap(), b.decode(tok).unwrap());
        assert!(max_abs_diff(&la, &lb) < 1e-4, "decode {tok}");
    }
    // And again after a reset.
    for t in [&mut a, &mut b] {
        t.reset().unwrap();
    }
    let (la, lb) = (a.prefill(&p[..4]).unwrap(), b.prefill(&p[..4]).unwrap());
    assert!(max_abs_diff(&la, &lb) < 1e-4, "prefill after reset");
}
