//! Which llama.cpp build this is: how it was compiled (recorded by build.rs), what ggml says
//! about itself at run time (`llama_print_system_info`), and whether this CPU can run it.

/// C flags llama.cpp was compiled with (from llama-cpp-sys-2's CMake cache).
pub const C_FLAGS: &str = env!("EDGEBENCH_LLAMA_C_FLAGS");
/// `GGML_NATIVE` as configured (`ON`/`OFF`).
pub const GGML_NATIVE: &str = env!("EDGEBENCH_LLAMA_GGML_NATIVE");
/// Compiler id and version ("GNU 12.2.0").
pub const COMPILER: &str = env!("EDGEBENCH_LLAMA_COMPILER");
/// SIMD flags of the build machine when the build is for "this CPU" (`-march=native`), else "".
pub const BUILD_CPU_FLAGS: &str = env!("EDGEBENCH_LLAMA_BUILD_CPU_FLAGS");

/// How the CPU code was built, in a few words.
pub fn cpu_build() -> String {
    let amx_off = C_FLAGS.contains("-mno-amx-tile");
    if C_FLAGS.contains("-march=native") {
        format!(
            "native (-march=native{})",
            if amx_off { " without AMX" } else { "" }
        )
    } else if GGML_NATIVE.eq_ignore_ascii_case("on") {
        "native (GGML_NATIVE)".into()
    } else if let Some(arch) = C_FLAGS
        .split_whitespace()
        .rev()
        .find_map(|f| f.strip_prefix("-march="))
    {
        // A CPU profile (scripts/cross.sh): the architecture the C flags name.
        format!("for -march={arch} (GGML_NATIVE=OFF)")
    } else {
        "portable (GGML_NATIVE=OFF)".into()
    }
}

/// Why this CPU cannot run this build, if it cannot: a build for a CPU profile (a Raspberry Pi
/// 5's dot-product kernels) or a `-march=native` build from a machine with SIMD features this
/// one lacks would die with SIGILL at the first matrix product. Checks what ggml was compiled
/// with, what the Rust code was compiled with, and (x86 `-march=native` builds) every SIMD
/// flag of the build machine, which the compiler may use anywhere.
pub fn cpu_mismatch() -> Option<String> {
    use edgebench_target_kit::cpu_features;
    if let Some(why) = cpu_features::rust_mismatch() {
        return Some(why);
    }
    let ggml = edgebench_target_kit::ggml_compiled_features!();
    if let Some(why) = cpu_features::ggml_mismatch("llama.cpp", &ggml) {
        return Some(why);
    }
    missing_features(BUILD_CPU_FLAGS, &current_cpu_flags()?).map(|missing| {
        format!(
            "this llama.cpp build was compiled for a CPU with {missing} (the machine that built \
             it), which this CPU lacks; rebuild it here: cargo clean --release -p \
             llama-cpp-sys-2 && scripts/setup.sh"
        )
    })
}

/// The flags of `built_for` that `cpu` lacks, space-separated; `None` when it has them all.
fn missing_features(built_for: &str, cpu: &[String]) -> Option<String> {
    let missing: Vec<&str> = built_for
        .split_whitespace()
        .filter(|f| !cpu.iter().any(|c| c == f))
        .collect();
    (!missing.is_empty()).then(|| missing.join(" "))
}

/// This CPU's flags from /proc/cpuinfo (Linux); `None` where that cannot be read.
fn current_cpu_flags() -> Option<Vec<String>> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("flags"))?;
    Some(
        line.split_once(':')?
            .1
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    )
}

/// The features ggml reports as on in a `llama_print_system_info` line, lower-case:
/// `"CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 0 | OPENMP = 1 | "` gives `["sse3", "avx2", "openmp"]`.
pub fn enabled_features(system_info: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in system_info.split('|') {
        // A backend's name precedes its first feature: "CPU : SSE3 = 1".
        let part = part.rsplit(" : ").next().unwrap_or(part);
        let Some((name, value)) = part.split_once('=') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if !name.is_empty() && value != "0" && !value.is_empty() {
            let name = name.to_ascii_lowercase();
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_from_a_system_info_line() {
        // As llama.cpp prints it on an AVX-512 x86 machine (CPU backend only).
        let line = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | \
                    BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | \
                    LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ";
        assert_eq!(
            enabled_features(line),
            [
                "sse3",
                "ssse3",
                "avx",
                "avx2",
                "f16c",
                "fma",
                "bmi2",
                "avx512",
                "avx512_vbmi",
                "avx512_vnni",
                "avx512_bf16",
                "llamafile",
                "openmp",
                "repack"
            ]
        );
        let arm = "CPU : NEON = 1 | ARM_FMA = 1 | FP16_VA = 0 | DOTPROD = 1 | OPENMP = 1 | ";
        assert_eq!(
            enabled_features(arm),
            ["neon", "arm_fma", "dotprod", "openmp"]
        );
        assert!(enabled_features("").is_empty());
    }

    #[test]
    fn missing_cpu_features_are_named() {
        let cpu: Vec<String> = ["fpu", "avx", "avx2", "fma"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(missing_features("avx avx2 fma", &cpu), None);
        assert_eq!(missing_features("", &cpu), None);
        assert_eq!(
            missing_features("avx2 avx512f avx512_vnni", &cpu).as_deref(),
            Some("avx512f avx512_vnni")
        );
    }

    #[test]
    fn this_machine_runs_its_own_build() {
        assert_eq!(cpu_mismatch(), None);
    }
}
