//! The llama.cpp load options (`LoadSpec::options`), with llama-bench's defaults, so a run with
//! no options measures what `llama-bench` measures.

use edgebench_target_kit::describe::OptionSpec;
use std::collections::BTreeMap;

/// Option keys this target reads, as `edgebench run` passes them (and records them in
/// `TestRecord.parameters.options`). llama-bench's flags: `-b`, `-ub`, (none), `-fa`, `-ctk`,
/// `-ctv`, `-ngl`.
pub const KEYS: [&str; 7] = [
    "batch",
    "ubatch",
    "ctx",
    "flash_attn",
    "cache_type_k",
    "cache_type_v",
    "n_gpu_layers",
];

/// KV cache types llama.cpp accepts for `-ctk`/`-ctv` (common/arg.cpp `kv_cache_types`).
pub const CACHE_TYPES: [&str; 9] = [
    "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1",
];

/// The options as this target describes them to the CLI (`--opt key=value`, llama-bench's
/// short flags as aliases): allowed values, default and help.
pub fn describe() -> Vec<OptionSpec> {
    vec![
        OptionSpec::new(
            "batch",
            "logical batch: most prompt tokens per llama_decode (llama-bench -b)",
        )
        .number(1)
        .default_value("2048"),
        OptionSpec::new(
            "ubatch",
            "physical batch: tokens per compute graph (llama-bench -ub)",
        )
        .number(1)
        .default_value("512"),
        OptionSpec::new(
            "ctx",
            "context size (llama-bench has none; -c in llama-cli)",
        )
        .number(1)
        .default_value("what the workloads need"),
        OptionSpec::new("flash_attn", "flash attention (llama-bench -fa)")
            .words(&["0", "1", "auto", "on", "off", "true", "false", "-1"])
            .default_value("auto"),
        OptionSpec::new("cache_type_k", "K cache type (llama-bench -ctk)")
            .words(&CACHE_TYPES)
            .default_value("f16"),
        OptionSpec::new(
            "cache_type_v",
            "V cache type (llama-bench -ctv; quantized needs flash attention)",
        )
        .words(&CACHE_TYPES)
        .default_value("f16"),
        OptionSpec::new("n_gpu_layers", "layers on the GPU (llama-bench -ngl)")
            .number(0)
            .words(&["all", "-1"])
            .default_value("all"),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashAttn {
    /// llama.cpp decides per device (llama-bench's default).
    Auto,
    On,
    Off,
}

/// Every option resolved, defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Logical batch: the most tokens handed to one `llama_decode` (llama-bench: 2048).
    pub batch: u32,
    /// Physical batch: llama.cpp splits a decode into graphs of at most this many tokens (512).
    pub ubatch: u32,
    /// Context size; `None` sizes it for the workloads (as llama-bench: prompt + generated).
    pub ctx: Option<u32>,
    pub flash_attn: FlashAttn,
    pub cache_type_k: String,
    pub cache_type_v: String,
    /// Layers offloaded to the GPU (llama-bench: all); ignored by a CPU-only build.
    pub n_gpu_layers: u32,
}

/// "All layers" for `n_gpu_layers` (llama.cpp caps it at the model's layer count).
pub const ALL_LAYERS: u32 = 999;

impl Default for Options {
    fn default() -> Self {
        Self {
            batch: 2048,
            ubatch: 512,
            ctx: None,
            flash_attn: FlashAttn::Auto,
            cache_type_k: "f16".into(),
            cache_type_v: "f16".into(),
            n_gpu_layers: ALL_LAYERS,
        }
    }
}

impl Options {
    /// Resolve `options` as typed on the command line; an unknown key or a bad value is an
    /// error that names it.
    pub fn parse(options: &BTreeMap<String, String>) -> Result<Self, String> {
        let mut o = Options::default();
        for (key, value) in options {
            let value = value.trim();
            let positive = || -> Result<u32, String> {
                value
                    .parse::<u32>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("option {key}={value}: expected a positive number"))
            };
            match key.as_str() {
                "batch" => o.batch = positive()?,
                "ubatch" => o.ubatch = positive()?,
                "ctx" => o.ctx = Some(positive()?),
                "flash_attn" => {
                    o.flash_attn = match value.to_ascii_lowercase().as_str() {
                        "auto" | "-1" => FlashAttn::Auto,
                        "1" | "on" | "true" => FlashAttn::On,
                        "0" | "off" | "false" => FlashAttn::Off,
                        _ => {
                            return Err(format!("option flash_attn={value}: expected 0, 1 or auto"))
                        }
                    }
                }
                "cache_type_k" | "cache_type_v" => {
                    let t = value.to_ascii_lowercase();
                    if !CACHE_TYPES.contains(&t.as_str()) {
                        return Err(format!(
                            "option {key}={value}: expected one of {}",
                            CACHE_TYPES.join(", ")
                        ));
                    }
                    if key == "cache_type_k" {
                        o.cache_type_k = t;
                    } else {
                        o.cache_type_v = t;
                    }
                }
                "n_gpu_layers" => {
                    o.n_gpu_layers = if value == "all" || value == "-1" {
                        ALL_LAYERS
                    } else {
                        value.parse().map_err(|_| {
                            format!("option n_gpu_layers={value}: expected a number or `all`")
                        })?
                    }
                }
                _ => {
                    return Err(format!(
                        "unknown option `{key}` (llama.cpp reads {})",
                        KEYS.join(", ")
                    ));
                }
            }
        }
        Ok(o)
    }

    /// The options as llama-bench would print them, for the record.
    pub fn describe(&self) -> String {
        let fa = match self.flash_attn {
            FlashAttn::Auto => "auto",
            FlashAttn::On => "1",
            FlashAttn::Off => "0",
        };
        let ngl = if self.n_gpu_layers == ALL_LAYERS {
            "all".to_string()
        } else {
            self.n_gpu_layers.to_string()
        };
        let ctx = self.ctx.map_or("workload".to_string(), |c| c.to_string());
        format!(
            "batch={} ubatch={} ctx={ctx} flash_attn={fa} cache_type_k={} cache_type_v={} n_gpu_layers={ngl}",
            self.batch, self.ubatch, self.cache_type_k, self.cache_type_v
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Options, String> {
        Options::parse(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn defaults_are_llama_bench_defaults() {
        let o = parse(&[]).unwrap();
        assert_eq!(o, Options::default());
        assert_eq!(
            o.describe(),
            "batch=2048 ubatch=512 ctx=workload flash_attn=auto cache_type_k=f16 \
             cache_type_v=f16 n_gpu_layers=all"
        );
    }

    #[test]
    fn every_key_parses() {
        let o = parse(&[
            ("batch", "256"),
            ("ubatch", "128"),
            ("ctx", "4096"),
            ("flash_attn", "1"),
            ("cache_type_k", "Q8_0"),
            ("cache_type_v", "q4_0"),
            ("n_gpu_layers", "0"),
        ])
        .unwrap();
        assert_eq!(
            o,
            Options {
                batch: 256,
                ubatch: 128,
                ctx: Some(4096),
                flash_attn: FlashAttn::On,
                cache_type_k: "q8_0".into(),
                cache_type_v: "q4_0".into(),
                n_gpu_layers: 0,
            }
        );
        assert_eq!(
            parse(&[("flash_attn", "off")]).unwrap().flash_attn,
            FlashAttn::Off
        );
        assert_eq!(
            parse(&[("n_gpu_layers", "-1")]).unwrap().n_gpu_layers,
            ALL_LAYERS
        );
    }

    /// The description and the parser agree: every described key is one the parser reads,
    /// every listed word and default parses, and a value the description refuses, the parser
    /// refuses too.
    #[test]
    fn the_description_matches_the_parser() {
        let specs = describe();
        let names: Vec<&str> = specs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, KEYS);
        for o in &specs {
            for w in &o.values.words {
                parse(&[(&o.name, w)]).unwrap_or_else(|e| panic!("{}={w}: {e}", o.name));
            }
            if o.values.min.is_some() {
                parse(&[(&o.name, "8")]).unwrap();
            }
            assert!(o.check("nonsense").is_err());
            assert!(parse(&[(&o.name, "nonsense")]).is_err(), "{}", o.name);
        }
        assert!(parse(&[("flash_attn", "2")]).is_err() && specs[3].check("2").is_err());
    }

    #[test]
    fn bad_options_name_themselves() {
        for (pairs, needle) in [
            (vec![("batch", "0")], "batch=0"),
            (vec![("ubatch", "x")], "ubatch=x"),
            (vec![("flash_attn", "2")], "flash_attn=2"),
            (vec![("cache_type_k", "q3_k")], "cache_type_k=q3_k"),
            (vec![("n_gpu_layers", "some")], "n_gpu_layers=some"),
            (vec![("threads", "2")], "unknown option `threads`"),
        ] {
            let err = parse(&pairs).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }
}
