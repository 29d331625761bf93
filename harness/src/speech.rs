//! Speech workloads (Whisper), harness side: the metrics derived from a repetition's raw timings.
//! The measuring loop runs inside the worker ([`edgebench_target_kit::speech`], re-exported
//! here so `edgebench_harness::speech::…` paths keep working).
//!
//! # Metrics
//! - `rtf`: **real-time factor as "× real time"**: seconds of audio ÷ seconds to transcribe them
//!   (mel + encoder + decoder prompt + decoder steps). **Higher is better**; 4 means four times
//!   faster than real time. Only for workloads that run all steps (`transcribe-30s`).
//! - `rtf_inverse`: its reciprocal, seconds of compute per second of audio, the way ASR papers
//!   define RTF. **Lower is better**; below 1 is faster than real time.
//! - `mel_s`, `encode_s`, `transcribe_s`: seconds of each timed part and of all of them.
//! - `tg_tps`: decoder steps per second (the decoder t/s), and `itl_*` the step latencies.
//! - `j_per_audio_s`: joules per second of audio over the timed work, and `decode_j_per_token`,
//!   where the device measures energy.

pub use edgebench_target_kit::speech::*;

use crate::protocol::{Phase, RepetitionTiming, SpeechRunSpec};
use crate::sampler::Sampler;
use crate::schema::metric;
use crate::stats;
use std::collections::BTreeMap;

/// The metric the runner repeats a speech workload until its CI is narrow enough.
pub fn headline(spec: &SpeechRunSpec) -> &'static str {
    match (spec.mel, spec.encode, spec.decode) {
        (true, true, d) if d > 0 => metric::RTF,
        (_, _, d) if d > 0 => metric::TG_TPS,
        (_, true, _) => metric::ENCODE_S,
        _ => metric::MEL_S,
    }
}

/// Metrics of one speech repetition from its raw timings.
pub fn repetition_metrics(t: &RepetitionTiming, spec: &SpeechRunSpec) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    if let Some(s) = t.mel_s {
        m.insert(metric::MEL_S.into(), s);
    }
    if let Some(s) = t.encode_s {
        m.insert(metric::ENCODE_S.into(), s);
    }
    let steps: f64 = t.decode_s.iter().sum();
    if !t.decode_s.is_empty() && steps > 0.0 {
        m.insert(metric::TG_TPS.into(), t.decode_s.len() as f64 / steps);
        for (name, p) in [
            (metric::ITL_P50_S, 50.0),
            (metric::ITL_P90_S, 90.0),
            (metric::ITL_P99_S, 99.0),
        ] {
            m.insert(name.into(), stats::percentile(&t.decode_s, p));
        }
    }
    let full = spec.mel && spec.encode && spec.decode > 0;
    let total =
        t.mel_s.unwrap_or(0.0) + t.encode_s.unwrap_or(0.0) + t.prefill_s.unwrap_or(0.0) + steps;
    if let Some(audio_s) = t.audio_s.filter(|&a| full && a > 0.0 && total > 0.0) {
        m.insert(metric::TRANSCRIBE_S.into(), total);
        m.insert(metric::RTF.into(), audio_s / total);
        m.insert(metric::RTF_INVERSE.into(), total / audio_s);
    }
    m
}

/// Energy metrics of one speech repetition, where the device measures energy and the span
/// lasted long enough (≥ 0.2 s) to mean something: joules per second of audio over all timed
/// steps, and joules per decoder step.
pub fn add_energy_metrics(
    m: &mut BTreeMap<String, f64>,
    sampler: &Sampler,
    spans: &[(Phase, f64)],
    end: f64,
    timing: &RepetitionTiming,
) {
    let timed = |p: Phase| {
        matches!(
            p,
            Phase::Mel | Phase::Encode | Phase::Prefill | Phase::Decode
        )
    };
    let Some(first) = spans.iter().find(|(p, _)| timed(*p)).map(|s| s.1) else {
        return;
    };
    let last = spans
        .iter()
        .rev()
        .find(|(p, _)| *p == Phase::Idle)
        .map_or(end, |s| s.1)
        .max(first);
    // A closing sample, so the energy covers the whole span (see the runner's twin).
    sampler.sample_through(end);
    let window = sampler.window(first, end);
    if let Some(audio_s) = timing.audio_s.filter(|&a| a > 0.0) {
        if last - first >= 0.2 {
            if let Some(j) = window.energy_between(first, last) {
                m.insert(metric::J_PER_AUDIO_S.into(), j / audio_s);
            }
        }
    }
    for (i, &(phase, start)) in spans.iter().enumerate() {
        let stop = spans.get(i + 1).map_or(end, |s| s.1);
        if phase != Phase::Decode || stop - start < 0.2 || timing.decode_s.is_empty() {
            continue;
        }
        if let Some(j) = window.energy_between(start, stop) {
            m.insert(
                metric::DECODE_J_PER_TOKEN.into(),
                j / timing.decode_s.len() as f64,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mel: bool, encode: bool, decode: usize) -> SpeechRunSpec {
        SpeechRunSpec {
            audio_path: "clip.wav".into(),
            mel,
            encode,
            decode,
        }
    }

    #[test]
    fn decode_only_gives_step_rates_but_no_rtf() {
        let t = RepetitionTiming {
            prefill_s: Some(0.01),
            decode_s: vec![0.02; 8],
            tokens: vec![1; 8],
            audio_s: Some(1.0),
            ..Default::default()
        };
        let m = repetition_metrics(&t, &spec(false, false, 8));
        assert!((m[metric::TG_TPS] - 50.0).abs() < 1e-9);
        assert!(m.contains_key(metric::ITL_P50_S) && !m.contains_key(metric::RTF));
        assert_eq!(headline(&spec(false, false, 8)), metric::TG_TPS);
    }

    #[test]
    fn transcribe_gives_rtf_and_its_inverse() {
        let t = RepetitionTiming {
            mel_s: Some(0.1),
            encode_s: Some(0.2),
            prefill_s: Some(0.1),
            decode_s: vec![0.1; 4],
            tokens: vec![1; 4],
            audio_s: Some(1.0),
            ..Default::default()
        };
        let s = spec(true, true, 4);
        let m = repetition_metrics(&t, &s);
        let rtf = m[metric::RTF];
        assert!((m[metric::TRANSCRIBE_S] - 0.8).abs() < 1e-9);
        assert!((rtf * m[metric::RTF_INVERSE] - 1.0).abs() < 1e-9);
        assert!((m[metric::TRANSCRIBE_S] * rtf - 1.0).abs() < 1e-9);
        assert_eq!(headline(&s), metric::RTF);
        assert_eq!(headline(&spec(false, true, 0)), metric::ENCODE_S);
        assert_eq!(headline(&spec(true, false, 0)), metric::MEL_S);
    }
}
