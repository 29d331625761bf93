# QEMU version helpers, sourced by scripts/cross/qemu.sh and scripts/cross/emulated-checks.sh.
# 8.1 is the oldest QEMU that emulates /proc/cpuinfo for ARM programs (older ones pass the build
# machine's through, and ONNX Runtime's CPU probe crashes on an x86 cpuinfo).

# The major.minor version of the QEMU at path $1; empty when it does not run.
qemu_version() { "$1" --version 2>/dev/null | sed -n '1s/.*version \([0-9]*\.[0-9]*\).*/\1/p'; }

# Whether the QEMU at path $1 is 8.1 or newer.
new_enough() {
  local v major minor
  v="$(qemu_version "$1")"
  [ -n "$v" ] || return 1
  major="${v%%.*}" minor="${v#*.}"
  [ "$major" -gt 8 ] || { [ "$major" -eq 8 ] && [ "$minor" -ge 1 ]; }
}
