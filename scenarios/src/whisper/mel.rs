//! Whisper's mel filterbank, computed as OpenAI computed `mel_filters.npz`: librosa's
//! `filters.mel(sr=16000, n_fft=400, n_mels=80 or 128)` with the Slaney mel scale and Slaney
//! area normalisation (librosa 0.8+ defaults, `htk=False`, `norm="slaney"`).
//!
//! whisper.cpp reads these from its model file; candle and the ONNX Runtime target (whose
//! Optimum models take a log-mel input) compute the spectrogram with them. Every real Whisper
//! checkpoint uses the same filters, so computing them is exact for real models too.

/// Whisper's FFT size and the number of frequency bins of one frame.
pub const N_FFT: usize = 400;
pub const N_FREQS: usize = N_FFT / 2 + 1;
pub const SAMPLE_RATE: f64 = 16_000.0;

/// Slaney's mel scale (librosa `hz_to_mel`, `htk=False`): linear below 1 kHz, log above.
fn hz_to_mel(hz: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= min_log_hz {
        min_log_mel + (hz / min_log_hz).ln() / logstep
    } else {
        hz / f_sp
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        min_log_hz * (logstep * (mel - min_log_mel)).exp()
    } else {
        f_sp * mel
    }
}

/// `n_mels × 201` filter weights, row-major.
pub fn filters(n_mels: usize) -> Vec<f32> {
    let fft_freqs: Vec<f64> = (0..N_FREQS)
        .map(|i| i as f64 * SAMPLE_RATE / N_FFT as f64)
        .collect();
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2.0));
    let mel_f: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut out = Vec::with_capacity(n_mels * N_FREQS);
    for m in 0..n_mels {
        let (left, center, right) = (mel_f[m], mel_f[m + 1], mel_f[m + 2]);
        let enorm = 2.0 / (right - left);
        for &f in &fft_freqs {
            let lower = (f - left) / (center - left);
            let upper = (right - f) / (right - center);
            out.push((lower.min(upper).max(0.0) * enorm) as f32);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_openai_mel_filters() {
        // Reference values from OpenAI's whisper/assets/mel_filters.npz (`mel_80`, float32), as
        // shipped in the openai-whisper 20250625 package; the whole table agrees within 2e-9.
        let f = filters(80);
        assert_eq!(f.len(), 80 * N_FREQS);
        let at = |m: usize, k: usize| f[m * N_FREQS + k];
        for (m, k, want) in [
            (0, 0, 0.0),
            (0, 1, 0.024_862_595),
            (0, 2, 0.0),
            (1, 1, 0.001_990_822),
            (1, 2, 0.022_871_772),
            (40, 42, 0.005_411_105),
            (40, 43, 0.014_735_566),
            (40, 44, 0.006_518_19),
            (40, 45, 0.0),
            (79, 198, 0.000_897_518),
            (79, 199, 0.000_448_759),
            (79, 200, 0.0),
        ] {
            assert!((at(m, k) - want).abs() < 1e-8, "[{m}, {k}] = {}", at(m, k));
        }
        let sum: f64 = f.iter().map(|&v| v as f64).sum();
        assert!((sum - 1.999_024_092).abs() < 1e-6, "{sum}");
    }
}
