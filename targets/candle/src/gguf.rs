//! Reading a GGUF file's header and checking it before candle loads the weights, so a bad
//! file becomes one clear line naming the file instead of a deep candle error or a panic.

use candle_core::quantized::gguf_file::{Content, Value};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// An opened GGUF file: its parsed header and a reader for the tensor data.
pub struct GgufFile {
    pub content: Content,
    pub reader: BufReader<File>,
    pub file_size: u64,
}

/// Why a file cannot be used; the caller turns it into `TargetError::BadModel`.
pub type Problem = String;

impl GgufFile {
    /// Open and parse the header, then check that every tensor's data lies inside the file.
    pub fn open(path: &Path) -> Result<Self, Problem> {
        let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
        let file_size = file
            .metadata()
            .map_err(|e| format!("cannot stat: {e}"))?
            .len();
        if file_size == 0 {
            return Err("empty file".into());
        }
        let mut reader = BufReader::new(file);
        let content = Content::read(&mut reader)
            .map_err(|e| format!("not a readable GGUF file: {}", crate::one_line(&e)))?;
        let gguf = Self {
            content,
            reader,
            file_size,
        };
        gguf.check_tensor_ranges()?;
        Ok(gguf)
    }

    /// A truncated download is the most common bad file; candle would only notice it when it
    /// reaches the missing tensor, part-way through the load.
    fn check_tensor_ranges(&self) -> Result<(), Problem> {
        let mut infos: Vec<_> = self.content.tensor_infos.iter().collect();
        infos.sort_by_key(|(_, info)| info.offset);
        for (name, info) in infos {
            let elems = info.shape.elem_count() as u64;
            let block = info.ggml_dtype.block_size() as u64;
            if !elems.is_multiple_of(block) {
                return Err(format!(
                    "tensor {name} has {elems} elements, not a multiple of the {:?} block size {block}",
                    info.ggml_dtype
                ));
            }
            let bytes = elems / block * info.ggml_dtype.type_size() as u64;
            let end = self
                .content
                .tensor_data_offset
                .checked_add(info.offset)
                .and_then(|start| start.checked_add(bytes))
                .unwrap_or(u64::MAX);
            if end > self.file_size {
                return Err(format!(
                    "truncated: tensor {name} needs bytes up to {end} but the file has {}",
                    self.file_size
                ));
            }
        }
        Ok(())
    }

    pub fn metadata(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    pub fn architecture(&self) -> Result<String, Problem> {
        match self.metadata("general.architecture") {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(format!("general.architecture is not a string: {other:?}")),
            None => Err("no general.architecture in the metadata".into()),
        }
    }

    /// An unsigned integer `{arch}.{key}`, whatever integer type the writer used.
    pub fn arch_u64(&self, arch: &str, key: &str) -> Option<u64> {
        self.metadata(&format!("{arch}.{key}"))
            .and_then(|v| v.to_u64().ok())
    }

    /// Rows of a 2-D tensor (candle lists GGUF dimensions outermost first).
    pub fn rows(&self, name: &str) -> Option<usize> {
        self.content
            .tensor_infos
            .get(name)
            .and_then(|t| t.shape.dims().first().copied())
    }

    /// Bytes decode streams from memory per token (see [`edgebench_scenarios::gguf::streamed_bytes`]).
    pub fn streamed_bytes(&self) -> u64 {
        edgebench_scenarios::gguf::streamed_bytes(&self.content)
    }

    /// Total parameters and bytes of all tensors.
    pub fn sizes(&self) -> (u64, u64) {
        self.content
            .tensor_infos
            .values()
            .fold((0, 0), |(params, bytes), t| {
                (
                    params + t.shape.elem_count() as u64,
                    bytes + edgebench_scenarios::gguf::tensor_bytes(t),
                )
            })
    }

    /// Quantization named as llama.cpp names its `general.file_type` (`llama_ftype`).
    pub fn quant(&self) -> Option<String> {
        let ftype = self.metadata("general.file_type")?.to_u64().ok()?;
        let name = match ftype {
            0 => "f32",
            1 => "f16",
            2 => "q4_0",
            3 => "q4_1",
            7 => "q8_0",
            8 => "q5_0",
            9 => "q5_1",
            10 => "q2_k",
            11 => "q3_k_s",
            12 => "q3_k_m",
            13 => "q3_k_l",
            14 => "q4_k_s",
            15 => "q4_k_m",
            16 => "q5_k_s",
            17 => "q5_k_m",
            18 => "q6_k",
            32 => "bf16",
            other => return Some(format!("file_type {other}")),
        };
        Some(name.into())
    }
}
