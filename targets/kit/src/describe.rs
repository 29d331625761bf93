//! What a target says about itself beyond its name, so the CLI needs no table keyed by target
//! name: a one-line summary, the load options it reads (each with its allowed values, default
//! and help) and how it holds a model in memory (for the planner's fit check).
//!
//! It travels in the worker's answer to `info` ([`crate::target::TargetInfo::description`]);
//! every field has a serde default, so an older worker that does not send it still parses.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A target's self-description.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Description {
    /// One line for `edgebench list targets`.
    #[serde(default)]
    pub summary: String,
    /// The load options it reads (`LoadSpec::options`).
    #[serde(default)]
    pub options: Vec<OptionSpec>,
    /// How it holds a model in memory; `None` when it does not say (the planner then counts
    /// the weights only, and says so).
    #[serde(default)]
    pub memory: Option<MemoryModel>,
}

impl Description {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    pub fn option(&self, name: &str) -> Option<&OptionSpec> {
        self.options.iter().find(|o| o.name == name)
    }
}

/// One load option: `batch`, `flash_attn`, `ep`…
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OptionSpec {
    /// The key in `LoadSpec::options` and on the command line (`--opt name=value`).
    pub name: String,
    /// What values it takes.
    #[serde(default)]
    pub values: Values,
    /// What the target does when it is not given, as text (`2048`, `auto`, `what the
    /// workloads need`).
    #[serde(default)]
    pub default: String,
    /// One line of help.
    #[serde(default)]
    pub help: String,
}

/// The values an option takes: whole numbers from `min`, or one of `words` (compared without
/// case), or both; neither means any text.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Values {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<String>,
}

impl OptionSpec {
    /// An option taking any text; narrow it with [`Self::number`] and [`Self::words`].
    pub fn new(name: &str, help: &str) -> Self {
        Self {
            name: name.into(),
            help: help.into(),
            ..Default::default()
        }
    }

    /// Whole numbers of at least `min`.
    pub fn number(mut self, min: u64) -> Self {
        self.values.min = Some(min);
        self
    }

    /// These words (besides numbers, if [`Self::number`] was given).
    pub fn words(mut self, words: &[&str]) -> Self {
        self.values.words = words.iter().map(|w| w.to_string()).collect();
        self
    }

    pub fn default_value(mut self, default: &str) -> Self {
        self.default = default.into();
        self
    }

    /// What the values may be, for messages and help: `a whole number ≥ 1`, `0, 1 or auto`.
    pub fn expected(&self) -> String {
        let mut parts = Vec::new();
        if let Some(min) = self.values.min {
            parts.push(format!("a whole number ≥ {min}"));
        }
        parts.extend(self.values.words.iter().cloned());
        match parts.len() {
            0 => "any text".into(),
            1 => parts.remove(0),
            n => format!("{} or {}", parts[..n - 1].join(", "), parts[n - 1]),
        }
    }

    /// `Ok` when `value` is one this option takes; else a one-line reason naming it.
    pub fn check(&self, value: &str) -> Result<(), String> {
        let v = value.trim();
        let Values { min, words } = &self.values;
        if min.is_none() && words.is_empty() {
            return Ok(());
        }
        let number_ok = min.is_some_and(|m| v.parse::<u64>().is_ok_and(|n| n >= m));
        let word_ok = words.iter().any(|w| w.eq_ignore_ascii_case(v));
        if number_ok || word_ok {
            Ok(())
        } else {
            Err(format!(
                "option {}={value}: expected {}",
                self.name,
                self.expected()
            ))
        }
    }
}

/// How a backend holds a model, as parameters of the planner's estimate of its peak resident
/// memory: weights (× [`Self::weights_factor`]) + KV cache for the run's longest context (at
/// [`Self::kv_bytes`] an element, unless the model's format fixes it) + the token embeddings
/// expanded to f32 where the backend does that + copies held only while loading + runtime.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MemoryModel {
    /// Bytes of one KV-cache element (f16: 2, f32: 4).
    #[serde(default)]
    pub kv_bytes: u64,
    /// The token embedding table is expanded to f32 at load.
    #[serde(default)]
    pub f32_embeddings: bool,
    /// Architectures whose embeddings stay as stored even so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub f32_embeddings_except: Vec<String>,
    /// Resident weights as a multiple of the bytes on disk, by quantization, where the backend
    /// holds more than the file (`f16` → 2 when it converts f16 to f32); `*` for every other
    /// quantization; 1 when neither is listed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub weights_factor: BTreeMap<String, f64>,
    /// Extra peak while loading, as a fraction of the weights.
    #[serde(default)]
    pub load_weights: f64,
    /// Extra peak while loading, as a fraction of the f32 embeddings.
    #[serde(default)]
    pub load_embeddings: f64,
    /// Code, thread stacks, activations, logits and compute buffers, bytes.
    #[serde(default)]
    pub runtime_bytes: u64,
}

impl MemoryModel {
    /// Resident weights per byte on disk for a model of quantization `quant`.
    pub fn weights_factor(&self, quant: &str) -> f64 {
        self.weights_factor
            .get(quant)
            .or_else(|| self.weights_factor.get("*"))
            .copied()
            .unwrap_or(1.0)
    }

    /// Whether the embeddings of an `architecture` model are expanded to f32.
    pub fn expands_embeddings(&self, architecture: &str) -> bool {
        self.f32_embeddings && !self.f32_embeddings_except.iter().any(|a| a == architecture)
    }
}

/// The shapes of a language model its memory depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    pub layers: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub vocab: usize,
    pub hidden: usize,
}

/// An estimate of a worker's peak resident memory, part by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    pub weights: u64,
    pub kv_cache: u64,
    /// The embedding table as the backend expands it (0 when it stays as stored).
    pub expanded_embeddings: u64,
    /// Copies the backend holds only while loading (its peak, not its steady state).
    pub load_copies: u64,
    /// Code, thread stacks, activations and logits buffers.
    pub runtime: u64,
    pub context: usize,
    /// Whether the target described its memory model; if not, only the weights are counted.
    pub described: bool,
}

impl MemoryEstimate {
    pub fn total(&self) -> u64 {
        self.weights + self.kv_cache + self.expanded_embeddings + self.load_copies + self.runtime
    }

    /// `weights 2.20 GiB + KV cache 0.38 GiB for 4096 tokens + f32 embeddings 0.37 GiB +
    /// runtime 0.29 GiB`.
    pub fn breakdown(&self) -> String {
        let gib = |b: u64| format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64);
        if !self.described {
            return format!(
                "weights {}; the target describes no memory model",
                gib(self.weights)
            );
        }
        let mut parts = vec![format!("weights {}", gib(self.weights))];
        if self.kv_cache > 0 {
            parts.push(format!(
                "KV cache {} for {} tokens",
                gib(self.kv_cache),
                self.context
            ));
        }
        if self.expanded_embeddings > 0 {
            parts.push(format!("f32 embeddings {}", gib(self.expanded_embeddings)));
        }
        if self.load_copies > 0 {
            parts.push(format!("copies while loading {}", gib(self.load_copies)));
        }
        parts.push(format!("runtime {}", gib(self.runtime)));
        parts.join(" + ")
    }
}

/// What an estimate needs to know about a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFacts<'a> {
    /// Bytes on disk.
    pub file_bytes: u64,
    pub quant: &'a str,
    pub architecture: &'a str,
    /// `None` for a model whose metadata does not tell (the KV cache is then taken as 1/16 of
    /// the weights, typical at 4k context) and for speech models (no KV cache estimate).
    pub shape: Option<Shape>,
    /// Bytes of a KV-cache element where the model's format fixes it (an fp16 ONNX GenAI
    /// model's cache is fp16), instead of the backend's [`MemoryModel::kv_bytes`].
    pub kv_bytes: Option<u64>,
}

impl MemoryModel {
    /// Peak resident memory of a language model with `context` tokens of KV cache.
    pub fn estimate(&self, model: &ModelFacts, context: usize) -> MemoryEstimate {
        let weights = (model.file_bytes as f64 * self.weights_factor(model.quant)) as u64;
        let kv_bytes = model.kv_bytes.unwrap_or(self.kv_bytes);
        let (kv_cache, expanded_embeddings) = match model.shape {
            Some(s) => (
                2 * (s.layers * s.kv_heads * s.head_dim * context) as u64 * kv_bytes,
                if self.expands_embeddings(model.architecture) {
                    (s.vocab * s.hidden) as u64 * 4
                } else {
                    0
                },
            ),
            None => (model.file_bytes / 16, 0),
        };
        MemoryEstimate {
            weights,
            kv_cache,
            expanded_embeddings,
            load_copies: (weights as f64 * self.load_weights
                + expanded_embeddings as f64 * self.load_embeddings)
                as u64,
            runtime: self.runtime_bytes,
            context,
            described: true,
        }
    }

    /// Peak resident memory of a speech model: its weights as the backend holds them + runtime.
    pub fn speech_estimate(&self, file_bytes: u64, quant: &str) -> u64 {
        (file_bytes as f64 * self.weights_factor(quant)) as u64 + self.runtime_bytes
    }
}

impl MemoryEstimate {
    /// The estimate for a target that describes no memory model: the weights alone, marked so.
    pub fn weights_only(file_bytes: u64, context: usize) -> Self {
        Self {
            weights: file_bytes,
            kv_cache: 0,
            expanded_embeddings: 0,
            load_copies: 0,
            runtime: 0,
            context,
            described: false,
        }
    }
}

/// Check `options` against the options a target describes: an unknown key or a value it does
/// not take is a one-line error naming it.
pub fn check_options(
    target: &str,
    described: &[OptionSpec],
    options: &BTreeMap<String, String>,
) -> Result<(), String> {
    for (key, value) in options {
        let spec = described.iter().find(|o| &o.name == key).ok_or_else(|| {
            let known: Vec<&str> = described.iter().map(|o| o.name.as_str()).collect();
            format!(
                "unknown option `{key}` ({target} reads {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        })?;
        spec.check(value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_with_a_reason() {
        let batch = OptionSpec::new("batch", "logical batch").number(1);
        assert!(batch.check("256").is_ok());
        let e = batch.check("0").unwrap_err();
        assert_eq!(e, "option batch=0: expected a whole number ≥ 1");
        let fa = OptionSpec::new("flash_attn", "").words(&["0", "1", "auto"]);
        assert!(fa.check("AUTO").is_ok());
        assert_eq!(
            fa.check("2").unwrap_err(),
            "option flash_attn=2: expected 0, 1 or auto"
        );
        let ngl = OptionSpec::new("n_gpu_layers", "")
            .number(0)
            .words(&["all", "-1"]);
        assert!(ngl.check("0").is_ok() && ngl.check("all").is_ok() && ngl.check("-1").is_ok());
        assert!(ngl.check("some").is_err());
        assert!(OptionSpec::new("free", "").check("anything").is_ok());
    }

    #[test]
    fn unknown_options_name_what_the_target_reads() {
        let specs = [OptionSpec::new("ep", "").words(&["cpu", "cuda"])];
        let opts = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert!(check_options("onnxruntime", &specs, &opts("ep", "cpu")).is_ok());
        let e = check_options("onnxruntime", &specs, &opts("batch", "8")).unwrap_err();
        assert_eq!(e, "unknown option `batch` (onnxruntime reads ep)");
        assert!(check_options("x", &specs, &opts("ep", "tpu")).is_err());
    }

    #[test]
    fn an_old_worker_without_a_description_still_parses() {
        let d: Description = serde_json::from_str("{}").unwrap();
        assert!(d.is_empty() && d.memory.is_none());
        let m: MemoryModel = serde_json::from_str(r#"{"kv_bytes":2}"#).unwrap();
        assert_eq!(m.weights_factor("q4_0"), 1.0);
        assert_eq!(m.runtime_bytes, 0);
    }

    #[test]
    fn estimates_add_up_part_by_part() {
        let m = MemoryModel {
            kv_bytes: 2,
            runtime_bytes: 300 << 20,
            ..Default::default()
        };
        let shape = Shape {
            layers: 32,
            kv_heads: 8,
            head_dim: 128,
            vocab: 128_256,
            hidden: 4096,
        };
        let facts = ModelFacts {
            file_bytes: 4 << 30,
            quant: "q4_k_m",
            architecture: "llama",
            shape: Some(shape),
            kv_bytes: None,
        };
        let e = m.estimate(&facts, 4096);
        // 32 layers × 8 KV heads × 128 × 4096 tokens × K and V × 2 bytes = 512 MiB.
        assert_eq!(e.kv_cache, 512 << 20);
        assert_eq!(e.total(), (4 << 30) + (512 << 20) + (300 << 20));
        assert_eq!(
            e.breakdown(),
            "weights 4.00 GiB + KV cache 0.50 GiB for 4096 tokens + runtime 0.29 GiB"
        );
        let f32_cache = ModelFacts {
            kv_bytes: Some(4),
            ..facts.clone()
        };
        assert_eq!(m.estimate(&f32_cache, 4096).kv_cache, 1 << 30);
        let none = MemoryEstimate::weights_only(4 << 30, 4096);
        assert_eq!(none.total(), 4 << 30);
        assert!(none.breakdown().contains("describes no memory model"));
        let speech = MemoryModel {
            weights_factor: BTreeMap::from([("f16".into(), 2.0)]),
            runtime_bytes: 500 << 20,
            ..Default::default()
        };
        assert_eq!(speech.speech_estimate(100 << 20, "f16"), 700 << 20);
        assert_eq!(speech.speech_estimate(100 << 20, "q8_0"), 600 << 20);
    }

    #[test]
    fn weight_factors_by_quant_then_star() {
        let m = MemoryModel {
            weights_factor: BTreeMap::from([("f16".into(), 4.0), ("*".into(), 2.0)]),
            f32_embeddings: true,
            f32_embeddings_except: vec!["gemma".into()],
            ..Default::default()
        };
        assert_eq!(m.weights_factor("f16"), 4.0);
        assert_eq!(m.weights_factor("f32"), 2.0);
        assert!(m.expands_embeddings("llama") && !m.expands_embeddings("gemma"));
    }
}
