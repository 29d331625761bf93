//! Records how llama-cpp-sys-2 compiled llama.cpp, so every result can say which build ran and
//! the worker can refuse a build made for another CPU instead of dying with SIGILL.
//!
//! llama-cpp-sys-2 (`links = "llama"`) tells its dependents where ggml's CMake package went
//! (`DEP_LLAMA_GGML_CMAKE_DIR` = `<its OUT_DIR>/lib/cmake`); its CMake cache next to it holds
//! the C flags and options the build used.

use std::path::{Path, PathBuf};

/// x86 SIMD flags (as /proc/cpuinfo names them) a `-march=native` build may use.
const SIMD_FLAGS: [&str; 22] = [
    "pni",
    "ssse3",
    "sse4_1",
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "bmi2",
    "avx_vnni",
    "avx512f",
    "avx512cd",
    "avx512bw",
    "avx512dq",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512vbmi",
    "avx512_vbmi2",
    "avx512_fp16",
    "avx512ifma",
    "avx512_bitalg",
];

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_LLAMA_GGML_CMAKE_DIR");
    let cache = std::env::var_os("DEP_LLAMA_GGML_CMAKE_DIR")
        .map(PathBuf::from)
        .and_then(|dir| Some(dir.parent()?.parent()?.join("build")));
    let mut c_flags = String::from("unknown");
    let mut native = String::from("unknown");
    let mut compiler = String::from("unknown");
    let mut source = String::from("unknown");
    if let Some(build) = cache {
        let cache_file = build.join("CMakeCache.txt");
        println!("cargo:rerun-if-changed={}", cache_file.display());
        if let Ok(text) = std::fs::read_to_string(&cache_file) {
            c_flags = cache_value(&text, "CMAKE_C_FLAGS").unwrap_or_default();
            native = cache_value(&text, "GGML_NATIVE").unwrap_or_else(|| "unknown".into());
            if let Some(dir) = cache_value(&text, "CMAKE_HOME_DIRECTORY") {
                source = source_of(Path::new(&dir));
            }
        }
        if let Some(c) = compiler_of(&build) {
            compiler = c;
        }
    }
    // A build for "this CPU" (`-march=native`, by flags or GGML_NATIVE) only runs on CPUs with
    // the build machine's SIMD features: record them.
    let for_this_cpu = c_flags.contains("-march=native") || native.eq_ignore_ascii_case("on");
    let build_cpu_flags = if for_this_cpu {
        cpu_simd_flags().unwrap_or_default()
    } else {
        String::new()
    };
    println!("cargo:rustc-env=EDGEBENCH_LLAMA_C_FLAGS={}", c_flags.trim());
    println!("cargo:rustc-env=EDGEBENCH_LLAMA_GGML_NATIVE={native}");
    println!("cargo:rustc-env=EDGEBENCH_LLAMA_COMPILER={compiler}");
    println!("cargo:rustc-env=EDGEBENCH_LLAMA_BUILD_CPU_FLAGS={build_cpu_flags}");
    println!("cargo:rustc-env=EDGEBENCH_LLAMA_SOURCE={source}");
}

/// "llama-cpp-sys-2-0.1.161 (llama-cpp-rs e7af607ebd5e)": the crate that vendors llama.cpp and the
/// llama-cpp-rs commit it was published from (which pins the llama.cpp submodule). The crate
/// carries no llama.cpp git metadata, so llama.cpp's own build number is not known.
fn source_of(llama_cpp_dir: &Path) -> String {
    let Some(crate_dir) = llama_cpp_dir.parent() else {
        return "unknown".into();
    };
    let name = crate_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sha = std::fs::read_to_string(crate_dir.join(".cargo_vcs_info.json"))
        .ok()
        .and_then(|t| {
            let rest = t.split("\"sha1\"").nth(1)?;
            let hex: String = rest
                .chars()
                .skip_while(|c| !c.is_ascii_hexdigit())
                .take_while(|c| c.is_ascii_hexdigit())
                .take(12)
                .collect();
            (!hex.is_empty()).then_some(hex)
        });
    match sha {
        Some(sha) => format!("{name} (llama-cpp-rs {sha})"),
        None => name,
    }
}

/// `KEY:TYPE=value` from a CMakeCache.txt.
fn cache_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        (name.split(':').next()? == key).then(|| value.to_string())
    })
}

/// "GNU 12.2.0" from CMake's compiler detection (`CMakeFiles/<version>/CMakeCCompiler.cmake`).
fn compiler_of(build: &Path) -> Option<String> {
    for entry in std::fs::read_dir(build.join("CMakeFiles")).ok()?.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("CMakeCCompiler.cmake")) else {
            continue;
        };
        let get = |key: &str| {
            text.lines().find_map(|l| {
                let rest = l.trim().strip_prefix(&format!("set({key} \""))?;
                Some(rest.split('"').next()?.to_string())
            })
        };
        if let (Some(id), Some(version)) =
            (get("CMAKE_C_COMPILER_ID"), get("CMAKE_C_COMPILER_VERSION"))
        {
            return Some(format!("{id} {version}"));
        }
    }
    None
}

/// The SIMD flags of the machine building this (x86_64 Linux), space-separated.
fn cpu_simd_flags() -> Option<String> {
    if std::env::var("CARGO_CFG_TARGET_ARCH").ok()? != "x86_64" {
        return None;
    }
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let flags: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("flags"))?
        .split_once(':')?
        .1
        .split_whitespace()
        .collect();
    Some(
        SIMD_FLAGS
            .iter()
            .filter(|f| flags.contains(f))
            .copied()
            .collect::<Vec<_>>()
            .join(" "),
    )
}
