//! What the sampler saw: every poll of every sensor with the runner's phase markers, and what
//! is derived from it. Energy of a phase is read from energy counters where they exist (the
//! difference at the phase's ends), else integrated from power (trapezoid).

use crate::protocol::Phase;
use crate::schema::SensorSummary;
use crate::sensors::{Quantity, Reading};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One poll of every sensor, `t_s` seconds after the sampler started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub t_s: f64,
    pub readings: Vec<Reading>,
}

/// Everything the sampler saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub sensors: Vec<String>,
    pub samples: Vec<Sample>,
    /// `(t_s, phase)`: the phase holds from `t_s` until the next marker.
    pub marks: Vec<(f64, Phase)>,
    /// `(t_s, message)`: sensors that failed, once per outage.
    pub warnings: Vec<(f64, String)>,
}

/// Whether a clock channel is a CPU clock (summaries average these, not GPU clocks).
pub fn is_cpu_clock(channel: &str) -> bool {
    (channel.starts_with("cpufreq/cpu") && channel != "cpufreq/ratio")
        || channel.starts_with("apple/cpu_")
}

impl Timeline {
    /// The part of the timeline between `from_s` and `to_s`, keeping one sample either side so
    /// values at the ends can be interpolated, and the phase in force at `from_s`.
    pub fn window(&self, from_s: f64, to_s: f64) -> Timeline {
        let first = self
            .samples
            .iter()
            .rposition(|s| s.t_s <= from_s)
            .unwrap_or(0);
        let last = self
            .samples
            .iter()
            .position(|s| s.t_s >= to_s)
            .map_or(self.samples.len(), |i| i + 1);
        let mut marks: Vec<(f64, Phase)> = Vec::new();
        if let Some(&(_, p)) = self.marks.iter().rev().find(|(t, _)| *t <= from_s) {
            marks.push((from_s, p));
        }
        marks.extend(
            self.marks
                .iter()
                .filter(|(t, _)| *t > from_s && *t <= to_s)
                .copied(),
        );
        Timeline {
            sensors: self.sensors.clone(),
            samples: self
                .samples
                .get(first..last.max(first))
                .unwrap_or_default()
                .to_vec(),
            marks,
            warnings: self
                .warnings
                .iter()
                .filter(|(t, _)| *t >= from_s && *t <= to_s)
                .cloned()
                .collect(),
        }
    }

    /// Intervals `[start, end)` of each phase, ending at the next marker or at `end_s`.
    pub fn phase_spans(&self, end_s: f64) -> Vec<(Phase, f64, f64)> {
        self.marks
            .iter()
            .enumerate()
            .map(|(i, &(t, p))| (p, t, self.marks.get(i + 1).map_or(end_s, |m| m.0)))
            .filter(|(_, a, b)| b > a)
            .collect()
    }

    /// Values of one channel over time.
    pub fn series(&self, channel: &str) -> Vec<(f64, f64)> {
        self.samples
            .iter()
            .filter_map(|s| {
                s.readings
                    .iter()
                    .find(|r| r.channel == channel)
                    .map(|r| (s.t_s, r.value))
            })
            .collect()
    }

    /// Channel names with a given quantity, in first-seen order.
    pub fn channels(&self, quantity: Quantity, total_only: bool) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for r in self.samples.iter().flat_map(|s| &s.readings) {
            if r.quantity == quantity && (!total_only || r.total) && !names.contains(&r.channel) {
                names.push(r.channel.clone());
            }
        }
        names
    }

    /// Energy of the whole device between `a` and `b`, joules: from total energy counters if
    /// any, else the trapezoid integral of total power channels. `None` when neither exists or
    /// the samples do not cover the interval (a part of it would be divided by the whole
    /// interval's tokens and time: take a sample after `b` first, [`Sampler::sample_through`]).
    pub fn energy_between(&self, a: f64, b: f64) -> Option<f64> {
        if b < a {
            return None;
        }
        let counters = self.channels(Quantity::EnergyJ, true);
        if !counters.is_empty() {
            let mut total = 0.0;
            for c in counters {
                let s = self.series(&c);
                total += interpolate(&s, b)? - interpolate(&s, a)?;
            }
            return Some(total);
        }
        let rails = self.channels(Quantity::PowerW, true);
        if rails.is_empty() {
            return None;
        }
        let mut total = 0.0;
        for c in rails {
            total += integrate(&self.series(&c), a, b)?;
        }
        Some(total)
    }

    /// Summary over the timeline between `from_s` and `to_s`; energy and average power per
    /// phase from the markers.
    pub fn summarize(&self, from_s: f64, to_s: f64) -> SensorSummary {
        let inside: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.t_s >= from_s && s.t_s <= to_s)
            .collect();
        let values = |q: Quantity| -> Vec<f64> {
            inside
                .iter()
                .flat_map(|s| {
                    s.readings
                        .iter()
                        .filter(move |r| r.quantity == q)
                        .map(|r| r.value)
                })
                .collect()
        };
        let temps = values(Quantity::TemperatureC);
        // Clock of a sample = mean over CPUs; min/avg/max over samples.
        let clocks: Vec<f64> = inside
            .iter()
            .filter_map(|s| {
                let c: Vec<f64> = s
                    .readings
                    .iter()
                    .filter(|r| r.quantity == Quantity::ClockMhz && is_cpu_clock(&r.channel))
                    .map(|r| r.value)
                    .collect();
                (!c.is_empty()).then(|| c.iter().sum::<f64>() / c.len() as f64)
            })
            .collect();
        let cpu = values(Quantity::CpuPercent);
        let mut energy_j = BTreeMap::new();
        let mut avg_power_w = BTreeMap::new();
        for (phase, a, b) in self.phase_spans(to_s) {
            let (a, b) = (a.max(from_s), b.min(to_s));
            if b <= a {
                continue;
            }
            if let Some(e) = self.energy_between(a, b) {
                *energy_j.entry(phase.as_str().to_string()).or_insert(0.0) += e;
                *avg_power_w.entry(phase.as_str().to_string()).or_insert(0.0) += e;
                // divided below
            }
        }
        let mut durations: BTreeMap<String, f64> = BTreeMap::new();
        for (phase, a, b) in self.phase_spans(to_s) {
            let (a, b) = (a.max(from_s), b.min(to_s));
            if b > a {
                *durations.entry(phase.as_str().to_string()).or_insert(0.0) += b - a;
            }
        }
        for (phase, p) in avg_power_w.iter_mut() {
            *p /= durations.get(phase).copied().unwrap_or(f64::INFINITY);
        }
        SensorSummary {
            sensors: self.sensors.clone(),
            samples: inside.len(),
            max_temp_c: temps.iter().copied().reduce(f64::max),
            min_clock_mhz: clocks.iter().copied().reduce(f64::min),
            avg_clock_mhz: mean(&clocks),
            max_clock_mhz: clocks.iter().copied().reduce(f64::max),
            avg_cpu_percent: mean(&cpu),
            energy_j,
            avg_power_w,
            peak_power_w: self.peak_power(from_s, to_s),
            timeline_span_s: Some([from_s, to_s]),
            ..Default::default()
        }
    }

    /// Highest total power in the window: from power channels, else from energy differences
    /// between consecutive samples.
    fn peak_power(&self, from_s: f64, to_s: f64) -> Option<f64> {
        let rails = self.channels(Quantity::PowerW, true);
        let inside = |t: f64| t >= from_s && t <= to_s;
        if !rails.is_empty() {
            return self
                .samples
                .iter()
                .filter(|s| inside(s.t_s))
                .map(|s| {
                    s.readings
                        .iter()
                        .filter(|r| r.total && r.quantity == Quantity::PowerW)
                        .map(|r| r.value)
                        .sum()
                })
                .reduce(f64::max);
        }
        let counters = self.channels(Quantity::EnergyJ, true);
        if counters.is_empty() {
            return None;
        }
        let totals: Vec<(f64, f64)> = self
            .samples
            .iter()
            .filter(|s| inside(s.t_s))
            .map(|s| {
                (
                    s.t_s,
                    s.readings
                        .iter()
                        .filter(|r| r.total && r.quantity == Quantity::EnergyJ)
                        .map(|r| r.value)
                        .sum(),
                )
            })
            .collect();
        totals
            .windows(2)
            .filter(|w| w[1].0 > w[0].0)
            .map(|w| (w[1].1 - w[0].1) / (w[1].0 - w[0].0))
            .reduce(f64::max)
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Linear interpolation of a time series at `t`; `None` outside its range.
pub fn interpolate(series: &[(f64, f64)], t: f64) -> Option<f64> {
    let i = series.iter().position(|&(x, _)| x >= t)?;
    let (x1, y1) = series[i];
    if x1 == t || i == 0 {
        return (x1 == t).then_some(y1);
    }
    let (x0, y0) = series[i - 1];
    Some(y0 + (y1 - y0) * (t - x0) / (x1 - x0))
}

/// Trapezoid integral of a time series between `a` and `b`; `None` if it does not cover them.
pub fn integrate(series: &[(f64, f64)], a: f64, b: f64) -> Option<f64> {
    let ya = interpolate(series, a)?;
    let yb = interpolate(series, b)?;
    let mut points = vec![(a, ya)];
    points.extend(series.iter().copied().filter(|&(t, _)| t > a && t < b));
    points.push((b, yb));
    Some(
        points
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
            .sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(channel: &str, quantity: Quantity, value: f64, total: bool) -> Reading {
        Reading {
            channel: channel.into(),
            quantity,
            value,
            total,
        }
    }

    #[test]
    fn interpolation_and_trapezoid() {
        let s = [(0.0, 0.0), (1.0, 10.0), (2.0, 10.0)];
        assert_eq!(interpolate(&s, 0.5), Some(5.0));
        assert_eq!(interpolate(&s, 3.0), None);
        // ramp 0→10 over 1 s (5 J) then flat 10 W for 1 s (10 J)
        assert!((integrate(&s, 0.0, 2.0).unwrap() - 15.0).abs() < 1e-12);
        assert!((integrate(&s, 0.5, 1.5).unwrap() - (0.5 * 7.5 + 0.5 * 10.0)).abs() < 1e-12);
    }

    #[test]
    fn energy_per_phase_from_power_and_from_counters() {
        // 10 Hz samples over 4 s: 5 W while idle (t < 2), 15 W while decoding (t ≥ 2).
        let mut power = Timeline::default();
        let mut counter = Timeline::default();
        let mut energy = 0.0;
        for i in 0..=40 {
            let t = i as f64 / 10.0;
            let w = if t < 2.0 { 5.0 } else { 15.0 };
            power.samples.push(Sample {
                t_s: t,
                readings: vec![reading("board", Quantity::PowerW, w, true)],
            });
            counter.samples.push(Sample {
                t_s: t,
                readings: vec![reading("rapl/package-0", Quantity::EnergyJ, energy, true)],
            });
            energy += w * 0.1;
        }
        for tl in [&mut power, &mut counter] {
            tl.marks = vec![(0.0, Phase::Idle), (2.0, Phase::Decode)];
        }
        let p = power.summarize(0.0, 4.0);
        let c = counter.summarize(0.0, 4.0);
        // The power series steps at 2.0 s, so the trapezoid smears half a sample interval.
        assert!((p.energy_j["decode"] - 30.0).abs() < 1.0, "{p:?}");
        assert!((p.energy_j["idle"] - 10.0).abs() < 1.0);
        assert!((c.energy_j["decode"] - 30.0).abs() < 1.6, "{c:?}");
        assert!((c.avg_power_w["idle"] - 5.0).abs() < 0.6);
        assert_eq!(p.peak_power_w, Some(15.0));
        assert!((c.peak_power_w.unwrap() - 15.0).abs() < 1e-9);
    }

    #[test]
    fn sub_rails_are_not_added_to_the_total() {
        let mut tl = Timeline::default();
        for i in 0..=10 {
            let t = i as f64 / 10.0;
            tl.samples.push(Sample {
                t_s: t,
                readings: vec![
                    reading("rapl/package-0", Quantity::EnergyJ, 10.0 * t, true),
                    reading("rapl/core", Quantity::EnergyJ, 8.0 * t, false),
                ],
            });
        }
        assert!((tl.energy_between(0.0, 1.0).unwrap() - 10.0).abs() < 1e-9);
    }

    #[test]
    fn window_keeps_the_phase_in_force() {
        let tl = Timeline {
            marks: vec![(0.0, Phase::Load), (1.0, Phase::Decode), (3.0, Phase::Idle)],
            ..Default::default()
        };
        let w = tl.window(2.0, 4.0);
        assert_eq!(w.marks, vec![(2.0, Phase::Decode), (3.0, Phase::Idle)]);
        assert_eq!(
            w.phase_spans(4.0),
            vec![(Phase::Decode, 2.0, 3.0), (Phase::Idle, 3.0, 4.0)]
        );
    }
}
