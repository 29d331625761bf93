//! The standard audio clip: 30 s of a deterministic speech-like signal, 16 kHz mono, written as
//! a 16-bit WAV file when first needed (no file ships with edgebench, none is downloaded).
//!
//! The signal is built like a formant synthesizer's: syllables of a glottal pulse train (pitch
//! 90–220 Hz with a falling contour and vibrato) through three vowel formant resonators, some
//! with a noise-burst consonant in front, grouped into words and sentences with pauses. It has
//! speech's spectrum and rhythm, so the log-mel spectrogram looks like speech's; Whisper's cost
//! does not depend on what is said (the window and the decoder steps are fixed), but real
//! speech can be passed with `--audio`.

use anyhow::Context;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

pub const SAMPLE_RATE: u32 = 16_000;
/// Length of the standard clip: one Whisper window.
pub const CLIP_SECONDS: usize = 30;
/// Bump when the samples written for a seed change.
pub const CLIP_VERSION: u32 = 1;

/// Vowel formants (F1, F2, F3) in Hz, after Peterson & Barney (1952), adult male averages.
const VOWELS: [(f32, f32, f32); 8] = [
    (270.0, 2290.0, 3010.0), // i
    (390.0, 1990.0, 2550.0), // ɪ
    (530.0, 1840.0, 2480.0), // ɛ
    (660.0, 1720.0, 2410.0), // æ
    (730.0, 1090.0, 2440.0), // ɑ
    (570.0, 840.0, 2410.0),  // ɔ
    (440.0, 1020.0, 2240.0), // ʊ
    (300.0, 870.0, 2240.0),  // u
];

/// A two-pole resonator (band-pass) at `freq` Hz with bandwidth `bw` Hz.
struct Resonator {
    a1: f32,
    a2: f32,
    gain: f32,
    y1: f32,
    y2: f32,
}

impl Resonator {
    fn new(freq: f32, bw: f32) -> Self {
        let sr = SAMPLE_RATE as f32;
        let r = (-std::f32::consts::PI * bw / sr).exp();
        let theta = 2.0 * std::f32::consts::PI * freq / sr;
        Self {
            a1: 2.0 * r * theta.cos(),
            a2: -r * r,
            gain: 1.0 - r,
            y1: 0.0,
            y2: 0.0,
        }
    }

    fn step(&mut self, x: f32) -> f32 {
        let y = self.gain * x + self.a1 * self.y1 + self.a2 * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// `seconds` of the speech-like signal for `seed`, peak-normalised to 0.5.
pub fn speech_like(seed: u64, seconds: usize) -> Vec<f32> {
    let sr = SAMPLE_RATE as usize;
    let n = seconds * sr;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eec_4c11);
    let mut out = vec![0.0f32; n];
    let mut pos = sr / 5; // a little lead-in silence
    while pos < n {
        // A sentence: 3-9 words, pitch falling over it.
        let words = rng.random_range(3..10);
        let base_f0: f32 = rng.random_range(90.0..160.0);
        for w in 0..words {
            let syllables = rng.random_range(1..4);
            for _ in 0..syllables {
                if pos >= n {
                    break;
                }
                // Optional consonant: a noise burst through a high resonator.
                if rng.random_bool(0.6) {
                    let len = rng.random_range(sr / 40..sr / 12);
                    let mut fric = Resonator::new(rng.random_range(2500.0..6000.0), 1500.0);
                    for i in 0..len.min(n - pos) {
                        let env = (std::f32::consts::PI * i as f32 / len as f32).sin();
                        let noise: f32 = rng.random_range(-1.0..1.0);
                        out[pos + i] += 0.3 * env * fric.step(noise) * 8.0;
                    }
                    pos += len;
                }
                // The vowel: glottal pulses through F1-F3.
                let len = rng
                    .random_range(sr / 10..sr * 3 / 10)
                    .min(n.saturating_sub(pos));
                let (f1, f2, f3) = VOWELS[rng.random_range(0..VOWELS.len())];
                let mut formants = [
                    Resonator::new(f1, 60.0),
                    Resonator::new(f2, 90.0),
                    Resonator::new(f3, 150.0),
                ];
                let start_f0 = base_f0 * (1.0 + 0.4 * (1.0 - w as f32 / words as f32));
                let mut phase = 0.0f32;
                for i in 0..len {
                    let t = i as f32 / sr as f32;
                    let f0 = start_f0
                        * (1.0 - 0.15 * i as f32 / len as f32)
                        * (1.0 + 0.01 * (2.0 * std::f32::consts::PI * 5.5 * t).sin());
                    phase += f0 / sr as f32;
                    // Rosenberg-like pulse: a short positive lobe once per period.
                    let glottal = if phase.fract() < 0.4 {
                        (std::f32::consts::PI * phase.fract() / 0.4).sin().powi(2)
                    } else {
                        0.0
                    };
                    let env = (std::f32::consts::PI * i as f32 / len as f32).sin().sqrt();
                    let v = formants[0].step(glottal) * 1.0
                        + formants[1].step(glottal) * 0.5
                        + formants[2].step(glottal) * 0.25;
                    out[pos + i] += env * v;
                }
                pos += len;
            }
            pos += rng.random_range(sr / 25..sr / 6); // between words
        }
        pos += rng.random_range(sr * 3 / 10..sr * 8 / 10); // between sentences
    }
    // Remove DC (the pulses are one-sided), then normalise.
    let mean = out.iter().sum::<f32>() / n as f32;
    let peak = out
        .iter()
        .map(|v| (v - mean).abs())
        .fold(0.0f32, f32::max)
        .max(1e-9);
    for v in out.iter_mut() {
        *v = (*v - mean) / peak * 0.5;
    }
    out
}

/// Write `samples` as a 16 kHz mono 16-bit WAV file.
pub fn write_wav(path: &Path, samples: &[f32]) -> anyhow::Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)
        .with_context(|| format!("creating {}", path.display()))?;
    for &s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    w.finalize()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The standard clip for `seed` under `dir` (`<dir>/audio/speechlike-30s-s<seed>-v<N>.wav`),
/// written first if missing.
pub fn ensure_clip(dir: &Path, seed: u64) -> anyhow::Result<PathBuf> {
    let folder = dir.join("audio");
    let path = folder.join(format!(
        "speechlike-{CLIP_SECONDS}s-s{seed}-v{CLIP_VERSION}.wav"
    ));
    if path.is_file() {
        return Ok(path);
    }
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    let partial = folder.join(format!(
        ".speechlike-s{seed}.partial.{}",
        std::process::id()
    ));
    write_wav(&partial, &speech_like(seed, CLIP_SECONDS))?;
    std::fs::rename(&partial, &path)
        .with_context(|| format!("moving {} into place", path.display()))?;
    Ok(path)
}
