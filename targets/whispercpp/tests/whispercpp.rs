//! whisper.cpp on the tiny Whisper test shape, in whisper.cpp's own file format.

use edgebench_scenarios::whisper::{self, ggml, WhisperQuant};
use edgebench_scenarios::Catalog;
use edgebench_target_kit::conformance;
use edgebench_target_kit::protocol::{Request, Response, SpeechRunSpec};
use edgebench_target_kit::target::{LoadSpec, SpeechTarget};
use edgebench_whispercpp::WhisperCppTarget;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SEED: u64 = 11;

fn tiny_file(dir: &Path, quant: WhisperQuant) -> PathBuf {
    let spec = Catalog::builtin()
        .whisper_model("whisper-tiny-test")
        .unwrap()
        .clone();
    let path = dir.join(format!("ggml-tiny-test-{quant}.bin"));
    ggml::write(&spec, quant, SEED, &path, &mut |_, _| {}).unwrap();
    path
}

fn clip(dir: &Path) -> PathBuf {
    let path = dir.join("clip.wav");
    whisper::audio::write_wav(&path, &whisper::audio::speech_like(1, 30)).unwrap();
    path
}

fn spec(path: &Path) -> LoadSpec {
    LoadSpec {
        model_path: path.to_path_buf(),
        threads: 2,
        context: 80,
        options: BTreeMap::new(),
    }
}

/// Encode the clip and decode the prompt plus `steps` greedy tokens; returns the logits of
/// every step.
fn transcribe(t: &mut WhisperCppTarget, wav: &Path, steps: usize) -> Vec<Vec<f32>> {
    conformance::transcribe(t, wav, 51865, steps)
}

#[test]
fn every_quant_loads_encodes_and_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let wav = clip(dir.path());
    for quant in [WhisperQuant::F16, WhisperQuant::Q8_0, WhisperQuant::Q5_0] {
        let path = tiny_file(dir.path(), quant);
        let mut t = WhisperCppTarget::new();
        let info = t.load(&spec(&path)).unwrap();
        assert_eq!(info.vocab_size, 51865);
        assert_eq!(info.max_context, Some(448));
        assert_eq!(info.quant.as_deref(), Some(quant.name()));
        let logits = transcribe(&mut t, &wav, 8);
        assert_eq!(logits.len(), 9);
        for l in &logits {
            assert_eq!(l.len(), 51865);
            assert!(
                l.iter().all(|v| v.is_finite()),
                "{quant}: non-finite logits"
            );
        }
        // Not a constant function: the prompt's logits vary across the vocabulary.
        let (min, max) = logits[0]
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(max - min > 1e-3, "{quant}: flat logits");
        // Deterministic: the same work gives the same logits.
        assert_eq!(transcribe(&mut t, &wav, 8), logits, "{quant}");
    }
}

#[test]
fn flash_attention_off_computes_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let wav = clip(dir.path());
    let path = tiny_file(dir.path(), WhisperQuant::F16);
    let mut on = WhisperCppTarget::new();
    on.load(&spec(&path)).unwrap();
    let mut off = WhisperCppTarget::new();
    let mut s = spec(&path);
    s.options.insert("flash_attn".into(), "off".into());
    off.load(&s).unwrap();
    let (a, b) = (transcribe(&mut on, &wav, 2), transcribe(&mut off, &wav, 2));
    // Close, not equal: ggml's CPU flash attention accumulates the 1500 cross-attention
    // values in F16.
    let rel = conformance::relative_rms(&a[0], &b[0]);
    assert!(rel < 0.05, "relative RMS difference {rel}");
    let mut bad = spec(&path);
    bad.options.insert("flash_attn".into(), "maybe".into());
    let e = WhisperCppTarget::new().load(&bad).unwrap_err().to_string();
    assert!(e.contains("flash_attn=maybe"), "{e}");
}

#[test]
fn truncated_and_f32_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_file(dir.path(), WhisperQuant::F16);
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("ggml-cut.bin");
    std::fs::write(&cut, &bytes[..bytes.len() - 4096]).unwrap();
    let e = WhisperCppTarget::new()
        .load(&spec(&cut))
        .unwrap_err()
        .to_string();
    assert!(e.contains("ggml-cut.bin") && e.contains("truncated"), "{e}");
    assert!(!e.contains('\n'), "{e}");

    let f32 = tiny_file(dir.path(), WhisperQuant::F32);
    let e = WhisperCppTarget::new()
        .load(&spec(&f32))
        .unwrap_err()
        .to_string();
    assert!(e.contains("f32") && e.contains("aborts"), "{e}");
}

/// The worker binary speaks the protocol: a transcribe repetition with every step timed.
#[test]
fn worker_runs_a_transcription() {
    let dir = tempfile::tempdir().unwrap();
    let wav = clip(dir.path());
    let path = tiny_file(dir.path(), WhisperQuant::Q8_0);
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgebench-worker-whispercpp"))
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
            mel: true,
            encode: true,
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
    assert!(matches!(&responses[0], Response::Info(i) if i.name == "whispercpp"));
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
    assert!(rep.mel_s.unwrap() > 0.0 && rep.encode_s.unwrap() > 0.0);
    assert!(rep.prefill_s.unwrap() > 0.0);
    assert_eq!(rep.decode_s.len(), 8);
    assert_eq!(rep.audio_s, Some(30.0));
    assert_eq!(responses.last(), Some(&Response::Bye));
}

/// whisper.cpp's own build runs ggml's threads through OpenMP; a build without it measured
/// the encoder 1.5x slower than whisper-bench on the same file (docs/fidelity.md). The build
/// flags every result records must say OpenMP is in.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn built_with_openmp_as_whisper_cpp_is() {
    let info = WhisperCppTarget::new().info();
    assert!(
        info.build_flags.iter().any(|f| f == "openmp"),
        "whisper.cpp built without OpenMP: {:?} ({})",
        info.build_flags,
        info.extra["system_info"]
    );
}

#[test]
fn whispercpp_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_file(dir.path(), WhisperQuant::Q8_0);
    conformance::speech(WhisperCppTarget::new, &path, &spec(&path));
}

#[test]
fn whispercpp_worker_reports_its_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_file(dir.path(), WhisperQuant::Q8_0);
    conformance::worker_crash(
        env!("CARGO_BIN_EXE_edgebench-worker-whispercpp").as_ref(),
        &[],
        &spec(&path),
        &Request::RunSpeech(SpeechRunSpec {
            audio_path: clip(dir.path()),
            mel: true,
            encode: true,
            decode: 2,
        }),
    );
}
