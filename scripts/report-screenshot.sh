#!/usr/bin/env bash
# The HTML report of some results, its charts, and a screenshot of the page in headless
# Chromium — all under target/report/ (kept out of git):
#
#   scripts/report-screenshot.sh edgebench-results/            # or files: a.jsonl b.jsonl
#   scripts/report-screenshot.sh --height 6000 runs/*.jsonl    # a taller screenshot
#
# Needs target/release/edgebench (scripts/setup.sh) and Chromium
# (scripts/setup.sh --with-chromium, or CHROMIUM=/path/to/chrome).
set -euo pipefail
cd "$(dirname "$0")/.."
height=4000
if [ "${1:-}" = "--height" ]; then height="$2"; shift 2; fi
[ $# -gt 0 ] || { echo "usage: $0 [--height PX] RESULTS..." >&2; exit 2; }
out=target/report
mkdir -p "$out"
target/release/edgebench report "$@" --html "$out/report.html" --charts "$out/charts" >/dev/null
chrome="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"
if [ -z "$chrome" ]; then
  echo "no Chromium: install it with scripts/setup.sh --with-chromium (report: $out/report.html)" >&2
  exit 1
fi
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
"$chrome" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size="1280,$height" \
  --screenshot="$PWD/$out/report.png" "file://$PWD/$out/report.html" 2>/dev/null
echo "report:     $out/report.html"
echo "charts:     $out/charts/"
echo "screenshot: $out/report.png"
