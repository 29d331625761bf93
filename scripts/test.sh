#!/usr/bin/env bash
# The test suite on a fresh machine: set up (idempotent, with Chromium for the HTML page's
# browser test), then formatting, clippy (warnings are errors), the criterion benches compile,
# and every test of the workspace. Tests use tiny synthetic models in temp folders and take
# seconds each.
#
#   scripts/test.sh                        # everything
#   scripts/test.sh -p edgebench-reports   # arguments go to `cargo test`
#
# Environment:
#   EDGEBENCH_SKIP_BROWSER_TEST=1   do not install Chromium, and skip the browser test (it
#                                   fails without Chromium otherwise)
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\033[1m[test]\033[0m %s\n' "$*" >&2; }
if [ "${EDGEBENCH_SKIP_BROWSER_TEST:-0}" = 1 ]; then
  scripts/setup.sh
else
  scripts/setup.sh --with-chromium
fi
step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --release --quiet -- -D warnings
step "criterion benches compile"
# --workspace, so features resolve as for the tests and nothing is compiled twice (with -p,
# candle-core is rebuilt with another feature set: about 8 minutes on 2 cores).
cargo bench --workspace --no-run --quiet --bench candle_qmatmul --bench ggml_qmatmul --bench ort_matmulnbits
step "cargo test"
cargo test --release --workspace "$@"
