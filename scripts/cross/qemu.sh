#!/usr/bin/env bash
# Prints the path of a qemu-aarch64 of version 8.1 or newer, fetching one when this machine has
# none:
#
#   scripts/cross/qemu.sh            # the path, on standard output
#
# Why 8.1: older QEMU passes the build machine's /proc/cpuinfo through to the emulated program;
# ONNX Runtime's CPU probe (pytorch cpuinfo) reads that x86 cpuinfo as an ARM one and crashes
# (SIGSEGV). 8.1 and newer emulate /proc/cpuinfo for ARM programs.
#
# Looked for, in order: $EDGEBENCH_QEMU, the qemu-aarch64 on PATH, the Debian chroot's
# (scripts/cross.sh --toolchain chroot), one fetched earlier into the cache. Where none is new
# enough and apt-get exists, Debian 13's `qemu-user` package (statically linked, so it runs on any
# x86_64 Linux) is downloaded with a private apt source list (nothing is installed on the system;
# nothing else on the machine changes) and unpacked into
# $XDG_CACHE_HOME/edgebench/qemu/<version>/. Idempotent.
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), EDGEBENCH_QEMU_SUITE (the
# Debian suite to take it from, default trixie).
set -euo pipefail

say() { printf '\033[1m[qemu]\033[0m %s\n' "$*" >&2; }
die() { printf 'qemu.sh: %s\n' "$*" >&2; exit 1; }

. "$(dirname "$0")/qemu-version.sh"

cache="${XDG_CACHE_HOME:-$HOME/.cache}/edgebench/qemu"
chroot_qemu="${EDGEBENCH_CROSS_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/edgebench/cross/sid}/usr/bin/qemu-aarch64"
for candidate in ${EDGEBENCH_QEMU:+"$EDGEBENCH_QEMU"} "$(command -v qemu-aarch64 || true)" "$chroot_qemu" \
  $(ls -d "$cache"/*/qemu-aarch64 2>/dev/null | sort -V -r); do
  if [ -x "$candidate" ] && new_enough "$candidate"; then
    echo "$candidate"
    exit 0
  fi
done

command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 \
  || die "no qemu-aarch64 8.1 or newer here, and no apt-get to fetch one: install qemu-user 8.1+ (Debian 13, Ubuntu 24.04) or set EDGEBENCH_QEMU"
suite="${EDGEBENCH_QEMU_SUITE:-trixie}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
apt_dir="$(mktemp -d "${TMPDIR:-/tmp}/edgebench-qemu.XXXXXX")"
trap 'rm -rf "$apt_dir"' EXIT
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
echo "deb $mirror $suite main" >"$apt_dir/sources.list"
# A private source list, package lists and cache: the system's apt state is not touched.
apt_opts=(-q -o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=-
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o APT::Get::List-Cleanup=0
  -o APT::Sandbox::User=root -o Acquire::Check-Valid-Until=false)
say "no qemu-aarch64 8.1 or newer here: fetching Debian $suite's qemu-user from $mirror"
apt-get "${apt_opts[@]}" update >&2 || die "apt-get update from $mirror ($suite) failed"
(cd "$apt_dir" && apt-get "${apt_opts[@]}" download qemu-user >&2) || die "could not download qemu-user from $mirror ($suite)"
deb="$(ls "$apt_dir"/qemu-user_*.deb | head -n1)"
dpkg-deb -x "$deb" "$apt_dir/x"
fetched="$apt_dir/x/usr/bin/qemu-aarch64"
new_enough "$fetched" || die "$(basename "$deb") has qemu-aarch64 $(qemu_version "$fetched"), older than 8.1"
dest="$cache/$(qemu_version "$fetched")"
mkdir -p "$dest"
cp "$fetched" "$dest/qemu-aarch64.tmp"
mv "$dest/qemu-aarch64.tmp" "$dest/qemu-aarch64"
say "qemu-aarch64 $(qemu_version "$dest/qemu-aarch64") in $dest"
echo "$dest/qemu-aarch64"
