//! Deterministic prompt tokens and greedy sampling, shared by every target so the work is
//! identical across backends and runs.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` pseudo-random token ids in `[first_ordinary, vocab)` from `seed`. Ids below
/// `first_ordinary` are left out because synthetic vocabularies keep control and byte tokens
/// there (as llama-bench does with its random prompt tokens, only reproducibly).
pub fn prompt_tokens(seed: u64, n: usize, vocab: usize) -> Vec<u32> {
    let first_ordinary = if vocab > 512 { 259 } else { 0 };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| rng.random_range(first_ordinary as u32..vocab as u32))
        .collect()
}

/// Index of the largest logit (the first one on ties); `None` when the logits are empty or
/// hold a NaN.
pub fn argmax(logits: &[f32]) -> Option<u32> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &v) in logits.iter().enumerate() {
        if v.is_nan() {
            return None;
        }
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_is_deterministic_and_in_range() {
        let a = prompt_tokens(7, 100, 32000);
        assert_eq!(a, prompt_tokens(7, 100, 32000));
        assert_ne!(a, prompt_tokens(8, 100, 32000));
        assert!(a.iter().all(|&t| (259..32000).contains(&t)));
    }

    #[test]
    fn argmax_picks_first_max_and_rejects_nan() {
        assert_eq!(argmax(&[0.0, 2.0, 2.0, -1.0]), Some(1));
        assert_eq!(argmax(&[]), None);
        assert_eq!(argmax(&[1.0, f32::NAN]), None);
    }
}
