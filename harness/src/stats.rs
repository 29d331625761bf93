//! Statistics over repetitions: pure functions, no I/O.
//!
//! **Confidence interval.** We report the median (robust headline) and a 95% confidence
//! interval of the *mean* from Student's t distribution: `mean ± t(0.975, n−1)·s/√n`.
//! Repetitions of the same work on a quiet machine are close to normal, and with the 3–20
//! repetitions a benchmark can afford, the t interval is honest about small samples, where a
//! bootstrap interval is too narrow (with n = 3 it can only ever resample 10 distinct sets).
//! Outliers are flagged, not dropped, so the interval reflects what really happened.
//!
//! **Outliers.** Modified z-score on the median absolute deviation, `0.6745·|x − median|/MAD`
//! above 3.5 (Iglewicz & Hoaglin, 1993; the same rule as hyperfine's outlier detection).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

mod two_sample;
pub use two_sample::{
    compare_samples, mann_whitney_u, relative_change, u_distribution, MannWhitney, RelativeChange,
    SampleComparison, Verdict,
};

/// Summary of one metric over the repetitions of a test.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub median: f64,
    /// Sample standard deviation (n − 1); 0 with one sample.
    pub stddev: f64,
    pub min: f64,
    pub max: f64,
    /// 95% confidence interval of the mean (equal to the mean when n < 2).
    pub ci95_low: f64,
    pub ci95_high: f64,
    /// Indices of repetitions flagged as outliers.
    #[serde(default)]
    pub outliers: Vec<usize>,
}

impl Summary {
    /// Half-width of the 95% CI relative to the mean (0.02 = ±2%); infinite when undefined.
    pub fn relative_ci_half_width(&self) -> f64 {
        if self.n < 2 || self.mean == 0.0 {
            return f64::INFINITY;
        }
        (self.ci95_high - self.ci95_low) / 2.0 / self.mean.abs()
    }
}

/// Summarize samples; `None` for an empty slice or non-finite values.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() || samples.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let n = samples.len();
    let mean = samples.iter().sum::<f64>() / n as f64;
    let stddev = if n > 1 {
        (samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let half = if n > 1 {
        t_quantile_975(n - 1) * stddev / (n as f64).sqrt()
    } else {
        0.0
    };
    Some(Summary {
        n,
        mean,
        median: percentile(samples, 50.0),
        stddev,
        min: samples.iter().copied().fold(f64::INFINITY, f64::min),
        max: samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ci95_low: mean - half,
        ci95_high: mean + half,
        outliers: modified_z_outliers(samples, 3.5),
    })
}

/// The 0.975 quantile of Student's t with `dof` degrees of freedom.
pub fn t_quantile_975(dof: usize) -> f64 {
    StudentsT::new(0.0, 1.0, dof as f64)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(f64::INFINITY)
}

/// Percentile with linear interpolation between closest ranks (`p` in 0..=100).
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

/// Indices whose modified z-score exceeds `threshold`. With MAD = 0 (most samples equal) any
/// sample that differs from the median is an outlier.
pub fn modified_z_outliers(samples: &[f64], threshold: f64) -> Vec<usize> {
    if samples.len() < 3 {
        return Vec::new();
    }
    let median = percentile(samples, 50.0);
    let deviations: Vec<f64> = samples.iter().map(|x| (x - median).abs()).collect();
    let mad = percentile(&deviations, 50.0);
    samples
        .iter()
        .enumerate()
        .filter(|(_, &x)| {
            if mad == 0.0 {
                x != median
            } else {
                0.6745 * (x - median).abs() / mad > threshold
            }
        })
        .map(|(i, _)| i)
        .collect()
}

/// When to stop repeating a test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StoppingRule {
    pub min_repetitions: usize,
    pub max_repetitions: usize,
    /// Stop once the 95% CI half-width of the headline metric is within this fraction of its
    /// mean (0.02 = ±2%).
    pub target_relative_ci: f64,
    /// Stop starting new repetitions after this many seconds of measuring.
    pub time_cap_s: f64,
}

impl Default for StoppingRule {
    fn default() -> Self {
        Self {
            min_repetitions: 3,
            max_repetitions: 20,
            target_relative_ci: 0.02,
            time_cap_s: 120.0,
        }
    }
}

/// Why a test stopped repeating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    CiReached,
    MaxRepetitions,
    TimeCap,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::CiReached => "ci_reached",
            StopReason::MaxRepetitions => "max_repetitions",
            StopReason::TimeCap => "time_cap",
        }
    }
}

impl StoppingRule {
    /// Decide after a repetition: `headline` holds the headline metric of every repetition so
    /// far, `elapsed_s` the time spent measuring. `None` means "run another one".
    pub fn decide(&self, headline: &[f64], elapsed_s: f64) -> Option<StopReason> {
        let n = headline.len();
        if n >= self.max_repetitions {
            return Some(StopReason::MaxRepetitions);
        }
        if n >= self.min_repetitions {
            if let Some(s) = summarize(headline) {
                if s.relative_ci_half_width() <= self.target_relative_ci {
                    return Some(StopReason::CiReached);
                }
            }
        }
        // The time cap never cuts a test below one repetition.
        if n >= 1 && elapsed_s >= self.time_cap_s {
            return Some(StopReason::TimeCap);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn normal_samples(seed: u64, n: usize, mean: f64, sd: f64) -> Vec<f64> {
        // Box–Muller, so the test does not depend on a distribution crate.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
                mean + sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
            })
            .collect()
    }

    #[test]
    fn summary_of_known_values() {
        let s = summarize(&[10.0, 12.0, 14.0]).unwrap();
        assert_eq!(s.n, 3);
        assert!((s.mean - 12.0).abs() < 1e-12);
        assert!((s.median - 12.0).abs() < 1e-12);
        assert!((s.stddev - 2.0).abs() < 1e-12);
        // t(0.975, 2) = 4.302653; half-width = 4.302653 * 2 / sqrt(3) = 4.9683
        assert!((s.ci95_high - 12.0 - 4.968275).abs() < 1e-4, "{s:?}");
        assert!(summarize(&[]).is_none());
        assert!(summarize(&[1.0, f64::NAN]).is_none());
    }

    #[test]
    fn ci_covers_true_mean_about_95_percent_of_the_time() {
        let trials = 2000;
        let covered = (0..trials)
            .filter(|&i| {
                let s = summarize(&normal_samples(i, 5, 100.0, 3.0)).unwrap();
                s.ci95_low <= 100.0 && 100.0 <= s.ci95_high
            })
            .count();
        let rate = covered as f64 / trials as f64;
        assert!((0.93..0.97).contains(&rate), "coverage {rate}");
    }

    #[test]
    fn percentiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 100.0), 4.0);
        assert!((percentile(&v, 50.0) - 2.5).abs() < 1e-12);
        assert!((percentile(&v, 90.0) - 3.7).abs() < 1e-12);
    }

    #[test]
    fn outlier_is_flagged() {
        let v = [10.0, 10.1, 9.9, 10.05, 9.95, 14.0];
        assert_eq!(modified_z_outliers(&v, 3.5), vec![5]);
        assert!(modified_z_outliers(&[10.0, 10.1, 9.9, 10.05], 3.5).is_empty());
    }

    #[test]
    fn adaptive_stopping_quiet_samples_stop_at_minimum() {
        let rule = StoppingRule::default();
        let quiet = normal_samples(1, 20, 100.0, 0.3); // 0.3% spread
        let mut stop = None;
        for n in 1..=20 {
            stop = rule.decide(&quiet[..n], 0.0).map(|r| (n, r));
            if stop.is_some() {
                break;
            }
        }
        assert_eq!(stop, Some((3, StopReason::CiReached)));
    }

    #[test]
    fn adaptive_stopping_noisy_samples_need_more_or_hit_the_cap() {
        let rule = StoppingRule::default();
        // 5% spread: the ±2% interval needs roughly (1.96*5/2)^2 ≈ 24 samples, more than 20.
        let noisy = normal_samples(2, 20, 100.0, 5.0);
        let mut stop = None;
        for n in 1..=20 {
            stop = rule.decide(&noisy[..n], 0.0).map(|r| (n, r));
            if stop.is_some() {
                break;
            }
        }
        assert_eq!(stop, Some((20, StopReason::MaxRepetitions)));
        // 2% spread stops somewhere between the minimum and the maximum.
        let medium = normal_samples(3, 20, 100.0, 2.0);
        let n = (1..=20)
            .find(|&n| rule.decide(&medium[..n], 0.0).is_some())
            .unwrap();
        assert!(n > 3 && n < 20, "stopped after {n}");
        assert_eq!(rule.decide(&medium[..n], 0.0), Some(StopReason::CiReached));
    }

    #[test]
    fn time_cap_stops_but_never_before_one_repetition() {
        let rule = StoppingRule {
            time_cap_s: 10.0,
            ..Default::default()
        };
        assert_eq!(rule.decide(&[], 50.0), None);
        assert_eq!(rule.decide(&[1.0], 50.0), Some(StopReason::TimeCap));
        assert_eq!(rule.decide(&[1.0, 2.0], 5.0), None);
    }
}
