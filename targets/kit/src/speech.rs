//! Speech workloads (Whisper): the one measuring loop every speech backend runs in its worker.
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
//! The metrics derived from these timings (`rtf`, `tg_tps`…) are computed by the harness
//! (`edgebench_target_kit::speech`), not here: a worker only measures.

use crate::audio::{self, Audio};
use crate::protocol::{Phase, RepetitionTiming, Request, Response, SpeechRunSpec};
use crate::target::{SpeechTarget, TargetError, TargetResult};
use crate::worker::{peak_rss_bytes, pick, protocol_output, send, serve_with};
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
        audio::write_test_wav(&path, 1.0).unwrap();
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
        }
        assert_eq!((t.mels, t.encodes), (1, 1));
        assert_eq!(t.decoded[0], vec![50258, 50259, 50359, 50363]);
        assert_eq!(
            phases,
            [Phase::Prefill, Phase::Decode, Phase::Idle].repeat(2)
        );
    }

    #[test]
    fn transcribe_times_every_step() {
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
        assert!(timing.mel_s.is_some() && timing.encode_s.is_some() && timing.prefill_s.is_some());
        assert_eq!(timing.decode_s.len(), 4);
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
