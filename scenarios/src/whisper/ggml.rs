//! whisper.cpp's model file, `ggml-*.bin`: writing synthetic ones and checking any one before a
//! backend reads it.
//!
//! The layout is what whisper.cpp's `models/convert-pt-to-ggml.py` writes and its `quantize`
//! tool rewrites (read back by `whisper_model_load` in `src/whisper.cpp`), all little-endian:
//!
//! ```text
//! u32 magic 0x67676d6c ("ggml")
//! i32 × 11  n_vocab n_audio_ctx n_audio_state n_audio_head n_audio_layer
//!           n_text_ctx n_text_state n_text_head n_text_layer n_mels ftype
//!           (ftype of a quantized file: 1000 × GGML_QNT_VERSION (2) + ggml_ftype)
//! i32 n_mel, i32 n_fft (201), f32 × n_mel × n_fft   mel filters
//! i32 n_tokens (50257), then per token: u32 length, bytes   (whisper.cpp adds the specials)
//! per tensor, in state-dict order: i32 n_dims, i32 name length, i32 ggml type,
//!           i32 × n_dims dims (innermost first), name, data (no padding)
//! ```
//!
//! whisper.cpp itself does not notice a file cut inside its last tensor (it reads what is
//! there), so [`inspect`] checks every header and size first.

use super::arch::{tensor_data, tensors, WhisperTensor};
use super::mel;
use crate::catalog::{WhisperQuant, WhisperSpec};
use crate::output::{HashingWriter, SynthReport};
use crate::weights::data_bytes;
use anyhow::{bail, Context};
use candle_core::quantized::GgmlDType;
use sha2::Digest;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::Instant;

pub const MAGIC: u32 = 0x6767_6d6c;
/// `GGML_QNT_VERSION` × `GGML_QNT_VERSION_FACTOR`, added to the ftype of quantized files.
const QNT_VERSION_OFFSET: i32 = 2 * 1000;
/// Token strings the converter writes (GPT-2's byte-level BPE vocabulary); whisper.cpp adds the
/// rest of `n_vocab` (end-of-text, languages, tasks, timestamps) itself.
pub const N_TEXT_TOKENS: usize = 50257;

/// `ggml_ftype` of a file at `quant` as whisper.cpp's tools write it.
pub fn ftype(quant: WhisperQuant) -> anyhow::Result<i32> {
    Ok(match quant {
        WhisperQuant::F32 => 0,
        WhisperQuant::F16 => 1,
        WhisperQuant::Q8_0 => QNT_VERSION_OFFSET + 7,
        WhisperQuant::Q5_0 => QNT_VERSION_OFFSET + 8,
        WhisperQuant::Int8 => bail!(
            "int8 is an ONNX Runtime quantization; whisper.cpp files hold f32, f16, q8_0 or q5_0"
        ),
    })
}

/// Name of a `ggml_ftype` (after removing the quantization version).
pub fn ftype_name(ftype: i32) -> &'static str {
    match ftype % 1000 {
        0 => "f32",
        1 => "f16",
        2 => "q4_0",
        3 => "q4_1",
        7 => "q8_0",
        8 => "q5_0",
        9 => "q5_1",
        10 => "q2_k",
        11 => "q3_k",
        12 => "q4_k",
        13 => "q5_k",
        14 => "q6_k",
        _ => "unknown",
    }
}

/// The synthetic vocabulary: the 256 single bytes, then short unique strings, with GPT-2's
/// `<|endoftext|>` last (all ≤ 128 bytes, which `whisper-quantize` requires).
fn token(i: usize) -> Vec<u8> {
    match i {
        0..=255 => vec![i as u8],
        50256 => b"<|endoftext|>".to_vec(),
        _ => format!("tok{i}").into_bytes(),
    }
}

fn header_bytes(spec: &WhisperSpec, quant: WhisperQuant) -> anyhow::Result<Vec<u8>> {
    let mut h = Vec::new();
    h.extend(MAGIC.to_le_bytes());
    for v in [
        spec.n_vocab,
        spec.n_audio_ctx,
        spec.n_audio_state,
        spec.n_audio_head,
        spec.n_audio_layer,
        spec.n_text_ctx,
        spec.n_text_state,
        spec.n_text_head,
        spec.n_text_layer,
        spec.n_mels,
    ] {
        h.extend((v as i32).to_le_bytes());
    }
    h.extend(ftype(quant)?.to_le_bytes());
    h.extend((spec.n_mels as i32).to_le_bytes());
    h.extend((mel::N_FREQS as i32).to_le_bytes());
    for f in mel::filters(spec.n_mels) {
        h.extend(f.to_le_bytes());
    }
    h.extend((N_TEXT_TOKENS as i32).to_le_bytes());
    for i in 0..N_TEXT_TOKENS {
        let t = token(i);
        h.extend((t.len() as u32).to_le_bytes());
        h.extend(t);
    }
    Ok(h)
}

/// Dims of a tensor as the converter writes them: PyTorch shape with the conv biases made
/// `[n, 1]`, reversed (innermost first).
fn file_dims(name: &str, shape: &[usize]) -> Vec<usize> {
    let mut s = shape.to_vec();
    if name == "encoder.conv1.bias" || name == "encoder.conv2.bias" {
        s.push(1);
    }
    s.reverse();
    s
}

/// ggml's `enum ggml_type` numbers (ggml/include/ggml.h).
const GGML_TYPES: [(i32, GgmlDType); 15] = [
    (0, GgmlDType::F32),
    (1, GgmlDType::F16),
    (2, GgmlDType::Q4_0),
    (3, GgmlDType::Q4_1),
    (6, GgmlDType::Q5_0),
    (7, GgmlDType::Q5_1),
    (8, GgmlDType::Q8_0),
    (9, GgmlDType::Q8_1),
    (10, GgmlDType::Q2K),
    (11, GgmlDType::Q3K),
    (12, GgmlDType::Q4K),
    (13, GgmlDType::Q5K),
    (14, GgmlDType::Q6K),
    (15, GgmlDType::Q8K),
    (30, GgmlDType::BF16),
];

fn ggml_type_id(dtype: GgmlDType) -> i32 {
    GGML_TYPES
        .iter()
        .find(|(_, t)| *t == dtype)
        .map(|(id, _)| *id)
        .expect("every type candle writes has a ggml number")
}

fn ggml_type_from_id(id: i32) -> Option<GgmlDType> {
    GGML_TYPES.iter().find(|(i, _)| *i == id).map(|(_, t)| *t)
}

fn tensor_header(name: &str, shape: &[usize], dtype: GgmlDType) -> Vec<u8> {
    let dims = file_dims(name, shape);
    let mut h = Vec::new();
    h.extend((dims.len() as i32).to_le_bytes());
    h.extend((name.len() as i32).to_le_bytes());
    h.extend(ggml_type_id(dtype).to_le_bytes());
    for d in dims {
        h.extend((d as i32).to_le_bytes());
    }
    h.extend(name.as_bytes());
    h
}

/// Exact size of the file [`write`] writes.
pub fn planned_bytes(spec: &WhisperSpec, quant: WhisperQuant) -> u64 {
    let fixed = 4
        + 11 * 4
        + 8
        + (spec.n_mels * mel::N_FREQS * 4) as u64
        + 4
        + (0..N_TEXT_TOKENS)
            .map(|i| 4 + token(i).len() as u64)
            .sum::<u64>();
    fixed
        + tensors(spec)
            .iter()
            .map(|t| {
                let dt = t.ggml_dtype(quant);
                tensor_header(&t.name, &t.shape, dt).len() as u64 + data_bytes(t.elements(), dt)
            })
            .sum::<u64>()
}

/// Write a synthetic `ggml-*.bin` of `spec` at `quant` with weights from `seed`.
pub fn write(
    spec: &WhisperSpec,
    quant: WhisperQuant,
    seed: u64,
    path: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<SynthReport> {
    let start = Instant::now();
    spec.validate().map_err(anyhow::Error::msg)?;
    let total = planned_bytes(spec, quant);
    let header = header_bytes(spec, quant)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    progress(0, total);
    let mut w = HashingWriter::new(BufWriter::with_capacity(1 << 20, file), total, progress);
    let io = |e: std::io::Error| anyhow::anyhow!("writing {}: {e}", path.display());
    w.write_all(&header).map_err(io)?;
    for t in tensors(spec) {
        let dtype = t.ggml_dtype(quant);
        let q = tensor_data(spec, seed, &t, dtype)?;
        w.write_all(&tensor_header(&t.name, &t.shape, dtype))
            .map_err(io)?;
        w.write_all(&q.data()?).map_err(io)?;
    }
    w.flush().map_err(io)?;
    let bytes = w.pos;
    (w.progress)(bytes, total);
    if bytes != total {
        bail!("internal error: wrote {bytes} bytes, planned {total}");
    }
    Ok(SynthReport {
        path: path.to_path_buf(),
        bytes,
        sha256: hex::encode(w.hasher.finalize()),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// What a `ggml-*.bin` holds, read without loading its weights.
#[derive(Debug, Clone, PartialEq)]
pub struct GgmlSummary {
    /// The dimensions, as a catalog entry named after the file.
    pub spec: WhisperSpec,
    /// `ggml_ftype` without the quantization version.
    pub ftype: i32,
    /// `f16`, `q8_0`… ([`ftype_name`]).
    pub quant: String,
    pub file_bytes: u64,
    pub tensors: usize,
    pub parameters: u64,
    /// Bytes of tensor data.
    pub weight_bytes: u64,
}

/// A reader that counts and names what is missing.
struct Cursor<R: Read> {
    inner: R,
    pos: u64,
    len: u64,
}

impl<R: Read> Cursor<R> {
    fn bytes(&mut self, n: u64, what: &str) -> Result<Vec<u8>, String> {
        if self.pos + n > self.len {
            return Err(format!(
                "truncated: {what} needs bytes up to {} but the file has {}",
                self.pos + n,
                self.len
            ));
        }
        let mut buf = vec![0; n as usize];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| format!("cannot read {what}: {e}"))?;
        self.pos += n;
        Ok(buf)
    }

    fn i32(&mut self, what: &str) -> Result<i32, String> {
        let b = self.bytes(4, what)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<(), String> {
        if self.pos + n > self.len {
            return Err(format!(
                "truncated: {what} needs bytes up to {} but the file has {}",
                self.pos + n,
                self.len
            ));
        }
        std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink())
            .map_err(|e| format!("cannot read {what}: {e}"))?;
        self.pos += n;
        Ok(())
    }
}

/// Check a `ggml-*.bin` the way whisper.cpp will read it, and more strictly (a file cut short
/// anywhere is refused). Errors are one line naming the file.
pub fn inspect(path: &Path) -> anyhow::Result<GgmlSummary> {
    let shown = path.display();
    let file =
        std::fs::File::open(path).with_context(|| format!("{shown}: cannot open model file"))?;
    let len = file
        .metadata()
        .with_context(|| format!("{shown}: cannot read file size"))?
        .len();
    let mut c = Cursor {
        inner: std::io::BufReader::with_capacity(1 << 20, file),
        pos: 0,
        len,
    };
    inspect_inner(&mut c, path).map_err(|m| anyhow::anyhow!("{shown}: {m}"))
}

fn inspect_inner<R: Read>(c: &mut Cursor<R>, path: &Path) -> Result<GgmlSummary, String> {
    let (spec, ftype) = read_header(c, path)?;
    skip_mel_and_vocabulary(c, &spec)?;
    let expected = tensors(&spec);
    let mut seen = std::collections::HashSet::new();
    let (mut parameters, mut weight_bytes) = (0u64, 0u64);
    while c.pos < c.len {
        let (elements, bytes) = read_tensor(c, &expected, &mut seen)?;
        parameters += elements;
        weight_bytes += bytes;
    }
    if seen.len() != expected.len() {
        let missing = expected
            .iter()
            .find(|t| !seen.contains(&t.name))
            .map(|t| t.name.clone())
            .unwrap_or_default();
        return Err(format!(
            "truncated or incomplete: {} of {} tensors (first missing: {missing})",
            seen.len(),
            expected.len()
        ));
    }
    Ok(GgmlSummary {
        spec,
        ftype,
        quant: ftype_name(ftype).to_string(),
        file_bytes: c.len,
        tensors: seen.len(),
        parameters,
        weight_bytes,
    })
}

/// The magic number and the 11 hyperparameters: the dimensions (as a spec named after the
/// file) and the ftype without the quantization version.
fn read_header<R: Read>(c: &mut Cursor<R>, path: &Path) -> Result<(WhisperSpec, i32), String> {
    let magic = c.bytes(4, "the magic number")?;
    if magic == b"GGUF" {
        return Err("a GGUF file, not a whisper.cpp ggml-*.bin model".into());
    }
    let magic = u32::from_le_bytes([magic[0], magic[1], magic[2], magic[3]]);
    if magic != MAGIC {
        return Err(format!(
            "not a whisper.cpp model (magic 0x{magic:08x}, expected 0x{MAGIC:08x} \"ggml\")"
        ));
    }
    let mut h = [0i32; 11];
    for (i, v) in h.iter_mut().enumerate() {
        *v = c.i32(&format!("hyperparameter {i}"))?;
    }
    if h[..10].iter().any(|&v| v <= 0) {
        return Err(format!("impossible hyperparameters {:?}", &h[..10]));
    }
    let u = |i: usize| h[i] as usize;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let spec = WhisperSpec {
        name: stem.clone(),
        display_name: stem,
        n_vocab: u(0),
        n_audio_ctx: u(1),
        n_audio_state: u(2),
        n_audio_head: u(3),
        n_audio_layer: u(4),
        n_text_ctx: u(5),
        n_text_state: u(6),
        n_text_head: u(7),
        n_text_layer: u(8),
        n_mels: u(9),
        tiny: false,
        source: path.display().to_string(),
    };
    if spec.n_audio_state != spec.n_text_state {
        return Err(format!(
            "n_audio_state {} differs from n_text_state {} (whisper.cpp requires them equal)",
            spec.n_audio_state, spec.n_text_state
        ));
    }
    if spec.n_audio_layer > 64 || spec.n_text_layer > 64 || spec.n_audio_state > 8192 {
        return Err(format!("implausible dimensions {:?}", &h[..10]));
    }
    let ftype = h[10] % 1000;
    if ftype_name(ftype) == "unknown" {
        return Err(format!("unknown ftype {}", h[10]));
    }
    Ok((spec, ftype))
}

/// The mel filters (checked for their size) and the token strings.
fn skip_mel_and_vocabulary<R: Read>(c: &mut Cursor<R>, spec: &WhisperSpec) -> Result<(), String> {
    let n_mel = c.i32("the mel filter count")?;
    let n_fft = c.i32("the mel filter size")?;
    if n_mel as usize != spec.n_mels || n_fft as usize != mel::N_FREQS {
        return Err(format!(
            "mel filters are {n_mel}×{n_fft}, expected {}×{}",
            spec.n_mels,
            mel::N_FREQS
        ));
    }
    c.skip((n_mel * n_fft) as u64 * 4, "the mel filters")?;
    let n_tokens = c.i32("the vocabulary size")?;
    if n_tokens < 0 || n_tokens as usize > spec.n_vocab {
        return Err(format!(
            "{n_tokens} vocabulary entries for n_vocab {}",
            spec.n_vocab
        ));
    }
    for i in 0..n_tokens {
        let len = c.i32(&format!("token {i}"))? as u32;
        if len > 1024 {
            return Err(format!("token {i} is {len} bytes long"));
        }
        c.skip(len as u64, &format!("token {i}"))?;
    }
    Ok(())
}

/// One tensor's header, checked against the tensor of that name in `expected`, and its data
/// skipped; its name added to `seen`. Returns its element count and data bytes.
fn read_tensor<R: Read>(
    c: &mut Cursor<R>,
    expected: &[WhisperTensor],
    seen: &mut std::collections::HashSet<String>,
) -> Result<(u64, u64), String> {
    let n_dims = c.i32("a tensor header")?;
    let name_len = c.i32("a tensor header")?;
    let ttype = c.i32("a tensor header")?;
    if !(1..=4).contains(&n_dims) || !(1..=256).contains(&name_len) {
        return Err(format!(
            "corrupt tensor header at byte {} ({n_dims} dims, name of {name_len} bytes)",
            c.pos - 12
        ));
    }
    let mut dims = Vec::new();
    for _ in 0..n_dims {
        let d = c.i32("tensor dims")?;
        if d <= 0 {
            return Err(format!("tensor dimension {d} at byte {}", c.pos - 4));
        }
        dims.push(d as usize);
    }
    let name = String::from_utf8_lossy(&c.bytes(name_len as u64, "a tensor name")?).into_owned();
    let Some(t) = expected.iter().find(|t| t.name == name) else {
        return Err(format!(
            "unknown tensor '{name}' (whisper.cpp would refuse it)"
        ));
    };
    if !seen.insert(name.clone()) {
        return Err(format!("tensor '{name}' appears twice"));
    }
    let want = file_dims(&t.name, &t.shape);
    let squeeze = |d: &[usize]| d.iter().copied().filter(|&x| x != 1).collect::<Vec<_>>();
    if squeeze(&dims) != squeeze(&want) {
        return Err(format!(
            "tensor '{name}' has shape {dims:?}, expected {want:?} for these dimensions"
        ));
    }
    let dtype = ggml_type_from_id(ttype)
        .ok_or_else(|| format!("tensor '{name}' has unknown ggml type {ttype}"))?;
    let elements = t.elements();
    if !elements.is_multiple_of(dtype.block_size() as u64) {
        return Err(format!(
            "tensor '{name}' of {elements} values does not fit {dtype:?} blocks"
        ));
    }
    let bytes = data_bytes(elements, dtype);
    c.skip(bytes, &format!("tensor '{name}'"))?;
    Ok((elements, bytes))
}
