#!/usr/bin/env bash
# edgebench for aarch64 Linux (Raspberry Pi 5, Jetson), tested on this machine under QEMU
# user-mode emulation:
#
#   scripts/test-aarch64.sh                       # Raspberry Pi 5 profile (cortex-a76)
#   scripts/test-aarch64.sh --cpu armv8-a         # another CPU profile (see scripts/cross.sh)
#   scripts/test-aarch64.sh --toolchain chroot    # force the Debian chroot toolchain
#   scripts/test-aarch64.sh --cpu cortex-a78ae --quick  # build, tarball and a smoke test only (no
#                                                 # workspace tests, suite run or check)
#
# It cross-builds edgebench and its workers and packs the release tarball (scripts/cross.sh,
# idempotent), then, under qemu-aarch64 with the profile's CPU model: the workspace tests (tiny
# models), `edgebench list targets`, `run --suite tiny`, `check`, `device` on the Pi 5 and Jetson
# fixture trees, and the tarball unpacked into an empty folder and run with no set-up step
# (scripts/cross/emulated-checks.sh). Emulated timings are meaningless; every result says so.
# Slow: on a loaded 2-core machine the first cross build took about two hours and the emulated
# tests more than 55 minutes (README). It is not part of scripts/test.sh or .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

cpu=cortex-a76
cross_args=()
quick=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) cpu="${2:?--cpu needs a profile}"; shift 2 ;;
    --toolchain) cross_args+=(--toolchain "${2:?--toolchain needs rustup or chroot}"); shift 2 ;;
    --quick) quick=(--quick); shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) printf 'test-aarch64.sh: unknown argument %s (known: --cpu, --toolchain, --quick)\n' "$1" >&2; exit 2 ;;
  esac
done
# QEMU's model of the profile's CPU (QEMU has no Cortex-A78AE: its nearest, the Neoverse N1,
# is an A76 derivative with the same Armv8.2-A features).
case "$cpu" in
  cortex-a76) qemu_cpu=cortex-a76 ;;
  cortex-a78ae) qemu_cpu=neoverse-n1 ;;
  armv8-a) qemu_cpu=cortex-a72 ;;
  *) qemu_cpu=max ;;
esac

start=$(date +%s)
tarball="$(scripts/cross.sh aarch64 --cpu "$cpu" ${cross_args[@]+"${cross_args[@]}"} | tail -n1)"
[ -f "$tarball" ] || { echo "test-aarch64.sh: scripts/cross.sh made no tarball" >&2; exit 1; }
build_s=$(( $(date +%s) - start ))
scripts/cross.sh aarch64 --cpu "$cpu" ${cross_args[@]+"${cross_args[@]}"} \
  --exec scripts/cross/emulated-checks.sh "$qemu_cpu" "$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")" ${quick[@]+"${quick[@]}"}
printf '\033[1m[aarch64]\033[0m passed: cross build and tarball %s s, emulated checks %s s (%s)\n' \
  "$build_s" "$(( $(date +%s) - start - build_s ))" "$tarball" >&2
