//! A side that is a llama.cpp source tree: the llama.cpp worker built against that tree.
//!
//! llama-cpp-sys-2 always compiles the `llama.cpp/` folder inside its own crate directory, with
//! its own build script (cmake flags, the workspace's `CFLAGS`/`CXXFLAGS`, bindgen). To build
//! against another tree without changing any of that, the crate is copied into the cache with
//! `llama.cpp/` replaced by a link to the tree, and a copy of the edgebench workspace names that
//! copy in `[patch.crates-io]`. Everything else is the stock build: the same build script, the
//! same flags, the same worker code, the same cargo profile; only the C/C++ sources differ (plus
//! any `GGML_*` cmake options the side asks for, which the build script forwards to cmake).
//! That is why a figure from such a side compares fairly with the stock worker's.
//!
//! Layout under `~/.cache/edgebench/ab/`: `workspace/` (the edgebench sources, refreshed from
//! `--source`), `target/` (one cargo target dir for every side, seeded once from the source's
//! `target/release` so registry crates are not rebuilt), and `llama-<key>/` per side
//! (`sys/` the crate copy, `bin/` the built worker beside links to the other workers,
//! `build.log`). Cargo decides what is stale: a second `ab` with the same tree rebuilds nothing,
//! an edited kernel rebuilds ggml.

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SYS_CRATE: &str = "llama-cpp-sys-2";
const WORKER: &str = "edgebench-worker-llamacpp";

/// What to build: a llama.cpp tree and extra `GGML_*`/`CMAKE_*` options for its cmake.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaTree {
    pub tree: PathBuf,
    pub build_env: Vec<(String, String)>,
}

/// Build (or bring up to date) the llama.cpp worker for `spec`; returns a folder holding it and
/// links to every other worker of `stock_workers`, for `EDGEBENCH_WORKER_DIR`.
pub fn build_worker(
    spec: &LlamaTree,
    source: &Path,
    stock_workers: &Path,
    cache: &Path,
) -> anyhow::Result<PathBuf> {
    let tree = fs::canonicalize(&spec.tree)
        .with_context(|| format!("llama.cpp tree {}", spec.tree.display()))?;
    for needed in ["CMakeLists.txt", "include/llama.h", "ggml/include/ggml.h"] {
        if !tree.join(needed).is_file() {
            bail!(
                "{}: not a llama.cpp source tree (no {needed})",
                tree.display()
            );
        }
    }
    for (k, _) in &spec.build_env {
        if !(k.starts_with("GGML_") || k.starts_with("CMAKE_") || k.starts_with("LLAMA_")) {
            bail!("build option {k}: only GGML_*, CMAKE_* and LLAMA_* options reach llama.cpp's cmake");
        }
    }
    let registry_crate = registry_crate(source)?;
    let side_dir = cache.join(format!("llama-{}", key(&tree, &spec.build_env)));
    let sys = side_dir.join("sys");
    copy_crate_without_tree(&registry_crate, &sys)?;
    let link = sys.join("llama.cpp");
    if fs::read_link(&link).ok().as_deref() != Some(tree.as_path()) {
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&tree, &link)
            .with_context(|| format!("link {} → {}", link.display(), tree.display()))?;
    }
    let workspace = cache.join("workspace");
    sync_workspace(source, &workspace)?;
    patch_manifest(source, &workspace, &sys)?;
    let target_dir = cache.join("target");
    seed_target(source, &target_dir)?;

    let log_path = side_dir.join("build.log");
    let log = fs::File::create(&log_path).with_context(|| log_path.display().to_string())?;
    eprintln!(
        "ab: building the llama.cpp worker against {}{} (log: {})",
        tree.display(),
        if spec.build_env.is_empty() {
            String::new()
        } else {
            format!(
                " with {}",
                spec.build_env
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        },
        log_path.display()
    );
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "--release",
            "-p",
            "edgebench-llamacpp",
            "--bin",
            WORKER,
        ])
        .current_dir(&workspace)
        .env("CARGO_TARGET_DIR", &target_dir)
        .envs(spec.build_env.iter().map(|(k, v)| (k, v)))
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .status()
        .context("cargo (the llama.cpp side is built from source)")?;
    if !status.success() {
        bail!(
            "building the llama.cpp worker against {} failed ({status}); the last lines of {}:\n{}",
            tree.display(),
            log_path.display(),
            tail(&log_path, 15)
        );
    }
    let bin = side_dir.join("bin");
    fs::create_dir_all(&bin)?;
    let built = target_dir.join("release").join(WORKER);
    let dest = bin.join(WORKER);
    let _ = fs::remove_file(&dest);
    fs::copy(&built, &dest).with_context(|| format!("copy {}", built.display()))?;
    link_other_workers(stock_workers, &bin)?;
    Ok(bin)
}

/// Short stable name of a tree plus its build options.
fn key(tree: &Path, env: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    h.update(tree.as_os_str().as_encoded_bytes());
    for (k, v) in env {
        h.update(format!("\0{k}={v}"));
    }
    let name = tree
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{name}-{}", &hex::encode(h.finalize())[..10])
}

/// The llama-cpp-sys-2 crate the source's Cargo.lock names, in cargo's registry cache.
fn registry_crate(source: &Path) -> anyhow::Result<PathBuf> {
    let lock_path = source.join("Cargo.lock");
    let lock = fs::read_to_string(&lock_path).with_context(|| lock_path.display().to_string())?;
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains(&format!("name = \"{SYS_CRATE}\"")))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .with_context(|| format!("{}: no {SYS_CRATE} package", lock_path.display()))?;
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    let src = home.join("registry/src");
    let dirs = fs::read_dir(&src).with_context(|| src.display().to_string())?;
    for d in dirs.flatten() {
        let candidate = d.path().join(format!("{SYS_CRATE}-{version}"));
        if candidate.join("build.rs").is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "{SYS_CRATE} {version} is not in {} (run a normal `cargo build` of edgebench first)",
        src.display()
    )
}

/// Copy the crate's own files (not its vendored llama.cpp) to `dest`, leaving unchanged files
/// alone so cargo sees nothing new.
fn copy_crate_without_tree(from: &Path, dest: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dest)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_name() == "llama.cpp" {
            continue;
        }
        copy_tree(&entry.path(), &dest.join(entry.file_name()))?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    let meta = fs::symlink_metadata(from)?;
    if meta.is_dir() {
        fs::create_dir_all(to)?;
        for e in fs::read_dir(from)? {
            let e = e?;
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
    } else if meta.is_file() {
        copy_if_changed(from, to)?;
    }
    Ok(())
}

fn copy_if_changed(from: &Path, to: &Path) -> anyhow::Result<()> {
    let new = fs::read(from).with_context(|| from.display().to_string())?;
    if fs::read(to).ok().as_deref() != Some(new.as_slice()) {
        if let Some(p) = to.parent() {
            fs::create_dir_all(p)?;
        }
        fs::write(to, &new).with_context(|| to.display().to_string())?;
        fs::set_permissions(to, fs::metadata(from)?.permissions())?;
    }
    Ok(())
}

/// The edgebench sources git knows of (committed or not, minus ignored files) into `dest`.
fn sync_workspace(source: &Path, dest: &Path) -> anyhow::Result<()> {
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(source)
        .output()
        .with_context(|| format!("git ls-files in {}", source.display()))?;
    if !out.status.success() {
        bail!(
            "{}: not a git checkout of edgebench (--source names one)",
            source.display()
        );
    }
    for name in out.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let rel = Path::new(std::str::from_utf8(name)?);
        let from = source.join(rel);
        if from.is_file() && rel != Path::new("Cargo.toml") && rel != Path::new("Cargo.lock") {
            copy_if_changed(&from, &dest.join(rel))?;
        }
    }
    // Cargo.lock only the first time: the patch below changes it, and copying it back each time
    // would make cargo resolve again.
    if !dest.join("Cargo.lock").exists() {
        fs::copy(source.join("Cargo.lock"), dest.join("Cargo.lock"))?;
    }
    Ok(())
}

/// The source's Cargo.toml plus `[patch.crates-io]` naming the crate copy.
fn patch_manifest(source: &Path, workspace: &Path, sys: &Path) -> anyhow::Result<()> {
    let manifest = fs::read_to_string(source.join("Cargo.toml"))?;
    if manifest.contains("[patch.crates-io]") {
        bail!(
            "{}: already has [patch.crates-io]; the llama.cpp side adds its own",
            source.join("Cargo.toml").display()
        );
    }
    let patched = format!(
        "{manifest}\n# Added by `edgebench ab`: the llama.cpp side's tree.\n[patch.crates-io]\n\
         {SYS_CRATE} = {{ path = \"{}\" }}\n",
        sys.display()
    );
    let path = workspace.join("Cargo.toml");
    if fs::read_to_string(&path).ok().as_deref() != Some(patched.as_str()) {
        fs::write(&path, patched)?;
    }
    Ok(())
}

/// Seed the shared target dir once with the source's release build, so the registry crates
/// (candle, bindgen…) compile zero times instead of once more.
fn seed_target(source: &Path, target_dir: &Path) -> anyhow::Result<()> {
    let release = target_dir.join("release");
    let from = source.join("target/release");
    if release.exists() || !from.join("deps").is_dir() {
        return Ok(());
    }
    fs::create_dir_all(&release)?;
    eprintln!(
        "ab: seeding {} from {} (once)",
        release.display(),
        from.display()
    );
    for part in ["deps", "build", ".fingerprint"] {
        let status = Command::new("cp")
            .arg("-a")
            .arg(from.join(part))
            .arg(&release)
            .status()?;
        if !status.success() {
            bail!(
                "cp -a {} {} failed",
                from.join(part).display(),
                release.display()
            );
        }
    }
    Ok(())
}

/// Links in `bin` to every worker of `stock` except the llama.cpp one.
fn link_other_workers(stock: &Path, bin: &Path) -> anyhow::Result<()> {
    for entry in fs::read_dir(stock).with_context(|| stock.display().to_string())? {
        let entry = entry?;
        let name = entry.file_name();
        let n = name.to_string_lossy();
        if n.starts_with("edgebench-worker-") && n != WORKER && entry.path().is_file() {
            let link = bin.join(&name);
            let _ = fs::remove_file(&link);
            std::os::unix::fs::symlink(entry.path(), &link)?;
        }
    }
    Ok(())
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_depends_on_tree_and_options() {
        let a = key(Path::new("/x/llama.cpp"), &[]);
        let b = key(
            Path::new("/x/llama.cpp"),
            &[("GGML_CPU_REPACK".into(), "OFF".into())],
        );
        assert_ne!(a, b);
        assert!(a.starts_with("llama.cpp-"));
        assert_eq!(a, key(Path::new("/x/llama.cpp"), &[]));
    }

    #[test]
    fn a_folder_that_is_not_llama_cpp_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let spec = LlamaTree {
            tree: dir.path().to_path_buf(),
            build_env: vec![],
        };
        let e = build_worker(&spec, dir.path(), dir.path(), dir.path()).unwrap_err();
        assert!(e.to_string().contains("not a llama.cpp source tree"), "{e}");
    }
}
