//! Whether this CPU can run code compiled for a CPU profile.
//!
//! A build tuned for one CPU (`-march=armv8.2-a+dotprod` for a Raspberry Pi 5, `-march=native`
//! on an AVX-512 machine) dies with SIGILL at the first instruction another CPU lacks. The
//! workers compare what their library was compiled with (ggml's `ggml_cpu_has_*`, constants of
//! the build: [`ggml_compiled_features!`]) and what Rust was compiled with
//! ([`rust_compiled_features`]) with this CPU's features, and refuse with the reason instead.
//!
//! This CPU's features use the kernel's names (`/proc/cpuinfo`: `flags` on x86, `Features` on
//! ARM). On aarch64 Linux they come from `getauxval(AT_HWCAP)`/`AT_HWCAP2`, which is what user
//! space is promised and what an emulator's `-cpu` model sets.

/// This CPU's features as /proc/cpuinfo names them; `None` where they cannot be read.
pub fn this_cpu() -> Option<Vec<String>> {
    #[cfg(all(target_os = "linux", target_arch = "aarch64"))]
    {
        // SAFETY: getauxval only reads the process's auxiliary vector.
        let (hwcap, hwcap2) = unsafe {
            (
                libc::getauxval(libc::AT_HWCAP),
                libc::getauxval(libc::AT_HWCAP2),
            )
        };
        if hwcap != 0 {
            return Some(aarch64_hwcap_names(hwcap, hwcap2));
        }
    }
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    cpuinfo_features(&text)
}

/// The feature list of a /proc/cpuinfo text: its first `flags` (x86) or `Features` (ARM) line.
pub fn cpuinfo_features(text: &str) -> Option<Vec<String>> {
    let line = text.lines().find(|l| {
        let key = l.split(':').next().unwrap_or("").trim();
        key == "flags" || key == "Features"
    })?;
    Some(
        line.split_once(':')?
            .1
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    )
}

/// aarch64 `AT_HWCAP`/`AT_HWCAP2` bits (Linux `arch/arm64/include/uapi/asm/hwcap.h`) by the name
/// /proc/cpuinfo gives them; only those a compiler flag can require.
const HWCAP: [(u32, &str); 9] = [
    (0, "fp"),
    (1, "asimd"),
    (8, "atomics"),
    (9, "fphp"),
    (10, "asimdhp"),
    (12, "asimdrdm"),
    (15, "lrcpc"),
    (20, "asimddp"),
    (22, "sve"),
];
const HWCAP2: [(u32, &str); 5] = [
    (1, "sve2"),
    (13, "i8mm"),
    (14, "bf16"),
    (23, "sme"),
    (37, "sme2"),
];

/// The names of the bits set in `hwcap` and `hwcap2`.
pub fn aarch64_hwcap_names(hwcap: u64, hwcap2: u64) -> Vec<String> {
    let set = |word: u64, table: &[(u32, &'static str)]| -> Vec<&'static str> {
        table
            .iter()
            .filter(|(bit, _)| word & (1u64 << bit) != 0)
            .map(|(_, name)| *name)
            .collect()
    };
    let mut names = set(hwcap, &HWCAP);
    names.extend(set(hwcap2, &HWCAP2));
    names.into_iter().map(str::to_string).collect()
}

/// The cpuinfo feature a CPU needs for code ggml compiled with `feature` (ggml's name, as in its
/// system-info line: `DOTPROD`, `AVX2`); `None` for features that need nothing of the CPU.
pub fn cpu_flag_for_ggml(feature: &str) -> Option<&'static str> {
    Some(match feature {
        // aarch64
        "NEON" | "ARM_FMA" => "asimd",
        "FP16_VA" => "asimdhp",
        "DOTPROD" => "asimddp",
        "MATMUL_INT8" => "i8mm",
        "SVE" => "sve",
        "SME" => "sme",
        // x86_64
        "SSE3" => "pni",
        "SSSE3" => "ssse3",
        "AVX" => "avx",
        "AVX2" => "avx2",
        "F16C" => "f16c",
        "FMA" => "fma",
        "BMI2" => "bmi2",
        "AVX512" => "avx512f",
        "AVX512_VBMI" => "avx512vbmi",
        "AVX512_VNNI" => "avx512_vnni",
        "AVX512_BF16" => "avx512_bf16",
        "AVX_VNNI" => "avx_vnni",
        "AMX_INT8" => "amx_int8",
        _ => return None,
    })
}

/// The cpuinfo feature a CPU needs for Rust code compiled with target feature `feature`.
fn cpu_flag_for_rust(feature: &str) -> Option<&'static str> {
    Some(match feature {
        // aarch64
        "neon" => "asimd",
        "lse" => "atomics",
        "rdm" => "asimdrdm",
        "rcpc" => "lrcpc",
        "fp16" => "asimdhp",
        "dotprod" => "asimddp",
        "i8mm" => "i8mm",
        "bf16" => "bf16",
        "sve" => "sve",
        "sve2" => "sve2",
        // x86_64
        "ssse3" => "ssse3",
        "sse4.1" => "sse4_1",
        "sse4.2" => "sse4_2",
        "avx" => "avx",
        "avx2" => "avx2",
        "fma" => "fma",
        "f16c" => "f16c",
        "bmi2" => "bmi2",
        "avx512f" => "avx512f",
        "avx512bw" => "avx512bw",
        "avx512vl" => "avx512vl",
        "avx512vnni" => "avx512_vnni",
        _ => return None,
    })
}

/// The target features this Rust code was compiled with (`-C target-cpu`/`target-feature`),
/// among those [`rust_mismatch`] checks.
pub fn rust_compiled_features() -> Vec<&'static str> {
    let mut on = Vec::new();
    macro_rules! check {
        ($($f:tt),*) => {$(
            if cfg!(target_feature = $f) {
                on.push($f);
            }
        )*};
    }
    check!(
        "neon",
        "lse",
        "rdm",
        "rcpc",
        "fp16",
        "dotprod",
        "i8mm",
        "bf16",
        "sve",
        "sve2",
        "ssse3",
        "sse4.1",
        "sse4.2",
        "avx",
        "avx2",
        "fma",
        "f16c",
        "bmi2",
        "avx512f",
        "avx512bw",
        "avx512vl",
        "avx512vnni"
    );
    on
}

/// `needed` (pairs of a feature's name in the build and the cpuinfo flag it requires) that
/// `cpu` lacks, as "DOTPROD (asimddp)"; empty when it has them all.
fn lacking(needed: &[(&str, &str)], cpu: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (name, flag) in needed {
        let line = format!("{name} ({flag})");
        if !cpu.iter().any(|c| c == flag) && !out.contains(&line) {
            out.push(line);
        }
    }
    out
}

/// Why a CPU with features `cpu` cannot run `library` compiled with ggml `features`.
pub fn ggml_mismatch_with(library: &str, features: &[&str], cpu: &[String]) -> Option<String> {
    let needed: Vec<(&str, &str)> = features
        .iter()
        .filter_map(|f| Some((*f, cpu_flag_for_ggml(f)?)))
        .collect();
    let lacking = lacking(&needed, cpu);
    (!lacking.is_empty()).then(|| {
        format!(
            "this {library} build was compiled for a CPU with {}, which this CPU lacks: \
             build it on this machine (scripts/setup.sh) or for its CPU profile \
             (scripts/cross.sh --cpu)",
            lacking.join(", ")
        )
    })
}

/// Why this CPU cannot run `library` compiled with ggml `features` (from
/// [`ggml_compiled_features!`]); `None` when it can or when this CPU's features are unknown.
pub fn ggml_mismatch(library: &str, features: &[&str]) -> Option<String> {
    ggml_mismatch_with(library, features, &this_cpu()?)
}

/// Why this CPU cannot run this Rust code (compiled for a CPU profile it does not meet).
pub fn rust_mismatch() -> Option<String> {
    let cpu = this_cpu()?;
    let needed: Vec<(&str, &str)> = rust_compiled_features()
        .into_iter()
        .filter_map(|f| Some((f, cpu_flag_for_rust(f)?)))
        .collect();
    let lacking = lacking(&needed, &cpu);
    (!lacking.is_empty()).then(|| {
        format!(
            "this edgebench was compiled for a CPU with {}, which this CPU lacks: build it on \
             this machine (scripts/setup.sh) or for its CPU profile (scripts/cross.sh --cpu)",
            lacking.join(", ")
        )
    })
}

/// Ends a worker with the reason, exit code 1, when this CPU cannot run its Rust code; the
/// harness reports the line as the worker's failure. Called first thing in a worker's `main`:
/// code compiled for a newer CPU can hold one of its instructions anywhere (running the Pi 5
/// build on a Cortex-A72, the first is an inlined LSE atomic in the unlock of stdin's mutex, after
/// the first request), so the check cannot wait for a request.
pub fn exit_if_this_cpu_cannot_run(worker: &str) {
    if let Some(why) = rust_mismatch() {
        eprintln!("{worker}: {why}");
        std::process::exit(1);
    }
}

/// The ggml CPU features the calling crate's ggml was compiled with, by ggml's names (`NEON`,
/// `DOTPROD`, `AVX2`…). Expands in a crate that links ggml's CPU backend (llama.cpp,
/// whisper.cpp): it calls ggml-cpu's `ggml_cpu_has_*`, which return constants of the build and
/// run no SIMD code, so they are safe on any CPU.
#[macro_export]
macro_rules! ggml_compiled_features {
    () => {{
        use std::os::raw::c_int;
        extern "C" {
            fn ggml_cpu_has_neon() -> c_int;
            fn ggml_cpu_has_arm_fma() -> c_int;
            fn ggml_cpu_has_fp16_va() -> c_int;
            fn ggml_cpu_has_dotprod() -> c_int;
            fn ggml_cpu_has_matmul_int8() -> c_int;
            fn ggml_cpu_has_sve() -> c_int;
            fn ggml_cpu_has_sme() -> c_int;
            fn ggml_cpu_has_sse3() -> c_int;
            fn ggml_cpu_has_ssse3() -> c_int;
            fn ggml_cpu_has_avx() -> c_int;
            fn ggml_cpu_has_avx2() -> c_int;
            fn ggml_cpu_has_f16c() -> c_int;
            fn ggml_cpu_has_fma() -> c_int;
            fn ggml_cpu_has_bmi2() -> c_int;
            fn ggml_cpu_has_avx512() -> c_int;
            fn ggml_cpu_has_avx512_vbmi() -> c_int;
            fn ggml_cpu_has_avx512_vnni() -> c_int;
            fn ggml_cpu_has_avx512_bf16() -> c_int;
            fn ggml_cpu_has_avx_vnni() -> c_int;
            fn ggml_cpu_has_amx_int8() -> c_int;
        }
        let all: [(&'static str, unsafe extern "C" fn() -> c_int); 20] = [
            ("NEON", ggml_cpu_has_neon),
            ("ARM_FMA", ggml_cpu_has_arm_fma),
            ("FP16_VA", ggml_cpu_has_fp16_va),
            ("DOTPROD", ggml_cpu_has_dotprod),
            ("MATMUL_INT8", ggml_cpu_has_matmul_int8),
            ("SVE", ggml_cpu_has_sve),
            ("SME", ggml_cpu_has_sme),
            ("SSE3", ggml_cpu_has_sse3),
            ("SSSE3", ggml_cpu_has_ssse3),
            ("AVX", ggml_cpu_has_avx),
            ("AVX2", ggml_cpu_has_avx2),
            ("F16C", ggml_cpu_has_f16c),
            ("FMA", ggml_cpu_has_fma),
            ("BMI2", ggml_cpu_has_bmi2),
            ("AVX512", ggml_cpu_has_avx512),
            ("AVX512_VBMI", ggml_cpu_has_avx512_vbmi),
            ("AVX512_VNNI", ggml_cpu_has_avx512_vnni),
            ("AVX512_BF16", ggml_cpu_has_avx512_bf16),
            ("AVX_VNNI", ggml_cpu_has_avx_vnni),
            ("AMX_INT8", ggml_cpu_has_amx_int8),
        ];
        all.iter()
            // SAFETY: each returns a compile-time constant of the linked ggml build.
            .filter(|(_, has)| unsafe { (*has)() } != 0)
            .map(|(name, _)| *name)
            .collect::<Vec<&'static str>>()
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(flags: &str) -> Vec<String> {
        flags.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn a_pi5_build_on_a_pi4_names_what_is_missing() {
        // Cortex-A72 (Pi 4): Armv8.0, no dot product, no FP16 arithmetic.
        let a72 = cpu("fp asimd evtstrm crc32 cpuid");
        let why = ggml_mismatch_with(
            "llama.cpp",
            &["NEON", "ARM_FMA", "FP16_VA", "DOTPROD"],
            &a72,
        )
        .unwrap();
        assert!(
            why.contains("FP16_VA (asimdhp), DOTPROD (asimddp)"),
            "{why}"
        );
        assert!(why.starts_with("this llama.cpp build was compiled for a CPU with"));
        // Cortex-A76 (Pi 5) has both.
        let a76 = cpu(
            "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid \
                       asimdrdm lrcpc dcpop asimddp",
        );
        assert_eq!(
            ggml_mismatch_with("llama.cpp", &["NEON", "FP16_VA", "DOTPROD"], &a76),
            None
        );
    }

    #[test]
    fn x86_features_map_to_cpuinfo_flags() {
        let avx2_only = cpu("fpu sse2 pni ssse3 avx avx2 fma f16c bmi2");
        let why = ggml_mismatch_with(
            "whisper.cpp",
            &["AVX2", "AVX512", "AVX512_VNNI"],
            &avx2_only,
        )
        .unwrap();
        assert!(
            why.contains("AVX512 (avx512f), AVX512_VNNI (avx512_vnni)"),
            "{why}"
        );
        assert_eq!(
            ggml_mismatch_with("whisper.cpp", &["AVX2", "FMA"], &avx2_only),
            None
        );
        // Features that need nothing of the CPU (LLAMAFILE, OPENMP) are not checked.
        assert_eq!(
            ggml_mismatch_with("x", &["LLAMAFILE", "OPENMP"], &cpu("")),
            None
        );
    }

    #[test]
    fn hwcap_bits_by_name() {
        // A Cortex-A76: fp asimd atomics fphp asimdhp asimdrdm lrcpc asimddp.
        let hwcap = (1 << 0)
            | (1 << 1)
            | (1 << 8)
            | (1 << 9)
            | (1 << 10)
            | (1 << 12)
            | (1 << 15)
            | (1 << 20);
        assert_eq!(
            aarch64_hwcap_names(hwcap, 0),
            ["fp", "asimd", "atomics", "fphp", "asimdhp", "asimdrdm", "lrcpc", "asimddp"]
        );
        assert_eq!(aarch64_hwcap_names(0, 1 << 13), ["i8mm"]);
    }

    #[test]
    fn cpuinfo_lines_of_both_kinds() {
        let arm = "processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd asimddp\n";
        assert_eq!(cpuinfo_features(arm).unwrap(), ["fp", "asimd", "asimddp"]);
        let x86 = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu avx2\n";
        assert_eq!(cpuinfo_features(x86).unwrap(), ["fpu", "avx2"]);
        assert_eq!(cpuinfo_features("nothing"), None);
    }

    #[test]
    fn this_machine_runs_this_build() {
        assert_eq!(rust_mismatch(), None);
    }
}
