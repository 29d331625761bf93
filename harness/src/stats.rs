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
//!
//! **Two speeds.** Some machines run whole repetitions at one of two speeds (a 2-vCPU VM whose
//! second vCPU is sometimes shared: every step ~50 ms in one repetition, ~68 ms in the next).
//! One interval over both is not noise around one value; [`bimodality`] detects it: the best
//! split of the sorted values into two groups (Fisher, 1958, "On grouping for maximum
//! homogeneity", JASA 53:789, the least within-group sum of squares; Jenks' natural breaks
//! with two classes), counted as two modes when each group has at least
//! [`MIN_MODE_COUNT`] repetitions and the gap between them is at least [`MIN_GAP_RATIO`]
//! pooled within-group standard deviations and 1% of the median. Ashman's D (Ashman, Bird &
//! Zepp, 1994, AJ 108:2348; D > 2 for a clean separation) is reported with it. See
//! docs/statistics.md for the false-positive rates of these thresholds.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

mod two_sample;
pub use two_sample::{
    compare_samples, exact_two_sided_p, interval_rank, inverse_normal, mann_whitney_u, normal_cdf,
    relative_change, u_distribution, MannWhitney, RelativeChange, SampleComparison, Verdict,
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
    /// The repetitions ran at two distinct speeds (see [`bimodality`]); absent when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bimodal: Option<Bimodality>,
}

/// Two modes found in a set of repetitions (see [`bimodality`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Bimodality {
    /// Repetitions in the lower and the upper group.
    pub low_n: usize,
    pub high_n: usize,
    /// Median of each group.
    pub low_median: f64,
    pub high_median: f64,
    /// Gap between the groups (smallest upper value − largest lower value) in pooled
    /// within-group standard deviations; `None` when every repetition of a group is the same
    /// (no spread: the ratio is unbounded).
    #[serde(default)]
    pub gap_ratio: Option<f64>,
    /// Ashman's D: √2·|μ₁ − μ₂| / √(σ₁² + σ₂²); `None` without spread, as above.
    #[serde(default)]
    pub ashman_d: Option<f64>,
}

/// Fewest repetitions in each group for [`bimodality`] to call it a mode.
pub const MIN_MODE_COUNT: usize = 3;
/// Smallest gap between the groups, in pooled within-group standard deviations.
pub const MIN_GAP_RATIO: f64 = 5.0;
/// Smallest gap between the groups relative to the median (timer-resolution steps are not
/// modes).
pub const MIN_RELATIVE_GAP: f64 = 0.01;

/// Whether `samples` fall in two separate groups (see the module documentation); `None` when
/// they do not, when there are fewer than 2 × [`MIN_MODE_COUNT`] or any is not finite.
pub fn bimodality(samples: &[f64]) -> Option<Bimodality> {
    let n = samples.len();
    if n < 2 * MIN_MODE_COUNT || samples.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let mut x = samples.to_vec();
    x.sort_by(|a, b| a.total_cmp(b));
    let sse = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|y| (y - m).powi(2)).sum::<f64>()
    };
    // Fisher's optimal split into two groups: for one dimension and two groups it is the cut
    // of the sorted values with the least total within-group sum of squares.
    let (k, within) = (MIN_MODE_COUNT..=n - MIN_MODE_COUNT)
        .map(|k| (k, sse(&x[..k]) + sse(&x[k..])))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let (low, high) = x.split_at(k);
    let gap = high[0] - low[k - 1];
    let median = percentile(&x, 50.0);
    if gap <= MIN_RELATIVE_GAP * median.abs() {
        return None;
    }
    let pooled_sd = (within / (n - 2) as f64).sqrt();
    let gap_ratio = (pooled_sd > 0.0).then(|| gap / pooled_sd);
    if gap_ratio.is_some_and(|g| g < MIN_GAP_RATIO) {
        return None;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let var = |v: &[f64]| sse(v) / (v.len() - 1) as f64;
    let spread = (var(low) + var(high)).sqrt();
    Some(Bimodality {
        low_n: low.len(),
        high_n: high.len(),
        low_median: percentile(low, 50.0),
        high_median: percentile(high, 50.0),
        gap_ratio,
        ashman_d: (spread > 0.0).then(|| 2f64.sqrt() * (mean(high) - mean(low)) / spread),
    })
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
        bimodal: bimodality(samples),
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

    /// Repetitions at two speeds (an ONNX Runtime decode on a 2-vCPU machine: ~50 or ~68 ms a
    /// step, 2% noise) are two modes; the summary carries them.
    #[test]
    fn two_speeds_are_two_modes() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let reps: Vec<f64> = (0..12)
            .map(|i| {
                let step_ms = if i % 3 == 0 { 68.0 } else { 50.0 };
                let noise = 1.0 + 0.02 * (rng.random::<f64>() - 0.5);
                1000.0 / (step_ms * noise) // t/s
            })
            .collect();
        let b = bimodality(&reps).expect("two modes");
        assert_eq!((b.low_n, b.high_n), (4, 8));
        assert!((b.low_median - 1000.0 / 68.0).abs() < 0.3, "{b:?}");
        assert!((b.high_median - 20.0).abs() < 0.3, "{b:?}");
        assert!(
            b.gap_ratio.unwrap() > 10.0 && b.ashman_d.unwrap() > 2.0,
            "{b:?}"
        );
        assert_eq!(summarize(&reps).unwrap().bimodal, Some(b));
        // Exactly repeated values at two levels: no spread to measure the gap by, still two
        // modes, and a record that survives JSON (no infinities).
        let flat = bimodality(&[10.0, 10.0, 10.0, 12.0, 12.0, 12.0]).expect("two modes");
        assert_eq!((flat.low_n, flat.high_n, flat.gap_ratio), (3, 3, None));
        let json = serde_json::to_string(&flat).unwrap();
        assert_eq!(serde_json::from_str::<Bimodality>(&json).unwrap(), flat);
    }

    #[test]
    fn one_speed_is_one_mode() {
        // Normal noise: at most a few false alarms in 500 sets of 10 or 20.
        for n in [10, 20] {
            let alarms = (0..500)
                .filter(|&seed| bimodality(&normal_samples(seed, n, 100.0, 2.0)).is_some())
                .count();
            assert!(
                alarms <= 5,
                "{alarms} of 500 normal sets of {n} called bimodal"
            );
        }
        // One outlier is an outlier, not a mode; too few repetitions say nothing.
        let one_outlier = [10.0, 10.1, 9.9, 10.05, 9.95, 10.02, 14.0];
        assert!(bimodality(&one_outlier).is_none());
        assert!(bimodality(&[10.0, 10.0, 20.0, 20.0, 20.0]).is_none());
        // Timer-resolution steps (0.1% apart) are not modes.
        assert!(bimodality(&[100.0, 100.0, 100.0, 100.1, 100.1, 100.1]).is_none());
        assert!(summarize(&normal_samples(3, 10, 100.0, 1.0))
            .unwrap()
            .bimodal
            .is_none());
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
