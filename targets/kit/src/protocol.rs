//! The line-delimited JSON protocol between the harness and a worker process.
//!
//! One JSON object per line. The harness sends a [`Request`]; the worker answers with zero or
//! more [`Response::Phase`] events and then exactly one final response (anything but `Phase`).
//! Example exchange:
//!
//! ```text
//! > {"cmd":"info"}
//! < {"event":"info","name":"candle",...}
//! > {"cmd":"load","model_path":"/m/llama.gguf","threads":2,"context":640}
//! < {"event":"loaded","load_s":0.84,"model":{"architecture":"llama",...}}
//! > {"cmd":"run","prompt":512,"gen":128,"seed":1}
//! < {"event":"phase","phase":"prefill"}
//! < {"event":"phase","phase":"decode"}
//! < {"event":"repetition","prefill_s":1.9,...}
//! ```
//!
//! A worker that dies (crash, abort, OOM kill) simply stops answering; the harness turns that
//! into a failed test with the worker's last stderr lines as the reason.

use crate::target::{LoadSpec, ModelInfo, TargetInfo};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Info,
    Load(LoadSpec),
    Run(RunSpec),
    /// Greedy generation from given tokens, returning logits too (used by `edgebench check`).
    Generate {
        prompt: Vec<u32>,
        gen: usize,
    },
    /// One repetition of a speech workload (speech workers only, see [`crate::speech`]).
    RunSpeech(SpeechRunSpec),
    /// Encoder output and first decoder logits for a given log-mel (speech workers; `check`).
    SpeechCheck(SpeechCheckSpec),
    Quit,
}

/// One repetition of a speech workload on the first 30 s window of a 16 kHz mono WAV file.
/// Steps not timed here are still run (untimed, before the timed ones) when later steps need
/// their output: a decode-only workload encodes the audio once first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct SpeechRunSpec {
    /// The WAV file; the worker reads it once with a real WAV reader (untimed).
    pub audio_path: std::path::PathBuf,
    /// Time the log-mel spectrogram (`mel_s`).
    pub mel: bool,
    /// Time the encoder (`encode_s`).
    pub encode: bool,
    /// Single-token greedy decoder steps after the decoder prompt (the start-of-transcript
    /// sequence, timed as `prefill_s`); end-of-text is ignored. 0: no decoding.
    pub decode: usize,
}

/// Input of a speech check: the same log-mel for every backend.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SpeechCheckSpec {
    /// `n_mels` rows of 3000 frames, row-major.
    pub mel: Vec<f32>,
    pub n_mels: usize,
    /// Decoder steps after the prompt whose greedy tokens are returned.
    #[serde(default)]
    pub gen: usize,
}

/// One repetition of a workload: `prompt` tokens in one batch, then `gen` single-token decodes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct RunSpec {
    pub prompt: usize,
    pub gen: usize,
    /// Seed of the prompt tokens; the same seed gives the same tokens on every target.
    pub seed: u64,
}

/// What the runner is doing, as markers on the sensor timeline.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Idle,
    Cooldown,
    Load,
    Warmup,
    Prefill,
    Decode,
    /// Speech: log-mel spectrogram of the audio.
    Mel,
    /// Speech: the audio encoder.
    Encode,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Cooldown => "cooldown",
            Phase::Load => "load",
            Phase::Warmup => "warmup",
            Phase::Prefill => "prefill",
            Phase::Decode => "decode",
            Phase::Mel => "mel",
            Phase::Encode => "encode",
        }
    }
}

/// Raw timings of one repetition, measured inside the worker around the backend calls.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RepetitionTiming {
    /// Seconds in the prefill call (absent when the workload has no prompt).
    pub prefill_s: Option<f64>,
    /// Seconds from the start of prefill until the first generated token id was known.
    pub first_token_s: Option<f64>,
    /// Seconds of each single-token decode step, including picking the next token.
    pub decode_s: Vec<f64>,
    /// Generated token ids (greedy), so runs can be checked for determinism.
    pub tokens: Vec<u32>,
    /// Peak resident memory of the worker process so far, bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Speech: seconds of audio in the window processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_s: Option<f64>,
    /// Speech: seconds computing the log-mel spectrogram.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mel_s: Option<f64>,
    /// Speech: seconds in the encoder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encode_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Response {
    Info(TargetInfo),
    Loaded {
        load_s: f64,
        model: ModelInfo,
        peak_rss_bytes: Option<u64>,
    },
    Phase {
        phase: Phase,
    },
    Repetition(RepetitionTiming),
    Generated {
        /// Logits of the last prompt position.
        prefill_logits: Vec<f32>,
        tokens: Vec<u32>,
    },
    /// Answer to [`Request::SpeechCheck`].
    SpeechChecked {
        /// Encoder output (`n_audio_ctx × n_audio_state`), where the backend exposes it.
        encoder_output: Option<Vec<f32>>,
        /// Decoder logits after the start-of-transcript prompt.
        prompt_logits: Vec<f32>,
        /// Greedy tokens of the decoder steps that followed.
        tokens: Vec<u32>,
    },
    Error {
        message: String,
    },
    Bye,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_as_single_lines() {
        let reqs = [
            Request::Info,
            Request::Run(RunSpec {
                prompt: 512,
                gen: 128,
                seed: 1,
            }),
            Request::Generate {
                prompt: vec![1, 2],
                gen: 4,
            },
            Request::RunSpeech(SpeechRunSpec {
                audio_path: "clip.wav".into(),
                mel: true,
                encode: true,
                decode: 64,
            }),
            Request::Quit,
        ];
        for r in reqs {
            let line = serde_json::to_string(&r).unwrap();
            assert!(!line.contains('\n'));
            assert_eq!(serde_json::from_str::<Request>(&line).unwrap(), r);
        }
        let run: Request =
            serde_json::from_str(r#"{"cmd":"run","prompt":8,"gen":2,"seed":3}"#).unwrap();
        assert!(matches!(
            run,
            Request::Run(RunSpec {
                prompt: 8,
                gen: 2,
                seed: 3
            })
        ));
    }
}
