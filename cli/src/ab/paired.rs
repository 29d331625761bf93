//! Paired statistics of an A/B run: one log-ratio ln(B/A) per block, so whatever slowed the
//! machine during a block (another build, a warm CPU) slows both sides and cancels.
//!
//! **Test: Wilcoxon signed-rank, two-sided**, on the block log-ratios, exact for up to 60
//! blocks without ties (the null distribution of T⁺ is enumerated), normal approximation with
//! the tie correction otherwise. Like the Mann–Whitney U test `compare` uses, it makes no
//! assumption about the shape of the distribution, and one disturbed block moves it by one
//! rank. Six blocks are the fewest that can reach p < 0.05 (2/64 = 0.031).
//!
//! **Size: Hodges–Lehmann**, the median of the Walsh averages (dᵢ + dⱼ)/2, i ≤ j, with the
//! distribution-free interval that goes with the signed-rank test (Hollander & Wolfe,
//! *Nonparametric Statistical Methods*, §3.2): the k-th smallest and k-th largest Walsh
//! averages. On logarithms, so the change is a ratio.
//!
//! The result is put in the shapes `compare` prints (`SampleComparison`), so `ab` and
//! `compare` share their table, Markdown and verdict rules; the "U" field holds T⁺.

use edgebench_harness::stats::{
    exact_two_sided_p, interval_rank, inverse_normal, normal_cdf, percentile, MannWhitney,
    RelativeChange, SampleComparison, Verdict,
};

/// Above this many blocks, or with ties, the normal approximation is used.
const EXACT_MAX_BLOCKS: usize = 60;

/// P(T⁺ = t) for t = 0..=n(n+1)/2 under the null hypothesis (each sign equally likely).
pub fn signed_rank_distribution(n: usize) -> Vec<f64> {
    let max = n * (n + 1) / 2;
    let mut counts = vec![0.0f64; max + 1];
    counts[0] = 1.0;
    for rank in 1..=n {
        for t in (rank..=max).rev() {
            counts[t] += counts[t - rank];
        }
    }
    let total = 2f64.powi(n as i32);
    counts.iter().map(|c| c / total).collect()
}

/// Compare paired log-ratios `d` (ln B − ln A per block) at significance `alpha` against a noise
/// band of ±`noise`; `None` without any finite ratio.
pub fn compare_paired(d: &[f64], alpha: f64, noise: f64) -> Option<SampleComparison> {
    if d.is_empty() || d.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let n = d.len();
    // Ranks of |d| (average ranks for ties); zeros get rank too but count half to each side.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| d[a].abs().total_cmp(&d[b].abs()));
    let mut ranks = vec![0.0; n];
    let mut ties = false;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && d[order[j]].abs() == d[order[i]].abs() {
            j += 1;
        }
        if j - i > 1 {
            ties = true;
            let t = (j - i) as f64;
            tie_term += t * t * t - t;
        }
        let rank = (i + j + 1) as f64 / 2.0;
        for &k in &order[i..j] {
            ranks[k] = rank;
        }
        i = j;
    }
    let t_plus: f64 = (0..n)
        .map(|k| {
            if d[k] > 0.0 {
                ranks[k]
            } else if d[k] == 0.0 {
                ranks[k] / 2.0
            } else {
                0.0
            }
        })
        .sum();
    let max = (n * (n + 1) / 2) as f64;
    let exact = !ties && !d.contains(&0.0) && n <= EXACT_MAX_BLOCKS;
    let dist = (n <= EXACT_MAX_BLOCKS).then(|| signed_rank_distribution(n));
    let mean = max / 2.0;
    let sd_plain = (n as f64 * (n as f64 + 1.0) * (2.0 * n as f64 + 1.0) / 24.0).sqrt();
    let min_p_value = match &dist {
        Some(dist) => (2.0 * dist[0]).min(1.0),
        None => (2.0 * normal_cdf(-(mean - 0.5) / sd_plain)).min(1.0),
    };
    let p_value = if exact {
        exact_two_sided_p(
            dist.as_ref().expect("exact implies the distribution"),
            t_plus,
        )
    } else {
        let sd = (sd_plain * sd_plain - tie_term / 48.0).max(0.0).sqrt();
        if sd == 0.0 {
            1.0
        } else {
            let z = ((t_plus - mean).abs() - 0.5).max(0.0) / sd;
            (2.0 * (1.0 - normal_cdf(z))).min(1.0)
        }
    };

    // Walsh averages and the interval.
    let mut walsh = Vec::with_capacity(n * (n + 1) / 2);
    for a in 0..n {
        for b in a..n {
            walsh.push((d[a] + d[b]) / 2.0);
        }
    }
    walsh.sort_by(|a, b| a.total_cmp(b));
    let m = walsh.len();
    let alpha_half = alpha / 2.0;
    let (k, ci_level) = match &dist {
        Some(dist) => interval_rank(dist, alpha_half),
        None => {
            let z = inverse_normal(1.0 - alpha_half);
            (
                ((mean - z * sd_plain).floor().max(1.0)) as usize,
                1.0 - alpha,
            )
        }
    };
    let k = k.min(m);
    let change = RelativeChange {
        estimate: percentile(&walsh, 50.0).exp_m1(),
        ci_low: walsh[k - 1].exp_m1(),
        ci_high: walsh[m - k].exp_m1(),
        ci_level,
    };
    let test = MannWhitney {
        u: t_plus,
        p_value,
        exact,
        min_p_value,
    };
    Some(SampleComparison {
        test,
        change,
        verdict: Verdict::decide(&test, &change, alpha, noise),
    })
}

/// Has this metric's question been answered? Its interval lies wholly inside the noise band
/// (no change worth reporting) or wholly outside it (a change beyond the noise).
pub fn settled(c: &SampleComparison, noise: f64) -> bool {
    let (lo, hi) = (c.change.ci_low, c.change.ci_high);
    c.verdict != Verdict::TooFewSamples
        && ((lo > -noise && hi < noise) || lo > noise || hi < -noise)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_rank_distribution_matches_tables() {
        // n = 6: 64 sign patterns; T+ ≤ 2 only for the positive sets {}, {1}, {2}.
        let d = signed_rank_distribution(6);
        assert_eq!(d.len(), 22);
        assert!((d[0] - 1.0 / 64.0).abs() < 1e-12);
        assert!((d[0] + d[1] + d[2] - 3.0 / 64.0).abs() < 1e-12);
        assert!((d.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for k in 0..d.len() {
            assert!((d[k] - d[d.len() - 1 - k]).abs() < 1e-12);
        }
        // Standard table: n = 10, two-sided 0.05 critical value 8 (P(T+ ≤ 8) ≤ 0.025 < P(T+ ≤ 9)).
        let d = signed_rank_distribution(10);
        let cum = |k: usize| d[..=k].iter().sum::<f64>();
        assert!(cum(8) <= 0.025 && cum(9) > 0.025, "{} {}", cum(8), cum(9));
    }

    #[test]
    fn five_blocks_can_never_be_significant_and_six_can() {
        let five = [-0.1, -0.11, -0.09, -0.12, -0.1];
        let c = compare_paired(&five, 0.05, 0.02).unwrap();
        assert_eq!(c.verdict, Verdict::TooFewSamples);
        let six = [-0.1, -0.11, -0.09, -0.12, -0.101, -0.105];
        let c = compare_paired(&six, 0.05, 0.02).unwrap();
        assert_eq!(c.verdict, Verdict::Decreased, "{c:?}");
        assert!((c.test.p_value - 2.0 / 64.0).abs() < 1e-12);
        assert!(
            c.change.estimate < -0.09 && c.change.estimate > -0.11,
            "{c:?}"
        );
        assert!(settled(&c, 0.02));
    }

    #[test]
    fn a_steady_ratio_is_found_whatever_the_common_drift() {
        // Block means drift by ±30% together; B is 5% slower in every block.
        let drift = [1.0, 1.3, 0.7, 1.1, 0.8, 1.25, 0.95, 1.05, 0.75, 1.2];
        let d: Vec<f64> = drift
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let a = 100.0 * m * (1.0 + 0.002 * (i % 3) as f64);
                let b = 95.0 * m * (1.0 + 0.002 * ((i + 1) % 3) as f64);
                (b / a).ln()
            })
            .collect();
        let c = compare_paired(&d, 0.05, 0.02).unwrap();
        assert_eq!(c.verdict, Verdict::Decreased, "{c:?}");
        assert!((c.change.estimate + 0.05).abs() < 0.005, "{c:?}");
        assert!(c.change.ci_low <= c.change.estimate && c.change.estimate <= c.change.ci_high);
    }

    #[test]
    fn symmetric_noise_is_no_change_and_settles_once_tight() {
        let d = [0.004, -0.003, 0.002, -0.005, 0.001, -0.002, 0.003, -0.001];
        let c = compare_paired(&d, 0.05, 0.02).unwrap();
        assert_eq!(c.verdict, Verdict::NotSignificant, "{c:?}");
        assert!(settled(&c, 0.02));
        let wide = [0.04, -0.03, 0.05, -0.05, 0.01, -0.04, 0.03, -0.01];
        let c = compare_paired(&wide, 0.05, 0.02).unwrap();
        assert!(!settled(&c, 0.02), "{c:?}");
    }

    #[test]
    fn ties_and_zeros_use_the_normal_approximation() {
        let c = compare_paired(&[0.0, 0.01, -0.01, 0.01, -0.01, 0.0, 0.02], 0.05, 0.02).unwrap();
        assert!(!c.test.exact);
        assert!(c.test.p_value > 0.3, "{c:?}");
        assert!(compare_paired(&[], 0.05, 0.02).is_none());
        assert!(compare_paired(&[f64::NAN], 0.05, 0.02).is_none());
    }
}
