//! The chooser's inputs: devices from the catalog, published figures from the catalog, measured
//! figures from results files (matched to catalog devices by the record's catalog id, else its
//! device name).

use super::cost::Work;
use super::{Device, Metric, Observation, Origin};
use edgebench_harness::devices::{self, DeviceSpec};
use edgebench_harness::schema::{metric, Status, TestRecord};
use edgebench_scenarios::Catalog;

/// The family a device's efficiencies are fitted with: devices that share an engine design and
/// memory system. Apple chips are split by tier (base, Pro, Max, Ultra): their GPUs reach very
/// different fractions of their bandwidth.
pub fn family(spec: &DeviceSpec) -> String {
    let id = spec.id.as_str();
    let f = if id.starts_with("rpi5") {
        "raspberry-pi-5"
    } else if id.starts_with("jetson") {
        "jetson-orin"
    } else if id.starts_with("apple-") {
        if id.contains("-ultra") {
            "apple-ultra"
        } else if id.contains("-max") {
            "apple-max"
        } else if id.contains("-pro") {
            "apple-pro"
        } else {
            "apple-base"
        }
    } else if spec.kind == "gpu" {
        "nvidia-gpu"
    } else if id.starts_with("x86") {
        "x86"
    } else {
        "other"
    };
    f.to_string()
}

/// A catalog entry as the chooser sees it.
pub fn device(spec: &DeviceSpec) -> Device {
    let power = if let Some(w) = spec.peak_power_w {
        Some((w, "published peak draw".to_string()))
    } else if let Some(w) = spec.tdp_w {
        Some((w, "TDP".to_string()))
    } else {
        // Jetson power modes are budgets ("25W"): the highest is the most it draws.
        spec.power_modes
            .iter()
            .filter_map(|m| m.trim_end_matches('W').parse::<f64>().ok())
            .max_by(f64::total_cmp)
            .map(|w| (w, "highest power mode".to_string()))
    };
    Device {
        id: spec.id.clone(),
        name: spec.name.clone(),
        family: family(spec),
        bandwidth_gbs: spec.peak_bandwidth_gbs,
        compute_tflops: spec.peak_compute_tflops,
        ram_bytes: spec.ram_gb.map(|gb| (gb * (1u64 << 30) as f64) as u64),
        power,
        price_usd: spec.price_usd,
        in_catalog: true,
    }
}

/// Every device one can buy from the catalog (boards, Apple chips, NVIDIA GPUs; not the x86
/// reference configurations).
pub fn catalog_devices() -> Vec<Device> {
    devices::catalog()
        .iter()
        .filter(|d| d.kind != "reference")
        .map(device)
        .collect()
}

fn observation(device: &Device, work: Option<f64>, metric: Metric, value: f64) -> Observation {
    Observation {
        device: device.id.clone(),
        family: device.family.clone(),
        bandwidth_gbs: device.bandwidth_gbs,
        compute_tflops: device.compute_tflops,
        backend: String::new(),
        model: String::new(),
        quant: String::new(),
        metric,
        value,
        work,
        origin: Origin::Published,
        source: String::new(),
        note: String::new(),
        tokens: None,
        power_w: None,
        throttled: None,
    }
}

/// The catalog's published figures, with their costs. Fails on a figure whose model or
/// quantization the scenario catalog does not know (the catalog's tests keep that from
/// happening).
pub fn published(catalog: &Catalog) -> anyhow::Result<Vec<Observation>> {
    let mut out = Vec::new();
    for g in devices::published() {
        for f in &g.figures {
            let spec = devices::by_id(&f.device).ok_or_else(|| {
                anyhow::anyhow!(
                    "harness/devices.toml: {}: unknown device {}",
                    g.source,
                    f.device
                )
            })?;
            let dev = device(spec);
            let model = f.model(g);
            let work = Work::resolve(catalog, model, &f.quant).map_err(|e| {
                anyhow::anyhow!(
                    "harness/devices.toml: {}: {model} {}: {e}",
                    g.source,
                    f.quant
                )
            })?;
            let note = match &f.note {
                Some(n) => format!("{}; {n}", g.setup),
                None => g.setup.clone(),
            };
            let figures = [
                (Metric::Prompt, f.pp, g.prompt_tokens),
                (Metric::Generation, f.tg, g.gen_tokens),
                (Metric::Encoder, f.encode_ms.map(|ms| ms / 1e3), None),
            ];
            for (metric, value, tokens) in figures {
                let Some(value) = value else { continue };
                let cost = match metric {
                    Metric::Generation => work.bytes_per_token(),
                    _ => work.flops(tokens.unwrap_or(0)),
                };
                out.push(Observation {
                    backend: g.engine.clone(),
                    model: model.to_string(),
                    quant: f.quant.clone(),
                    source: g.source.clone(),
                    note: note.clone(),
                    tokens,
                    power_w: f.power_w,
                    ..observation(&dev, Some(cost), metric, value)
                });
            }
        }
    }
    Ok(out)
}

/// The catalog device a results record ran on: its recorded catalog id, else a catalog entry
/// of the same name, else the entry the record's device name, CPU, cores, RAM and power mode
/// are recognised as (results written before records carried the catalog id).
pub fn catalog_device_of(t: &TestRecord) -> Option<&'static DeviceSpec> {
    let env = &t.environment;
    env.extra
        .get("catalog_id")
        .and_then(|id| devices::by_id(id))
        .or_else(|| devices::catalog().iter().find(|d| d.name == env.device))
        .or_else(|| {
            devices::identify(&devices::Probe {
                model: Some(
                    env.extra
                        .get("board_model")
                        .map_or(env.device.as_str(), String::as_str),
                ),
                cpu_brand: &env.cpu_model,
                cores: env.cpu_cores,
                ram_bytes: env.ram_bytes,
                power_mode: env.extra.get("power_mode").map(String::as_str),
            })
        })
}

/// The device a results record ran on: its catalog entry, or what the record says of it.
pub fn device_of(t: &TestRecord) -> Device {
    if let Some(spec) = catalog_device_of(t) {
        return device(spec);
    }
    let env = &t.environment;
    let name = if env.device.is_empty() {
        "unknown device".to_string()
    } else {
        env.device.clone()
    };
    Device {
        id: name.clone(),
        name,
        family: "unmatched".into(),
        bandwidth_gbs: None,
        compute_tflops: None,
        ram_bytes: (env.ram_bytes > 0).then_some(env.ram_bytes),
        power: None,
        price_usd: None,
        in_catalog: false,
    }
}

/// Measured figures of the tests that ended ok: generation and prompt t/s, Whisper encoder
/// time and real-time factor, each the median over repetitions. The devices they ran on come
/// back beside them (catalog devices and devices only the results know).
pub fn measured(catalog: &Catalog, tests: &[TestRecord]) -> (Vec<Observation>, Vec<Device>) {
    let mut out = Vec::new();
    let mut devices: Vec<Device> = Vec::new();
    for t in tests.iter().filter(|t| t.status == Status::Ok) {
        let dev = device_of(t);
        if !devices.iter().any(|d| d.id == dev.id) {
            devices.push(dev.clone());
        }
        let work = Work::resolve(catalog, &t.scenario.model, &t.scenario.quant).ok();
        let throttled = t.sensors.throttled_repetitions.map(|n| n > 0);
        let power = t
            .summary
            .get(metric::DECODE_POWER_W)
            .map(|s| s.median)
            .or_else(|| t.sensors.avg_power_w.values().copied().reduce(f64::max));
        let source = format!(
            "run {} on {}{}",
            t.run_id,
            if t.environment.hostname.is_empty() {
                "?"
            } else {
                &t.environment.hostname
            },
            if t.scenario.synthetic {
                " (synthetic weights)"
            } else {
                ""
            }
        );
        let figures = [
            (
                Metric::Generation,
                metric::TG_TPS,
                work.as_ref().map(|w| w.bytes_per_token()),
                t.scenario.gen_tokens,
            ),
            (
                Metric::Prompt,
                metric::PP_TPS,
                work.as_ref()
                    .filter(|w| !w.is_whisper())
                    .map(|w| w.flops(t.scenario.prompt_tokens)),
                t.scenario.prompt_tokens,
            ),
            (
                Metric::Encoder,
                metric::ENCODE_S,
                work.as_ref().filter(|w| w.is_whisper()).map(|w| w.flops(0)),
                0,
            ),
            (Metric::Rtf, metric::RTF, None, 0),
        ];
        for (m, name, cost, tokens) in figures {
            let Some(s) = t.summary.get(name) else {
                continue;
            };
            if s.median.is_nan() || s.median <= 0.0 {
                continue;
            }
            out.push(Observation {
                backend: t.target.name.clone(),
                model: t.scenario.model.clone(),
                quant: t.scenario.quant.clone(),
                origin: Origin::Measured,
                source: source.clone(),
                note: format!("{} threads, {}", t.parameters.threads, t.scenario.workload),
                tokens: (tokens > 0).then_some(tokens),
                power_w: power,
                throttled,
                ..observation(&dev, cost, m, s.median)
            });
        }
    }
    (out, devices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_power() {
        let fam = |id: &str| family(devices::by_id(id).unwrap());
        assert_eq!(fam("rpi5-8gb"), "raspberry-pi-5");
        assert_eq!(fam("apple-m2"), "apple-base");
        assert_eq!(fam("apple-m3-max-16c"), "apple-max");
        assert_eq!(fam("apple-m2-ultra"), "apple-ultra");
        assert_eq!(fam("jetson-orin-nano-8gb-super"), "jetson-orin");
        assert_eq!(fam("nvidia-rtx-4090"), "nvidia-gpu");
        let nano = device(devices::by_id("jetson-orin-nano-8gb-super").unwrap());
        assert_eq!(nano.power.unwrap().0, 25.0);
        let pi = device(devices::by_id("rpi5-8gb").unwrap());
        assert_eq!(pi.ram_bytes, Some(8 << 30));
        assert!(catalog_devices().iter().all(|d| !d.id.starts_with("x86")));
    }

    #[test]
    fn every_published_figure_has_a_cost() {
        let obs = published(&Catalog::builtin()).unwrap();
        assert!(obs.len() > 100, "{}", obs.len());
        for o in &obs {
            assert!(o.work.is_some_and(|w| w > 0.0), "{o:?}");
            // A published generation figure above its physical ceiling would be a typo.
            if let (Metric::Generation, Some(e)) = (o.metric, o.efficiency()) {
                assert!(
                    e > 0.05 && e < 1.0,
                    "{} {} {}: {e}",
                    o.device,
                    o.model,
                    o.quant
                );
            }
        }
    }
}
