#!/usr/bin/env bash
# How reports scale: time and peak memory of `edgebench report` on a lab-sized results folder
# (10 devices × LLM and Whisper models × targets × threads × 5 runs; see
# reports/examples/scale_results.rs), for the terminal table, the HTML page and the charts.
#
#   scripts/report-scale.sh            # 10,000 tests
#   scripts/report-scale.sh 2000       # another size
#
# Writes the folder and the outputs under target/report-scale/ (kept out of git) and prints one
# line per command: wall time, CPU time (user + system: less moved by other load on a shared
# machine), peak RSS, output size. A benchmark, not a test: the numbers depend on the machine. Needs GNU time (/usr/bin/time, Debian package `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
tests="${1:-10000}"
out=target/report-scale
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
cargo build --release -q --workspace --bins
cargo build --release -q --workspace --example scale_results
bin="${EDGEBENCH:-target/release/edgebench}"   # EDGEBENCH=path measures another build
results="$out/results-$tests"
if [ ! -d "$results" ]; then
  rm -rf "$results.tmp"
  target/release/examples/scale_results "$results.tmp" "$tests"
  mv "$results.tmp" "$results"
fi
echo "results: $results ($(ls "$results" | wc -l) files, $(du -sh "$results" | cut -f1))"

# One measured command: its wall time and peak RSS from GNU time, and the size of what it wrote.
measure() {
  local name="$1" output="$2"; shift 2
  local log="$out/$name.time"
  /usr/bin/time -v "$@" >"$out/$name.stdout" 2>"$log"
  local wall cpu rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
  cpu=$(awk -F': ' '/(User|System) time/ {s += $2} END {printf "%.2f s", s}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f MB", $2/1024}' "$log")
  printf '%-8s wall %-8s CPU %-8s peak RSS %-8s output %s\n' "$name" "$wall" "$cpu" "$rss" \
    "$(du -ch $output 2>/dev/null | tail -1 | cut -f1)"
}

rm -rf "$out/page" "$out/charts"
mkdir -p "$out/page"
measure table "$out/table.stdout" "$bin" report "$results"
measure html "$out/page/report*.html" "$bin" report "$results" --html "$out/page/report.html"
measure charts "$out/charts" "$bin" report "$results" --charts "$out/charts"
