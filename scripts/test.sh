#!/usr/bin/env bash
# The test suite on a fresh machine: set up (idempotent), then every test of the workspace.
# Tests use tiny synthetic models in temp folders and take seconds each.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all --check
cargo test --release --workspace "$@"
