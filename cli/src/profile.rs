//! The device side of a run: memory bandwidth for the roofline (cached per device and thread
//! count when measured on a quiet machine, measured again when decode reads above it), the idle temperature for cooldown, and the soak and cooldown flags.

use edgebench_harness::bandwidth::{self, Bandwidth, BandwidthCache, CacheDecision};
use edgebench_harness::cooldown::{self, CooldownConfig};
use edgebench_harness::runner::{BandwidthProbe, Roofline};
use edgebench_harness::sampler::Sampler;
use edgebench_harness::schema::Environment;
use std::collections::BTreeMap;
use std::time::Duration;

/// `10m`, `90s`, `1h`, `1h30m` or plain seconds → seconds.
pub fn parse_duration(text: &str) -> Result<f64, String> {
    let t = text.trim();
    if let Ok(s) = t.parse::<f64>() {
        return (s > 0.0 && s.is_finite())
            .then_some(s)
            .ok_or_else(|| format!("'{text}' is not a positive duration"));
    }
    let mut total = 0.0;
    let mut number = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600.0,
            'm' => 60.0,
            's' => 1.0,
            _ => return Err(format!("'{text}' is not a duration (e.g. 10m, 90s, 1h)")),
        };
        let n: f64 = number
            .parse()
            .map_err(|_| format!("'{text}' is not a duration (e.g. 10m, 90s, 1h)"))?;
        total += n * unit;
        number.clear();
    }
    if !number.is_empty() || total <= 0.0 {
        return Err(format!("'{text}' is not a duration (e.g. 10m, 90s, 1h)"));
    }
    Ok(total)
}

/// `--cooldown`: the longest wait before each test, or `off` (None).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CooldownLimit(pub Option<Duration>);

pub fn parse_cooldown(text: &str) -> Result<CooldownLimit, String> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(CooldownLimit(None));
    }
    parse_duration(text)
        .map(|s| CooldownLimit(Some(Duration::from_secs_f64(s))))
        .map_err(|_| format!("'{text}' is not a cooldown limit (seconds, e.g. 60 or 2m, or off)"))
}

/// The roofline's bandwidth for each thread count, from the cache or measured now (printed to
/// stderr); also recorded in the environment (`read_bandwidth_gbs_t<N>`). The roofline can
/// measure again during the run when decode reads above 100% of it.
pub fn roofline(env: &mut Environment, threads: &[usize]) -> Roofline {
    let key = bandwidth::device_key(env);
    let llc = bandwidth::last_level_cache_bytes();
    let buffer = bandwidth::default_buffer_bytes(llc, env.ram_bytes);
    let peak = env
        .extra
        .get("catalog_peak_bandwidth_gbs")
        .map(|p| format!(", catalog peak {p} GB/s"))
        .unwrap_or_default();
    let cache = BandwidthCache::in_dir(&bandwidth::cache_dir());
    let mut out = BTreeMap::new();
    for &t in threads {
        let (bw, decision) = cache.get_or_measure(&key, t, buffer);
        eprintln!(
            "memory bandwidth with {t} thread{}: {}{peak}",
            if t == 1 { "" } else { "s" },
            describe(&bw, decision.as_ref())
        );
        env.extra.insert(
            format!("read_bandwidth_gbs_t{t}"),
            format!("{:.2}", bw.read_gbs),
        );
        out.insert(t, bw.read_gbs);
    }
    let remeasure = BandwidthProbe::new(move |t| {
        let cache = BandwidthCache::in_dir(&bandwidth::cache_dir());
        let (bw, decision) = cache.measure_and_store(&key, t, buffer);
        eprintln!(
            "  memory bandwidth with {t} thread{}, measured again: {}",
            if t == 1 { "" } else { "s" },
            describe(&bw, Some(&decision))
        );
        Some(bw.read_gbs)
    });
    Roofline {
        read_gbs: out,
        min_weight_bytes: min_roofline_bytes(),
        remeasure: Some(remeasure),
    }
}

/// Models with fewer weight bytes have no roofline: weights under 4 × the last-level cache are
/// served from cache, not memory.
pub fn min_roofline_bytes() -> u64 {
    bandwidth::last_level_cache_bytes().unwrap_or(8 << 20) * 4
}

/// `read 32.3 GB/s, triad 20.1 GB/s (avx2 loads; cached 2026-…)`, or how it was measured now
/// and whether the cache took it.
pub fn describe(bw: &Bandwidth, decision: Option<&CacheDecision>) -> String {
    let how = match decision {
        None => format!("cached {}", bw.measured_at),
        Some(CacheDecision::Cache) => {
            format!("measured over {} MiB, cached", bw.buffer_bytes >> 20)
        }
        Some(CacheDecision::KeepCached) => {
            "measured now; a higher cached measurement is kept".to_string()
        }
        Some(CacheDecision::Refuse(why)) => format!("measured now, not cached: {why}"),
    };
    let kernel = if bw.kernel.is_empty() {
        String::new()
    } else {
        format!("{} loads; ", bw.kernel)
    };
    format!(
        "read {:.1} GB/s, triad {:.1} GB/s ({kernel}{how})",
        bw.read_gbs, bw.triad_gbs
    )
}

/// The cooldown settings: the idle temperature measured now (about a second), or `None` with
/// a note when the machine has no temperature sensor.
pub fn cooldown_config(
    sampler: &Sampler,
    max_wait: Duration,
    margin_c: f64,
) -> Option<CooldownConfig> {
    match cooldown::idle_baseline(sampler, Duration::from_secs(1)) {
        Some(baseline_c) => {
            eprintln!(
                "idle temperature {baseline_c:.1} °C: before each test, wait up to {:.0} s until within {margin_c} °C of it",
                max_wait.as_secs_f64()
            );
            Some(CooldownConfig {
                baseline_c,
                margin_c,
                max_wait,
            })
        }
        None => {
            eprintln!("no temperature sensor: no cooldown between tests");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Ok(600.0));
        assert_eq!(parse_duration("90s"), Ok(90.0));
        assert_eq!(parse_duration("1h30m"), Ok(5400.0));
        assert_eq!(parse_duration("45"), Ok(45.0));
        assert_eq!(parse_duration("0.5m"), Ok(30.0));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("10m5").is_err());
        assert_eq!(parse_cooldown("off"), Ok(CooldownLimit(None)));
        assert_eq!(
            parse_cooldown("2m"),
            Ok(CooldownLimit(Some(Duration::from_secs(120))))
        );
        assert!(parse_cooldown("soon").unwrap_err().contains("cooldown"));
    }
}
