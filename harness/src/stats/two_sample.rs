//! Two-sample comparison of raw repetitions: did a metric change between a baseline and a
//! candidate run? Pure functions, no I/O; `edgebench compare` and its reports call these.
//!
//! **Test: Mann–Whitney U (Wilcoxon rank-sum), two-sided.** Benchmark repetitions are few
//! (3–20) and not reliably normal: one repetition disturbed by a background task is common, and
//! docs/field-notes.md records batches minutes apart moving by up to 50%. A rank test makes no
//! assumption about the shape of the distribution, one wild repetition moves it by one rank
//! only, and for the sample sizes benchmarks afford its p-value is *exact* (the null
//! distribution of U is enumerated, [`u_distribution`]), where a bootstrap with 3–5 samples can
//! only resample a handful of distinct sets and gives intervals that are too narrow (see the
//! note at the top of [`crate::stats`]). The price is honesty about small samples: with 3
//! repetitions per side the smallest two-sided p-value is 0.1, so nothing can be significant at
//! α = 0.05 — [`compare_samples`] then says `TooFewSamples` instead of "no change". Four per
//! side can reach p = 0.029, five p = 0.008.
//!
//! **Size of the change: Hodges–Lehmann on logarithms.** The estimate of the relative change is
//! `exp(median over all pairs of ln y_j − ln x_i) − 1`, and its confidence interval is the
//! distribution-free interval that goes with the U test (Moses; Hollander & Wolfe,
//! *Nonparametric Statistical Methods*, §4.3): the `k`-th smallest and `k`-th largest pairwise
//! differences, with `k` from the U distribution. Working on logarithms makes the change a ratio,
//! so "−10%" means the same for 2 t/s and for 200 t/s. The interval's real coverage is reported
//! (the U distribution is discrete: with 3 × 3 samples the widest interval is a 90% one).
//!
//! **Decision** (as criterion.rs `compare_to_threshold`): a change counts only when p < α *and*
//! the whole confidence interval lies outside the noise band ±`noise` (default 2%). Otherwise
//! it is "no change", even when significant, because a real 0.5% shift is below what a
//! benchmark on a shared machine can promise.

use super::percentile;
use statrs::distribution::{ContinuousCDF, Normal};

/// Above this many pairs (n₁·n₂), or with ties, the U distribution is approximated by a normal
/// one (with tie and continuity corrections); below, it is enumerated exactly.
const EXACT_MAX_PAIRS: usize = 2_500;

/// Result of a two-sided Mann–Whitney U test of `x` against `y`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the first sample: pairs with x > y, ties counting one half.
    pub u: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// The p-value was computed from the exact distribution of U (no ties, small samples).
    pub exact: bool,
    /// The smallest two-sided p-value these sample sizes can give (0.1 for 3 × 3).
    pub min_p_value: f64,
}

/// Two-sided Mann–Whitney U test; `None` when either sample is empty or holds non-finite values.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    if x.is_empty() || y.is_empty() || x.iter().chain(y).any(|v| !v.is_finite()) {
        return None;
    }
    let (m, n) = (x.len(), y.len());
    let mut u = 0.0f64;
    for &a in x {
        for &b in y {
            u += if a > b {
                1.0
            } else if a == b {
                0.5
            } else {
                0.0
            };
        }
    }
    let ties = has_ties(x, y);
    let pairs = m * n;
    let min_p_value = if pairs <= EXACT_MAX_PAIRS {
        let dist = u_distribution(m, n);
        (2.0 * dist[0]).min(1.0)
    } else {
        (2.0 * normal_cdf((-(pairs as f64) / 2.0 + 0.5) / u_sd(m, n, 0.0))).min(1.0)
    };
    if !ties && pairs <= EXACT_MAX_PAIRS {
        return Some(MannWhitney {
            u,
            p_value: exact_two_sided_p(&u_distribution(m, n), u),
            exact: true,
            min_p_value,
        });
    }
    // Normal approximation with the tie correction of the variance and a continuity correction.
    let mean = pairs as f64 / 2.0;
    let sd = u_sd(m, n, tie_term(x, y));
    let p_value = if sd == 0.0 {
        1.0
    } else {
        let z = ((u - mean).abs() - 0.5).max(0.0) / sd;
        (2.0 * (1.0 - normal_cdf(z))).min(1.0)
    };
    Some(MannWhitney {
        u,
        p_value,
        exact: false,
        min_p_value,
    })
}

/// Probability of each value 0..=m·n of U under the null hypothesis (no ties): the coefficients
/// of the Gaussian binomial `[m+n choose m]_q` divided by `C(m+n, m)`.
pub fn u_distribution(m: usize, n: usize) -> Vec<f64> {
    // prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i); each division by (1 - q^i) is exact.
    let mut poly = vec![0.0f64; m * n + 1];
    poly[0] = 1.0;
    let mut degree = 0;
    for i in 1..=m {
        // Multiply by (1 - q^(n+i)).
        let shift = n + i;
        for k in (shift..=degree + shift).rev() {
            if k < poly.len() {
                poly[k] -= poly[k - shift];
            }
        }
        degree += shift;
        // Divide by (1 - q^i): b[k] = a[k] + b[k - i].
        for k in i..poly.len() {
            poly[k] += poly[k - i];
        }
        degree -= i;
    }
    let total: f64 = poly.iter().sum();
    poly.iter().map(|c| c / total).collect()
}

fn has_ties(x: &[f64], y: &[f64]) -> bool {
    let mut all: Vec<f64> = x.iter().chain(y).copied().collect();
    all.sort_by(|a, b| a.total_cmp(b));
    all.windows(2).any(|w| w[0] == w[1])
}

/// Σ (t³ − t) over groups of tied values in the pooled sample.
fn tie_term(x: &[f64], y: &[f64]) -> f64 {
    let mut all: Vec<f64> = x.iter().chain(y).copied().collect();
    all.sort_by(|a, b| a.total_cmp(b));
    let mut sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let j = all[i..].iter().take_while(|v| **v == all[i]).count();
        let t = j as f64;
        sum += t * t * t - t;
        i += j;
    }
    sum
}

fn u_sd(m: usize, n: usize, ties: f64) -> f64 {
    let (m, n) = (m as f64, n as f64);
    let total = m + n;
    (m * n / 12.0 * ((total + 1.0) - ties / (total * (total - 1.0)))).sqrt()
}

/// The standard normal distribution function.
pub fn normal_cdf(z: f64) -> f64 {
    Normal::new(0.0, 1.0).map_or(f64::NAN, |d| d.cdf(z))
}

/// Its inverse (the quantile at `p`).
pub fn inverse_normal(p: f64) -> f64 {
    Normal::new(0.0, 1.0).map_or(f64::NAN, |d| d.inverse_cdf(p))
}

/// Two-sided p-value of a rank statistic `s` under its exact null distribution `dist`
/// (`dist[k]` = P(S = k)), which is symmetric.
pub fn exact_two_sided_p(dist: &[f64], s: f64) -> f64 {
    let k = (s.round() as usize).min(dist.len() - 1);
    let below: f64 = dist[..=k].iter().sum();
    let above: f64 = dist[k..].iter().sum();
    (2.0 * below.min(above)).min(1.0)
}

/// The rank `k` of the distribution-free interval that goes with a rank test: the largest `k`
/// with P(S < k) ≤ `alpha_half` under the exact null distribution `dist`, so the interval is the
/// k-th smallest to the k-th largest of the sorted estimates (Walsh averages or pairwise
/// differences); and the interval's real coverage. With too few samples no k ≥ 1 reaches the
/// level: then the widest interval (k = 1) and its coverage.
pub fn interval_rank(dist: &[f64], alpha_half: f64) -> (usize, f64) {
    let mut cumulative = 0.0;
    let mut k = 0;
    while k < dist.len() && cumulative + dist[k] <= alpha_half {
        cumulative += dist[k];
        k += 1;
    }
    if k == 0 {
        (1, 1.0 - 2.0 * dist[0])
    } else {
        (k, 1.0 - 2.0 * cumulative)
    }
}

/// Relative change of `y` against `x` (Hodges–Lehmann on logarithms) with its confidence
/// interval; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelativeChange {
    /// Point estimate: 0.05 = the candidate is 5% higher.
    pub estimate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Real coverage of the interval (0.95 asked; less when the samples are too few).
    pub ci_level: f64,
}

/// The relative change of `y` over `x` with a confidence interval of level `level` (or the
/// widest the sample sizes allow). `None` for empty samples or values that are not positive.
pub fn relative_change(x: &[f64], y: &[f64], level: f64) -> Option<RelativeChange> {
    if x.is_empty() || y.is_empty() || x.iter().chain(y).any(|v| !(v.is_finite() && *v > 0.0)) {
        return None;
    }
    let (m, n) = (x.len(), y.len());
    let mut diffs: Vec<f64> = Vec::with_capacity(m * n);
    for &a in x {
        for &b in y {
            diffs.push(b.ln() - a.ln());
        }
    }
    diffs.sort_by(|a, b| a.total_cmp(b));
    let estimate = percentile(&diffs, 50.0);
    let pairs = m * n;
    let alpha_half = (1.0 - level) / 2.0;
    // k: the largest count with P(U < k) ≤ α/2; the interval is [D(k), D(mn + 1 − k)] (1-based).
    let (k, ci_level) = if pairs <= EXACT_MAX_PAIRS {
        interval_rank(&u_distribution(m, n), alpha_half)
    } else {
        let z = inverse_normal(1.0 - alpha_half);
        let k = (pairs as f64 / 2.0 - z * u_sd(m, n, 0.0)).floor().max(1.0) as usize;
        (k, level)
    };
    let k = k.min(pairs);
    Some(RelativeChange {
        estimate: estimate.exp_m1(),
        ci_low: diffs[k - 1].exp_m1(),
        ci_high: diffs[pairs - k].exp_m1(),
        ci_level,
    })
}

/// What a comparison concluded about one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Significant, and the whole interval is above +noise.
    Increased,
    /// Significant, and the whole interval is below −noise.
    Decreased,
    /// Not significant (p ≥ α).
    NotSignificant,
    /// Significant, but the interval reaches into the noise band.
    WithinNoise,
    /// These sample sizes cannot reach p < α whatever the data (3 × 3 at α = 0.05).
    TooFewSamples,
}

impl Verdict {
    /// The decision for a test's p-value (and the smallest its sample sizes allow) and the
    /// interval of the change, at significance `alpha` against a noise band of ±`noise`.
    pub fn decide(test: &MannWhitney, change: &RelativeChange, alpha: f64, noise: f64) -> Self {
        if test.min_p_value >= alpha {
            Verdict::TooFewSamples
        } else if test.p_value >= alpha {
            Verdict::NotSignificant
        } else if change.ci_low > noise {
            Verdict::Increased
        } else if change.ci_high < -noise {
            Verdict::Decreased
        } else {
            Verdict::WithinNoise
        }
    }

    /// A change that counts (beyond the threshold and significant).
    pub fn is_change(self) -> bool {
        matches!(self, Verdict::Increased | Verdict::Decreased)
    }
}

/// Everything [`compare_samples`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleComparison {
    pub test: MannWhitney,
    pub change: RelativeChange,
    pub verdict: Verdict,
}

/// Compare candidate `y` against baseline `x`: Mann–Whitney U at significance `alpha`, the
/// relative change with its `1 − alpha` interval, and the decision against a noise band of
/// ±`noise` (0.02 = 2%). `None` when either sample is empty or not all positive and finite.
pub fn compare_samples(x: &[f64], y: &[f64], alpha: f64, noise: f64) -> Option<SampleComparison> {
    let test = mann_whitney_u(x, y)?;
    let change = relative_change(x, y, 1.0 - alpha)?;
    let verdict = Verdict::decide(&test, &change, alpha, noise);
    Some(SampleComparison {
        test,
        change,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u_distribution_matches_known_tables() {
        // m = n = 3: 20 arrangements; P(U = 0) = 1/20, P(U ≤ 1) = 2/20, P(U ≤ 2) = 4/20.
        let d = u_distribution(3, 3);
        assert_eq!(d.len(), 10);
        assert!((d[0] - 0.05).abs() < 1e-12);
        assert!((d[0] + d[1] - 0.10).abs() < 1e-12);
        assert!((d[0] + d[1] + d[2] - 0.20).abs() < 1e-12);
        assert!((d.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // Symmetric.
        for k in 0..d.len() {
            assert!((d[k] - d[d.len() - 1 - k]).abs() < 1e-12);
        }
        // m = 4, n = 5: P(U ≤ 1) = 2/126 (standard tables: critical value 1 at α = 0.05
        // two-sided means P(U ≤ 1) ≤ 0.025).
        let d = u_distribution(4, 5);
        assert!((d[0] + d[1] - 2.0 / 126.0).abs() < 1e-12);
        // Unequal sizes in either order give the same distribution.
        let e = u_distribution(5, 4);
        assert!(d.iter().zip(&e).all(|(a, b)| (a - b).abs() < 1e-12));
    }

    #[test]
    fn exact_p_of_completely_separated_samples() {
        let x = [10.0, 11.0, 12.0, 13.0, 14.0];
        let y = [1.0, 2.0, 3.0, 4.0, 5.0];
        let t = mann_whitney_u(&x, &y).unwrap();
        assert_eq!(t.u, 25.0);
        assert!(t.exact);
        // 2 / C(10, 5) = 2 / 252.
        assert!((t.p_value - 2.0 / 252.0).abs() < 1e-12, "{t:?}");
        assert!((t.min_p_value - 2.0 / 252.0).abs() < 1e-12);
    }

    #[test]
    fn three_by_three_can_never_be_significant() {
        let c = compare_samples(&[100.0, 101.0, 102.0], &[50.0, 51.0, 52.0], 0.05, 0.02).unwrap();
        assert_eq!(c.verdict, Verdict::TooFewSamples);
        assert!((c.test.p_value - 0.1).abs() < 1e-12);
        assert!((c.change.ci_level - 0.9).abs() < 1e-12);
    }

    #[test]
    fn ties_use_the_normal_approximation() {
        let t = mann_whitney_u(&[1.0, 1.0, 2.0, 2.0], &[1.0, 2.0, 2.0, 3.0]).unwrap();
        assert!(!t.exact);
        assert!(t.p_value > 0.3 && t.p_value <= 1.0, "{t:?}");
        // Identical samples: p = 1.
        let t = mann_whitney_u(&[5.0; 6], &[5.0; 6]).unwrap();
        assert_eq!(t.p_value, 1.0);
    }

    #[test]
    fn large_samples_agree_with_the_normal_approximation() {
        // 60 × 60 > EXACT_MAX_PAIRS: interleaved samples, no shift → p near 1.
        let x: Vec<f64> = (0..60).map(|i| 100.0 + i as f64 * 0.1).collect();
        let y: Vec<f64> = (0..60).map(|i| 100.05 + i as f64 * 0.1).collect();
        let t = mann_whitney_u(&x, &y).unwrap();
        assert!(!t.exact);
        assert!(t.p_value > 0.5, "{t:?}");
    }

    #[test]
    fn relative_change_of_a_pure_ratio_is_that_ratio() {
        let x = [10.0, 10.2, 9.9, 10.1, 10.05, 9.95];
        let y: Vec<f64> = x.iter().map(|v| v * 0.9).collect();
        let c = relative_change(&x, &y, 0.95).unwrap();
        assert!((c.estimate + 0.1).abs() < 1e-9, "{c:?}");
        assert!(c.ci_low <= c.estimate && c.estimate <= c.ci_high);
        assert!(c.ci_level >= 0.95 && c.ci_level < 1.0, "{c:?}");
    }

    #[test]
    fn verdicts() {
        let base: Vec<f64> = (0..8).map(|i| 100.0 + (i % 4) as f64 * 0.2).collect();
        // 10% lower: a decrease beyond the noise band.
        let slower: Vec<f64> = base.iter().map(|v| v * 0.9).collect();
        let c = compare_samples(&base, &slower, 0.05, 0.02).unwrap();
        assert_eq!(c.verdict, Verdict::Decreased, "{c:?}");
        // About 1% higher with no overlap at all: significant, but inside the ±2% band.
        let wobble: Vec<f64> = base.iter().map(|v| v * 1.005 + 0.7).collect();
        let c = compare_samples(&base, &wobble, 0.05, 0.02).unwrap();
        assert_eq!(c.verdict, Verdict::WithinNoise, "{c:?}");
        // The same data: not significant.
        let c = compare_samples(&base, &base, 0.05, 0.02).unwrap();
        assert_eq!(c.verdict, Verdict::NotSignificant);
        assert!(!c.verdict.is_change());
    }
}
