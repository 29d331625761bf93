//! A toy target: the smallest real backend, as a template for a new one. It reads GGUF files
//! (with candle's GGUF reader), keeps their token embedding table in f32, and predicts the next
//! token from the sequence so far as a bag of embeddings: the logits are `E · h`, where `h` is
//! the mean (`mix=mean`) or the last (`mix=last`) embedding of the tokens seen. Real arithmetic
//! on the file's weights, nothing like a transformer: it exists to show what a target is made
//! of (the kit's traits, guards and self-description) and that the CLI needs nothing else.

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::Device;
use edgebench_target_kit::describe::{Description, MemoryModel, OptionSpec};
use edgebench_target_kit::guards;
use edgebench_target_kit::target::{
    LoadSpec, ModelInfo, Target, TargetError, TargetInfo, TargetResult,
};
use std::path::PathBuf;

#[derive(Default)]
pub struct Toy {
    loaded: Option<Loaded>,
}

struct Loaded {
    path: PathBuf,
    /// `vocab × hidden`, row-major.
    embeddings: Vec<f32>,
    vocab: usize,
    hidden: usize,
    context: usize,
    last_only: bool,
    /// Sum of the embeddings seen, and the last one (the toy's "KV cache").
    sum: Vec<f32>,
    last: Vec<f32>,
    pos: usize,
}

const ARCHITECTURES: [&str; 3] = ["llama", "phi3", "gemma"];

impl Target for Toy {
    fn info(&self) -> TargetInfo {
        TargetInfo {
            name: "toy".into(),
            library_version: "toy 1 (candle-core GGUF reader)".into(),
            device: "cpu".into(),
            formats: vec!["gguf".into()],
            architectures: ARCHITECTURES.iter().map(|a| a.to_string()).collect(),
            quants: ["f32", "f16", "q8_0", "q4_0", "q4_k_m", "q5_k_m"]
                .iter()
                .map(|q| q.to_string())
                .collect(),
            description: Description {
                summary: "toy: bag-of-embeddings next-token logits from a GGUF's embeddings".into(),
                options: vec![OptionSpec::new("mix", "how the sequence is summarized")
                    .words(&["mean", "last"])
                    .default_value("mean")],
                // The embeddings in f32 and little else.
                memory: Some(MemoryModel {
                    f32_embeddings: true,
                    runtime_bytes: 64 << 20,
                    ..Default::default()
                }),
            },
            ..Default::default()
        }
    }

    fn load(&mut self, spec: &LoadSpec) -> TargetResult<ModelInfo> {
        self.loaded = None;
        let path = &spec.model_path;
        let bad = |message: String| TargetError::BadModel {
            path: path.clone(),
            message,
        };
        let last_only = match spec.options.get("mix").map(String::as_str) {
            None | Some("mean") => false,
            Some("last") => true,
            Some(other) => return Err(TargetError::Unsupported(format!("mix={other}"))),
        };
        let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
        let mut reader = std::io::BufReader::new(file);
        let content =
            Content::read(&mut reader).map_err(|e| bad(format!("not a GGUF file: {e}")))?;
        // Every tensor must lie within the file: a file cut short is refused here, not read
        // past its end later.
        let len = std::fs::metadata(path)
            .map_err(|e| bad(format!("cannot stat: {e}")))?
            .len();
        for (name, t) in &content.tensor_infos {
            let bytes = t.shape.elem_count() / t.ggml_dtype.block_size() * t.ggml_dtype.type_size();
            let end = content.tensor_data_offset + t.offset + bytes as u64;
            if end > len {
                return Err(bad(format!(
                    "cut short: tensor {name} ends at byte {end}, the file has {len}"
                )));
            }
        }
        let architecture = match content.metadata.get("general.architecture") {
            Some(Value::String(a)) => a.clone(),
            _ => return Err(bad("no general.architecture".into())),
        };
        if !ARCHITECTURES.contains(&architecture.as_str()) {
            return Err(TargetError::Unsupported(format!(
                "architecture `{architecture}` of {}",
                path.display()
            )));
        }
        let table = content
            .tensor(&mut reader, "token_embd.weight", &Device::Cpu)
            .and_then(|t| t.dequantize(&Device::Cpu))
            .map_err(|e| bad(format!("token_embd.weight: {e}")))?;
        let (vocab, hidden) = table.dims2().map_err(|e| bad(e.to_string()))?;
        let embeddings = table
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| bad(e.to_string()))?;
        self.loaded = Some(Loaded {
            path: path.clone(),
            embeddings,
            vocab,
            hidden,
            context: spec.context.max(1),
            last_only,
            sum: vec![0.0; hidden],
            last: vec![0.0; hidden],
            pos: 0,
        });
        Ok(ModelInfo {
            architecture,
            vocab_size: vocab,
            parameters: Some((vocab * hidden) as u64),
            weight_bytes: Some((vocab * hidden * 4) as u64),
            quant: None,
            max_context: Some(spec.context.max(1)),
        })
    }

    fn prefill(&mut self, tokens: &[u32]) -> TargetResult<Vec<f32>> {
        self.loaded.as_ref().ok_or(TargetError::NotLoaded)?;
        guards::nonempty("prefill", tokens)?;
        self.forward(tokens)
    }

    fn decode(&mut self, token: u32) -> TargetResult<Vec<f32>> {
        self.forward(&[token])
    }

    fn reset(&mut self) -> TargetResult<()> {
        let l = self.loaded.as_mut().ok_or(TargetError::NotLoaded)?;
        l.sum.iter_mut().for_each(|x| *x = 0.0);
        l.pos = 0;
        Ok(())
    }
}

impl Toy {
    fn forward(&mut self, tokens: &[u32]) -> TargetResult<Vec<f32>> {
        let l = self.loaded.as_mut().ok_or(TargetError::NotLoaded)?;
        let end = guards::append(
            l.pos,
            tokens,
            l.context,
            l.vocab,
            format_args!("the toy context for {}", l.path.display()),
        )?;
        for &t in tokens {
            let row = &l.embeddings[t as usize * l.hidden..][..l.hidden];
            for (s, x) in l.sum.iter_mut().zip(row) {
                *s += x;
            }
            l.last.copy_from_slice(row);
        }
        l.pos = end;
        let h: Vec<f32> = if l.last_only {
            l.last.clone()
        } else {
            l.sum.iter().map(|s| s / end as f32).collect()
        };
        Ok(l.embeddings
            .chunks(l.hidden)
            .map(|row| row.iter().zip(&h).map(|(a, b)| a * b).sum())
            .collect())
    }
}
