//! Soak tests: one workload run back to back for a set time (`edgebench run --soak 10m`), the
//! curve that shows a fanless board slowing down as it heats. The decode rate is computed per
//! time window from the individual token times, next to the hottest temperature, the mean CPU
//! clock, the mean power and the throttle verdict of the same window.

use crate::sampler::Timeline;
use crate::schema::{SoakSummary, SoakWindow};
use crate::throttling;

/// One generated token on the timeline clock: when its decode step ended and how long it took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenTime {
    pub end_s: f64,
    pub duration_s: f64,
}

/// Token times of one repetition: decode began at `decode_start_s` and took `decode_s` a step.
pub fn token_times(decode_start_s: f64, decode_s: &[f64]) -> Vec<TokenTime> {
    let mut t = decode_start_s;
    decode_s
        .iter()
        .map(|&d| {
            t += d;
            TokenTime {
                end_s: t,
                duration_s: d,
            }
        })
        .collect()
}

/// Windows of `window_s` from `start_s` to `end_s` (the last one may be shorter; a soak ends
/// when its last repetition does). Times in the result are relative to `start_s`, to the ms. `cpu_work`: the CPU clock rule of the throttle verdict
/// applies (see [`throttling::assess`]).
pub fn summarize(
    tokens: &[TokenTime],
    timeline: &Timeline,
    start_s: f64,
    end_s: f64,
    duration_s: f64,
    window_s: f64,
    cpu_work: bool,
) -> SoakSummary {
    let mut windows = Vec::new();
    let mut w0 = start_s;
    while window_s > 0.0 && w0 < end_s - 1e-9 {
        let w1 = (w0 + window_s).min(end_s);
        // A token belongs to the window holding the middle of its decode step.
        let inside: Vec<&TokenTime> = tokens
            .iter()
            .filter(|t| {
                let mid = t.end_s - t.duration_s / 2.0;
                mid >= w0 && mid < w1
            })
            .collect();
        let busy: f64 = inside.iter().map(|t| t.duration_s).sum();
        let sensors = timeline.summarize(w0, w1);
        let power = timeline
            .energy_between(w0, w1)
            .filter(|_| w1 > w0)
            .map(|j| j / (w1 - w0));
        let ms = |t: f64| ((t - start_s) * 1e3).round() / 1e3;
        windows.push(SoakWindow {
            start_s: ms(w0),
            end_s: ms(w1),
            tokens: inside.len(),
            tg_tps: (busy > 0.0).then(|| inside.len() as f64 / busy),
            max_temp_c: sensors.max_temp_c,
            avg_clock_mhz: sensors.avg_clock_mhz,
            avg_power_w: power,
            throttled: throttling::assess(timeline, w0, w1, cpu_work).throttled,
        });
        w0 = w1;
    }
    // First against last window that is at least half a window long.
    let full: Vec<&SoakWindow> = windows
        .iter()
        .filter(|w| w.end_s - w.start_s >= window_s / 2.0 && w.tg_tps.is_some())
        .collect();
    let change_percent = match (full.first(), full.last()) {
        (Some(a), Some(b)) if full.len() >= 2 => {
            Some((b.tg_tps.unwrap_or(0.0) / a.tg_tps.unwrap_or(1.0) - 1.0) * 100.0)
        }
        _ => None,
    };
    SoakSummary {
        duration_s,
        window_s,
        windows,
        change_percent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::Sample;
    use crate::sensors::{Quantity, Reading};

    #[test]
    fn rate_per_window_next_to_temperature() {
        // 30 s of decoding: 10 t/s for 10 s, then 8 t/s while the board heats, then 5 t/s.
        let mut tokens = Vec::new();
        let mut t = 0.0;
        for (rate, until) in [(10.0, 10.0), (8.0, 20.0), (5.0, 30.0)] {
            while t + 1.0 / rate <= until + 1e-9 {
                tokens.extend(token_times(t, &[1.0 / rate]));
                t += 1.0 / rate;
            }
        }
        let timeline = Timeline {
            samples: (0..=30)
                .map(|s| Sample {
                    t_s: s as f64,
                    readings: vec![Reading {
                        channel: "thermal/cpu-thermal".into(),
                        quantity: Quantity::TemperatureC,
                        value: 50.0 + s as f64,
                        total: false,
                    }],
                })
                .collect(),
            ..Default::default()
        };
        let s = summarize(&tokens, &timeline, 0.0, 30.0, 30.0, 10.0, true);
        assert_eq!(s.windows.len(), 3);
        let rates: Vec<f64> = s.windows.iter().map(|w| w.tg_tps.unwrap()).collect();
        assert!((rates[0] - 10.0).abs() < 1e-6, "{rates:?}");
        assert!((rates[1] - 8.0).abs() < 1e-6, "{rates:?}");
        assert!((rates[2] - 5.0).abs() < 1e-6, "{rates:?}");
        assert_eq!(s.windows[2].max_temp_c, Some(80.0));
        assert!((s.change_percent.unwrap() + 50.0).abs() < 1e-6);
        // No throttle channel: cannot tell.
        assert_eq!(s.windows[0].throttled, None);
    }

    #[test]
    fn token_times_accumulate() {
        let t = token_times(2.0, &[0.5, 0.25]);
        assert_eq!(t[0].end_s, 2.5);
        assert_eq!(t[1].end_s, 2.75);
        assert_eq!(t[1].duration_s, 0.25);
    }
}
