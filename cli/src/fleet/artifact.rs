//! Release tarballs (`scripts/package.sh`) and which one a device gets.
//!
//! Names are `edgebench-<version>-<arch>-<os>-<cpu>.tar.gz`: `<arch>` as the device's
//! `uname -m` prints it, `<os>` `linux` or `macos`, `<cpu>` the CPU profile the build was tuned
//! for. A device gets a tarball of this edgebench's version, its arch and its OS, and of the CPU
//! profile the inventory names (`edgebench_cpu`), else the one its CPU core calls for (a Pi 5's
//! Cortex-A76 → `cortex-a76`), else a generic profile, else `native` (tuned for the machine that
//! built it: its workers refuse, saying so, a CPU that lacks the features it used).

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub path: PathBuf,
    /// The file name without `.tar.gz` (also the top folder inside and the install folder).
    pub stem: String,
    pub version: String,
    pub arch: String,
    pub os: String,
    pub cpu: String,
}

/// What the device said about itself (`uname -s`, `uname -m`, its CPU).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Platform {
    /// `linux`, `macos`, or `uname -s` lower-cased.
    pub os: String,
    pub arch: String,
    /// CPU model name, where the device tells it.
    pub cpu: String,
    /// Board model (`/proc/device-tree/model`), where there is one.
    pub board: String,
    /// ARM `CPU part` numbers (`0xd0b`), one per core kind.
    pub cpu_parts: Vec<String>,
}

impl Artifact {
    /// Parses a tarball's file name; `None` when it is not one of ours.
    pub fn from_path(path: &Path) -> Option<Self> {
        let file = path.file_name()?.to_str()?;
        let stem = file.strip_suffix(".tar.gz")?;
        let rest = stem.strip_prefix("edgebench-")?;
        let words: Vec<&str> = rest.split('-').collect();
        // `<version>-<arch>` before the OS word, the CPU profile (which may hold '-') after it.
        let os_at = words.iter().position(|w| *w == "linux" || *w == "macos")?;
        if os_at < 2 || os_at + 1 >= words.len() {
            return None;
        }
        Some(Artifact {
            path: path.to_path_buf(),
            stem: stem.to_string(),
            version: words[..os_at - 1].join("-"),
            arch: words[os_at - 1].to_string(),
            os: words[os_at].to_string(),
            cpu: words[os_at + 1..].join("-"),
        })
    }

    /// The file name of the tarball for these fields.
    pub fn file_name(version: &str, arch: &str, os: &str, cpu: &str) -> String {
        format!("edgebench-{version}-{arch}-{os}-{cpu}.tar.gz")
    }
}

/// Every tarball in `dir` (none when the folder does not exist).
pub fn scan(dir: &Path) -> Vec<Artifact> {
    let mut found: Vec<Artifact> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| Artifact::from_path(&e.path()))
        .collect();
    found.sort_by(|a, b| a.stem.cmp(&b.stem));
    found
}

/// The CPU profile an ARM core's `CPU part` number calls for.
fn profile_of_part(part: &str) -> Option<&'static str> {
    Some(match part.trim().to_ascii_lowercase().as_str() {
        "0xd03" => "cortex-a53",
        "0xd05" => "cortex-a55",
        "0xd08" => "cortex-a72",
        "0xd0b" => "cortex-a76",
        "0xd41" => "cortex-a78",
        "0xd42" => "cortex-a78ae",
        "0xd0c" => "neoverse-n1",
        "0xd40" => "neoverse-v1",
        "0xd4f" => "neoverse-v2",
        _ => return None,
    })
}

/// Profiles that run on any CPU of their architecture, most capable first.
const GENERIC: &[&str] = &["armv8.2-a", "armv8-a", "x86-64-v2", "x86-64", "generic"];

/// The tarball for a device, or why there is none (naming the file that is missing).
pub fn pick<'a>(
    artifacts: &'a [Artifact],
    dir: &Path,
    version: &str,
    platform: &Platform,
    wanted_cpu: Option<&str>,
) -> Result<&'a Artifact, String> {
    let fits: Vec<&Artifact> = artifacts
        .iter()
        .filter(|a| a.version == version && a.arch == platform.arch && a.os == platform.os)
        .collect();
    let missing = |cpu: &str| {
        let others: Vec<&str> = artifacts
            .iter()
            .map(|a| a.path.file_name().and_then(|n| n.to_str()).unwrap_or(""))
            .collect();
        format!(
            "no matching artifact: {} is not in {} ({}; make it with scripts/package.sh{})",
            Artifact::file_name(version, &platform.arch, &platform.os, cpu),
            dir.display(),
            if others.is_empty() {
                "the folder holds no tarball".to_string()
            } else {
                format!("it holds {}", others.join(", "))
            },
            if platform.arch == std::env::consts::ARCH {
                String::new()
            } else {
                " on a machine of that architecture or with --target".to_string()
            }
        )
    };
    if let Some(cpu) = wanted_cpu {
        return fits
            .into_iter()
            .find(|a| a.cpu == cpu)
            .ok_or_else(|| missing(cpu));
    }
    if fits.is_empty() {
        return Err(missing("*"));
    }
    let for_core = platform.cpu_parts.iter().filter_map(|p| profile_of_part(p));
    for cpu in for_core.chain(GENERIC.iter().copied()).chain(["native"]) {
        if let Some(a) = fits.iter().find(|a| a.cpu == cpu) {
            return Ok(a);
        }
    }
    if let [only] = fits.as_slice() {
        return Ok(only);
    }
    Err(format!(
        "several artifacts could fit {} {} ({}): name one with the inventory variable edgebench_cpu",
        platform.os,
        platform.arch,
        fits.iter().map(|a| a.cpu.as_str()).collect::<Vec<_>>().join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn art(name: &str) -> Artifact {
        Artifact::from_path(Path::new(name)).unwrap()
    }

    #[test]
    fn names_parse() {
        let a = art("dist/edgebench-0.1.0-aarch64-linux-cortex-a78ae.tar.gz");
        assert_eq!(
            (
                a.version.as_str(),
                a.arch.as_str(),
                a.os.as_str(),
                a.cpu.as_str()
            ),
            ("0.1.0", "aarch64", "linux", "cortex-a78ae")
        );
        assert_eq!(a.stem, "edgebench-0.1.0-aarch64-linux-cortex-a78ae");
        let b = art("edgebench-0.2.0-rc1-x86_64-linux-x86-64-v3.tar.gz");
        assert_eq!(
            (b.version.as_str(), b.cpu.as_str()),
            ("0.2.0-rc1", "x86-64-v3")
        );
        assert!(Artifact::from_path(Path::new("edgebench-0.1.0.tar.gz")).is_none());
        assert!(Artifact::from_path(Path::new("other-0.1.0-x86_64-linux-native.tar.gz")).is_none());
    }

    #[test]
    fn picks_by_core_then_generic_then_native() {
        let all = vec![
            art("edgebench-0.1.0-aarch64-linux-armv8-a.tar.gz"),
            art("edgebench-0.1.0-aarch64-linux-cortex-a76.tar.gz"),
            art("edgebench-0.1.0-x86_64-linux-native.tar.gz"),
            art("edgebench-0.0.9-x86_64-linux-x86-64.tar.gz"),
        ];
        let dir = Path::new("dist");
        let pi5 = Platform {
            os: "linux".into(),
            arch: "aarch64".into(),
            cpu_parts: vec!["0xd0b".into()],
            ..Default::default()
        };
        assert_eq!(
            pick(&all, dir, "0.1.0", &pi5, None).unwrap().cpu,
            "cortex-a76"
        );
        let orin = Platform {
            cpu_parts: vec!["0xd42".into()],
            ..pi5.clone()
        };
        assert_eq!(
            pick(&all, dir, "0.1.0", &orin, None).unwrap().cpu,
            "armv8-a"
        );
        let x86 = Platform {
            os: "linux".into(),
            arch: "x86_64".into(),
            ..Default::default()
        };
        assert_eq!(pick(&all, dir, "0.1.0", &x86, None).unwrap().cpu, "native");
        // Asked for by name: that one or a refusal naming the file.
        let err = pick(&all, dir, "0.1.0", &orin, Some("cortex-a78ae")).unwrap_err();
        assert!(
            err.contains("edgebench-0.1.0-aarch64-linux-cortex-a78ae.tar.gz is not in dist"),
            "{err}"
        );
        let mac = Platform {
            os: "macos".into(),
            arch: "arm64".into(),
            ..Default::default()
        };
        let err = pick(&all, dir, "0.1.0", &mac, None).unwrap_err();
        assert!(
            err.contains("edgebench-0.1.0-arm64-macos-*.tar.gz"),
            "{err}"
        );
    }
}
