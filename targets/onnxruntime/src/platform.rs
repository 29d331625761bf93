//! What this platform cannot run. Core ML exists only on Apple's systems: elsewhere the
//! `coreml` target builds the same code and says why it is not available.

use crate::Ep;

#[cfg_attr(target_os = "macos", path = "platform/macos.rs")]
#[cfg_attr(not(target_os = "macos"), path = "platform/other.rs")]
mod imp;

/// Why `ep` cannot run on this machine whatever library is loaded, if it cannot.
pub fn unavailable(ep: Ep) -> Option<&'static str> {
    match ep {
        Ep::CoreMl => imp::COREML_UNAVAILABLE,
        Ep::Cpu | Ep::Cuda => None,
    }
}
