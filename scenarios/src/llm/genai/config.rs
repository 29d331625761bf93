//! `genai_config.json`, the file that makes a folder an ONNX Runtime GenAI model.
//!
//! Field names mirror what onnxruntime-genai's model builder writes
//! (`onnxruntime_genai/models/builders/base.py`, `make_genai_config`). [`GenaiConfig`] is the
//! lenient file (unknown fields ignored, optional ones defaulted); [`GenaiModel`] is the strict
//! view a runner needs, with every per-layer input and output name spelled out.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The name of the config file in a GenAI model folder.
pub const CONFIG_FILE: &str = "genai_config.json";

/// A bad GenAI folder: the file at fault and what is wrong, on one line.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct GenaiError {
    pub path: String,
    pub message: String,
}

impl GenaiError {
    fn new(path: &Path, message: impl Into<String>) -> Self {
        Self {
            path: path.display().to_string(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GenaiConfig {
    pub model: ModelSection,
    #[serde(default)]
    pub search: SearchSection,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelSection {
    #[serde(default)]
    pub bos_token_id: Option<serde_json::Value>,
    pub context_length: usize,
    pub decoder: DecoderSection,
    #[serde(default)]
    pub eos_token_id: Option<serde_json::Value>,
    #[serde(default)]
    pub pad_token_id: Option<serde_json::Value>,
    /// `llama`, `phi3`, `gemma`… (the Hugging Face architecture, lower case, without `ForCausalLM`).
    #[serde(rename = "type")]
    pub model_type: String,
    pub vocab_size: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DecoderSection {
    #[serde(default)]
    pub session_options: serde_json::Value,
    /// The ONNX file, relative to the folder (`model.onnx`, or a longer name in published folders).
    pub filename: String,
    pub head_size: usize,
    pub hidden_size: usize,
    pub inputs: DecoderInputs,
    pub outputs: DecoderOutputs,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub num_key_value_heads: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DecoderInputs {
    #[serde(default = "default_input_ids")]
    pub input_ids: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention_mask: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_ids: Option<String>,
    /// A printf template with one `%d`: `past_key_values.%d.key`.
    pub past_key_names: String,
    pub past_value_names: String,
}

fn default_input_ids() -> String {
    "input_ids".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DecoderOutputs {
    #[serde(default = "default_logits")]
    pub logits: String,
    pub present_key_names: String,
    pub present_value_names: String,
}

fn default_logits() -> String {
    "logits".into()
}

/// The generation defaults. Only `max_length` and `past_present_share_buffer` change how the
/// model is run; the rest is kept so a written config matches the builder's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SearchSection {
    #[serde(default)]
    pub diversity_penalty: f64,
    #[serde(default)]
    pub do_sample: bool,
    #[serde(default = "yes")]
    pub early_stopping: bool,
    #[serde(default = "one")]
    pub length_penalty: f64,
    #[serde(default)]
    pub max_length: Option<usize>,
    #[serde(default)]
    pub min_length: usize,
    #[serde(default)]
    pub no_repeat_ngram_size: usize,
    #[serde(default = "one_usize")]
    pub num_beams: usize,
    #[serde(default = "one_usize")]
    pub num_return_sequences: usize,
    /// Past and present KV caches are one buffer of `max_length` positions per layer (GenAI
    /// does this with GroupQueryAttention models and greedy search).
    #[serde(default)]
    pub past_present_share_buffer: bool,
    #[serde(default = "one")]
    pub repetition_penalty: f64,
    #[serde(default = "one")]
    pub temperature: f64,
    #[serde(default = "fifty")]
    pub top_k: usize,
    #[serde(default = "one")]
    pub top_p: f64,
}

fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}
fn one_usize() -> usize {
    1
}
fn fifty() -> usize {
    50
}

impl Default for SearchSection {
    fn default() -> Self {
        serde_json::from_str("{}").expect("every search field has a default")
    }
}

/// What a runner needs from a GenAI folder, checked and with every name resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct GenaiModel {
    pub folder: PathBuf,
    /// `folder/decoder.filename`.
    pub model_path: PathBuf,
    pub model_type: String,
    pub vocab_size: usize,
    pub context_length: usize,
    pub hidden_size: usize,
    pub head_size: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub layers: usize,
    pub input_ids: String,
    pub attention_mask: Option<String>,
    pub position_ids: Option<String>,
    /// Per layer: (past key, past value) input names.
    pub past: Vec<(String, String)>,
    pub logits: String,
    /// Per layer: (present key, present value) output names.
    pub present: Vec<(String, String)>,
    pub past_present_share_buffer: bool,
    /// `search.max_length`, else the context length.
    pub max_length: usize,
}

impl GenaiConfig {
    /// Parse `genai_config.json` text; `path` only names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, GenaiError> {
        serde_json::from_str(text)
            .map_err(|e| GenaiError::new(path, format!("not a valid GenAI config: {e}")))
    }

    /// Resolve the config of the folder `folder` into names and shapes, checking that they are
    /// consistent. Does not look at the model file.
    pub fn resolve(&self, folder: &Path) -> Result<GenaiModel, GenaiError> {
        let cfg_path = folder.join(CONFIG_FILE);
        let bad = |m: String| GenaiError::new(&cfg_path, m);
        let d = &self.model.decoder;
        if d.num_hidden_layers == 0 || d.num_attention_heads == 0 || d.num_key_value_heads == 0 {
            return Err(bad(
                "decoder.num_hidden_layers, num_attention_heads and num_key_value_heads must be \
                 positive"
                    .into(),
            ));
        }
        if !d.num_attention_heads.is_multiple_of(d.num_key_value_heads) {
            return Err(bad(format!(
                "decoder.num_attention_heads ({}) is not a multiple of num_key_value_heads ({})",
                d.num_attention_heads, d.num_key_value_heads
            )));
        }
        if d.head_size == 0 || self.model.vocab_size == 0 {
            return Err(bad(
                "decoder.head_size and model.vocab_size must be positive".into(),
            ));
        }
        let per_layer = |template: &str, field: &str| -> Result<Vec<String>, GenaiError> {
            (0..d.num_hidden_layers)
                .map(|i| {
                    layer_name(template, i).ok_or_else(|| {
                        bad(format!(
                            "{field} `{template}` must contain exactly one %d (the layer number)"
                        ))
                    })
                })
                .collect()
        };
        let past_k = per_layer(&d.inputs.past_key_names, "decoder.inputs.past_key_names")?;
        let past_v = per_layer(
            &d.inputs.past_value_names,
            "decoder.inputs.past_value_names",
        )?;
        let present_k = per_layer(
            &d.outputs.present_key_names,
            "decoder.outputs.present_key_names",
        )?;
        let present_v = per_layer(
            &d.outputs.present_value_names,
            "decoder.outputs.present_value_names",
        )?;
        if d.filename.is_empty() {
            return Err(bad("decoder.filename is empty".into()));
        }
        Ok(GenaiModel {
            folder: folder.to_path_buf(),
            model_path: folder.join(&d.filename),
            model_type: self.model.model_type.clone(),
            vocab_size: self.model.vocab_size,
            context_length: self.model.context_length,
            hidden_size: d.hidden_size,
            head_size: d.head_size,
            heads: d.num_attention_heads,
            kv_heads: d.num_key_value_heads,
            layers: d.num_hidden_layers,
            input_ids: d.inputs.input_ids.clone(),
            attention_mask: d.inputs.attention_mask.clone(),
            position_ids: d.inputs.position_ids.clone(),
            past: past_k.into_iter().zip(past_v).collect(),
            logits: d.outputs.logits.clone(),
            present: present_k.into_iter().zip(present_v).collect(),
            past_present_share_buffer: self.search.past_present_share_buffer,
            max_length: self.search.max_length.unwrap_or(self.model.context_length),
        })
    }
}

impl GenaiModel {
    /// Read and resolve the GenAI folder `folder` (or the folder of a `genai_config.json` path),
    /// and check that its model file is there.
    pub fn open(path: &Path) -> Result<Self, GenaiError> {
        let folder = if path.file_name().is_some_and(|n| n == CONFIG_FILE) {
            path.parent().unwrap_or(Path::new(".")).to_path_buf()
        } else {
            path.to_path_buf()
        };
        if !folder.is_dir() {
            return Err(GenaiError::new(
                &folder,
                if folder.exists() {
                    "not an ONNX Runtime GenAI model folder (expected a folder with genai_config.json)"
                } else {
                    "no such folder"
                },
            ));
        }
        let cfg_path = folder.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&cfg_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(GenaiError::new(
                    &folder,
                    "not an ONNX Runtime GenAI model folder: it has no genai_config.json",
                ))
            }
            Err(e) => return Err(GenaiError::new(&cfg_path, format!("cannot read: {e}"))),
        };
        let model = GenaiConfig::parse(&cfg_path, &text)?.resolve(&folder)?;
        if !model.model_path.is_file() {
            return Err(GenaiError::new(
                &model.model_path,
                "missing (genai_config.json names it as decoder.filename)",
            ));
        }
        Ok(model)
    }
}

/// `past_key_values.%d.key` with layer `i`, or `None` unless the template has exactly one `%d`.
fn layer_name(template: &str, i: usize) -> Option<String> {
    let (before, after) = template.split_once("%d")?;
    if after.contains("%d") {
        return None;
    }
    Some(format!("{before}{i}{after}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_names_need_one_placeholder() {
        assert_eq!(
            layer_name("past_key_values.%d.key", 3).as_deref(),
            Some("past_key_values.3.key")
        );
        assert_eq!(layer_name("past", 3), None);
        assert_eq!(layer_name("p.%d.%d", 3), None);
    }

    #[test]
    fn search_defaults_are_the_builders() {
        let s = SearchSection::default();
        assert!(!s.past_present_share_buffer && s.early_stopping);
        assert_eq!((s.num_beams, s.top_k, s.max_length), (1, 50, None));
    }
}
