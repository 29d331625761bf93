//! candle's Whisper on the tiny Whisper test shape: safetensors (F32, F16) and GGUF (Q8_0,
//! Q5_0) folders with the same seeded weights.

mod common;

use edgebench_candle::whisper::CandleWhisper;
use edgebench_scenarios::whisper::{self, cache, WhisperFormat, WhisperQuant};
use edgebench_scenarios::Catalog;
use edgebench_target_kit::conformance::relative_rms;
use edgebench_target_kit::protocol::{Request, Response, SpeechRunSpec};
use edgebench_target_kit::target::{LoadSpec, SpeechTarget};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn folder(dir: &Path, quant: WhisperQuant) -> PathBuf {
    let spec = Catalog::builtin()
        .whisper_model("whisper-tiny-test")
        .unwrap()
        .clone();
    let format = if quant.formats().contains(&WhisperFormat::Safetensors) {
        WhisperFormat::Safetensors
    } else {
        WhisperFormat::Gguf
    };
    let path = dir.join(format!("tiny-{quant}"));
    cache::write(&spec, quant, format, common::SEED, &path, &mut |_, _| {}).unwrap();
    path
}

fn spec(path: &Path) -> LoadSpec {
    LoadSpec {
        model_path: path.to_path_buf(),
        threads: common::THREADS,
        context: 80,
        options: BTreeMap::new(),
    }
}

fn clip(dir: &Path) -> PathBuf {
    let path = dir.join("clip.wav");
    whisper::audio::write_wav(&path, &whisper::audio::speech_like(1, 30)).unwrap();
    path
}

/// Encoder output and the logits of the prompt and `steps` greedy steps.
fn transcribe(t: &mut CandleWhisper, wav: &Path, steps: usize) -> (Vec<f32>, Vec<Vec<f32>>) {
    let all = edgebench_target_kit::conformance::transcribe(t, wav, 51865, steps);
    let enc = t
        .encoder_output()
        .unwrap()
        .expect("candle exposes the encoder output");
    (enc, all)
}

#[test]
fn every_format_loads_encodes_and_decodes_the_same_function() {
    let dir = tempfile::tempdir().unwrap();
    let wav = clip(dir.path());
    let mut reference: Option<(Vec<f32>, Vec<Vec<f32>>)> = None;
    // Relative RMS difference from F32 of the encoder output and the prompt's logits. Measured
    // here: F16 3e-4 / 7e-4, Q8_0 0.009 / 0.019, Q5_0 0.05 / 0.12 (random weights through
    // four blocks amplify quantization error more than trained ones do). A wrong tensor name
    // or layout gives differences of order 1.
    for (quant, tolerance) in [
        (WhisperQuant::F32, 0.0),
        (WhisperQuant::F16, 0.005),
        (WhisperQuant::Q8_0, 0.05),
        (WhisperQuant::Q5_0, 0.25),
    ] {
        let path = folder(dir.path(), quant);
        let mut t = CandleWhisper::new();
        let info = t.load(&spec(&path)).unwrap();
        assert_eq!(info.vocab_size, 51865);
        assert_eq!(info.max_context, Some(448));
        assert_eq!(info.quant.as_deref(), Some(quant.name()));
        let (enc, logits) = transcribe(&mut t, &wav, 8);
        assert_eq!(enc.len(), 1500 * 128);
        assert!(enc.iter().all(|v| v.is_finite()), "{quant}");
        assert_eq!(logits.len(), 9);
        assert!(logits.iter().flatten().all(|v| v.is_finite()), "{quant}");
        match &reference {
            None => reference = Some((enc, logits)),
            Some((enc32, logits32)) => {
                let e = relative_rms(enc32, &enc);
                let l = relative_rms(&logits32[0], &logits[0]);
                eprintln!("{quant}: encoder {e}, logits {l}");
                assert!(
                    e < tolerance && l < tolerance,
                    "{quant}: encoder {e}, logits {l}"
                );
            }
        }
    }
}

#[test]
fn missing_config_and_bad_weights_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = folder(dir.path(), WhisperQuant::F16);
    std::fs::write(path.join("model.safetensors"), b"not safetensors").unwrap();
    let e = CandleWhisper::new()
        .load(&spec(&path))
        .unwrap_err()
        .to_string();
    assert!(e.contains("tiny-f16") && e.contains("safetensors"), "{e}");
    assert!(!e.contains('\n'), "{e}");
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = CandleWhisper::new()
        .load(&spec(&empty))
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty") && e.contains("config.json"), "{e}");
}

#[test]
fn worker_serves_whisper_with_speech_flag() {
    let dir = tempfile::tempdir().unwrap();
    let wav = clip(dir.path());
    let path = folder(dir.path(), WhisperQuant::Q8_0);
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgebench-worker-candle"))
        .arg("--speech")
        .env("RAYON_NUM_THREADS", "2")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let requests = [
        Request::Info,
        Request::Load(spec(&path)),
        Request::RunSpeech(SpeechRunSpec {
            audio_path: wav,
            mel: false,
            encode: false,
            decode: 8,
        }),
        Request::Quit,
    ];
    {
        let mut stdin = child.stdin.take().unwrap();
        for r in &requests {
            writeln!(stdin, "{}", serde_json::to_string(r).unwrap()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let responses: Vec<Response> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        matches!(&responses[0], Response::Info(i) if i.architectures == ["whisper"]),
        "{:?}",
        responses[0]
    );
    assert!(
        matches!(&responses[1], Response::Loaded { .. }),
        "{:?}",
        responses[1]
    );
    let rep = responses
        .iter()
        .find_map(|r| match r {
            Response::Repetition(t) => Some(t.clone()),
            _ => None,
        })
        .expect("a repetition");
    assert_eq!((rep.mel_s, rep.encode_s), (None, None));
    assert_eq!(rep.decode_s.len(), 8);
    assert_eq!(responses.last(), Some(&Response::Bye));
}
