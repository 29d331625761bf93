//! Which device, for this model, at this speed, power and price? The device chooser behind
//! `edgebench choose` and the report's performance matrix.
//!
//! Every figure says where it comes from: **measured** (edgebench results of that device),
//! **published** (a figure with its public source in the device catalog, `harness/devices.toml`)
//! or **predicted** by a deliberately simple model:
//!
//! - generation t/s = bandwidth efficiency × peak memory bandwidth ÷ bytes streamed per token
//!   (the roofline's count, `edgebench_scenarios::gguf::planned_streamed_bytes`);
//! - prompt t/s = achieved FLOPs/s ÷ FLOPs per prompt token, the achieved rate from the device's
//!   own prompt figures, else compute efficiency × the catalog's peak compute;
//! - a Whisper encoder pass = encoder FLOPs ÷ (compute efficiency × peak compute).
//!
//! The efficiencies are fitted per backend × device family from the measured and published
//! figures ([`fit`]), never guessed; [`validate`] checks them by leave-one-out, [`claims`] checks
//! published claims against the physical ceiling, [`rank`] answers a question and [`matrix`]
//! builds the report's matrix. Everything here is plain data in, plain data out: the inputs are
//! built by [`observe`] (catalog, scenarios, results) and [`cost`] (bytes and FLOPs).

pub mod claims;
pub mod cost;
pub mod fit;
pub mod matrix;
pub mod observe;
pub mod rank;
pub mod report;
pub mod validate;

use std::fmt;

/// Where a figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    Measured,
    Published,
    Predicted,
}

impl Origin {
    pub fn label(self) -> &'static str {
        match self {
            Origin::Measured => "measured",
            Origin::Published => "published",
            Origin::Predicted => "predicted",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What a figure measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// Generation, t/s (single-token decodes).
    Generation,
    /// Prompt processing, t/s.
    Prompt,
    /// One Whisper encoder pass over 30 s of audio, seconds.
    Encoder,
    /// Whisper real-time factor (audio seconds ÷ seconds to transcribe them); measured only.
    Rtf,
}

impl Metric {
    pub fn label(self) -> &'static str {
        match self {
            Metric::Generation => "generation",
            Metric::Prompt => "prompt",
            Metric::Encoder => "Whisper encoder",
            Metric::Rtf => "real-time factor",
        }
    }
}

/// What the predictor knows of a device.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// Catalog id, or the results' device name for a device the catalog lacks.
    pub id: String,
    pub name: String,
    /// Device family the efficiencies are fitted per (see [`observe::family`]).
    pub family: String,
    pub bandwidth_gbs: Option<f64>,
    pub compute_tflops: Option<f64>,
    pub ram_bytes: Option<u64>,
    /// Power and what the number is (`peak draw`, `TDP`, `highest power mode`).
    pub power: Option<(f64, String)>,
    pub price_usd: Option<f64>,
    /// In the device catalog (else known from results only).
    pub in_catalog: bool,
}

/// One measured or published figure of a device running a model on a backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// [`Device::id`].
    pub device: String,
    pub family: String,
    pub bandwidth_gbs: Option<f64>,
    pub compute_tflops: Option<f64>,
    pub backend: String,
    pub model: String,
    pub quant: String,
    pub metric: Metric,
    /// t/s for generation and prompt, seconds for an encoder pass, × real time for RTF.
    pub value: f64,
    /// Bytes streamed per token (generation), FLOPs per token (prompt) or per pass (encoder);
    /// `None` for a model edgebench does not know the shape of.
    pub work: Option<f64>,
    pub origin: Origin,
    /// The URL, or the run that measured it.
    pub source: String,
    /// How it was measured (setup, GPU cores, power mode…).
    pub note: String,
    /// Prompt or generated tokens behind the figure.
    pub tokens: Option<usize>,
    pub power_w: Option<f64>,
    /// Some repetition of the measurement throttled.
    pub throttled: Option<bool>,
}

impl Observation {
    /// The fraction of the device's peak this figure reached: of memory bandwidth for
    /// generation, of peak compute for prompt and encoder figures.
    pub fn efficiency(&self) -> Option<f64> {
        let work = self.work?;
        match self.metric {
            Metric::Generation => Some(self.value * work / (self.bandwidth_gbs? * 1e9)),
            Metric::Prompt => Some(self.value * work / (self.compute_tflops? * 1e12)),
            Metric::Encoder => Some(work / self.value / (self.compute_tflops? * 1e12)),
            Metric::Rtf => None,
        }
    }

    /// FLOPs/s the figure achieved (prompt and encoder figures).
    pub fn achieved_flops(&self) -> Option<f64> {
        let work = self.work?;
        match self.metric {
            Metric::Prompt => Some(self.value * work),
            Metric::Encoder => Some(work / self.value),
            _ => None,
        }
    }
}

/// A predicted value with its interval and how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub value: f64,
    /// The interval from the spread of the fitted efficiencies (10th–90th percentile), when
    /// there are enough figures to have one.
    pub low: Option<f64>,
    pub high: Option<f64>,
    /// `llamacpp on apple-max: 0.62 of peak bandwidth (median of 12 figures)`.
    pub basis: String,
    /// Figures the efficiency comes from.
    pub figures: usize,
}

/// Median of `values` (NaN-free; empty gives `None`).
pub fn median(values: &[f64]) -> Option<f64> {
    quantile(values, 0.5)
}

/// Linear-interpolation quantile (`q` in 0..=1).
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0, 3.0, 4.0]), Some(2.5));
        assert_eq!(quantile(&[0.0, 10.0], 0.1), Some(1.0));
        assert_eq!(median(&[]), None);
    }
}
