#!/usr/bin/env bash
# The aarch64 checks under QEMU user-mode emulation; scripts/test-aarch64.sh runs this inside
# scripts/cross.sh's environment (on this machine or in its chroot), from the checkout:
#
#   scripts/cross/emulated-checks.sh QEMU_CPU TARBALL [--quick]
#
# (the build is the one in $CARGO_TARGET_DIR, which scripts/cross.sh sets)
# 0. the build run on an older CPU (Cortex-A72) than its profile's: edgebench and every worker
#    refuse with the reason (exit 1), none dies with SIGILL;
# 1. the workspace tests, built for aarch64 and run under qemu-aarch64 -cpu QEMU_CPU;
# 2. `edgebench list targets`, `run --suite tiny`, `check` and `device` on the Pi 5 and Jetson
#    fixture trees, run as the aarch64 binary;
# 3. the release tarball unpacked into a temporary folder with an empty home: `list targets`
#    and a tiny run (llama3-8b-tiny Q4_K_M on every target) from it, with no set-up step.
# --quick leaves out the slow parts (the workspace tests, `run --suite tiny` and `check`): a smoke
# test of another CPU profile's build in minutes.
# Emulated timings are meaningless: every result says `emulated`, and this script checks it.
set -euo pipefail
qemu_cpu="${1:?QEMU CPU model}" tarball="${2:?release tarball}" quick=0
[ "${3:-}" = --quick ] && quick=1
target_dir="${CARGO_TARGET_DIR:?run this through scripts/cross.sh --exec}"
triple=aarch64-unknown-linux-gnu
sysroot=/usr/aarch64-linux-gnu
bin_dir="$target_dir/$triple/release"

say() { printf '\033[1m[aarch64]\033[0m %s\n' "$*" >&2; }
die() { printf 'emulated-checks.sh: %s\n' "$*" >&2; exit 1; }
elapsed() { echo "$(( $(date +%s) - $1 )) s"; }

# QEMU older than 8.1 passes the build machine's /proc/cpuinfo through to the program: ONNX
# Runtime's CPU probe (pytorch cpuinfo) then reads an x86 cpuinfo as an ARM one and crashes
# (SIGSEGV), so the onnxruntime target would fail here although it works on a device. 8.1 and
# newer emulate /proc/cpuinfo for ARM programs. scripts/cross/qemu.sh finds one (or fetches
# Debian 13's, statically linked, into the cache).
. "$(dirname "$0")/qemu-version.sh"
qemu="$("$(dirname "$0")/qemu.sh")" || die "no qemu-aarch64 8.1 or newer (see scripts/cross/qemu.sh)"
say "QEMU: $qemu ($(qemu_version "$qemu"))"
[ -d "$sysroot/lib" ] || die "$sysroot: no aarch64 C library (apt-get install libc6-dev-arm64-cross)"

# edgebench starts its workers, and the tests start edgebench and the workers: an aarch64
# process starting another needs the kernel to hand aarch64 executables to qemu (binfmt_misc,
# what Debian's qemu-user-binfmt sets up). Registered here when missing (root only; the
# registration lasts until reboot and only concerns aarch64 executables).
binfmt=/proc/sys/fs/binfmt_misc
binfmt_entry="$(grep -ls 'magic 7f454c460201010000000000000000000200b700' "$binfmt"/* 2>/dev/null | head -n1 || true)"
if [ -z "$binfmt_entry" ]; then
  [ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null || true
  [ -w "$binfmt/register" ] || die "aarch64 executables cannot start aarch64 executables: register qemu-aarch64 with binfmt_misc (apt-get install qemu-user-binfmt), or run this as root"
  say "registering $qemu for aarch64 executables with binfmt_misc"
  printf '%s' ":qemu-aarch64:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:$qemu:" >"$binfmt/register"
else
  # The registered QEMU is older than 8.1 (Debian 12's 7.2): the kernel opens the interpreter
  # by path when an aarch64 program starts (unless the entry has the F flag), so in a private
  # mount namespace of this script the chosen QEMU is bind-mounted over that path; nothing
  # outside this script's processes sees it.
  interpreter="$(sed -n 's/^interpreter //p' "$binfmt_entry")"
  if ! new_enough "$interpreter" && [ "$(readlink -f "$interpreter")" != "$(readlink -f "$qemu")" ]; then
    grep -q '^flags:.*F' "$binfmt_entry" && die "$binfmt_entry runs $interpreter, fixed at registration (F flag): register QEMU 8.1+ for aarch64 instead"
    if [ -z "${EDGEBENCH_QEMU_NAMESPACE:-}" ]; then
      command -v unshare >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] \
        || die "aarch64 programs start $interpreter ($(qemu_version "$interpreter")); run this as root (it then uses $qemu in a private mount namespace) or register QEMU 8.1+ for aarch64"
      say "aarch64 programs start $interpreter ($(qemu_version "$interpreter")): using $qemu in its place, in this script's own mount namespace"
      EDGEBENCH_QEMU="$qemu" EDGEBENCH_QEMU_NAMESPACE=1 exec unshare --mount --propagation private "$0" "$@"
    fi
    mount --bind "$qemu" "$interpreter"
  fi
fi

# qemu reads these in every process it starts, the workers included.
export QEMU_CPU="$qemu_cpu" QEMU_LD_PREFIX="$sysroot"
# Every result of this run says it was emulated (edgebench also detects it on its own).
export EDGEBENCH_EMULATED="qemu-aarch64 -cpu $qemu_cpu"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$qemu -cpu $qemu_cpu -L $sysroot"
# The aarch64 ONNX Runtime library scripts/cross.sh put beside the build.
export EDGEBENCH_ORT_DIR="$target_dir/onnxruntime"
unset ORT_DYLIB_PATH

work="$(mktemp -d "${TMPDIR:-/tmp}/edgebench-aarch64.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export EDGEBENCH_MODELS_DIR="$work/models" EDGEBENCH_CACHE_DIR="$work/cache"

# Checks a results file: at least one test ok, none failed, every record marked emulated.
cat >"$work/check-results.py" <<'PY'
#!/usr/bin/env python3
import json, sys
tests = [r for r in map(json.loads, open(sys.argv[1])) if r.get("record") == "test"]
if not tests:
    sys.exit(f"{sys.argv[1]}: no test records")
def what(t):
    return f'{t["scenario"]["model"]} {t["scenario"]["quant"]} {t["target"]["name"]} {t["scenario"]["workload"]}'
# A target refusing a model this CPU cannot run, saying so (candle's quantized kernels need the
# dot-product instruction, which a Cortex-A72 lacks), is the answer wanted, not a failure.
lacks = lambda t: t["status"]["state"] == "failed" and "which this CPU lacks" in t["status"].get("reason", "")
refused_tests = [t for t in tests if lacks(t)]
refused = sorted({f'{t["target"]["name"]}: {t["status"]["reason"]}' for t in refused_tests})
failed = [f'{what(t)}: {t["status"]}' for t in tests if t["status"]["state"] not in ("ok", "skipped") and not lacks(t)]
skipped = sorted({f'{t["target"]["name"]}: {t["status"].get("reason", "")}' for t in tests if t["status"]["state"] == "skipped"})
ok = sum(t["status"]["state"] == "ok" for t in tests)
unmarked = [t for t in tests if not t["environment"].get("emulated")]
print(f"{len(tests)} tests: {ok} ok, {len(failed)} failed, {len(refused_tests)} refused, "
      f"{sum(t['status']['state'] == 'skipped' for t in tests)} skipped; "
      f"{len(tests) - len(unmarked)} marked emulated")
for s in skipped:
    print(f"  skipped ({s})")
for r in refused:
    print(f"  refused, as it should on this CPU ({r})")
if unmarked:
    sys.exit("results of an emulated run without the emulated flag")
if failed or not ok:
    sys.exit("failed: " + "; ".join(failed))
PY
chmod +x "$work/check-results.py"

# --- 0. A CPU older than the profile's is refused, not crashed on ----------------------------
# Run on a CPU without the profile's features (a Cortex-A72: plain Armv8.0-A, as in a Pi 4),
# edgebench and every worker must exit with the reason instead of dying with SIGILL.
if [ "$qemu_cpu" != cortex-a72 ]; then
  say "the build on an older CPU (qemu -cpu cortex-a72): edgebench and each worker must refuse with the reason"
  for program in "$bin_dir"/edgebench "$bin_dir"/edgebench-worker-*; do
    case "$program" in *.d) continue ;; esac
    rc=0
    "$qemu" -cpu cortex-a72 -L "$sysroot" "$program" </dev/null >/dev/null 2>"$work/refused.txt" || rc=$?
    grep -q "which this CPU lacks" "$work/refused.txt" && [ "$rc" = 1 ] \
      || die "$(basename "$program") on a Cortex-A72: exit $rc, not a refusal: $(tail -n2 "$work/refused.txt")"
    say "  $(head -n1 "$work/refused.txt")"
  done
fi

# --- 1. The test suite ----------------------------------------------------------------------
# Tests that cannot hold under user-mode emulation, each with the reason (printed).
if [ "$quick" = 0 ]; then
  skips=(page_opens_in_headless_chromium_without_console_errors chromium_check_catches_a_blocked_fetch)
  say "skipped under emulation: ${skips[*]} (they drive the build machine's x86_64 Chromium, which is not part of the aarch64 build)"
  fleet=(two_devices_run_stream_back_and_merge a_device_that_drops_mid_run_keeps_what_was_streamed
    changed_host_key_missing_artifact_and_refused_connection_are_recorded)
  skips+=("${fleet[@]}")
  say "skipped under emulation: ${fleet[*]} (cli/tests/fleet.rs: its devices are sshd servers on this x86_64 machine, which report x86_64 and get this machine's tarball, not the aarch64 one under test)"
  skips+=(soak_records_the_rate_per_window)
  say "skipped under emulation: soak_records_the_rate_per_window (a 2-second soak must fit more than 3 tg16 repetitions; emulated, too few fit)"
  skip_args=()
  for s in "${skips[@]}"; do skip_args+=(--skip "$s"); done
  start=$(date +%s)
  say "cargo test --release --target $triple --workspace, run under qemu-aarch64 -cpu $qemu_cpu"
  cargo test --release --target "$triple" --workspace --no-fail-fast -- "${skip_args[@]}"
  say "tests passed under emulation in $(elapsed "$start") (build included)"
fi

# --- 2. The aarch64 edgebench -----------------------------------------------------------------
eb="$bin_dir/edgebench"
start=$(date +%s)
say "edgebench list targets (aarch64)"
"$eb" list targets | tee "$work/targets.txt"

say "edgebench device on the Raspberry Pi 5 and Jetson fixture trees"
for fixture in pi5 jetson-orin-nano jetson-agx-orin; do
  "$eb" device --no-bandwidth --sys-root "harness/tests/fixtures/$fixture" | tee "$work/device-$fixture.txt"
done
grep -q "Raspberry Pi 5" "$work/device-pi5.txt" || die "device: the Pi 5 fixture was not named"
grep -q "Jetson Orin Nano" "$work/device-jetson-orin-nano.txt" || die "device: the Jetson Orin Nano fixture was not named"
grep -q "Jetson AGX Orin" "$work/device-jetson-agx-orin.txt" || die "device: the Jetson AGX Orin fixture was not named"
grep -q "^emulated" "$work/device-pi5.txt" || die "device: the emulation is not shown"

if [ "$quick" = 0 ]; then
  say "edgebench run --suite tiny (aarch64, emulated: the timings are meaningless)"
  "$eb" run --suite tiny -r 2 --cooldown off --results "$work/tiny.jsonl" || say "edgebench run exited with $?"
  "$work/check-results.py" "$work/tiny.jsonl"
  say "edgebench check (do the aarch64 targets compute the same model?)"
  "$eb" check
fi
say "edgebench on aarch64: $(elapsed "$start")"

# --- 3. The release tarball, unpacked, with no set-up -----------------------------------------
start=$(date +%s)
say "unpacking $(basename "$tarball") into an empty folder and running it"
mkdir -p "$work/unpacked" "$work/home"
tar -xzf "$tarball" -C "$work/unpacked"
folder="$work/unpacked/$(basename "$tarball" .tar.gz)"
# Nothing from this machine: an empty home, no worker or ONNX Runtime override, no PATH to the
# build; and no EDGEBENCH_EMULATED: edgebench must find out by itself that it is emulated.
clean=(env -u EDGEBENCH_ORT_DIR -u EDGEBENCH_WORKER_DIR -u XDG_CACHE_HOME -u EDGEBENCH_EMULATED HOME="$work/home"
  PATH=/usr/bin:/bin EDGEBENCH_MODELS_DIR="$work/home/models" EDGEBENCH_CACHE_DIR="$work/home/cache")
"${clean[@]}" "$folder/bin/edgebench" list targets | tee "$work/tarball-targets.txt"
if grep -qi "not found\|cannot load\|not built\|run scripts/setup.sh" "$work/tarball-targets.txt"; then
  die "the unpacked tarball lacks a target (see above)"
fi
"${clean[@]}" "$folder/bin/edgebench" run --scenario llama3-8b-tiny --quant q4_k_m -r 2 --cooldown off \
  --results "$work/tarball.jsonl" || say "edgebench run exited with $?"
"$work/check-results.py" "$work/tarball.jsonl"
say "the unpacked tarball ran with no set-up: $(elapsed "$start")"
