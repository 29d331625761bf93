//! llama.cpp's log, routed so it helps instead of drowning the worker's stderr.
//!
//! llama.cpp logs hundreds of lines while loading a model. The harness keeps only the worker's
//! last stderr lines as the reason of a crash, so the routine ones (info, debug) are dropped and
//! warnings and errors go to stderr. Errors are also kept here, because a failed
//! `llama_model_load_from_file` only returns NULL: the reason is in the log. Set
//! `EDGEBENCH_LLAMA_LOG=info` (or `debug`) to see everything.

use llama_cpp_sys_2 as sys;
use std::ffi::{c_char, c_void, CStr};
use std::io::Write;
use std::sync::Mutex;

/// How many error lines are kept for error messages.
const KEEP: usize = 6;

struct State {
    /// Lowest level written to stderr.
    min_level: sys::ggml_log_level,
    /// Level of the message being continued by `GGML_LOG_LEVEL_CONT` pieces.
    last_level: sys::ggml_log_level,
    /// Text of a message not ended by a newline yet.
    partial: String,
    errors: Vec<String>,
}

static STATE: Mutex<State> = Mutex::new(State {
    min_level: sys::GGML_LOG_LEVEL_WARN,
    last_level: sys::GGML_LOG_LEVEL_NONE,
    partial: String::new(),
    errors: Vec::new(),
});

/// Route llama.cpp's (and ggml's) log through [`callback`]. Called once, before the backend
/// starts.
pub fn install() {
    let min_level = match std::env::var("EDGEBENCH_LLAMA_LOG").as_deref() {
        Ok("debug") => sys::GGML_LOG_LEVEL_DEBUG,
        Ok("info") => sys::GGML_LOG_LEVEL_INFO,
        Ok("error") => sys::GGML_LOG_LEVEL_ERROR,
        _ => sys::GGML_LOG_LEVEL_WARN,
    };
    lock().min_level = min_level;
    // SAFETY: the callback is a plain function that lives for the whole process.
    unsafe { sys::llama_log_set(Some(callback), std::ptr::null_mut()) };
}

/// Forget the errors logged so far (before a call whose failure should be explained).
pub fn clear_errors() {
    lock().errors.clear();
}

/// The error lines logged since the last [`clear_errors`], joined with "; ".
pub fn errors() -> String {
    lock().errors.join("; ")
}

fn lock() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

unsafe extern "C" fn callback(level: sys::ggml_log_level, text: *const c_char, _: *mut c_void) {
    if text.is_null() {
        return;
    }
    // SAFETY: llama.cpp passes a NUL-terminated string valid for this call.
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    let mut state = lock();
    let level = if level == sys::GGML_LOG_LEVEL_CONT {
        state.last_level
    } else {
        level
    };
    state.last_level = level;
    state.partial.push_str(&text);
    if !state.partial.ends_with('\n') {
        return;
    }
    let message = std::mem::take(&mut state.partial);
    let message = message.trim_end();
    if level >= state.min_level && level != sys::GGML_LOG_LEVEL_NONE {
        let _ = writeln!(std::io::stderr(), "{message}");
    }
    if level >= sys::GGML_LOG_LEVEL_ERROR && !message.is_empty() {
        if state.errors.len() == KEEP {
            state.errors.remove(0);
        }
        state.errors.push(message.trim().to_string());
    }
}
