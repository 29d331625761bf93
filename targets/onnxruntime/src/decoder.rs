//! One GenAI decoder session and the state of the sequence it is generating.
//!
//! The loop does what onnxruntime-genai's runtime does for a batch of one with greedy search
//! (`src/models/kv_cache.cpp`, `position_inputs.cpp`), and no more:
//! - **shared KV buffers** (`search.past_present_share_buffer`, GroupQueryAttention models):
//!   one zeroed `[1, kv_heads, capacity, head]` tensor per layer for keys and one for values,
//!   bound once as both `past_key_values.N.*` input and `present.N.*` output. The attention
//!   kernel writes each new position in place: no per-step allocation or copy of the cache.
//! - **growing KV** (other models): each step binds the previous step's `present` tensors as
//!   `past` and binds new `present` tensors of the new length, as GenAI allocates them.
//! - `input_ids`, `attention_mask` (ones, `[1, total]`) and `position_ids` (when the model has
//!   them) are new small tensors each step, as in GenAI on the CPU.
//! - logits are written into a bound tensor: one `[1, 1, vocab]` tensor reused by every decode
//!   step, one `[1, n, vocab]` tensor for a prefill of `n` (kept for the next prefill of `n`).
//!
//! Runs go straight to the C API's `RunWithBinding`; the time spent in it is kept apart from
//! the time of the whole step ([`LoopStats`]), so the loop's own overhead is measured.

use edgebench_scenarios::onnx::genai_config::GenaiModel;
use ort::memory::Allocator;
use ort::session::{IoBinding, Session};
use ort::value::{DynTensor, Tensor, TensorElementType};
use ort::AsPointer;
use std::time::Instant;

/// Where each step's time went. `total_s − run_s` is the loop's overhead: building input
/// tensors, binding them, and copying out the last position's logits.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoopStats {
    /// Prefill and decode calls.
    pub steps: u64,
    /// Seconds from entering a step to returning its logits.
    pub total_s: f64,
    /// Seconds inside `RunWithBinding`.
    pub run_s: f64,
}

enum Kv {
    /// Per layer (key, value), each bound as past and present.
    Shared(Vec<(DynTensor, DynTensor)>),
    /// Per layer (key, value) of the positions so far (`[1, kv_heads, 0, head]` after a
    /// reset, as GenAI's `empty_past_`).
    Growing(Vec<(DynTensor, DynTensor)>),
}

pub struct Decoder {
    pub session: Session,
    binding: IoBinding,
    pub model: GenaiModel,
    /// Element type of the KV cache and logits (f32 or f16).
    pub io: TensorElementType,
    kv_alloc: Allocator,
    kv: Kv,
    /// Positions the KV cache holds (shared buffers), or may grow to.
    pub capacity: usize,
    /// Positions in the KV cache since the last reset.
    pub pos: usize,
    decode_logits: DynTensor,
    prefill_logits: Option<(usize, DynTensor)>,
    /// Sequence length of the logits tensor currently bound.
    bound_logits: usize,
    pub stats: LoopStats,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

impl Decoder {
    /// Set up the generation state for `session` (already created for `model`), with room for
    /// `capacity` positions.
    pub fn new(
        session: Session,
        model: GenaiModel,
        kv_alloc: Allocator,
        capacity: usize,
    ) -> Result<Self, String> {
        let find = |name: &str, outputs: bool| {
            let list = if outputs {
                session.outputs()
            } else {
                session.inputs()
            };
            list.iter()
                .find(|o| o.name() == name)
                .map(|o| o.dtype().clone())
                .ok_or_else(|| {
                    format!(
                        "{}: the model has no {} `{name}`, which genai_config.json names",
                        model.model_path.display(),
                        if outputs { "output" } else { "input" }
                    )
                })
        };
        find(&model.input_ids, false)?;
        for name in model.attention_mask.iter().chain(&model.position_ids) {
            find(name, false)?;
        }
        find(&model.logits, true)?;
        for ((pk, pv), (ck, cv)) in model.past.iter().zip(&model.present) {
            for name in [pk, pv] {
                find(name, false)?;
            }
            for name in [ck, cv] {
                find(name, true)?;
            }
        }
        let io = find(&model.past[0].0, false)?
            .tensor_type()
            .ok_or_else(|| {
                format!(
                    "{}: past key input is not a tensor",
                    model.model_path.display()
                )
            })?;
        if !matches!(io, TensorElementType::Float32 | TensorElementType::Float16) {
            return Err(format!(
                "{}: KV cache of {io:?} (edgebench runs f32 and f16 caches)",
                model.model_path.display()
            ));
        }
        let logits_type = find(&model.logits, true)?.tensor_type();
        if logits_type != Some(io) {
            return Err(format!(
                "{}: logits of {logits_type:?} with a {io:?} KV cache",
                model.model_path.display()
            ));
        }

        let mut binding = session.create_binding().map_err(err)?;
        let kv_shape = |len: usize| [1usize, model.kv_heads, len, model.head_size];
        let kv = if model.past_present_share_buffer {
            let mut layers = Vec::with_capacity(model.layers);
            for ((pk, pv), (ck, cv)) in model.past.iter().zip(&model.present) {
                let mut k = DynTensor::new(&kv_alloc, io, kv_shape(capacity)).map_err(err)?;
                let mut v = DynTensor::new(&kv_alloc, io, kv_shape(capacity)).map_err(err)?;
                binding.bind_input(pk.as_str(), &k).map_err(err)?;
                binding.bind_input(pv.as_str(), &v).map_err(err)?;
                binding.bind_output(ck.as_str(), &mut k).map_err(err)?;
                binding.bind_output(cv.as_str(), &mut v).map_err(err)?;
                layers.push((k, v));
            }
            Kv::Shared(layers)
        } else {
            Kv::Growing(empty_pasts(&kv_alloc, io, &model)?)
        };
        let decode_logits =
            DynTensor::new(&Allocator::default(), io, [1usize, 1, model.vocab_size])
                .map_err(err)?;
        Ok(Self {
            session,
            binding,
            model,
            io,
            kv_alloc,
            kv,
            capacity,
            pos: 0,
            decode_logits,
            prefill_logits: None,
            bound_logits: 0,
            stats: LoopStats::default(),
        })
    }

    /// Forget the sequence. Shared buffers are not cleared: the attention kernel reads only
    /// the positions `attention_mask` covers, and every one of those is written first.
    pub fn reset(&mut self) -> Result<(), String> {
        self.pos = 0;
        if let Kv::Growing(past) = &mut self.kv {
            *past = empty_pasts(&self.kv_alloc, self.io, &self.model)?;
        }
        Ok(())
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes of KV cache the session holds now.
    pub fn kv_bytes(&self) -> usize {
        let layers = match &self.kv {
            Kv::Shared(l) | Kv::Growing(l) => l,
        };
        let per_value = match self.io {
            TensorElementType::Float16 => 2,
            _ => 4,
        };
        layers
            .iter()
            .flat_map(|(k, v)| [k, v])
            .map(|t| t.shape().iter().product::<i64>().max(0) as usize * per_value)
            .sum()
    }

    /// Run `tokens` at the current position; the logits of the last one, as f32.
    pub fn step(&mut self, tokens: &[u32]) -> Result<Vec<f32>, String> {
        let start = Instant::now();
        let n = tokens.len();
        let end = self.pos + n;
        // The target checks the count, the context and the vocabulary first
        // (`edgebench_target_kit::guards`); these asserts only keep the buffers safe.
        assert!(n > 0 && end <= self.capacity, "step outside the session");
        let ids = Tensor::from_array((
            [1usize, n],
            tokens.iter().map(|&t| t as i64).collect::<Vec<_>>(),
        ))
        .map_err(err)?;
        self.binding
            .bind_input(self.model.input_ids.as_str(), &ids)
            .map_err(err)?;
        if let Some(name) = &self.model.attention_mask {
            let mask = Tensor::from_array(([1usize, end], vec![1i64; end])).map_err(err)?;
            self.binding.bind_input(name.as_str(), &mask).map_err(err)?;
        }
        if let Some(name) = &self.model.position_ids {
            let positions: Vec<i64> = (self.pos as i64..end as i64).collect();
            let positions = Tensor::from_array(([1usize, n], positions)).map_err(err)?;
            self.binding
                .bind_input(name.as_str(), &positions)
                .map_err(err)?;
        }
        let mut presents = Vec::new();
        if let Kv::Growing(past) = &self.kv {
            let shape = [1usize, self.model.kv_heads, end, self.model.head_size];
            for ((k, v), ((pk, pv), (ck, cv))) in past
                .iter()
                .zip(self.model.past.iter().zip(&self.model.present))
            {
                self.binding.bind_input(pk.as_str(), k).map_err(err)?;
                self.binding.bind_input(pv.as_str(), v).map_err(err)?;
                let mut k = DynTensor::new(&self.kv_alloc, self.io, shape).map_err(err)?;
                let mut v = DynTensor::new(&self.kv_alloc, self.io, shape).map_err(err)?;
                self.binding.bind_output(ck.as_str(), &mut k).map_err(err)?;
                self.binding.bind_output(cv.as_str(), &mut v).map_err(err)?;
                presents.push((k, v));
            }
        }
        let vocab = self.model.vocab_size;
        if n != 1
            && self
                .prefill_logits
                .as_ref()
                .is_none_or(|(len, _)| *len != n)
        {
            // Drop the old one first: at a large vocabulary it is hundreds of megabytes.
            self.prefill_logits = None;
            let t =
                DynTensor::new(&Allocator::default(), self.io, [1usize, n, vocab]).map_err(err)?;
            self.prefill_logits = Some((n, t));
            self.bound_logits = 0;
        }
        if self.bound_logits != n {
            let logits = if n == 1 {
                &mut self.decode_logits
            } else {
                &mut self.prefill_logits.as_mut().expect("allocated above").1
            };
            self.binding
                .bind_output(self.model.logits.as_str(), logits)
                .map_err(err)?;
            self.bound_logits = n;
        }

        let run_start = Instant::now();
        // SAFETY: the session and binding are alive for the call; every bound input and output
        // is held by `self` or by the binding until the call returns.
        let status = unsafe {
            (ort::api().RunWithBinding)(
                self.session.ptr().cast_mut(),
                std::ptr::null(),
                self.binding.ptr(),
            )
        };
        // SAFETY: `status` comes from the C API call above.
        unsafe { ort::Error::result_from_status(status) }.map_err(err)?;
        let run_s = run_start.elapsed().as_secs_f64();

        let logits = if n == 1 {
            &self.decode_logits
        } else {
            &self.prefill_logits.as_ref().expect("bound above").1
        };
        let last = last_row(logits, self.io, vocab)?;
        if let Kv::Growing(past) = &mut self.kv {
            *past = presents;
        }
        self.pos = end;
        self.stats.steps += 1;
        self.stats.run_s += run_s;
        self.stats.total_s += start.elapsed().as_secs_f64();
        Ok(last)
    }
}

fn empty_pasts(
    alloc: &Allocator,
    io: TensorElementType,
    model: &GenaiModel,
) -> Result<Vec<(DynTensor, DynTensor)>, String> {
    let shape = [1usize, model.kv_heads, 0, model.head_size];
    (0..model.layers)
        .map(|_| {
            Ok((
                DynTensor::new(alloc, io, shape).map_err(err)?,
                DynTensor::new(alloc, io, shape).map_err(err)?,
            ))
        })
        .collect()
}

/// The last `vocab` values of a logits tensor, as f32.
fn last_row(logits: &DynTensor, io: TensorElementType, vocab: usize) -> Result<Vec<f32>, String> {
    match io {
        TensorElementType::Float32 => {
            let (_, data) = logits.try_extract_tensor::<f32>().map_err(err)?;
            Ok(data[data.len() - vocab..].to_vec())
        }
        _ => {
            let (_, data) = logits.try_extract_tensor::<half::f16>().map_err(err)?;
            Ok(data[data.len() - vocab..]
                .iter()
                .map(|v| v.to_f32())
                .collect())
        }
    }
}
