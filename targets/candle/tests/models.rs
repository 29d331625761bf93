//! The tiny synthetic models of every architecture at every quantization, run through the
//! shared generation loop.

mod common;

use common::*;
use edgebench_candle::CandleTarget;
use edgebench_scenarios::Quant;
use edgebench_target_kit::protocol::RunSpec;
use edgebench_target_kit::target::Target;
use edgebench_target_kit::tokens::prompt_tokens;
use edgebench_target_kit::worker::run_repetition;

/// Load, prefill 16, decode 16 greedy tokens, twice and after a fresh load: finite logits,
/// the same tokens every time, and not one token repeated throughout.
fn generate_is_deterministic(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    for quant in Quant::ALL {
        let path = tiny(name, quant, dir.path());
        let (mut target, info) = load(&path);
        let what = format!("{name} {quant}");
        assert_eq!(info.vocab_size, 2048, "{what}");
        assert_eq!(info.quant.as_deref(), Some(quant.name()), "{what}");
        assert_eq!(info.max_context, Some(512), "{what}");
        assert!(info.weight_bytes.unwrap() > 0 && info.parameters.unwrap() > 0);

        let run = RunSpec {
            prompt: 16,
            gen: 16,
            seed: 3,
        };
        let first = run_repetition(&mut target, info.vocab_size, run, |_| {}).unwrap();
        let second = run_repetition(&mut target, info.vocab_size, run, |_| {}).unwrap();
        assert_eq!(first.tokens.len(), 16, "{what}");
        assert_eq!(
            first.tokens, second.tokens,
            "{what}: same target, same tokens"
        );
        let (mut fresh, _) = load(&path);
        let third = run_repetition(&mut fresh, info.vocab_size, run, |_| {}).unwrap();
        assert_eq!(
            first.tokens, third.tokens,
            "{what}: fresh load, same tokens"
        );
        assert_non_degenerate(&mut target, info.vocab_size, &first.tokens, &what);

        target.reset().unwrap();
        let prompt = prompt_tokens(3, 16, info.vocab_size);
        let logits = target.prefill(&prompt).unwrap();
        assert_eq!(logits.len(), info.vocab_size, "{what}");
        assert!(
            logits.iter().all(|x| x.is_finite()),
            "{what}: prefill logits"
        );
        let logits = target.decode(first.tokens[0]).unwrap();
        assert!(
            logits.iter().all(|x| x.is_finite()),
            "{what}: decode logits"
        );
    }
}

/// Generation must depend on the prompt: other prompts give other tokens, and within one run
/// the tokens vary (a regression test for synthetic Gemma weights whose tied output once
/// repeated the input token forever).
fn assert_non_degenerate(target: &mut CandleTarget, vocab: usize, tokens: &[u32], what: &str) {
    assert!(
        tokens.iter().any(|&t| t != tokens[0]),
        "{what}: degenerate generation {tokens:?}"
    );
    let others: Vec<Vec<u32>> = (10..14)
        .map(|seed| {
            let run = RunSpec {
                prompt: 16,
                gen: 4,
                seed,
            };
            run_repetition(target, vocab, run, |_| {}).unwrap().tokens
        })
        .collect();
    assert!(
        others.iter().any(|o| o[..] != tokens[..4]),
        "{what}: every prompt generates {:?}",
        &tokens[..4]
    );
}

#[test]
fn llama_generates_deterministically_at_every_quant() {
    generate_is_deterministic("llama3-8b-tiny");
}

#[test]
fn phi3_generates_deterministically_at_every_quant() {
    generate_is_deterministic("phi3-mini-tiny");
}

#[test]
fn gemma_2b_generates_deterministically_at_every_quant() {
    generate_is_deterministic("gemma-2b-tiny");
}

#[test]
fn gemma_7b_generates_deterministically_at_every_quant() {
    generate_is_deterministic("gemma-7b-tiny");
}

/// The KV cache must give the same logits as recomputing: prefill([a..z]) equals
/// prefill([a..y]) then decode(z), equals decoding every token one at a time, and equals a
/// split prefill ([a..m] then [n..z], a batch at a non-zero position). At F32 only rounding
/// differs.
#[test]
fn kv_cache_matches_full_prefill() {
    let dir = tempfile::tempdir().unwrap();
    for name in TINY {
        let path = tiny(name, Quant::F32, dir.path());
        let (mut t, info) = load(&path);
        let prompt = prompt_tokens(11, 12, info.vocab_size);
        let (last, head) = prompt.split_last().unwrap();

        t.reset().unwrap();
        let full = t.prefill(&prompt).unwrap();
        let scale = max_abs(&full).max(1.0);

        t.reset().unwrap();
        t.prefill(head).unwrap();
        let cached = t.decode(*last).unwrap();

        t.reset().unwrap();
        let mut one_by_one = Vec::new();
        for &tok in &prompt {
            one_by_one = t.decode(tok).unwrap();
        }

        t.reset().unwrap();
        t.prefill(&prompt[..5]).unwrap();
        let split = t.prefill(&prompt[5..]).unwrap();

        for (what, logits) in [
            ("prefill+decode", &cached),
            ("decode only", &one_by_one),
            ("split prefill", &split),
        ] {
            let diff = max_abs_diff(&full, logits);
            assert!(
                diff <= 1e-4 * scale,
                "{name}: {what} differs from one prefill by {diff} (logits up to {scale})"
            );
        }
        // And positions matter: the same tokens at shifted positions give other logits.
        t.reset().unwrap();
        t.prefill(&[prompt[0]]).unwrap();
        let shifted = t.prefill(&prompt).unwrap();
        assert!(max_abs_diff(&full, &shifted) > 1e-3 * scale, "{name}");
    }
}

/// One seed is one function in every format: the quantized files compute nearly what the F32
/// file computes (catches a tensor read with the wrong type or layout).
#[test]
fn quantized_logits_track_f32() {
    let dir = tempfile::tempdir().unwrap();
    for name in TINY {
        let prompt = prompt_tokens(5, 16, 2048);
        let logits = |quant| {
            let (mut t, _) = load(&tiny(name, quant, dir.path()));
            t.prefill(&prompt).unwrap()
        };
        let reference = logits(Quant::F32);
        for quant in [
            Quant::F16,
            Quant::Q8_0,
            Quant::Q5KM,
            Quant::Q4KM,
            Quant::Q4_0,
        ] {
            let c = correlation(&reference, &logits(quant));
            eprintln!("{name} {quant}: correlation with f32 logits {c:.5}");
            // 4- and 5-bit weights: Gemma's synthetic residual branches are large (so its tied
            // output does not just echo the input token), which lets quantization noise reach
            // the logits more than in the other models (about 0.97 measured).
            let floor = match quant {
                Quant::F16 | Quant::Q8_0 => 0.999,
                _ => 0.95,
            };
            assert!(c > floor, "{name} {quant}: correlation {c} with f32");
        }
    }
}

fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let mean = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let (ma, mb) = (mean(a), mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64 - ma, y as f64 - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    sab / (saa * sbb).sqrt()
}

/// Decoding from position 0 without a prompt (llama-bench's tg test) works for every
/// architecture, and reset really forgets the sequence.
#[test]
fn decode_from_empty_and_reset() {
    let dir = tempfile::tempdir().unwrap();
    for name in TINY {
        let (mut t, info) = load(&tiny(name, Quant::Q8_0, dir.path()));
        let run = RunSpec {
            prompt: 0,
            gen: 8,
            seed: 1,
        };
        let a = run_repetition(&mut t, info.vocab_size, run, |_| {}).unwrap();
        let b = run_repetition(&mut t, info.vocab_size, run, |_| {}).unwrap();
        assert_eq!(a.tokens, b.tokens, "{name}");
        assert!(a.prefill_s.is_none());

        let prompt = prompt_tokens(2, 6, info.vocab_size);
        t.reset().unwrap();
        let first = t.prefill(&prompt).unwrap();
        t.decode(9).unwrap();
        t.reset().unwrap();
        let again = t.prefill(&prompt).unwrap();
        assert_eq!(first, again, "{name}: reset must forget the sequence");
    }
}

/// The roofline's bytes per token: every tensor, less an untied model's embedding (only looked
/// up), as the llama.cpp and ONNX Runtime targets count them.
#[test]
fn weight_bytes_leave_out_an_untied_embedding() {
    use candle_core::quantized::gguf_file::Content;
    use edgebench_scenarios::gguf;
    let dir = tempfile::tempdir().unwrap();
    for (name, tied) in [("llama3-8b-tiny", false), ("gemma-2b-tiny", true)] {
        let path = tiny(name, Quant::Q8_0, dir.path());
        let (_target, info) = load(&path);
        let content = Content::read(&mut std::fs::File::open(&path).unwrap()).unwrap();
        let total = gguf::total_bytes(&content);
        let embd = gguf::tensor_bytes(&content.tensor_infos["token_embd.weight"]);
        let expected = if tied { total } else { total - embd };
        assert_eq!(info.weight_bytes, Some(expected), "{name}");
    }
}
