//! Cooldown: before each test, wait (bounded) until the device is back near the temperature it
//! idled at when the run started, so a test does not inherit the heat of the one before.
//! The temperature is the hottest temperature channel of the latest sample; the wait is marked
//! on the timeline as the `cooldown` phase and recorded in the test's sensor summary.

use crate::protocol::Phase;
use crate::sampler::{Sample, Sampler};
use crate::schema::Cooldown;
use crate::sensors::Quantity;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CooldownConfig {
    /// Idle temperature at the start of the run, °C.
    pub baseline_c: f64,
    /// Done when within this many °C of the baseline.
    pub margin_c: f64,
    /// Longest wait before a test.
    pub max_wait: Duration,
}

/// Default margin above the idle baseline, °C.
pub const DEFAULT_MARGIN_C: f64 = 3.0;
/// Default longest wait before a test.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(60);

/// The hottest temperature in a sample.
pub fn hottest(sample: &Sample) -> Option<f64> {
    sample
        .readings
        .iter()
        .filter(|r| r.quantity == Quantity::TemperatureC)
        .map(|r| r.value)
        .reduce(f64::max)
}

/// The idle temperature: the mean of the hottest temperature over `duration` of samples taken
/// now (call it before anything runs). `None` when the machine has no temperature sensor.
pub fn idle_baseline(sampler: &Sampler, duration: Duration) -> Option<f64> {
    let from = sampler.now();
    std::thread::sleep(duration.max(sampler.interval() * 2));
    let to = sampler.now();
    let window = sampler.window(from, to);
    let temps: Vec<f64> = window
        .samples
        .iter()
        .filter(|s| s.t_s >= from)
        .filter_map(hottest)
        .collect();
    (!temps.is_empty()).then(|| temps.iter().sum::<f64>() / temps.len() as f64)
}

/// The hottest temperature now, if it is above the cooldown's target.
pub fn too_hot(sampler: &Sampler, config: &CooldownConfig) -> Option<f64> {
    let now_c = sampler.latest().as_ref().and_then(hottest)?;
    (now_c > config.baseline_c + config.margin_c).then_some(now_c)
}

/// Wait until the hottest temperature is within the margin of the baseline, the time limit
/// passes, or `cancel` is set. `None` when no sample has a temperature.
pub fn wait(sampler: &Sampler, config: &CooldownConfig, cancel: &AtomicBool) -> Option<Cooldown> {
    let start_c = sampler.latest().as_ref().and_then(hottest)?;
    let target = config.baseline_c + config.margin_c;
    let started = Instant::now();
    let mut now_c = start_c;
    if now_c > target {
        sampler.mark(Phase::Cooldown);
        while now_c > target
            && started.elapsed() < config.max_wait
            && !cancel.load(Ordering::Relaxed)
        {
            std::thread::sleep(sampler.interval());
            if let Some(t) = sampler.latest().as_ref().and_then(hottest) {
                now_c = t;
            }
        }
        sampler.mark(Phase::Idle);
    }
    Some(Cooldown {
        waited_s: if start_c > target {
            started.elapsed().as_secs_f64()
        } else {
            0.0
        },
        baseline_c: config.baseline_c,
        start_c,
        end_c: now_c,
        reached: now_c <= target,
    })
}
