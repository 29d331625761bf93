#!/usr/bin/env bash
# Installs what edgebench needs on a fresh Linux machine, then builds it in release mode.
# Idempotent: run it as often as you like; it only installs what is missing.
#
#   scripts/setup.sh            # check/install system packages, build edgebench and its targets
#
#   scripts/setup.sh --with-chromium   also install Chromium (≈300 MB), for the HTML report's
#                                      browser test and scripts/report-screenshot.sh
#
# Environment:
#   EDGEBENCH_NO_APT=1          never call apt-get (print what is missing instead)
#   EDGEBENCH_WITH_CHROMIUM=1   same as --with-chromium
set -euo pipefail
cd "$(dirname "$0")/.."

with_chromium="${EDGEBENCH_WITH_CHROMIUM:-0}"
for arg in "$@"; do
  case "$arg" in
    --with-chromium) with_chromium=1 ;;
    *) printf 'setup.sh: unknown argument %s (known: --with-chromium)\n' "$arg" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# --- Rust toolchain --------------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    say "cargo not found: install Rust from https://rustup.rs (rustup) and run this again"
    exit 1
  fi
fi

# --- System packages -------------------------------------------------------------------------
# A C toolchain for the crates that build C (and, for the llama.cpp/whisper.cpp targets,
# cmake, libclang for bindgen, and ccache, which ggml's cmake uses when present: cargo rebuilds
# llama.cpp from scratch whenever its build script's hash changes, e.g. between `cargo build`
# and `cargo test`, and ccache turns that second compile into cache hits). Debian/Ubuntu names.
# OpenSSH client and server: `edgebench fleet` drives devices through the system `ssh`, and its
# tests start real `sshd`s on loopback ports as devices (the server is never enabled as a service
# by edgebench; its tests run their own on 127.0.0.1).
need_pkgs=()
want_pkgs=(gcc g++ pkg-config cmake libclang-dev ccache openssh-client openssh-server)
# Chromium only when asked: it is big, and the browser test skips (saying so) without it. A
# browser the test also accepts (Ubuntu's chromium-browser, Google Chrome, as on GitHub's runners,
# where Ubuntu has no `chromium` package) is used as it is.
if [ "$with_chromium" = 1 ] && ! command -v chromium chromium-browser google-chrome google-chrome-stable >/dev/null 2>&1; then
  want_pkgs+=(chromium)
fi
if command -v dpkg >/dev/null 2>&1; then
  for pkg in "${want_pkgs[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_pkgs+=("$pkg")
  done
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "${EDGEBENCH_NO_APT:-0}" = 1 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing system packages: ${need_pkgs[*]} (install them with your package manager)"
  else
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    say "installing ${need_pkgs[*]}"
    # Wait for another apt run (an unattended upgrade…) instead of failing on its lock.
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      "${need_pkgs[@]}" >/dev/null
  fi
fi

# --- ONNX Runtime ------------------------------------------------------------------------------
# The onnxruntime target loads the official shared library at run time: the one in the PyPI
# `onnxruntime` wheel, at the version its `ort` crate targets (keep in step with ORT_VERSION in
# targets/onnxruntime/src/runtime.rs). ORT_DYLIB_PATH=/path/to/libonnxruntime.so overrides it.
ORT_VERSION=1.31.1
ort_dir="${EDGEBENCH_ORT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/edgebench/onnxruntime/$ORT_VERSION}"
if compgen -G "$ort_dir/libonnxruntime*" >/dev/null; then
  :
elif [ -n "${ORT_DYLIB_PATH:-}" ]; then
  say "ONNX Runtime: using ORT_DYLIB_PATH=$ORT_DYLIB_PATH"
elif ! python3 -m pip --version >/dev/null 2>&1; then
  say "ONNX Runtime not installed: needs python3 with pip (or set ORT_DYLIB_PATH); the onnxruntime target will say so"
else
  say "installing ONNX Runtime $ORT_VERSION (official library from the PyPI onnxruntime wheel) into $ort_dir"
  ort_tmp="$(mktemp -d)"
  # The wheel for this Python, else the one for CPython 3.12 (the library inside is the same).
  if python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$ort_tmp" "onnxruntime==$ORT_VERSION" \
    || python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 -d "$ort_tmp" "onnxruntime==$ORT_VERSION"; then
    python3 scripts/ort-from-wheel.py "$ort_tmp" "$ort_dir"
  else
    say "could not download onnxruntime==$ORT_VERSION from PyPI; the onnxruntime target will say so (or set ORT_DYLIB_PATH)"
  fi
  rm -rf "$ort_tmp"
fi

# --- Build -------------------------------------------------------------------------------------
# Release builds for both the main job and the tests: one set of artifacts, real speed.
say "building edgebench and its targets (release; the first build takes a few minutes)"
cargo build --release --workspace --bins --quiet
say "ready: target/release/edgebench"
