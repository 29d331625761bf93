//! Speech workloads (Whisper): the one measuring loop every speech backend runs in its worker,
//! and the metrics the harness derives from it.
//!
//! A repetition works on the first 30 s window of a 16 kHz WAV file:
//!
//! 1. **mel**: the backend's own log-mel spectrogram of the PCM (`mel_s`);
//! 2. **encode**: the audio encoder over the 30 s window (`encode_s`);
//! 3. **decoder prompt**: the start-of-transcript sequence (`<|startoftranscript|><|en|>
//!    <|transcribe|><|notimestamps|>`, or `<|startoftranscript|><|notimestamps|>` for an
//!    English-only vocabulary) in one decoder call (`prefill_s`);
//! 4. **decoder steps**: N single-token greedy steps with the KV cache (`decode_s`, one entry a
//!    step). End-of-text is ignored, so every repetition and every backend does the same work.
//!
//! Only the backend calls (and the greedy pick) are timed; reading the WAV file is not. A
//! workload that does not time a step still runs it, untimed and before the timed ones, when
//! a later step needs it (decode-only workloads encode once first).
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

use crate::audio::{self, Audio};
use crate::protocol::{Phase, RepetitionTiming, Request, Response, SpeechRunSpec};
use crate::sampler::Sampler;
use crate::schema::metric;
use crate::stats;
use crate::target::{SpeechTarget, TargetError, TargetResult};
use crate::worker::{peak_rss_bytes, pick, protocol_output, send, serve_with};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Instant;

/// Serve a speech backend's requests from stdin until `quit` or end of input. Exits with 0.
pub fn main<T: SpeechTarget>(target: T) -> ! {
    let out = protocol_output();
    let stdin = std::io::stdin();
    serve(target, stdin.lock(), out);
    std::process::exit(0)
}

/// Serve requests read from `input`, writing responses to `output`.
pub fn serve<T: SpeechTarget>(mut target: T, input: impl BufRead, output: impl Write) {
    let mut state = State::default();
    serve_with(input, output, |request, output| {
        handle(&mut target, &mut state, request, output)
    });
}

/// What the worker holds between requests.
#[derive(Default)]
pub struct State {
    /// Vocabulary of the loaded model; 0 when none is loaded.
    vocab: usize,
    /// Decoder context of the loaded model.
    max_context: usize,
    /// The clip last read, by path.
    audio: Option<(PathBuf, Audio)>,
    /// Which clip the backend's current log-mel was computed from.
    mel_of: Option<PathBuf>,
    /// Which clip the backend's current encoder output belongs to.
    encoded: Option<PathBuf>,
}

impl State {
    /// A fresh state for a model with this vocabulary and decoder context.
    pub fn for_model(vocab: usize, max_context: usize) -> Self {
        Self {
            vocab,
            max_context,
            ..Default::default()
        }
    }
}

fn handle<T: SpeechTarget>(
    target: &mut T,
    state: &mut State,
    request: Request,
    output: &mut impl Write,
) -> TargetResult<Response> {
    match request {
        Request::Info => Ok(Response::Info(target.info())),
        Request::Load(spec) => {
            *state = State::default();
            let start = Instant::now();
            let model = target.load(&spec)?;
            let load_s = start.elapsed().as_secs_f64();
            *state = State::for_model(model.vocab_size, model.max_context.unwrap_or(0));
            Ok(Response::Loaded {
                load_s,
                model,
                peak_rss_bytes: peak_rss_bytes(),
            })
        }
        Request::RunSpeech(spec) => {
            let timing = run_repetition(target, state, &spec, |phase| {
                send(output, &Response::Phase { phase })
            })?;
            Ok(Response::Repetition(timing))
        }
        Request::SpeechCheck(spec) => {
            let prompt = loaded_prompt(state)?;
            state.mel_of = None;
            state.encoded = None;
            target.set_mel(&spec.mel, spec.n_mels)?;
            target.encode()?;
            let encoder_output = target.encoder_output()?;
            target.reset_decoder()?;
            let prompt_logits = target.decode(&prompt)?;
            let mut next = pick(&prompt_logits)?;
            let mut tokens = Vec::with_capacity(spec.gen);
            for _ in 0..spec.gen {
                tokens.push(next);
                next = pick(&target.decode(&[next])?)?;
            }
            Ok(Response::SpeechChecked {
                encoder_output,
                prompt_logits,
                tokens,
            })
        }
        Request::Run(_) | Request::Generate { .. } => Err(TargetError::Unsupported(
            "language-model requests: this worker runs speech models".into(),
        )),
        Request::Quit => unreachable!("handled by serve_with"),
    }
}

fn loaded_prompt(state: &State) -> TargetResult<Vec<u32>> {
    if state.vocab == 0 {
        return Err(TargetError::NotLoaded);
    }
    decoder_prompt(state.vocab).ok_or_else(|| {
        TargetError::Unsupported(format!(
            "a vocabulary of {} tokens: Whisper's has 51864 (English) or 51865+ (multilingual)",
            state.vocab
        ))
    })
}

/// One repetition of a speech workload; see the module documentation.
pub fn run_repetition<T: SpeechTarget>(
    target: &mut T,
    state: &mut State,
    spec: &SpeechRunSpec,
    mut on_phase: impl FnMut(Phase),
) -> TargetResult<RepetitionTiming> {
    let prompt = loaded_prompt(state)?;
    if spec.decode > 0 && prompt.len() + spec.decode > state.max_context {
        return Err(TargetError::Unsupported(format!(
            "{} decoder steps after a {}-token prompt: the decoder holds {} tokens",
            spec.decode,
            prompt.len(),
            state.max_context
        )));
    }
    // Untimed: read the clip (once per path).
    let path = spec.audio_path.clone();
    if state.audio.as_ref().is_none_or(|(p, _)| *p != path) {
        let clip = audio::read_wav(&path).map_err(|e| TargetError::Backend(e.to_string()))?;
        state.audio = Some((path.clone(), clip));
        state.mel_of = None;
        state.encoded = None;
    }
    let window = state.audio.as_ref().expect("just read").1.window().to_vec();
    let window = window.as_slice();
    let mut timing = RepetitionTiming {
        audio_s: Some(window.len() as f64 / audio::SAMPLE_RATE as f64),
        ..Default::default()
    };
    let need_encoder = spec.decode > 0 && state.encoded.as_ref() != Some(&path);
    // Untimed set-up of what the timed steps need.
    if !spec.mel && (spec.encode || need_encoder) && state.mel_of.as_ref() != Some(&path) {
        target.mel(window)?;
        state.mel_of = Some(path.clone());
    }
    if !spec.encode && need_encoder {
        target.encode()?;
        state.encoded = Some(path.clone());
    }
    if spec.mel {
        on_phase(Phase::Mel);
        let start = Instant::now();
        target.mel(window)?;
        timing.mel_s = Some(start.elapsed().as_secs_f64());
        state.mel_of = Some(path.clone());
        state.encoded = None;
    }
    if spec.encode {
        on_phase(Phase::Encode);
        let start = Instant::now();
        target.encode()?;
        timing.encode_s = Some(start.elapsed().as_secs_f64());
        state.encoded = Some(path.clone());
    }
    if spec.decode > 0 {
        target.reset_decoder()?;
        on_phase(Phase::Prefill);
        let start = Instant::now();
        let logits = target.decode(&prompt)?;
        let mut next = pick(&logits)?;
        timing.prefill_s = Some(start.elapsed().as_secs_f64());
        on_phase(Phase::Decode);
        timing.decode_s.reserve(spec.decode);
        for _ in 0..spec.decode {
            let start = Instant::now();
            let logits = target.decode(&[next])?;
            next = pick(&logits)?;
            timing.decode_s.push(start.elapsed().as_secs_f64());
            timing.tokens.push(next);
        }
    }
    on_phase(Phase::Idle);
    timing.peak_rss_bytes = peak_rss_bytes();
    Ok(timing)
}

/// The decoder prompt for a Whisper vocabulary of `n_vocab` tokens, with whisper.cpp's token
/// ids (`whisper_vocab` in whisper.cpp; the same ids as Hugging Face's tokenizers):
/// multilingual `[<|startoftranscript|>, <|en|>, <|transcribe|>, <|notimestamps|>]`,
/// English-only `[<|startoftranscript|>, <|notimestamps|>]`. `None` for other vocabularies.
pub fn decoder_prompt(n_vocab: usize) -> Option<Vec<u32>> {
    match n_vocab {
        51864 => Some(vec![50257, 50362]),
        n if n >= 51865 => {
            // Languages beyond large-v2's 99 shift the task tokens (large-v3 has 100).
            let languages = (n - 51765 - 1) as u32;
            let dt = languages - 98;
            Some(vec![50258, 50259, 50358 + dt, 50362 + dt])
        }
        _ => None,
    }
}

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
    use crate::target::{LoadSpec, ModelInfo, TargetInfo};

    /// A speech backend that only counts calls: for testing the loop, never listed or run.
    #[derive(Default)]
    struct Counting {
        mels: usize,
        encodes: usize,
        decoded: Vec<Vec<u32>>,
    }

    impl SpeechTarget for Counting {
        fn info(&self) -> TargetInfo {
            TargetInfo::default()
        }
        fn load(&mut self, _: &LoadSpec) -> TargetResult<ModelInfo> {
            Ok(ModelInfo {
                vocab_size: 51865,
                max_context: Some(448),
                ..Default::default()
            })
        }
        fn mel(&mut self, _: &[f32]) -> TargetResult<()> {
            self.mels += 1;
            Ok(())
        }
        fn set_mel(&mut self, _: &[f32], _: usize) -> TargetResult<()> {
            Ok(())
        }
        fn encode(&mut self) -> TargetResult<()> {
            self.encodes += 1;
            Ok(())
        }
        fn encoder_output(&mut self) -> TargetResult<Option<Vec<f32>>> {
            Ok(None)
        }
        fn decode(&mut self, tokens: &[u32]) -> TargetResult<Vec<f32>> {
            self.decoded.push(tokens.to_vec());
            let mut logits = vec![0.0; 51865];
            logits[(tokens[0] as usize * 7 + 1) % 51865] = 1.0;
            Ok(logits)
        }
        fn reset_decoder(&mut self) -> TargetResult<()> {
            Ok(())
        }
    }

    fn clip(dir: &std::path::Path) -> PathBuf {
        let path = dir.join("clip.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..16_000 {
            w.write_sample(((i % 50) * 100) as i16).unwrap();
        }
        w.finalize().unwrap();
        path
    }

    #[test]
    fn prompts_use_whisper_cpp_token_ids() {
        assert_eq!(
            decoder_prompt(51865),
            Some(vec![50258, 50259, 50359, 50363])
        );
        assert_eq!(
            decoder_prompt(51866),
            Some(vec![50258, 50259, 50360, 50364])
        );
        assert_eq!(decoder_prompt(51864), Some(vec![50257, 50362]));
        assert_eq!(decoder_prompt(32000), None);
    }

    #[test]
    fn decode_only_encodes_once_untimed_then_times_steps() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Counting::default();
        let mut state = State::for_model(51865, 448);
        let spec = SpeechRunSpec {
            audio_path: clip(dir.path()),
            decode: 8,
            ..Default::default()
        };
        let mut phases = Vec::new();
        for _ in 0..2 {
            let timing = run_repetition(&mut t, &mut state, &spec, |p| phases.push(p)).unwrap();
            assert_eq!(timing.decode_s.len(), 8);
            assert_eq!(timing.tokens.len(), 8);
            assert_eq!((timing.mel_s, timing.encode_s), (None, None));
            assert_eq!(timing.audio_s, Some(1.0));
            let m = repetition_metrics(&timing, &spec);
            assert!(m.contains_key(metric::TG_TPS) && !m.contains_key(metric::RTF));
        }
        assert_eq!((t.mels, t.encodes), (1, 1));
        assert_eq!(t.decoded[0], vec![50258, 50259, 50359, 50363]);
        assert_eq!(
            phases,
            [Phase::Prefill, Phase::Decode, Phase::Idle].repeat(2)
        );
    }

    #[test]
    fn transcribe_times_every_step_and_gives_rtf() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Counting::default();
        let mut state = State::for_model(51865, 448);
        let spec = SpeechRunSpec {
            audio_path: clip(dir.path()),
            mel: true,
            encode: true,
            decode: 4,
        };
        let mut phases = Vec::new();
        let timing = run_repetition(&mut t, &mut state, &spec, |p| phases.push(p)).unwrap();
        assert_eq!((t.mels, t.encodes), (1, 1));
        assert_eq!(
            phases,
            [
                Phase::Mel,
                Phase::Encode,
                Phase::Prefill,
                Phase::Decode,
                Phase::Idle
            ]
        );
        let m = repetition_metrics(&timing, &spec);
        let rtf = m[metric::RTF];
        assert!((rtf * m[metric::RTF_INVERSE] - 1.0).abs() < 1e-9);
        assert!((m[metric::TRANSCRIBE_S] * rtf - 1.0).abs() < 1e-9);
        assert_eq!(headline(&spec), metric::RTF);
    }

    #[test]
    fn too_many_steps_and_bad_audio_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Counting::default();
        let mut state = State::for_model(51865, 448);
        let spec = SpeechRunSpec {
            audio_path: clip(dir.path()),
            decode: 445,
            ..Default::default()
        };
        let e = run_repetition(&mut t, &mut state, &spec, |_| {}).unwrap_err();
        assert!(e.to_string().contains("holds 448 tokens"), "{e}");
        let spec = SpeechRunSpec {
            audio_path: dir.path().join("none.wav"),
            encode: true,
            ..Default::default()
        };
        let e = run_repetition(&mut t, &mut state, &spec, |_| {}).unwrap_err();
        assert!(e.to_string().contains("none.wav"), "{e}");
    }

    #[test]
    fn worker_answers_protocol_lines() {
        let dir = tempfile::tempdir().unwrap();
        let audio = clip(dir.path());
        let lines = [
            r#"{"cmd":"load","model_path":"m.bin","threads":1,"context":68}"#.to_string(),
            serde_json::to_string(&Request::RunSpeech(SpeechRunSpec {
                audio_path: audio,
                mel: true,
                encode: true,
                decode: 2,
            }))
            .unwrap(),
            r#"{"cmd":"run","prompt":1,"gen":1,"seed":1}"#.to_string(),
            r#"{"cmd":"quit"}"#.to_string(),
        ]
        .join("\n");
        let mut out = Vec::new();
        serve(Counting::default(), lines.as_bytes(), &mut out);
        let responses: Vec<Response> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(matches!(responses[0], Response::Loaded { .. }));
        let phases = responses
            .iter()
            .filter(|r| matches!(r, Response::Phase { .. }))
            .count();
        assert_eq!(phases, 5);
        assert!(matches!(&responses[6], Response::Repetition(t) if t.decode_s.len() == 2));
        assert!(
            matches!(&responses[7], Response::Error { message } if message.contains("speech models"))
        );
        assert_eq!(responses[8], Response::Bye);
    }
}
