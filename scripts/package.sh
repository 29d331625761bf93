#!/usr/bin/env bash
# Packs a built edgebench into a release tarball that runs where it is unpacked, with no set-up:
#
#   edgebench-<version>-<arch>-<os>-<cpu>/
#     bin/edgebench
#     bin/edgebench-worker-<target>    every worker built (edgebench finds workers beside itself)
#     lib/libonnxruntime.so.<ver>      the ONNX Runtime library (the onnxruntime worker looks in
#                                      <folder of its exe>/../lib before the cache folder)
#     manifest.json                    name, version, commit, arch, os, cpu_profile, rust_target,
#                                      rustflags, cflags, ort_version, workers, glibc_min (the
#                                      oldest glibc it runs on, Linux), built_at
#
#   scripts/package.sh [--target TRIPLE] [--cpu PROFILE] [--bin-dir DIR] [--ort-lib FILE] [--out DIR]
#                      [--set KEY=VALUE]...
#
# --set adds a field to manifest.json (a cross build records its compiler and toolchain:
# scripts/cross.sh passes rustc, toolchain, ggml_cpu_arm_arch).
#
# Defaults: this machine's target triple; CPU profile `native` (the profile the C/C++ and Rust
# code were tuned for: native, cortex-a76, x86-64-v3, …); binaries from target/<TRIPLE>/release
# when --target is given and that folder exists, else target/release; the ONNX Runtime library
# that scripts/setup.sh installed; output folder dist/. Nothing is built here: build first
# (scripts/setup.sh, or `cargo build --release --workspace --bins`).
#
# The executables and the ONNX Runtime library must be for the target's architecture (checked
# from their ELF headers). The tarball's path is the last line printed.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'package.sh: %s\n' "$*" >&2; exit 1; }
say() { printf '\033[1m[package]\033[0m %s\n' "$*" >&2; }

target="" cpu="native" bin_dir="" ort_lib="" out="dist"
extra_fields=()
while [ $# -gt 0 ]; do
  case "$1" in
    --set)
      [ $# -ge 2 ] || die "--set needs KEY=VALUE"
      case "$2" in [A-Za-z_]*=*) extra_fields+=("$2") ;; *) die "--set $2: use KEY=VALUE" ;; esac
      shift 2 ;;
    --target|--cpu|--bin-dir|--ort-lib|--out)
      [ $# -ge 2 ] || die "$1 needs a value"
      case "$1" in
        --target) target="$2" ;; --cpu) cpu="$2" ;; --bin-dir) bin_dir="$2" ;;
        --ort-lib) ort_lib="$2" ;; --out) out="$2" ;;
      esac
      shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (known: --target --cpu --bin-dir --ort-lib --out --set)" ;;
  esac
done

host="$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')" || true
if [ -z "$target" ]; then
  [ -n "$host" ] || die "cannot tell this machine's target triple (rustc -vV); pass --target"
  target="$host"
fi
if [ -z "$bin_dir" ]; then
  if [ "$target" != "$host" ] && [ -d "target/$target/release" ]; then
    bin_dir="target/$target/release"
  else
    bin_dir="target/release"
  fi
fi
[ -x "$bin_dir/edgebench" ] || die "$bin_dir/edgebench: not found (build it first, or pass --bin-dir)"

arch="${target%%-*}"
case "$target" in
  *-linux-*) os=linux ;;
  *-apple-darwin) os=macos ;;
  *) die "target $target: only Linux and macOS targets are packaged" ;;
esac
case "$cpu" in
  ''|*[!A-Za-z0-9._-]*) die "--cpu $cpu: use letters, digits, '.', '_' and '-' only" ;;
esac

# The ONNX Runtime library: the one setup.sh installed unless --ort-lib names one.
ort_version_wanted="$(sed -n 's/^ORT_VERSION=//p' scripts/setup.sh | head -n1)"
if [ -z "$ort_lib" ]; then
  ort_dir="${EDGEBENCH_ORT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/edgebench/onnxruntime/$ort_version_wanted}"
  for f in "$ort_dir"/libonnxruntime*; do
    case "$(basename "$f")" in *providers*) continue ;; esac
    [ -f "$f" ] && { ort_lib="$f"; break; }
  done
  [ -n "$ort_lib" ] || die "no ONNX Runtime library in $ort_dir (run scripts/setup.sh, or pass --ort-lib FILE)"
fi
[ -f "$ort_lib" ] || die "--ort-lib $ort_lib: no such file"

version="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)"
[ -n "$version" ] || die "Cargo.toml: no [workspace.package] version"
commit="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
name="edgebench-$version-$arch-$os-$cpu"

mkdir -p "$out"
out="$(cd "$out" && pwd)"
stage="$(mktemp -d "$out/.package.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
root="$stage/$name"
mkdir -p "$root/bin" "$root/lib"

cp -p "$bin_dir/edgebench" "$root/bin/"
for w in "$bin_dir"/edgebench-worker-*; do
  [ -f "$w" ] && [ -x "$w" ] || continue
  case "$w" in *.d) continue ;; esac
  cp -p "$w" "$root/bin/"
done
# The library, plus its providers libraries from the same folder (CUDA and others load
# libonnxruntime_providers_shared beside it).
cp -p "$ort_lib" "$root/lib/"
for f in "$(dirname "$ort_lib")"/libonnxruntime_providers*; do
  [ -f "$f" ] && cp -p "$f" "$root/lib/"
done

# manifest.json, and the architecture check of every executable and library.
python3 - "$root" "$name" "$version" "$commit" "$arch" "$os" "$cpu" "$target" "$(basename "$ort_lib")" \
  ${extra_fields[@]+"${extra_fields[@]}"} <<'PY'
import datetime, json, os, pathlib, re, sys, tomllib

root, name, version, commit, arch, os_name, cpu, target, ort_file = sys.argv[1:10]
extra_fields = dict(f.split("=", 1) for f in sys.argv[10:])
root = pathlib.Path(root)

# ELF e_machine values of the architectures edgebench is built for.
ELF_MACHINE = {0x3E: "x86_64", 0xB7: "aarch64", 0x28: "arm", 0xF3: "riscv64"}
def elf_arch(path):
    with open(path, "rb") as f:
        head = f.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    little = head[5] == 1
    machine = int.from_bytes(head[18:20], "little" if little else "big")
    return ELF_MACHINE.get(machine, f"ELF machine {machine:#x}")

bad = []
if os_name == "linux":
    for f in sorted((root / "bin").iterdir()) + sorted((root / "lib").iterdir()):
        a = elf_arch(f)
        if a != arch:
            bad.append(f"{f.name} is {a or 'not an ELF file'}")
if bad:
    sys.exit(f"package.sh: not for {arch}: " + "; ".join(bad))

# Build flags as cargo saw them: the environment first, else .cargo/config.toml.
def config():
    try:
        return tomllib.loads(pathlib.Path(".cargo/config.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}
cfg = config()
under = target.replace("-", "_")
rustflags = (os.environ.get(f"CARGO_TARGET_{under.upper()}_RUSTFLAGS")
             or os.environ.get("RUSTFLAGS")
             or " ".join(cfg.get("target", {}).get(target, {}).get("rustflags", []))
             or " ".join(cfg.get("build", {}).get("rustflags", [])))
def env_or_cfg(key):
    for k in (f"{key}_{target}", f"{key}_{under}", key):
        if os.environ.get(k):
            return os.environ[k]
    for k in (f"{key}_{target}", f"{key}_{under}", key):
        v = cfg.get("env", {}).get(k)
        if isinstance(v, dict):
            v = v.get("value")
        if v:
            return v
    return ""

# The newest glibc symbol version any executable or library asks for: the oldest C library the
# tarball runs on (a build against a newer glibc than the device's fails to start there).
def glibc_needed():
    newest = None
    for f in list((root / "bin").iterdir()) + list((root / "lib").iterdir()):
        for v in set(re.findall(rb"GLIBC_(2\.\d+(?:\.\d+)?)\x00", f.read_bytes())):
            key = tuple(int(x) for x in v.decode().split("."))
            newest = max(newest or key, key)
    return ".".join(map(str, newest)) if newest else None

m = re.search(r"(\d+\.\d+\.\d+)", ort_file)
workers = sorted(p.name[len("edgebench-worker-"):] for p in (root / "bin").iterdir()
                 if p.name.startswith("edgebench-worker-"))
manifest = {
    "name": name,
    "version": version,
    "commit": commit,
    "arch": arch,
    "os": os_name,
    "cpu_profile": cpu,
    "rust_target": target,
    "rustflags": rustflags,
    "cflags": env_or_cfg("CFLAGS"),
    "ort_version": m.group(1) if m else None,
    "workers": workers,
    "glibc_min": glibc_needed() if os_name == "linux" else None,
    "built_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
}
manifest.update(extra_fields)
(root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
PY

tarball="$out/$name.tar.gz"
tar -czf "$stage/$name.tar.gz" -C "$stage" "$name"
mv -f "$stage/$name.tar.gz" "$tarball"
say "$(du -h "$tarball" | cut -f1) with $(ls "$root/bin" | tr '\n' ' ')and $(ls "$root/lib" | tr '\n' ' ')"
printf '%s\n' "$tarball"
