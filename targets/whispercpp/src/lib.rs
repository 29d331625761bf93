//! The whisper.cpp target: Whisper `ggml-*.bin` models run with whisper.cpp (built from source
//! by `whisper-rs-sys`, linked statically), behind the [`SpeechTarget`] seam.
//!
//! Each step is one whisper.cpp call, timed by the shared loop: `whisper_pcm_to_mel_with_state`
//! (its own log-mel), `whisper_encode_with_state`, and `whisper_decode_with_state` with the KV
//! cache (`n_past`). Flash attention is on by default, as in whisper.cpp's own
//! `whisper_context_default_params`; the load option `flash_attn=off` turns it off.
//!
//! The build is native (`GGML_NATIVE`, whisper.cpp's default) without ggml's AMX kernels (see
//! the workspace's `.cargo/config.toml`): they crash quantized models on AMX Xeons with gcc 12.

#[cfg_attr(
    all(feature = "coreml", target_os = "macos"),
    path = "coreml/enabled.rs"
)]
#[cfg_attr(
    not(all(feature = "coreml", target_os = "macos")),
    path = "coreml/disabled.rs"
)]
mod coreml;
mod ffi;

use edgebench_scenarios::whisper::{ggml, WhisperFormat};
use edgebench_target_kit::describe::{Description, MemoryModel, OptionSpec};
use edgebench_target_kit::guards;
use edgebench_target_kit::target::{
    LoadSpec, ModelInfo, SpeechTarget, TargetError, TargetInfo, TargetResult,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Quantizations of `ggml-*.bin` files whisper.cpp runs. F32 files load but abort in the
/// encoder (whisper.cpp's conv1d always takes an F16 im2col), so f32 is not among them.
const QUANTS: [&str; 11] = [
    "f16", "q8_0", "q5_0", "q5_1", "q4_0", "q4_1", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k",
];

struct Loaded {
    whisper: ffi::Whisper,
    path: PathBuf,
    threads: usize,
    /// Tokens in the decoder's KV cache.
    n_past: usize,
    n_text_ctx: usize,
    n_vocab: usize,
    n_mels: usize,
    /// Whether the encoder has run on the current log-mel.
    encoded: bool,
}

/// whisper.cpp behind the [`SpeechTarget`] seam.
pub struct WhisperCppTarget {
    loaded: Option<Loaded>,
}

impl Default for WhisperCppTarget {
    fn default() -> Self {
        Self::new()
    }
}

impl WhisperCppTarget {
    pub fn new() -> Self {
        ffi::install_log();
        Self { loaded: None }
    }

    fn loaded(&mut self) -> TargetResult<&mut Loaded> {
        self.loaded.as_mut().ok_or(TargetError::NotLoaded)
    }
}

/// Why this CPU cannot run this build: whisper.cpp's ggml compiled for a CPU profile (or
/// natively on a machine) with features this CPU lacks would die with SIGILL in the encoder.
fn cpu_mismatch() -> Option<String> {
    use edgebench_target_kit::cpu_features;
    cpu_features::rust_mismatch().or_else(|| {
        cpu_features::ggml_mismatch(
            "whisper.cpp",
            &edgebench_target_kit::ggml_compiled_features!(),
        )
    })
}

/// whisper.cpp's system info (`AVX2 = 1 | F16C = 1 | …`) as flags: the features set to 1.
fn build_flags(system_info: &str) -> Vec<String> {
    system_info
        .split('|')
        .filter_map(|item| {
            let (name, value) = item.split_once('=')?;
            let name = name.trim().rsplit(':').next()?.trim();
            (value.trim() == "1" && !name.is_empty()).then(|| name.to_ascii_lowercase())
        })
        .collect()
}

fn flash_attn(spec: &LoadSpec) -> TargetResult<bool> {
    match spec.options.get("flash_attn").map(String::as_str) {
        None | Some("on") | Some("1") | Some("true") => Ok(true),
        Some("off") | Some("0") | Some("false") => Ok(false),
        Some(other) => Err(TargetError::Unsupported(format!(
            "flash_attn={other} (whisper.cpp: on or off)"
        ))),
    }
}

impl SpeechTarget for WhisperCppTarget {
    fn info(&self) -> TargetInfo {
        // Touch nothing of ggml on a CPU this build cannot run on.
        let mismatch = cpu_mismatch();
        let system = match mismatch {
            None => ffi::system_info(),
            Some(_) => String::new(),
        };
        let mut extra = BTreeMap::new();
        extra.insert("system_info".into(), system.trim().to_string());
        extra.insert(
            "ggml_cpu_features".into(),
            edgebench_target_kit::ggml_compiled_features!().join(" "),
        );
        extra.insert(
            "flash_attn".into(),
            "on by default (whisper.cpp's default); load option flash_attn=off".into(),
        );
        extra.insert("coreml".into(), coreml::STATUS.into());
        extra.insert(
            "bindings".into(),
            "whisper-rs 0.16 (whisper-rs-sys 0.15, raw C API)".into(),
        );
        if let Some(why) = mismatch {
            extra.insert("cpu_mismatch".into(), why);
        }
        if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
            extra.insert(
                "amx".into(),
                "ggml AMX kernels left out (-mno-amx-*): they crash on AMX Xeons with gcc 12"
                    .into(),
            );
        }
        TargetInfo {
            name: "whispercpp".into(),
            library_version: format!("whisper.cpp {}", ffi::version()),
            build_flags: build_flags(&system),
            device: "cpu".into(),
            formats: vec![WhisperFormat::Ggml.name().into()],
            architectures: vec!["whisper".into()],
            quants: QUANTS.iter().map(|q| q.to_string()).collect(),
            extra,
            description: Description {
                summary: "whisper.cpp (C/C++, ggml): Whisper ggml-*.bin models on CPU".into(),
                options: vec![OptionSpec::new("flash_attn", "flash attention")
                    .words(&["on", "off", "1", "0", "true", "false"])
                    .default_value("on")],
                // Weights as stored; about 500 MiB of compute buffers, KV caches and audio.
                memory: Some(MemoryModel {
                    runtime_bytes: 500 << 20,
                    ..Default::default()
                }),
            },
        }
    }

    fn load(&mut self, spec: &LoadSpec) -> TargetResult<ModelInfo> {
        self.loaded = None;
        if let Some(why) = cpu_mismatch() {
            return Err(TargetError::Unsupported(why));
        }
        let path = &spec.model_path;
        // whisper.cpp does not notice a file cut inside its last tensor; check first.
        let summary = ggml::inspect(path).map_err(|e| TargetError::Backend(format!("{e:#}")))?;
        if !QUANTS.contains(&summary.quant.as_str()) {
            return Err(TargetError::Unsupported(format!(
                "{}: {} weights (whisper.cpp {} aborts in the encoder on all-F32 files; runs {})",
                path.display(),
                summary.quant,
                ffi::version(),
                QUANTS.join(", ")
            )));
        }
        let flash = flash_attn(spec)?;
        let whisper = ffi::Whisper::load(path, flash).map_err(|message| TargetError::BadModel {
            path: path.clone(),
            message,
        })?;
        let info = ModelInfo {
            architecture: "whisper".into(),
            vocab_size: whisper.n_vocab(),
            parameters: Some(summary.parameters),
            weight_bytes: Some(summary.weight_bytes),
            quant: Some(summary.quant.clone()),
            max_context: Some(whisper.n_text_ctx()),
        };
        self.loaded = Some(Loaded {
            n_text_ctx: whisper.n_text_ctx(),
            n_vocab: whisper.n_vocab(),
            n_mels: whisper.n_mels(),
            whisper,
            path: path.clone(),
            threads: spec.threads.max(1),
            n_past: 0,
            encoded: false,
        });
        Ok(info)
    }

    fn mel(&mut self, pcm: &[f32]) -> TargetResult<()> {
        let l = self.loaded()?;
        l.encoded = false;
        l.whisper
            .pcm_to_mel(pcm, l.threads)
            .map_err(TargetError::Backend)
    }

    fn set_mel(&mut self, mel: &[f32], n_mels: usize) -> TargetResult<()> {
        let l = self.loaded()?;
        if n_mels != l.n_mels || !mel.len().is_multiple_of(n_mels) {
            return Err(TargetError::Backend(format!(
                "a log-mel of {} values in {n_mels} rows for a model with {} mel bins",
                mel.len(),
                l.n_mels
            )));
        }
        l.encoded = false;
        l.whisper.set_mel(mel, n_mels).map_err(TargetError::Backend)
    }

    fn encode(&mut self) -> TargetResult<()> {
        let l = self.loaded()?;
        l.whisper.encode(l.threads).map_err(TargetError::Backend)?;
        l.encoded = true;
        l.n_past = 0;
        Ok(())
    }

    fn encoder_output(&mut self) -> TargetResult<Option<Vec<f32>>> {
        // whisper.cpp keeps the encoder output inside its state (no API returns it).
        Ok(None)
    }

    fn decode(&mut self, tokens: &[u32]) -> TargetResult<Vec<f32>> {
        let l = self.loaded()?;
        if !l.encoded {
            return Err(TargetError::Backend(
                "decode before the encoder ran on the current audio".into(),
            ));
        }
        guards::nonempty("decoder call", tokens)?;
        guards::append(
            l.n_past,
            tokens,
            l.n_text_ctx,
            l.n_vocab,
            format_args!("the decoder of {}", l.path.display()),
        )?;
        let ids: Vec<i32> = tokens.iter().map(|&t| t as i32).collect();
        let logits = l
            .whisper
            .decode(&ids, l.n_past, l.threads)
            .map_err(TargetError::Backend)?;
        l.n_past += tokens.len();
        Ok(logits)
    }

    fn reset_decoder(&mut self) -> TargetResult<()> {
        self.loaded()?.n_past = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_from_system_info() {
        let info = "WHISPER : COREML = 0 | OPENVINO = 0 | CPU : SSE3 = 1 | AVX2 = 1 | AMX_INT8 = 0 | REPACK = 1 |";
        assert_eq!(build_flags(info), ["sse3", "avx2", "repack"]);
    }

    #[test]
    fn this_machine_runs_its_own_build() {
        assert_eq!(cpu_mismatch(), None);
        // ggml reports what it was compiled with: SIMD of some kind on every platform built.
        let ggml = edgebench_target_kit::ggml_compiled_features!();
        assert!(
            ggml.iter().any(|f| ["NEON", "AVX", "SSE3"].contains(f)),
            "{ggml:?}"
        );
    }
}
