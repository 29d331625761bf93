//! A side that is a llama.cpp or whisper.cpp source tree: that backend's worker built against
//! the tree.
//!
//! llama-cpp-sys-2 and whisper-rs-sys always compile the folder vendored inside their own crate
//! directory (`llama.cpp/`, `whisper.cpp/`), with their own build script (cmake flags, the
//! workspace's `CFLAGS`/`CXXFLAGS`, bindgen). To build against another tree without changing any
//! of that, the crate is copied into the cache with that folder replaced by a link to the tree,
//! and a copy of the edgebench workspace names the copy in `[patch.crates-io]`. Everything else
//! is the stock build: the same build script, the same flags, the same worker code, the same
//! cargo profile; only the C/C++ sources differ (plus any `GGML_*`/`CMAKE_*` options the side
//! asks for, which both build scripts forward to cmake). That is why a figure from such a side
//! compares fairly with the stock worker's.
//!
//! Layout under `~/.cache/edgebench/ab/`: `workspace/` (the edgebench sources, refreshed from
//! `--source`), `target/` (one cargo target dir for every side, seeded once from the source's
//! `target/release` so registry crates are not rebuilt), and `<tree>-<key>/` per side (`sys/`
//! the crate copy, `bin/` the built worker beside links to the other workers, `build.log`).
//! llama-cpp-sys-2 tells cargo every source file it compiles, so cargo decides what is stale: a
//! second `ab` with the same tree rebuilds nothing, an edited kernel rebuilds ggml.
//! whisper-rs-sys names only its `wrapper.h` and copies the sources into its build folder once,
//! so an edit would go unseen: for a whisper.cpp tree the key also holds the tree's content
//! (every source file's path, size and modification time), and an edited tree is a new side,
//! built afresh.

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A C/C++ backend whose -sys crate builds a vendored source tree.
#[derive(Debug, PartialEq)]
pub struct Backend {
    /// As users name it (`llama.cpp`).
    pub name: &'static str,
    /// The -sys crate that vendors the tree, and the folder it vendors it in.
    sys_crate: &'static str,
    vendored: &'static str,
    /// The worker's executable.
    worker: &'static str,
    /// Files every tree of this backend has.
    marks: &'static [&'static str],
    /// Whether the key must hold the tree's content (the build script does not track it).
    content_key: bool,
}

pub const LLAMA_CPP: Backend = Backend {
    name: "llama.cpp",
    sys_crate: "llama-cpp-sys-2",
    vendored: "llama.cpp",
    worker: "edgebench-worker-llamacpp",
    marks: &["CMakeLists.txt", "include/llama.h", "ggml/include/ggml.h"],
    content_key: false,
};

pub const WHISPER_CPP: Backend = Backend {
    name: "whisper.cpp",
    sys_crate: "whisper-rs-sys",
    vendored: "whisper.cpp",
    worker: "edgebench-worker-whispercpp",
    marks: &["CMakeLists.txt", "include/whisper.h", "ggml/include/ggml.h"],
    content_key: true,
};

/// What to build: a source tree of `backend` and extra `GGML_*`/`CMAKE_*` options for its cmake.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceTree {
    pub backend: &'static Backend,
    pub tree: PathBuf,
    pub build_env: Vec<(String, String)>,
}

/// Build (or bring up to date) the backend's worker for `spec`; returns a folder holding it and
/// links to every other worker of `stock_workers`, for `EDGEBENCH_WORKER_DIR`.
pub fn build_worker(
    spec: &SourceTree,
    source: &Path,
    stock_workers: &Path,
    cache: &Path,
) -> anyhow::Result<PathBuf> {
    let backend = spec.backend;
    let tree = fs::canonicalize(&spec.tree)
        .with_context(|| format!("{} tree {}", backend.name, spec.tree.display()))?;
    for needed in backend.marks {
        if !tree.join(needed).is_file() {
            bail!(
                "{}: not a {} source tree (no {needed})",
                tree.display(),
                backend.name
            );
        }
    }
    for (k, _) in &spec.build_env {
        if !["GGML_", "CMAKE_", "LLAMA_", "WHISPER_"]
            .iter()
            .any(|p| k.starts_with(p))
        {
            bail!("build option {k}: only GGML_*, CMAKE_*, LLAMA_* and WHISPER_* options reach the cmake build");
        }
    }
    let registry_crate = registry_crate(source, backend)?;
    let content = if backend.content_key {
        content_fingerprint(&tree)?
    } else {
        String::new()
    };
    let side_dir = cache.join(format!(
        "{}-{}",
        backend.vendored.replace('.', "-"),
        key(&tree, &spec.build_env, &content)
    ));
    let sys = side_dir.join("sys");
    copy_crate_without_tree(&registry_crate, &sys, backend.vendored)?;
    let link = sys.join(backend.vendored);
    if fs::read_link(&link).ok().as_deref() != Some(tree.as_path()) {
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&tree, &link)
            .with_context(|| format!("link {} → {}", link.display(), tree.display()))?;
    }
    let workspace = cache.join("workspace");
    sync_workspace(source, &workspace)?;
    patch_manifest(source, &workspace, &sys, backend)?;
    let target_dir = cache.join("target");
    seed_target(source, &target_dir)?;

    let log_path = side_dir.join("build.log");
    let log = fs::File::create(&log_path).with_context(|| log_path.display().to_string())?;
    eprintln!(
        "ab: building the {} worker against {}{} (log: {})",
        backend.name,
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
            // `--workspace`, not `-p`: features resolve as in the stock build, so the seeded
            // artifacts stay fresh and only the -sys crate and what depends on it rebuild (with
            // `-p`, candle and the other registry crates compile again: many minutes).
            "build",
            "--release",
            "--workspace",
            "--bin",
            backend.worker,
        ])
        .current_dir(&workspace)
        .env("CARGO_TARGET_DIR", &target_dir)
        .envs(spec.build_env.iter().map(|(k, v)| (k, v)))
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cargo (the {} side is built from source)", backend.name))?;
    if !status.success() {
        bail!(
            "building the {} worker against {} failed ({status}); the last lines of {}:\n{}",
            backend.name,
            tree.display(),
            log_path.display(),
            tail(&log_path, 15)
        );
    }
    let bin = side_dir.join("bin");
    fs::create_dir_all(&bin)?;
    let built = target_dir.join("release").join(backend.worker);
    let dest = bin.join(backend.worker);
    let _ = fs::remove_file(&dest);
    fs::copy(&built, &dest).with_context(|| format!("copy {}", built.display()))?;
    link_other_workers(stock_workers, &bin, backend.worker)?;
    Ok(bin)
}

/// Short stable name of a tree plus its build options (and its content, when given).
fn key(tree: &Path, env: &[(String, String)], content: &str) -> String {
    let mut h = Sha256::new();
    h.update(tree.as_os_str().as_encoded_bytes());
    for (k, v) in env {
        h.update(format!("\0{k}={v}"));
    }
    if !content.is_empty() {
        h.update(format!("\0content={content}"));
    }
    let name = tree
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{name}-{}", &hex::encode(h.finalize())[..10])
}

/// Path, size and modification time of every file cmake could compile or include (under `src/`,
/// `include/`, `ggml/` and the top `CMakeLists.txt`), hashed: what changes when the tree is edited.
fn content_fingerprint(tree: &Path) -> anyhow::Result<String> {
    fn walk(dir: &Path, root: &Path, h: &mut Sha256) -> anyhow::Result<()> {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .with_context(|| dir.display().to_string())?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let meta = e.metadata()?;
            let path = e.path();
            if meta.is_dir() {
                walk(&path, root, h)?;
            } else {
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                let rel = path.strip_prefix(root).unwrap_or(&path);
                h.update(format!("{}\0{}\0{modified}\n", rel.display(), meta.len()));
            }
        }
        Ok(())
    }
    let mut h = Sha256::new();
    for part in ["CMakeLists.txt", "src", "include", "ggml"] {
        let path = tree.join(part);
        if path.is_dir() {
            walk(&path, tree, &mut h)?;
        } else if let Ok(meta) = fs::metadata(&path) {
            h.update(format!("{part}\0{}\n", meta.len()));
            h.update(fs::read(&path)?);
        }
    }
    Ok(hex::encode(h.finalize())[..16].to_string())
}

/// The backend's -sys crate the source's Cargo.lock names, in cargo's registry cache.
fn registry_crate(source: &Path, backend: &Backend) -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    registry_crate_in(source, backend, &home)
}

fn registry_crate_in(source: &Path, backend: &Backend, home: &Path) -> anyhow::Result<PathBuf> {
    let sys_crate = backend.sys_crate;
    let lock_path = source.join("Cargo.lock");
    let lock = fs::read_to_string(&lock_path).with_context(|| lock_path.display().to_string())?;
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains(&format!("name = \"{sys_crate}\"\n")))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .with_context(|| format!("{}: no {sys_crate} package", lock_path.display()))?;
    let src = home.join("registry/src");
    let dirs = fs::read_dir(&src).with_context(|| src.display().to_string())?;
    for d in dirs.flatten() {
        let candidate = d.path().join(format!("{sys_crate}-{version}"));
        if candidate.join("build.rs").is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "{sys_crate} {version} is not in {} (run a normal `cargo build` of edgebench first)",
        src.display()
    )
}

/// Copy the crate's own files (not its vendored tree) to `dest`, leaving unchanged files alone
/// so cargo sees nothing new.
fn copy_crate_without_tree(from: &Path, dest: &Path, vendored: &str) -> anyhow::Result<()> {
    fs::create_dir_all(dest)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_name() == vendored {
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
fn patch_manifest(
    source: &Path,
    workspace: &Path,
    sys: &Path,
    backend: &Backend,
) -> anyhow::Result<()> {
    let manifest = fs::read_to_string(source.join("Cargo.toml"))?;
    if manifest.contains("[patch.crates-io]") {
        bail!(
            "{}: already has [patch.crates-io]; the {} side adds its own",
            source.join("Cargo.toml").display(),
            backend.name
        );
    }
    let patched = format!(
        "{manifest}\n# Added by `edgebench ab`: the {} side's tree.\n[patch.crates-io]\n\
         {} = {{ path = \"{}\" }}\n",
        backend.name,
        backend.sys_crate,
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

/// Links in `bin` to every worker of `stock` except `built`.
fn link_other_workers(stock: &Path, bin: &Path, built: &str) -> anyhow::Result<()> {
    for entry in fs::read_dir(stock).with_context(|| stock.display().to_string())? {
        let entry = entry?;
        let name = entry.file_name();
        let n = name.to_string_lossy();
        if n.starts_with("edgebench-worker-") && n != built && entry.path().is_file() {
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
    fn key_depends_on_tree_options_and_content() {
        let a = key(Path::new("/x/llama.cpp"), &[], "");
        let b = key(
            Path::new("/x/llama.cpp"),
            &[("GGML_CPU_REPACK".into(), "OFF".into())],
            "",
        );
        assert_ne!(a, b);
        assert!(a.starts_with("llama.cpp-"));
        assert_eq!(a, key(Path::new("/x/llama.cpp"), &[], ""));
        assert_ne!(a, key(Path::new("/x/llama.cpp"), &[], "0123"));
    }

    #[test]
    fn folders_that_are_not_the_backends_tree_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for backend in [&LLAMA_CPP, &WHISPER_CPP] {
            let spec = SourceTree {
                backend,
                tree: dir.path().to_path_buf(),
                build_env: vec![],
            };
            let e = build_worker(&spec, dir.path(), dir.path(), dir.path()).unwrap_err();
            let want = format!("not a {} source tree (no CMakeLists.txt)", backend.name);
            assert!(e.to_string().contains(&want), "{e}");
        }
    }

    #[test]
    fn an_edit_in_a_whisper_cpp_tree_changes_its_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let kernel = dir.path().join("ggml/src/ggml-cpu/ops.cpp");
        fs::create_dir_all(kernel.parent().unwrap()).unwrap();
        fs::write(dir.path().join("CMakeLists.txt"), "project(whisper)").unwrap();
        fs::write(&kernel, "int f() { return 1; }").unwrap();
        let before = content_fingerprint(dir.path()).unwrap();
        assert_eq!(before, content_fingerprint(dir.path()).unwrap());
        fs::write(&kernel, "int f() { return 2; } // faster").unwrap();
        assert_ne!(before, content_fingerprint(dir.path()).unwrap());
        // Files outside what cmake reads (docs, models) do not count.
        let after = content_fingerprint(dir.path()).unwrap();
        fs::write(dir.path().join("README.md"), "notes").unwrap();
        assert_eq!(after, content_fingerprint(dir.path()).unwrap());
    }

    #[test]
    fn the_backends_crate_is_found_by_its_exact_name_in_cargo_lock() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("Cargo.lock"),
            "[[package]]\nname = \"whisper-rs\"\nversion = \"0.16.0\"\n\n\
             [[package]]\nname = \"whisper-rs-sys\"\nversion = \"0.15.0\"\n",
        )
        .unwrap();
        let home = tempfile::tempdir().unwrap();
        let registry = home.path().join("registry/src/index/whisper-rs-sys-0.15.0");
        fs::create_dir_all(&registry).unwrap();
        fs::write(registry.join("build.rs"), "fn main() {}").unwrap();
        let found = registry_crate_in(dir.path(), &WHISPER_CPP, home.path()).unwrap();
        assert_eq!(found, registry);
        let e = registry_crate_in(dir.path(), &LLAMA_CPP, home.path()).unwrap_err();
        assert!(e.to_string().contains("no llama-cpp-sys-2 package"), "{e}");
    }
}
