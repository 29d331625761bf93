//! Whether this process runs under an emulator (QEMU user mode: an aarch64 edgebench on an
//! x86_64 machine). An emulated run measures the emulator, not the device: its timings are
//! meaningless, and every result of such a run says so (`Environment::emulated`).
//!
//! QEMU user mode answers `uname` with the guest's architecture and emulates `AT_HWCAP`, but it
//! passes most of `/proc` through from the real kernel: `/proc/sys/kernel/arch` (Linux 6.1+)
//! and `/proc/cpuinfo` describe the machine underneath. A test script that runs edgebench
//! under an emulator can also say so outright with `EDGEBENCH_EMULATED=<emulator>`.

/// Set to a description of the emulator (`qemu-aarch64 -cpu cortex-a76`) to mark a run as
/// emulated whatever the detection finds; `0` or empty leaves it to detection.
pub const ENV_MARKER: &str = "EDGEBENCH_EMULATED";

/// The emulator this process runs under, in words, or `None` on real hardware (as far as can
/// be told: a full-system emulator, which emulates the kernel too, is not detected).
pub fn detect() -> Option<String> {
    if let Ok(v) = std::env::var(ENV_MARKER) {
        if !v.trim().is_empty() && v.trim() != "0" {
            return Some(v.trim().to_string());
        }
    }
    let kernel_arch = std::fs::read_to_string("/proc/sys/kernel/arch").ok();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok();
    foreign_machine(
        std::env::consts::ARCH,
        kernel_arch.as_deref(),
        cpuinfo.as_deref(),
    )
}

/// The emulation verdict from what the kernel says about itself: a process built for
/// `process_arch` running on a kernel of another architecture family is emulated.
pub fn foreign_machine(
    process_arch: &str,
    kernel_arch: Option<&str>,
    cpuinfo: Option<&str>,
) -> Option<String> {
    let process = family(process_arch);
    let machine = kernel_arch
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(family)
        .or_else(|| cpuinfo.and_then(cpuinfo_family))?;
    (machine != process).then(|| {
        format!(
            "{process_arch} code emulated on a {machine} machine (user-mode emulation, \
             e.g. qemu-{process_arch}): timings are meaningless"
        )
    })
}

/// An architecture family, so that 32-bit code on a 64-bit kernel of the same family (armv7l
/// on aarch64, i686 on x86_64), which runs natively, does not count as emulated.
fn family(arch: &str) -> &'static str {
    match arch.trim() {
        "x86_64" | "amd64" | "x86" | "i386" | "i486" | "i586" | "i686" => "x86_64",
        "aarch64" | "arm64" | "arm" | "armv7l" | "armv8l" | "armv6l" => "aarch64",
        "riscv64" | "riscv32" => "riscv64",
        "powerpc64" | "ppc64" | "ppc64le" | "powerpc" => "ppc64",
        "s390x" => "s390x",
        "loongarch64" => "loongarch64",
        _ => "unknown",
    }
}

/// The family /proc/cpuinfo describes: x86 kernels write `vendor_id` and `flags`, ARM kernels
/// `CPU implementer` and `Features`.
fn cpuinfo_family(text: &str) -> Option<&'static str> {
    let has = |key: &str| {
        text.lines()
            .any(|l| l.split(':').next().is_some_and(|k| k.trim() == key))
    };
    if has("vendor_id") && has("flags") {
        Some("x86_64")
    } else if has("CPU implementer") {
        Some("aarch64")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aarch64_process_on_an_x86_kernel_is_emulated() {
        let why = foreign_machine("aarch64", Some("x86_64\n"), None).unwrap();
        assert!(
            why.contains("aarch64 code emulated on a x86_64 machine"),
            "{why}"
        );
        assert!(why.contains("meaningless"));
    }

    #[test]
    fn native_and_compat_processes_are_not() {
        assert_eq!(foreign_machine("x86_64", Some("x86_64"), None), None);
        assert_eq!(foreign_machine("aarch64", Some("aarch64"), None), None);
        assert_eq!(foreign_machine("arm", Some("aarch64"), None), None);
        assert_eq!(foreign_machine("x86", Some("x86_64"), None), None);
        // Nothing known about the kernel: no verdict.
        assert_eq!(foreign_machine("aarch64", None, None), None);
    }

    #[test]
    fn cpuinfo_tells_when_the_kernel_does_not() {
        let x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2\n";
        let arm = "processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd asimddp\n\
                   CPU implementer\t: 0x41\nCPU part\t: 0xd0b\n";
        assert!(foreign_machine("aarch64", None, Some(x86)).is_some());
        assert_eq!(foreign_machine("aarch64", None, Some(arm)), None);
        assert!(foreign_machine("x86_64", None, Some(arm)).is_some());
        // The kernel's own word wins over cpuinfo.
        assert_eq!(foreign_machine("aarch64", Some("aarch64"), Some(x86)), None);
    }
}
