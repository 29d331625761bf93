#!/usr/bin/env bash
# Can a pull request be gated on `edgebench ab` here? Measures, on this machine, the two rates a
# gate lives by, with a small suite of tiny synthetic models (seconds an invocation):
#   A/A   both sides the same build: how often does `ab` call a regression anyway (goal ≤ 5%)?
#   slow  side B's processes get (100 − SLOW)% of one CPU through a CPU quota (cgroup v2
#         cpu.max, or v1 cpu.cfs_quota_us): how often is that slowdown caught (goal ≥ 95%)?
#
#   scripts/gate-check.sh [--runs N] [--slow PERCENT] [--out DIR] [-- ab options...]
#   eb-slot scripts/gate-check.sh --runs 20            # on a shared machine: hold a slot
#
# Needs root (or a delegated cgroup) for the quota, and a release build (target/release).
# Prints a Markdown table (also DIR/table.md) with each rate, its 95% Wilson interval, the blocks
# and seconds an invocation took and the load average seen; DIR/invocations.csv has every run.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=20; slow=10; out="$PWD/target/gate-check"; ab_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --slow) slow="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --) shift; ab_args=("$@"); break ;;
    *) sed -n '2,13p' "$0" >&2; exit 2 ;;
  esac
done
[ -x target/release/edgebench ] || { echo "error: target/release/edgebench not built (cargo build --release --workspace --bins)" >&2; exit 2; }
mkdir -p "$out"
# A copy of the build: a rebuild during the measurement must not change what is measured.
bin="$out/bin"; rm -rf "$bin"; mkdir -p "$bin"
cp target/release/edgebench target/release/edgebench-worker-* "$bin/"
# The suite: two tests of a tiny Llama-shaped model on one thread, so the quota (a fraction of
# one CPU) slows the worker by the fraction asked.
suite=(-s llama3-8b-tiny -q q4_0 -p 256 -n 64 --target llamacpp -t 1 --cooldown off)
mkdir -p "$out"; rm -rf "$out/runs"; mkdir -p "$out/runs"

# A CPU quota of (100 − slow)% of one CPU for side B.
# A 10 ms period (the kernel's default is 100 ms): a repetition of the tiny suite lasts 10–50 ms
# on a fast core, and bursts shorter than the quota never meet it, so a 100 ms period slowed the
# tg test by 0.2% instead of 10% (measured: 30 blocks, B/A −0.2% for tg64, −4.6% for pp256).
quota=$(( (100 - slow) * 100 )); period=10000
if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
  cg=/sys/fs/cgroup/edgebench-gate-slow; mkdir -p "$cg"
  echo "$quota $period" > "$cg/cpu.max"
elif [ -d /sys/fs/cgroup/cpu ]; then
  cg=/sys/fs/cgroup/cpu/edgebench-gate-slow; mkdir -p "$cg"
  echo "$period" > "$cg/cpu.cfs_period_us"; echo "$quota" > "$cg/cpu.cfs_quota_us"
else
  echo "error: no cgroup cpu controller under /sys/fs/cgroup: cannot induce a slowdown" >&2; exit 2
fi
trap 'rmdir "$cg" 2>/dev/null || true' EXIT
# Side B's "binary folder": an edgebench that moves itself into the cgroup, then the real one.
slow_bin="$out/slow-bin"; rm -rf "$slow_bin"; mkdir -p "$slow_bin"
cat > "$slow_bin/edgebench" <<EOF
#!/bin/sh
echo \$\$ > "$cg/cgroup.procs"
exec "$bin/edgebench" "\$@"
EOF
chmod +x "$slow_bin/edgebench"
for w in "$bin"/edgebench-worker-*; do ln -s "$w" "$slow_bin/"; done

echo "case,invocation,exit,blocks,seconds,load_start,load_end,verdicts" > "$out/invocations.csv"
one() { # case number side-B-args...
  local case="$1" i="$2"; shift 2
  local dir="$out/runs/$case-$i" load0 load1 rc=0 t0 t1
  load0=$(cut -d' ' -f1 /proc/loadavg); t0=$(date +%s.%N)
  "$bin/edgebench" ab --seed "$i" --out "$dir" "$@" "${ab_args[@]}" -- "${suite[@]}" \
    > "$dir.txt" 2> "$dir.err" || rc=$?
  t1=$(date +%s.%N); load1=$(cut -d' ' -f1 /proc/loadavg)
  [ "$rc" -le 1 ] || { echo "error: $case $i: ab exited $rc; see $dir.err" >&2; tail -5 "$dir.err" >&2; exit 2; }
  local blocks verdicts
  blocks=$(($(wc -l < "$dir/blocks.csv") - 1))
  verdicts=$(grep -oE '(regressed|improved|no change|inconclusive)$' "$dir.txt" | tr '\n' ';')
  echo "$case,$i,$rc,$blocks,$(echo "$t1 - $t0" | bc),$load0,$load1,$verdicts" >> "$out/invocations.csv"
  echo "$case $i/$runs: exit $rc, $blocks blocks, $(printf %.0f "$(echo "$t1 - $t0" | bc)") s, load $load0→$load1, $verdicts" >&2
}
for i in $(seq 1 "$runs"); do
  # Alternate the two cases so both see the same hours of the machine.
  one aa "$i" --a-name same --b-name same
  one slow "$i" --b-bin "$slow_bin" --b-name "${slow}% CPU quota"
done

python3 - "$out" "$slow" <<'EOF' | tee "$out/table.md"
import csv, math, statistics, sys
out, slow = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(f"{out}/invocations.csv")))
def wilson(k, n, z=1.96):
    if n == 0: return (0.0, 1.0)
    p = k / n; d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d; h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))
print("| case | invocations | gate failed (exit 1) | rate | 95% interval | any change called | median blocks | median s | load average |")
print("|:-----|------------:|---------------------:|-----:|:-------------|------------------:|--------------:|---------:|:-------------|")
for case, label in (("aa", "A/A (identical sides)"), ("slow", f"B at {100 - int(slow)}% CPU quota")):
    r = [x for x in rows if x["case"] == case]
    n = len(r); k = sum(1 for x in r if x["exit"] == "1")
    changed = sum(1 for x in r if "regressed" in x["verdicts"] or "improved" in x["verdicts"])
    lo, hi = wilson(k, n)
    loads = [float(x["load_start"]) for x in r] + [float(x["load_end"]) for x in r]
    print(f"| {label} | {n} | {k} | {100 * k / max(n, 1):.0f}% | {100 * lo:.0f}–{100 * hi:.0f}% | {changed} "
          f"| {statistics.median(int(x['blocks']) for x in r):.0f} | {statistics.median(float(x['seconds']) for x in r):.0f} "
          f"| {min(loads):.2f}–{max(loads):.2f} |")
EOF
