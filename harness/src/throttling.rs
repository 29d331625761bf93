//! Was the device throttling during a span of the timeline (one repetition, one soak window)?
//! A pure function of the sampler's timeline.
//!
//! Throttled when, within the span:
//! 1. the device says so now: a [`Quantity::ThrottleFlag`] channel reads 1 in the span or in
//!    its last reading before the span (a flag holds until the next reading) (Pi
//!    `get_throttled` bits 0–3, NVML clock-event reasons that slow the GPU, a clock-capping
//!    thermal cooling device, Apple thermal pressure above Nominal);
//! 2. a [`Quantity::ThrottleCount`] counter grew between the last sample before the span and
//!    the last one in or just after it (Intel `thermal_throttle` counts, cgroup `nr_throttled`,
//!    Jetson over-current events, the Pi's "has occurred" bits going from 0 to 1), which also
//!    catches throttling too short for a sample to see;
//! 3. for work on the CPU, the clock under load is below [`CLOCK_FRACTION`] of its rated
//!    maximum: the median over the span of `cpufreq/ratio` (the fastest CPU's
//!    `scaling_cur_freq ÷ cpuinfo_max_freq`). 0.75 sits below the all-core turbo of desktop
//!    and server CPUs (typically 80–95% of the single-core maximum that `cpuinfo_max_freq`
//!    states) and above the clocks a throttled board falls to (a hot Pi 5 drops from 2.4 to
//!    1.5 GHz, 62%).
//!
//! `throttled` is `None` when the span had no channel that could tell.

use crate::sampler::Timeline;
use crate::sensors::Quantity;

/// A flag read at most this long before a span still holds at its start (vcgencmd is read
/// once a second). Pass [`assess`] a timeline that reaches this far back.
pub const LOOKBACK_S: f64 = 2.0;

/// Clock under load below this fraction of its rated maximum counts as throttled.
pub const CLOCK_FRACTION: f64 = 0.75;

/// The CPU clock-ratio channel the clock rule reads.
pub const CLOCK_RATIO_CHANNEL: &str = "cpufreq/ratio";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    pub throttled: Option<bool>,
    /// Why, one entry per cause, the channel first (`vcgencmd/throttled`,
    /// `cgroup/nr_throttled +12`, `cpufreq/ratio at 62% of max`).
    pub reasons: Vec<String>,
}

/// Judge the span `[from, to]` of `timeline`. `cpu_work`: the work runs on the CPU, so the
/// CPU clock rule applies (a GPU target's idle CPUs clock down without being throttled).
pub fn assess(timeline: &Timeline, from: f64, to: f64, cpu_work: bool) -> Verdict {
    let mut reasons = Vec::new();
    let mut could_tell = false;
    let inside = |t: f64| t >= from && t <= to;
    for channel in timeline.channels(Quantity::ThrottleFlag, false) {
        // A flag holds until its next reading: the last one before the span counts too (a
        // sensor read once a second, like vcgencmd, may have no reading inside a short span).
        let series = timeline.series(&channel);
        let held = series
            .iter()
            .rev()
            .find(|&&(t, _)| t <= from && t >= from - LOOKBACK_S);
        let relevant: Vec<f64> = held
            .into_iter()
            .chain(series.iter().filter(|&&(t, _)| t > from && t <= to))
            .map(|&(_, v)| v)
            .collect();
        if !relevant.is_empty() {
            could_tell = true;
        }
        if relevant.iter().any(|&v| v >= 0.5) {
            reasons.push(channel);
        }
    }
    for channel in timeline.channels(Quantity::ThrottleCount, false) {
        let series = timeline.series(&channel);
        let before = series.iter().rev().find(|&&(t, _)| t <= from);
        // The first sample at or after the end, else the last one inside.
        let after = series
            .iter()
            .find(|&&(t, _)| t >= to)
            .or_else(|| series.iter().rev().find(|&&(t, _)| inside(t)));
        let (Some(&(_, a)), Some(&(_, b))) = (before, after) else {
            continue;
        };
        could_tell = true;
        if b > a {
            reasons.push(format!("{channel} +{}", trim_number(b - a)));
        }
    }
    if cpu_work {
        let ratios: Vec<f64> = timeline
            .series(CLOCK_RATIO_CHANNEL)
            .into_iter()
            .filter(|&(t, _)| inside(t))
            .map(|(_, v)| v)
            .collect();
        if !ratios.is_empty() {
            could_tell = true;
            let median = crate::stats::percentile(&ratios, 50.0);
            if median < CLOCK_FRACTION {
                reasons.push(format!(
                    "{CLOCK_RATIO_CHANNEL} at {:.0}% of max",
                    median * 100.0
                ));
            }
        }
    }
    Verdict {
        throttled: could_tell.then_some(!reasons.is_empty()),
        reasons,
    }
}

fn trim_number(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::Sample;
    use crate::sensors::Reading;

    /// (channel, quantity, value) readings of one sample.
    type Row<'a> = (f64, &'a [(&'a str, Quantity, f64)]);

    fn timeline(rows: &[Row]) -> Timeline {
        Timeline {
            samples: rows
                .iter()
                .map(|(t, readings)| Sample {
                    t_s: *t,
                    readings: readings
                        .iter()
                        .map(|&(c, q, v)| Reading {
                            channel: c.into(),
                            quantity: q,
                            value: v,
                            total: false,
                        })
                        .collect(),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn nothing_to_tell_is_none() {
        let tl = timeline(&[(0.0, &[("thermal/x", Quantity::TemperatureC, 50.0)])]);
        assert_eq!(assess(&tl, 0.0, 1.0, true).throttled, None);
    }

    #[test]
    fn a_flag_inside_the_span() {
        use Quantity::ThrottleFlag as F;
        let tl = timeline(&[
            (0.0, &[("vcgencmd/throttled", F, 0.0)]),
            (1.0, &[("vcgencmd/throttled", F, 1.0)]),
            (2.0, &[("vcgencmd/throttled", F, 0.0)]),
        ]);
        let v = assess(&tl, 0.5, 1.5, true);
        assert_eq!(v.throttled, Some(true));
        assert_eq!(v.reasons, ["vcgencmd/throttled"]);
        // The reading at 1.0 holds until 2.0.
        assert_eq!(assess(&tl, 1.2, 1.8, true).throttled, Some(true));
        assert_eq!(assess(&tl, 2.0, 2.5, true).throttled, Some(false));
    }

    #[test]
    fn a_counter_that_grew() {
        use Quantity::ThrottleCount as C;
        let tl = timeline(&[
            (0.0, &[("cgroup/nr_throttled", C, 5.0)]),
            (1.0, &[("cgroup/nr_throttled", C, 5.0)]),
            (2.0, &[("cgroup/nr_throttled", C, 17.0)]),
            (3.0, &[("cgroup/nr_throttled", C, 17.0)]),
        ]);
        assert_eq!(assess(&tl, 0.1, 0.9, true).throttled, Some(false));
        let v = assess(&tl, 1.1, 1.9, true);
        assert_eq!(v.reasons, ["cgroup/nr_throttled +12"]);
        assert_eq!(assess(&tl, 2.0, 3.0, true).throttled, Some(false));
    }

    #[test]
    fn slow_clock_counts_for_cpu_work_only() {
        let ratio = |v| (CLOCK_RATIO_CHANNEL, Quantity::ClockRatio, v);
        let tl = timeline(&[
            (0.0, &[ratio(1.0)]),
            (0.1, &[ratio(0.62)]),
            (0.2, &[ratio(0.62)]),
            (0.3, &[ratio(0.62)]),
        ]);
        let v = assess(&tl, 0.0, 0.3, true);
        assert_eq!(v.reasons, ["cpufreq/ratio at 62% of max"]);
        assert_eq!(assess(&tl, 0.0, 0.3, false).throttled, None);
        // All-core turbo at 85% of the single-core maximum is not throttling.
        let turbo = timeline(&[(0.0, &[ratio(0.85)]), (0.1, &[ratio(0.86)])]);
        assert_eq!(assess(&turbo, 0.0, 0.1, true).throttled, Some(false));
    }
}
