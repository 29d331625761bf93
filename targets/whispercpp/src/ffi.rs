//! A small safe layer over whisper.cpp's C API (`whisper.h`), reached through whisper-rs's
//! `raw-api` re-export of `whisper-rs-sys`.
//!
//! whisper-rs 0.16's safe `WhisperState::get_logits` returns the first `n_vocab` floats of the
//! logits buffer, but after a multi-token `whisper_decode` whisper.cpp fills only the row of
//! the last token (`batch.logits[n_tokens - 1]`), so the decoder prompt's logits would be
//! stale. The context and state pointers are private in whisper-rs, hence this layer.

use std::collections::VecDeque;
use std::ffi::{c_char, c_void, CStr, CString};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Mutex;
use whisper_rs::whisper_rs_sys as sys;

/// whisper.cpp's (and ggml's) last error-level log lines, for error messages.
static ERRORS: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

unsafe extern "C" fn log_callback(level: sys::ggml_log_level, text: *const c_char, _: *mut c_void) {
    if text.is_null() {
        return;
    }
    // SAFETY: whisper.cpp passes a NUL-terminated string that lives for this call.
    let line = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    eprint!("{line}");
    if level == sys::ggml_log_level_GGML_LOG_LEVEL_ERROR {
        let mut errors = ERRORS.lock().unwrap_or_else(|e| e.into_inner());
        if errors.len() == 8 {
            errors.pop_front();
        }
        errors.push_back(line.trim().to_string());
    }
}

/// Route whisper.cpp's and ggml's log through [`log_callback`] (stderr, errors remembered).
pub fn install_log() {
    // SAFETY: the callback is a plain function valid for the whole process.
    unsafe { sys::whisper_log_set(Some(log_callback), std::ptr::null_mut()) };
}

/// The error lines whisper.cpp logged since the last call, joined.
pub fn take_errors() -> String {
    let mut errors = ERRORS.lock().unwrap_or_else(|e| e.into_inner());
    let text = errors
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    errors.clear();
    text
}

pub fn version() -> String {
    // SAFETY: returns a static string.
    unsafe { CStr::from_ptr(sys::whisper_version()) }
        .to_string_lossy()
        .into_owned()
}

/// `AVX2 = 1 | F16C = 1 | …` as whisper.cpp prints it.
pub fn system_info() -> String {
    // SAFETY: returns a pointer to a static buffer.
    unsafe { CStr::from_ptr(sys::whisper_print_system_info()) }
        .to_string_lossy()
        .into_owned()
}

/// A loaded model (`whisper_context`) and one decoding state (`whisper_state`).
pub struct Whisper {
    // Declared first so it is freed before the context it was made from.
    state: NonNull<sys::whisper_state>,
    ctx: NonNull<sys::whisper_context>,
}

// SAFETY: whisper.cpp's context and state are plain heap objects with no thread affinity; the
// worker uses them from one thread at a time.
unsafe impl Send for Whisper {}

fn check(ret: i32, what: &str) -> Result<(), String> {
    if ret == 0 {
        Ok(())
    } else {
        let log = take_errors();
        Err(if log.is_empty() {
            format!("whisper.cpp {what} failed (code {ret})")
        } else {
            format!("whisper.cpp {what} failed: {log}")
        })
    }
}

impl Whisper {
    pub fn load(path: &Path, flash_attn: bool) -> Result<Self, String> {
        let cpath = CString::new(path.to_string_lossy().as_bytes())
            .map_err(|_| "the path holds a NUL byte".to_string())?;
        take_errors();
        // SAFETY: plain C calls with a valid path and parameters from whisper.cpp's defaults.
        unsafe {
            let mut params = sys::whisper_context_default_params();
            params.use_gpu = false;
            params.flash_attn = flash_attn;
            let ctx = sys::whisper_init_from_file_with_params_no_state(cpath.as_ptr(), params);
            let Some(ctx) = NonNull::new(ctx) else {
                let log = take_errors();
                return Err(format!("whisper.cpp could not load it: {log}"));
            };
            let state = sys::whisper_init_state(ctx.as_ptr());
            let Some(state) = NonNull::new(state) else {
                sys::whisper_free(ctx.as_ptr());
                let log = take_errors();
                return Err(format!("whisper.cpp could not allocate its state: {log}"));
            };
            Ok(Self { state, ctx })
        }
    }

    pub fn n_vocab(&self) -> usize {
        // SAFETY: valid context.
        unsafe { sys::whisper_n_vocab(self.ctx.as_ptr()) as usize }
    }

    pub fn n_text_ctx(&self) -> usize {
        // SAFETY: valid context.
        unsafe { sys::whisper_n_text_ctx(self.ctx.as_ptr()) as usize }
    }

    pub fn n_mels(&self) -> usize {
        // SAFETY: valid context.
        unsafe { sys::whisper_model_n_mels(self.ctx.as_ptr()) as usize }
    }

    pub fn pcm_to_mel(&mut self, pcm: &[f32], threads: usize) -> Result<(), String> {
        // SAFETY: the slice is valid for its length; whisper.cpp copies what it needs.
        let ret = unsafe {
            sys::whisper_pcm_to_mel_with_state(
                self.ctx.as_ptr(),
                self.state.as_ptr(),
                pcm.as_ptr(),
                pcm.len() as i32,
                threads as i32,
            )
        };
        check(ret, "log-mel")
    }

    /// `mel` is `n_mels` rows of `mel.len() / n_mels` frames.
    pub fn set_mel(&mut self, mel: &[f32], n_mels: usize) -> Result<(), String> {
        // SAFETY: as above; whisper.cpp copies the data.
        let ret = unsafe {
            sys::whisper_set_mel_with_state(
                self.ctx.as_ptr(),
                self.state.as_ptr(),
                mel.as_ptr(),
                (mel.len() / n_mels.max(1)) as i32,
                n_mels as i32,
            )
        };
        check(ret, "set_mel")
    }

    pub fn encode(&mut self, threads: usize) -> Result<(), String> {
        // SAFETY: valid context and state.
        let ret = unsafe {
            sys::whisper_encode_with_state(
                self.ctx.as_ptr(),
                self.state.as_ptr(),
                0,
                threads as i32,
            )
        };
        check(ret, "encoder")
    }

    /// Decode `tokens` after `n_past` cached ones; the logits of the last token.
    pub fn decode(
        &mut self,
        tokens: &[i32],
        n_past: usize,
        threads: usize,
    ) -> Result<Vec<f32>, String> {
        if tokens.is_empty() {
            return Err("decode of zero tokens".into());
        }
        // SAFETY: valid pointers; the token slice outlives the call.
        let ret = unsafe {
            sys::whisper_decode_with_state(
                self.ctx.as_ptr(),
                self.state.as_ptr(),
                tokens.as_ptr(),
                tokens.len() as i32,
                n_past as i32,
                threads as i32,
            )
        };
        check(ret, "decoder")?;
        let n_vocab = self.n_vocab();
        // SAFETY: after a successful decode the state's logits hold n_tokens × n_vocab floats,
        // the last row filled (see the module documentation).
        unsafe {
            let logits = sys::whisper_get_logits_from_state(self.state.as_ptr());
            if logits.is_null() {
                return Err("whisper.cpp returned no logits".into());
            }
            let last =
                std::slice::from_raw_parts(logits.add((tokens.len() - 1) * n_vocab), n_vocab);
            Ok(last.to_vec())
        }
    }
}

impl Drop for Whisper {
    fn drop(&mut self) {
        // SAFETY: both were created by whisper.cpp and are freed once, state first.
        unsafe {
            sys::whisper_free_state(self.state.as_ptr());
            sys::whisper_free(self.ctx.as_ptr());
        }
    }
}
