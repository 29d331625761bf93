#!/usr/bin/env bash
# The main job on a fresh machine: set up (idempotent), then `edgebench run` with this
# machine's defaults. Extra arguments go to `edgebench run` (e.g. --suite standard).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec target/release/edgebench run "$@"
