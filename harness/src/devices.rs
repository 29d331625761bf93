//! The device catalog (`harness/devices.toml`, embedded) and recognising this machine in it.
//!
//! Boards are recognised by `/proc/device-tree/model` (Raspberry Pi, Jetson; a Jetson's power
//! mode from `nvpmodel -q` tells Super mode apart), Apple chips by their CPU brand string (what
//! `sysctl machdep.cpu.brand_string` prints), NVIDIA GPUs by their NVML name; among matching
//! entries the one nearest this machine's RAM wins. Anything else is "unknown <arch> host",
//! profiled by its cores, RAM and measured bandwidth.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const CATALOG_TOML: &str = include_str!("../devices.toml");

/// One catalog entry. Numbers are as published; `sources` names where (key = field).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    pub id: String,
    pub name: String,
    /// `board`, `soc`, `gpu` or `reference`.
    pub kind: String,
    #[serde(default)]
    pub match_model: Option<String>,
    #[serde(default)]
    pub match_cpu: Option<String>,
    #[serde(default)]
    pub match_cores: Option<usize>,
    #[serde(default)]
    pub match_power_mode: Vec<String>,
    #[serde(default)]
    pub match_gpu: Option<String>,
    #[serde(default)]
    pub ram_gb: Option<f64>,
    #[serde(default)]
    pub memory: Option<String>,
    /// Peak memory bandwidth, GB/s (10⁹ bytes).
    #[serde(default)]
    pub peak_bandwidth_gbs: Option<f64>,
    /// Power in words (supply, modes, typical draw).
    #[serde(default)]
    pub power: Option<String>,
    #[serde(default)]
    pub power_modes: Vec<String>,
    /// Thermal design power / total board power, W.
    #[serde(default)]
    pub tdp_w: Option<f64>,
    /// A published measured peak draw, W.
    #[serde(default)]
    pub peak_power_w: Option<f64>,
    #[serde(default)]
    pub price_usd: Option<f64>,
    /// Peak arithmetic rate of the engine compute-bound work runs on, TFLOPs/s, at the
    /// precision it computes in (`compute` says which engine).
    #[serde(default)]
    pub peak_compute_tflops: Option<f64>,
    #[serde(default)]
    pub compute: Option<String>,
    #[serde(default)]
    pub sources: BTreeMap<String, String>,
}

/// Published measurements from one public source, one engine and one model (the device
/// chooser's data; see the end of `harness/devices.toml`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PublishedGroup {
    /// Where the figures are published (a URL).
    pub source: String,
    /// The backend, as edgebench names targets (`llamacpp`, `whispercpp`), or another
    /// engine's name (`mlc`).
    pub engine: String,
    /// edgebench scenario name of the model (a figure may name another).
    pub model: String,
    /// How the source measured.
    pub setup: String,
    /// Prompt tokens behind `pp` figures.
    #[serde(default)]
    pub prompt_tokens: Option<usize>,
    /// Generated tokens behind `tg` figures.
    #[serde(default)]
    pub gen_tokens: Option<usize>,
    pub figures: Vec<PublishedFigure>,
}

/// One row of a published table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PublishedFigure {
    /// Catalog device id.
    pub device: String,
    /// Quantization, as edgebench names it (`q4_0`, `q4_k_m`, `f16`).
    pub quant: String,
    /// The model when not the group's.
    #[serde(default)]
    pub model: Option<String>,
    /// Prompt processing, t/s.
    #[serde(default)]
    pub pp: Option<f64>,
    /// Generation, t/s.
    #[serde(default)]
    pub tg: Option<f64>,
    /// A Whisper encoder pass over 30 s of audio, ms.
    #[serde(default)]
    pub encode_ms: Option<f64>,
    /// Power the source reports with the figure, W.
    #[serde(default)]
    pub power_w: Option<f64>,
    #[serde(default)]
    pub note: Option<String>,
}

impl PublishedFigure {
    /// The figure's model: its own, else its group's.
    pub fn model<'a>(&'a self, group: &'a PublishedGroup) -> &'a str {
        self.model.as_deref().unwrap_or(&group.model)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    device: Vec<DeviceSpec>,
    #[serde(default)]
    published: Vec<PublishedGroup>,
}

fn catalog_file() -> &'static CatalogFile {
    static FILE: OnceLock<CatalogFile> = OnceLock::new();
    FILE.get_or_init(|| {
        toml::from_str::<CatalogFile>(CATALOG_TOML)
            // The file is compiled in and checked by the tests below.
            .unwrap_or_else(|e| panic!("harness/devices.toml: {e}"))
    })
}

/// The published measurements of the catalog, in file order.
pub fn published() -> &'static [PublishedGroup] {
    &catalog_file().published
}

/// Every catalog entry, in file order.
pub fn catalog() -> &'static [DeviceSpec] {
    &catalog_file().device
}

/// What is known about this machine for matching.
#[derive(Debug, Clone, Default)]
pub struct Probe<'a> {
    /// `/proc/device-tree/model`, without its NUL.
    pub model: Option<&'a str>,
    pub cpu_brand: &'a str,
    pub cores: usize,
    pub ram_bytes: u64,
    /// `nvpmodel -q` mode name (`25W (mode 1)`).
    pub power_mode: Option<&'a str>,
}

/// The catalog entry of this machine (a board or an Apple chip), if it is in the catalog.
pub fn identify(probe: &Probe) -> Option<&'static DeviceSpec> {
    let candidates: Vec<&DeviceSpec> = catalog()
        .iter()
        .filter(|d| d.kind == "board" || d.kind == "soc")
        .filter(|d| {
            let by_model = match (&d.match_model, probe.model) {
                (Some(m), Some(model)) => model.contains(m.as_str()),
                _ => false,
            };
            let by_cpu = d
                .match_cpu
                .as_deref()
                .is_some_and(|c| c == probe.cpu_brand.trim());
            (by_model || by_cpu)
                && d.match_cores.is_none_or(|n| n == probe.cores)
                && (d.match_power_mode.is_empty()
                    || probe
                        .power_mode
                        .is_some_and(|p| d.match_power_mode.iter().any(|m| p.contains(m.as_str()))))
        })
        .collect();
    nearest_ram(candidates, probe.ram_bytes)
}

/// Among `candidates`, the first whose `ram_gb` is nearest `ram_bytes` (on a log scale, as
/// the OS reports a little less than the installed RAM).
fn nearest_ram(
    candidates: Vec<&'static DeviceSpec>,
    ram_bytes: u64,
) -> Option<&'static DeviceSpec> {
    let ram_gib = ram_bytes as f64 / (1u64 << 30) as f64;
    let distance = |d: &DeviceSpec| match d.ram_gb {
        Some(gb) if ram_gib > 0.0 => (ram_gib / gb).ln().abs(),
        _ => 0.0,
    };
    let mut best: Option<&'static DeviceSpec> = None;
    for c in candidates {
        if best.is_none_or(|b| distance(c) < distance(b) - 1e-9) {
            best = Some(c);
        }
    }
    best
}

/// The catalog entry of an NVIDIA GPU by its NVML name: the longest `match_gpu` that appears
/// in the name as whole words.
pub fn identify_gpu(nvml_name: &str) -> Option<&'static DeviceSpec> {
    catalog()
        .iter()
        .filter(|d| d.kind == "gpu")
        .filter_map(|d| {
            let pattern = d.match_gpu.as_deref()?;
            contains_words(nvml_name, pattern).then_some((pattern.len(), d))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, d)| d)
}

/// `pattern` occurs in `text` with no letter or digit right before or after it.
fn contains_words(text: &str, pattern: &str) -> bool {
    text.match_indices(pattern).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + pattern.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric()) && !after.is_some_and(|c| c.is_alphanumeric())
    })
}

/// An entry by id.
pub fn by_id(id: &str) -> Option<&'static DeviceSpec> {
    catalog().iter().find(|d| d.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn catalog_parses_and_every_number_has_a_source() {
        let c = catalog();
        assert!(c.len() >= 30, "{} entries", c.len());
        let mut ids = std::collections::HashSet::new();
        for d in c {
            assert!(ids.insert(&d.id), "duplicate id {}", d.id);
            assert!(
                ["board", "soc", "gpu", "reference"].contains(&d.kind.as_str()),
                "{}: kind {}",
                d.id,
                d.kind
            );
            let needs = [
                ("bandwidth", d.peak_bandwidth_gbs.is_some()),
                (
                    "power",
                    d.tdp_w.is_some() || d.peak_power_w.is_some() || !d.power_modes.is_empty(),
                ),
                ("price", d.price_usd.is_some()),
                ("compute", d.peak_compute_tflops.is_some()),
            ];
            for (key, has) in needs {
                if has {
                    let src = d.sources.get(key).map(String::as_str).unwrap_or("");
                    assert!(src.starts_with("https://"), "{}: no source for {key}", d.id);
                }
            }
            for key in d.sources.keys() {
                assert!(
                    ["bandwidth", "power", "price", "memory", "compute"].contains(&key.as_str()),
                    "{}: unknown source key {key}",
                    d.id
                );
            }
            let recognisable =
                d.match_model.is_some() || d.match_cpu.is_some() || d.match_gpu.is_some();
            assert_eq!(recognisable, d.kind != "reference", "{}", d.id);
        }
    }

    #[test]
    fn published_figures_name_catalog_devices_and_sources() {
        let groups = published();
        assert!(groups.len() >= 5);
        for g in groups {
            assert!(g.source.starts_with("https://"), "{}", g.source);
            assert!(!g.setup.is_empty() && !g.figures.is_empty(), "{}", g.source);
            for f in &g.figures {
                assert!(
                    by_id(&f.device).is_some(),
                    "{}: unknown device {}",
                    g.source,
                    f.device
                );
                let values = [f.pp, f.tg, f.encode_ms];
                assert!(
                    values.iter().any(Option::is_some) && values.iter().flatten().all(|v| *v > 0.0),
                    "{}: {} has no figure",
                    g.source,
                    f.device
                );
                if f.pp.is_some() {
                    assert!(
                        g.prompt_tokens.is_some(),
                        "{}: pp without prompt_tokens",
                        g.source
                    );
                }
            }
        }
    }

    #[test]
    fn raspberry_pi_5_by_model_and_ram() {
        // An 8 GB Pi 5 reports about 7.9 GiB.
        let probe = Probe {
            model: Some("Raspberry Pi 5 Model B Rev 1.0"),
            cpu_brand: "Cortex-A76",
            cores: 4,
            ram_bytes: 8_245_000 * 1024,
            power_mode: None,
        };
        let d = identify(&probe).unwrap();
        assert_eq!(d.id, "rpi5-8gb");
        assert_eq!(d.peak_bandwidth_gbs, Some(17.1));
        let small = Probe {
            ram_bytes: 4 * GIB - (200 << 20),
            ..probe.clone()
        };
        assert_eq!(identify(&small).unwrap().id, "rpi5-4gb");
        let big = Probe {
            ram_bytes: 16 * GIB - (300 << 20),
            ..probe
        };
        assert_eq!(identify(&big).unwrap().id, "rpi5-16gb");
    }

    #[test]
    fn jetson_orin_nano_super_mode_by_power_mode() {
        let probe = Probe {
            model: Some("NVIDIA Jetson Orin Nano Developer Kit"),
            cores: 6,
            ram_bytes: 7620 << 20,
            power_mode: Some("15W (mode 0)"),
            ..Default::default()
        };
        assert_eq!(identify(&probe).unwrap().id, "jetson-orin-nano-8gb");
        let sup = Probe {
            power_mode: Some("MAXN_SUPER (mode 2)"),
            ..probe
        };
        let d = identify(&sup).unwrap();
        assert_eq!(d.id, "jetson-orin-nano-8gb-super");
        assert_eq!(d.peak_bandwidth_gbs, Some(102.0));
        let agx = Probe {
            model: Some("NVIDIA Jetson AGX Orin Developer Kit"),
            ram_bytes: 62 * GIB,
            ..Default::default()
        };
        assert_eq!(identify(&agx).unwrap().id, "jetson-agx-orin-64gb");
    }

    #[test]
    fn apple_chips_by_brand_and_cores() {
        let m2 = Probe {
            cpu_brand: "Apple M2 Pro",
            cores: 12,
            ..Default::default()
        };
        assert_eq!(identify(&m2).unwrap().peak_bandwidth_gbs, Some(200.0));
        let m4max = Probe {
            cpu_brand: "Apple M4 Max",
            cores: 14,
            ..Default::default()
        };
        assert_eq!(identify(&m4max).unwrap().peak_bandwidth_gbs, Some(410.0));
        // "Apple M2" must not match the M2 Pro entry or the other way round.
        let m2_base = Probe {
            cpu_brand: "Apple M2",
            ..Default::default()
        };
        assert_eq!(identify(&m2_base).unwrap().id, "apple-m2");
    }

    #[test]
    fn unknown_hosts_match_nothing() {
        let probe = Probe {
            cpu_brand: "AMD EPYC",
            cores: 2,
            ram_bytes: 24 * GIB,
            ..Default::default()
        };
        assert!(identify(&probe).is_none());
    }

    #[test]
    fn gpus_by_nvml_name_as_whole_words() {
        let id = |n: &str| identify_gpu(n).map(|d| d.id.as_str());
        assert_eq!(id("NVIDIA GeForce RTX 4090"), Some("nvidia-rtx-4090"));
        assert_eq!(id("NVIDIA H100 80GB HBM3"), Some("nvidia-h100-sxm"));
        assert_eq!(id("NVIDIA H100 PCIe"), Some("nvidia-h100-pcie"));
        assert_eq!(id("NVIDIA L40S"), Some("nvidia-l40s"));
        assert_eq!(id("NVIDIA L4"), Some("nvidia-l4"));
        assert_eq!(id("Tesla T4"), Some("nvidia-t4"));
        assert_eq!(id("NVIDIA GeForce GTX 1080"), None);
    }
}
