//! Audio input of speech workloads: 16 kHz WAV files read with a real WAV reader (`hound`).
//!
//! Whisper works on 16 kHz mono audio in 30 s windows. A file at another sample rate is refused
//! with the command that converts it, rather than resampled here: resampling would be work
//! outside the backend that no two users would do alike. Several channels are averaged to mono.

use std::path::{Path, PathBuf};

/// Whisper's sample rate.
pub const SAMPLE_RATE: u32 = 16_000;
/// Samples in one 30 s window.
pub const WINDOW_SAMPLES: usize = 30 * SAMPLE_RATE as usize;

/// A decoded clip: mono samples in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub samples: Vec<f32>,
}

impl Audio {
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / SAMPLE_RATE as f64
    }

    /// The first 30 s window (the whole clip if it is shorter; backends pad it with silence).
    pub fn window(&self) -> &[f32] {
        &self.samples[..self.samples.len().min(WINDOW_SAMPLES)]
    }
}

/// A WAV file that cannot be used, with the file named: shown to the user as one line.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct AudioError {
    pub path: PathBuf,
    pub message: String,
}

/// Read a 16 kHz WAV file (PCM 8/16/24/32-bit or 32-bit float, any channel count).
pub fn read_wav(path: &Path) -> Result<Audio, AudioError> {
    let bad = |message: String| AudioError {
        path: path.to_path_buf(),
        message,
    };
    let file =
        std::fs::File::open(path).map_err(|e| bad(format!("cannot read audio file: {e}")))?;
    let mut reader = hound::WavReader::new(std::io::BufReader::new(file))
        .map_err(|e| bad(format!("not a readable WAV file: {e}")))?;
    let spec = reader.spec();
    if spec.sample_rate != SAMPLE_RATE {
        return Err(bad(format!(
            "sample rate is {} Hz, Whisper needs {SAMPLE_RATE} Hz (convert it: ffmpeg -i IN -ar 16000 -ac 1 OUT.wav)",
            spec.sample_rate
        )));
    }
    let channels = spec.channels.max(1) as usize;
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(|e| bad(format!("damaged WAV data: {e}")))?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(|e| bad(format!("damaged WAV data: {e}")))?
        }
    };
    if interleaved.is_empty() {
        return Err(bad("the WAV file holds no samples".into()));
    }
    if interleaved.iter().any(|s| !s.is_finite()) {
        return Err(bad("the WAV file holds NaN or infinite samples".into()));
    }
    let samples = if channels == 1 {
        interleaved
    } else {
        interleaved
            .chunks(channels)
            .map(|c| c.iter().sum::<f32>() / c.len() as f32)
            .collect()
    };
    Ok(Audio { samples })
}

/// Write `seconds` of a quiet 16 kHz mono sawtooth (16-bit PCM) to `path`: a real WAV file for
/// tests of speech workers, read back by [`read_wav`] like any clip.
pub fn write_test_wav(path: &Path, seconds: f64) -> Result<(), AudioError> {
    let bad = |e: hound::Error| AudioError {
        path: path.to_path_buf(),
        message: format!("cannot write WAV file: {e}"),
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(bad)?;
    for i in 0..(seconds * SAMPLE_RATE as f64) as usize {
        w.write_sample(((i % 50) * 100) as i16).map_err(bad)?;
    }
    w.finalize().map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, spec: hound::WavSpec, samples: &[i16]) {
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for &s in samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn reads_mono_and_mixes_stereo() {
        let dir = tempfile::tempdir().unwrap();
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let path = dir.path().join("stereo.wav");
        write(&path, spec, &[16384, 0, -32768, -32768]);
        let a = read_wav(&path).unwrap();
        assert_eq!(a.samples, vec![0.25, -1.0]);
        assert_eq!(a.window().len(), 2);
    }

    #[test]
    fn bad_files_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 44_100,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let cd = dir.path().join("cd.wav");
        write(&cd, spec, &[0; 10]);
        let e = read_wav(&cd).unwrap_err().to_string();
        assert!(e.contains("cd.wav") && e.contains("44100 Hz"), "{e}");

        let junk = dir.path().join("junk.wav");
        std::fs::write(&junk, b"RIFF\x10\x00\x00\x00WAVEjunk").unwrap();
        let e = read_wav(&junk).unwrap_err().to_string();
        assert!(
            e.contains("junk.wav") && e.contains("not a readable WAV"),
            "{e}"
        );
        assert!(!e.contains('\n'));

        let missing = dir.path().join("missing.wav");
        let e = read_wav(&missing).unwrap_err().to_string();
        assert!(
            e.contains("missing.wav") && e.contains("cannot read"),
            "{e}"
        );
    }
}
