#!/usr/bin/env bash
# Cross-builds edgebench for a device from this machine: the `edgebench` binary and every worker
# (llama.cpp, whisper.cpp, candle, ONNX Runtime), tuned for a named CPU profile, plus that
# platform's ONNX Runtime library; then packs them into a release tarball (scripts/package.sh).
#
#   scripts/cross.sh aarch64                    # Raspberry Pi 5 profile (cortex-a76), tarball in dist/
#   scripts/cross.sh aarch64 --cpu cortex-a78ae # Jetson Orin
#   scripts/cross.sh aarch64 --cpu armv8-a      # any 64-bit ARM board (slowest, runs everywhere)
#   scripts/cross.sh aarch64 --no-package       # build only (target/cross/aarch64-unknown-linux-gnu/release)
#   scripts/cross.sh aarch64 --toolchain-only   # prepare the toolchain, build nothing
#   scripts/cross.sh aarch64 --exec CMD [ARG]...  # run CMD in the cross environment (in the chroot
#                                                 # when that is the toolchain), from the checkout
#
# Toolchain, whichever this machine can have:
#   rustup    `rustup target add aarch64-unknown-linux-gnu` plus Debian/Ubuntu's cross compilers
#             (gcc-aarch64-linux-gnu, g++-aarch64-linux-gnu, libc6-dev-arm64-cross): what most
#             users have.
#   chroot    where rustup cannot fetch the target's standard library (no network to
#             static.rust-lang.org): a Debian unstable chroot, made once with debootstrap, whose
#             rustc ships libstd-rust-dev:arm64. The repository and the cargo registry are bind-mounted
#             into it, so crates come from crates.io as usual and the build lands in this checkout.
# Pick one with --toolchain rustup|chroot (default: rustup when it works, else chroot).
#
# Idempotent: a second run reuses the chroot, the downloaded ONNX Runtime and cargo's build.
# Builds go to target/cross (the chroot's rustc differs from the host's: its artifacts stay apart).
#
# Environment:
#   EDGEBENCH_CROSS_ROOT   the chroot (default $XDG_CACHE_HOME/edgebench/cross/sid, ~/.cache/… without it)
#   EDGEBENCH_CROSS_TARGET_DIR  cargo's target folder (default target/cross/<cpu>; the binaries land in
#                          <it>/<triple>/release)
#   EDGEBENCH_CROSS_JOBS   parallel build jobs (default: cargo's, i.e. the number of cores)
#   DEBIAN_MIRROR          the Debian mirror for debootstrap (default: this machine's apt source, else deb.debian.org)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd -P)"

say() { printf '\033[1m[cross]\033[0m %s\n' "$*" >&2; }
die() { printf 'cross.sh: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

arch="${1:-}"
[ -n "$arch" ] || { usage >&2; exit 2; }
shift
case "$arch" in
  aarch64 | arm64) arch=aarch64; triple=aarch64-unknown-linux-gnu; deb_arch=arm64; gnu=aarch64-linux-gnu ;;
  -h | --help) usage; exit 0 ;;
  *) die "unknown architecture '$arch' (known: aarch64)" ;;
esac

cpu=cortex-a76
toolchain=auto
package=1
toolchain_only=0
exec_cmd=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) cpu="${2:?--cpu needs a profile}"; shift 2 ;;
    --cpu=*) cpu="${1#--cpu=}"; shift ;;
    --toolchain) toolchain="${2:?--toolchain needs rustup or chroot}"; shift 2 ;;
    --toolchain=*) toolchain="${1#--toolchain=}"; shift ;;
    --no-package) package=0; shift ;;
    --toolchain-only) toolchain_only=1; shift ;;
    --exec) shift; exec_cmd=("$@"); [ $# -gt 0 ] || die "--exec needs a command"; break ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see scripts/cross.sh --help)" ;;
  esac
done

# --- Toolchain: the chroot ---------------------------------------------------------------------
cross_root="${EDGEBENCH_CROSS_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/edgebench/cross/sid}"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  # The first plain Debian archive URI of this machine's apt sources (deb822 or one-line form).
  local uri
  uri="$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}

# Mounts the chroot needs for a build; each only once (a second run finds them mounted).
chroot_mount() {
  local what="$1" where="$2"
  mkdir -p "$where"
  mountpoint -q "$where" || $SUDO mount --bind "$what" "$where"
}

chroot_mounts() {
  mountpoint -q "$cross_root/proc" || $SUDO mount -t proc proc "$cross_root/proc"
  chroot_mount /dev "$cross_root/dev"
  mkdir -p "$cargo_home/registry" "$cargo_home/git"
  chroot_mount "$cargo_home/registry" "$cross_root/root/.cargo/registry"
  chroot_mount "$cargo_home/git" "$cross_root/root/.cargo/git"
  # The checkout (and the build folder, where it is elsewhere) at the same path as outside, so
  # paths in build logs and errors read the same.
  chroot_mount "$repo" "$cross_root$repo"
  case "$target_dir/" in
    "$repo"/*) ;;
    *) mkdir -p "$target_dir"; chroot_mount "$target_dir" "$cross_root$target_dir" ;;
  esac
  $SUDO cp -L /etc/resolv.conf "$cross_root/etc/resolv.conf" 2>/dev/null || true
}

chroot_unmount() {
  local m
  for m in "$cross_root$target_dir" "$cross_root$repo" "$cross_root/root/.cargo/git" "$cross_root/root/.cargo/registry" \
    "$cross_root/dev" "$cross_root/proc"; do
    mountpoint -q "$m" 2>/dev/null && { $SUDO umount "$m" || $SUDO umount -l "$m" || true; }
  done
}

in_chroot() { $SUDO chroot "$cross_root" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin \
  LANG=C.UTF-8 TERM="${TERM:-dumb}" "$@"; }

chroot_pkgs=(rustc cargo "libstd-rust-dev:$deb_arch" "gcc-$gnu" "g++-$gnu" "libc6-dev-$deb_arch-cross"
  qemu-user cmake make libclang-dev clang pkg-config python3 ca-certificates)

make_chroot() {
  local ready="$cross_root/.edgebench-ready-$deb_arch"
  if [ -f "$ready" ]; then return; fi
  command -v debootstrap >/dev/null 2>&1 || {
    command -v apt-get >/dev/null 2>&1 || die "no debootstrap and no apt-get: install debootstrap, or a rustup toolchain (--toolchain rustup)"
    say "installing debootstrap"
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq debootstrap >/dev/null
  }
  local mirror
  mirror="$(debian_mirror)"
  if [ ! -x "$cross_root/usr/bin/apt-get" ]; then
    say "making a Debian unstable chroot in $cross_root from $mirror (a few minutes, once)"
    $SUDO mkdir -p "$cross_root"
    $SUDO debootstrap --variant=minbase sid "$cross_root" "$mirror" >&2
  fi
  chroot_mounts
  say "installing the $arch cross toolchain in the chroot: ${chroot_pkgs[*]}"
  in_chroot dpkg --add-architecture "$deb_arch"
  # A snapshot mirror's Release file can read as expired; the packages are still signed.
  in_chroot apt-get -o Acquire::Check-Valid-Until=false -o DPkg::Lock::Timeout=600 update -qq
  in_chroot env DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Check-Valid-Until=false \
    install -y -qq --no-install-recommends "${chroot_pkgs[@]}" >&2
  [ -d "$cross_root/usr/lib/rustlib/$triple" ] || die "the chroot's rustc has no $triple standard library"
  touch "$ready"
}


# --- CPU profiles ------------------------------------------------------------------------------
# A build not made on the device cannot ask for "this CPU" (`native` would mean the build
# machine's): it names the device's CPU. Each profile gives Rust's -C target-cpu, the ARM
# architecture ggml's kernels are compiled for (GGML_CPU_ARM_ARCH: `+dotprod` turns on the
# int8 dot-product kernels Q4/Q8 models use, `+fp16` the half-precision vector ones) and the CPU
# the C/C++ code is tuned for. Native stays the default when building on the device itself
# (scripts/setup.sh there).
case "$cpu" in
  cortex-a76) # Raspberry Pi 5 (BCM2712): Armv8.2-A with dot product and FP16
    rust_cpu=cortex-a76; arm_arch=armv8.2-a+dotprod+fp16; tune=cortex-a76 ;;
  cortex-a78ae) # Jetson Orin (Nano, NX, AGX): Armv8.2-A with dot product and FP16
    rust_cpu=cortex-a78ae; arm_arch=armv8.2-a+dotprod+fp16; tune=cortex-a78ae ;;
  armv8-a) # any 64-bit ARM CPU (Pi 3/4, older boards): plain NEON, no dot product
    rust_cpu=generic; arm_arch=armv8-a; tune="" ;;
  native) die "--cpu native means the CPU of the machine building it; build on the device (scripts/setup.sh) or name its CPU profile: cortex-a76, cortex-a78ae, armv8-a" ;;
  *) die "unknown CPU profile '$cpu' (known: cortex-a76 for the Raspberry Pi 5, cortex-a78ae for Jetson Orin, armv8-a for any 64-bit ARM)" ;;
esac
cflags="-march=$arm_arch${tune:+ -mtune=$tune}"
under="${triple//-/_}"
TRIPLE_UPPER="$(echo "$under" | tr '[:lower:]' '[:upper:]')"
target_dir="${EDGEBENCH_CROSS_TARGET_DIR:-$repo/target/cross/$cpu}"
bin_dir="$target_dir/$triple/release"

# The build's environment, the same in the chroot and outside it.
#  - Rust's CPU is given as `target_cpu` (rustc reads `-C target_cpu` and `-C target-cpu` alike):
#    llama-cpp-sys-2 copies a `target-cpu=` value into the C flags as `-march=<cpu>`, which
#    gcc refuses on ARM (-march takes an architecture, -mcpu a CPU).
#  - llama-cpp-sys-2 pins GGML_CPU_ARM_ARCH to armv8-a for every non-native aarch64 Linux build;
#    the cmake toolchain file (scripts/cross/) sets it back to the profile's architecture.
#    whisper-rs-sys passes GGML_CPU_ARM_ARCH through as it is.
cross_env=(
  "CARGO_TARGET_DIR=$target_dir"
  "CARGO_TARGET_${TRIPLE_UPPER}_LINKER=$gnu-gcc"
  "CC_$under=$gnu-gcc" "CXX_$under=$gnu-g++" "AR_$under=$gnu-ar"
  "CFLAGS_$under=$cflags" "CXXFLAGS_$under=$cflags"
  "GGML_CPU_ARM_ARCH=$arm_arch"
  "CMAKE_TOOLCHAIN_FILE_$under=$repo/scripts/cross/$gnu.cmake"
  "BINDGEN_EXTRA_CLANG_ARGS_$under=--sysroot=/usr/$gnu"
  "RUSTFLAGS=-C target_cpu=$rust_cpu"
  # CMake 4 refuses projects declaring compatibility with CMake older than 3.5.
  "CMAKE_POLICY_VERSION_MINIMUM=3.5"
)

# --- Toolchain: rustup, else the chroot ------------------------------------------------------
rustup_ready() {
  command -v rustup >/dev/null 2>&1 || return 1
  rustup target list --installed 2>/dev/null | grep -qx "$triple" && return 0
  say "rustup target add $triple"
  timeout 300 rustup target add "$triple" >&2 2>&1 || return 1
}

host_cross_tools() {
  local need=() p
  for p in "gcc-$gnu" "g++-$gnu" "libc6-dev-$deb_arch-cross" qemu-user cmake libclang-dev clang pkg-config; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  [ ${#need[@]} -eq 0 ] && return
  command -v apt-get >/dev/null 2>&1 || die "missing: ${need[*]} (install them with your package manager)"
  say "installing ${need[*]}"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}" >/dev/null
}

if [ "$toolchain" = auto ]; then
  if rustup_ready; then toolchain=rustup; else
    say "rustup cannot add $triple here: using a Debian unstable chroot ($cross_root)"
    toolchain=chroot
  fi
fi
case "$toolchain" in
  rustup)
    rustup_ready || die "rustup cannot add the $triple standard library (try --toolchain chroot)"
    host_cross_tools
    # Runs a command in the cross environment.
    in_cross() { (cd "$repo" && env "${cross_env[@]}" "$@"); }
    ;;
  chroot)
    make_chroot
    chroot_mounts
    trap chroot_unmount EXIT
    in_cross() { in_chroot sh -c 'cd "$1" && shift && exec env "$@"' sh "$repo" "${cross_env[@]}" "$@"; }
    ;;
  *) die "--toolchain $toolchain: use rustup or chroot" ;;
esac
say "toolchain: $toolchain ($(in_cross rustc --version)); CPU profile $cpu: $cflags, Rust -C target-cpu=$rust_cpu"
[ "$toolchain_only" = 1 ] && exit 0
if [ ${#exec_cmd[@]} -gt 0 ]; then
  in_cross "${exec_cmd[@]}"
  exit $?
fi

# --- ONNX Runtime for the target -------------------------------------------------------------
# The official library from the PyPI wheel for the target platform, the version setup.sh pins.
ort_version="$(sed -n 's/^ORT_VERSION=//p' scripts/setup.sh | head -n1)"
ort_dir="${XDG_CACHE_HOME:-$HOME/.cache}/edgebench/onnxruntime/$ort_version-linux-$arch"
ort_library() { find "$ort_dir" -maxdepth 1 -name 'libonnxruntime.so*' ! -name '*providers*' 2>/dev/null | sort | head -n1; }
if [ -z "$(ort_library)" ]; then
  command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1 \
    || die "downloading ONNX Runtime needs python3 with pip"
  say "downloading ONNX Runtime $ort_version for linux-$arch (the PyPI onnxruntime wheel) into $ort_dir"
  ort_tmp="$(mktemp -d)"
  # manylinux_2_28 lets pip take any wheel for glibc 2.17..2.28 (Pi OS 12: glibc 2.36; Jetson
  # Linux 36: 2.35).
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform "manylinux_2_28_$arch" \
    --platform "manylinux2014_$arch" --python-version 3.12 -d "$ort_tmp" "onnxruntime==$ort_version" >&2 \
    || die "could not download onnxruntime==$ort_version for $arch from PyPI"
  python3 scripts/ort-from-wheel.py "$ort_tmp" "$ort_dir"
  rm -rf "$ort_tmp"
fi
ort_lib="$(ort_library)"
[ -n "$ort_lib" ] || die "no libonnxruntime in $ort_dir"
# A copy beside the build, where the emulated tests find it (also inside the chroot).
mkdir -p "$target_dir/onnxruntime"
cp -pu "$ort_dir"/libonnxruntime* "$target_dir/onnxruntime/"
ort_lib="$target_dir/onnxruntime/$(basename "$ort_lib")"

# --- Build -------------------------------------------------------------------------------------
jobs=()
[ -n "${EDGEBENCH_CROSS_JOBS:-}" ] && jobs=(-j "$EDGEBENCH_CROSS_JOBS")
say "building edgebench and every worker for $triple ($cpu) into $bin_dir"
start=$(date +%s)
in_cross cargo build --release --target "$triple" --workspace --bins "${jobs[@]}"
say "built in $(( $(date +%s) - start )) s: $(cd "$bin_dir" && ls edgebench edgebench-worker-* | grep -v '\.d$' | tr '\n' ' ')"

# --- Package -----------------------------------------------------------------------------------
[ "$package" = 1 ] || exit 0
rustc_version="$(in_cross rustc --version)"
env "CFLAGS_$under=$cflags" RUSTFLAGS="-C target_cpu=$rust_cpu" scripts/package.sh --target "$triple" --cpu "$cpu" \
  --bin-dir "$bin_dir" --ort-lib "$ort_lib" \
  --set "rustc=$rustc_version" --set "toolchain=$toolchain" --set "ggml_cpu_arm_arch=$arm_arch"
