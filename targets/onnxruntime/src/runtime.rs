//! Finding and loading the ONNX Runtime shared library.
//!
//! `ort` is built with `load-dynamic`: nothing is linked at build time, and the official
//! library is opened when the worker starts. Where it is looked for, in order:
//! 1. `ORT_DYLIB_PATH` (a file);
//! 2. `<folder of this executable>/../lib`: where a release tarball (`scripts/package.sh`) puts
//!    the library beside `bin/`, so an unpacked tarball runs with no set-up step;
//! 3. where `scripts/setup.sh` installs it from the PyPI `onnxruntime` wheel:
//!    `$EDGEBENCH_ORT_DIR`, else `${XDG_CACHE_HOME:-~/.cache}/edgebench/onnxruntime/<version>/`;
//! 4. the system's library search path (`libonnxruntime.so` / `.dylib`).
//!
//! Every failure is one line that says what to do; nothing here panics (a panic inside `ort`
//! while loading is caught and reported the same way).

use std::ffi::CStr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The ONNX Runtime release `scripts/setup.sh` installs: the one `ort` 2.0.0-rc.15 targets
/// (its C API version 31, i.e. 1.31.x). Checked against scripts/setup.sh by a test.
pub const ORT_VERSION: &str = "1.31.1";

/// The oldest minor version `ort` accepts (`ort::MINOR_VERSION`, the C API version it uses).
pub const MIN_MINOR: u32 = ort::MINOR_VERSION;

/// The loaded library.
pub struct Runtime {
    pub env: ort::environment::Environment,
    pub path: PathBuf,
    /// As the library reports it (`1.31.1`).
    pub version: String,
    /// Execution providers compiled into this build (`CPUExecutionProvider`, …).
    pub providers: Vec<String>,
}

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The process's ONNX Runtime, loaded on first use.
pub fn runtime() -> Result<&'static Runtime, String> {
    RUNTIME.get_or_init(load).as_ref().map_err(Clone::clone)
}

fn fix() -> String {
    format!(
        "run scripts/setup.sh (installs ONNX Runtime {ORT_VERSION} into {}) or set ORT_DYLIB_PATH \
         to a libonnxruntime of version 1.{MIN_MINOR} or newer",
        install_dir().display()
    )
}

/// Where scripts/setup.sh puts the library.
pub fn install_dir() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = var("EDGEBENCH_ORT_DIR") {
        return d;
    }
    let cache = var("XDG_CACHE_HOME")
        .filter(|d| d.is_absolute())
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache
        .join("edgebench")
        .join("onnxruntime")
        .join(ORT_VERSION)
}

/// `<folder of this executable>/../lib`, where a release tarball keeps the library (`None`
/// when the executable's path is unknown).
pub fn bundled_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.join("lib"))
}

/// The ONNX Runtime library in `dir` (the first by name), if there is one.
fn library_in(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_library)
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

/// The library in the first of `dirs` that holds one.
fn library_in_first(dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter().find_map(|d| library_in(d))
}

fn is_library(name: &str) -> bool {
    name.starts_with("libonnxruntime")
        && !name.contains("providers")
        && (name.contains(".so") || name.ends_with(".dylib") || name.ends_with(".dll"))
}

/// The library file to load, or why there is none.
fn locate() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            return Err(format!(
                "ORT_DYLIB_PATH={}: no such file; unset it or {}",
                p.display(),
                fix()
            ));
        }
        return Ok(p);
    }
    let dirs: Vec<PathBuf> = bundled_dir().into_iter().chain([install_dir()]).collect();
    if let Some(p) = library_in_first(&dirs) {
        return Ok(p);
    }
    // The system's search path, by the plain library name.
    let system = PathBuf::from(libloading::library_filename("onnxruntime"));
    // SAFETY: loading ONNX Runtime runs its initializers, which have no preconditions.
    if unsafe { libloading::Library::new(&system) }.is_ok() {
        return Ok(system);
    }
    Err(format!("ONNX Runtime library not found: {}", fix()))
}

/// The version string of the library at `path` (`OrtGetApiBase()->GetVersionString()`).
fn library_version(path: &Path) -> Result<String, String> {
    // SAFETY: as above; the symbol is ONNX Runtime's documented entry point, and the base
    // struct it returns is static data of the library, which stays loaded (ort loads the same
    // file again and keeps it for the life of the process).
    unsafe {
        let lib = libloading::Library::new(path).map_err(|e| {
            format!(
                "cannot load ONNX Runtime from {}: {e}; {}",
                path.display(),
                fix()
            )
        })?;
        let get_base: libloading::Symbol<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> =
            lib.get(b"OrtGetApiBase").map_err(|_| {
                format!(
                    "{} is not an ONNX Runtime library (no OrtGetApiBase); {}",
                    path.display(),
                    fix()
                )
            })?;
        let base = get_base();
        if base.is_null() {
            return Err(format!(
                "{}: OrtGetApiBase returned nothing; {}",
                path.display(),
                fix()
            ));
        }
        let version = CStr::from_ptr(((*base).GetVersionString)())
            .to_string_lossy()
            .into_owned();
        std::mem::forget(lib);
        Ok(version)
    }
}

fn load() -> Result<Runtime, String> {
    let path = locate()?;
    let version = library_version(&path)?;
    let minor = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse::<u32>().ok());
    if minor.is_none_or(|m| m < MIN_MINOR) {
        return Err(format!(
            "{} is ONNX Runtime {version}, but edgebench needs 1.{MIN_MINOR} or newer; {}",
            path.display(),
            fix()
        ));
    }
    let built = catch_unwind(AssertUnwindSafe(|| -> Result<_, String> {
        let builder = ort::init_from(&path).map_err(|e| e.to_string())?;
        builder
            .with_name("edgebench")
            .build()
            .map_err(|e| e.to_string())
    }));
    let env = match built {
        Ok(Ok(env)) => env,
        Ok(Err(e)) => {
            return Err(format!(
                "cannot start ONNX Runtime from {}: {e}; {}",
                path.display(),
                fix()
            ))
        }
        Err(_) => {
            return Err(format!(
                "ONNX Runtime from {} failed to start (it panicked); {}",
                path.display(),
                fix()
            ))
        }
    };
    Ok(Runtime {
        env,
        providers: available_providers(),
        path,
        version,
    })
}

/// `GetAvailableProviders`: the execution providers this library was built with.
fn available_providers() -> Vec<String> {
    let api = ort::api();
    let mut list: *mut *mut std::ffi::c_char = std::ptr::null_mut();
    let mut count: std::ffi::c_int = 0;
    // SAFETY: the C API fills `list` with `count` C strings, released below.
    unsafe {
        let status = (api.GetAvailableProviders)(&mut list, &mut count);
        if ort::Error::result_from_status(status).is_err() || list.is_null() {
            return vec!["CPUExecutionProvider".into()];
        }
        let names = (0..count as usize)
            .map(|i| CStr::from_ptr(*list.add(i)).to_string_lossy().into_owned())
            .collect();
        let _ = ort::Error::result_from_status((api.ReleaseAvailableProviders)(list, count));
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names() {
        assert!(is_library("libonnxruntime.so.1.31.1"));
        assert!(is_library("libonnxruntime.1.31.1.dylib"));
        assert!(!is_library("libonnxruntime_providers_shared.so"));
        assert!(!is_library("onnxruntime_pybind11_state.so"));
    }

    /// A tarball's `lib/` comes before the cache dir; providers libraries are never picked;
    /// an empty or missing folder is passed over.
    #[test]
    fn bundled_lib_comes_first() {
        let root = tempfile::tempdir().unwrap();
        let bundled = root.path().join("bundled");
        let cache = root.path().join("cache");
        let missing = root.path().join("missing");
        std::fs::create_dir_all(&bundled).unwrap();
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join("libonnxruntime.so.1.31.1"), b"").unwrap();
        std::fs::write(bundled.join("libonnxruntime_providers_shared.so"), b"").unwrap();
        let dirs = [missing.clone(), bundled.clone(), cache.clone()];
        // Only a providers library in the bundled folder: the cache's library.
        assert_eq!(
            library_in_first(&dirs),
            Some(cache.join("libonnxruntime.so.1.31.1"))
        );
        std::fs::write(bundled.join("libonnxruntime.so.1.31.1"), b"").unwrap();
        assert_eq!(
            library_in_first(&dirs),
            Some(bundled.join("libonnxruntime.so.1.31.1"))
        );
        assert_eq!(library_in_first(&[missing]), None);
    }
}
