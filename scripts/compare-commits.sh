#!/usr/bin/env bash
# Did a commit make edgebench's targets slower? Builds two commits, runs the same suite with
# each, interleaved (A B A B …, so a machine that drifts between minutes — docs/field-notes.md saw
# 50% — drifts for both), then `edgebench compare`, which exits 1 on a significant regression.
#
#   scripts/compare-commits.sh BASE_REV CANDIDATE_REV [ROUNDS] [-- edgebench run args...]
#   scripts/compare-commits.sh main HEAD 3 -- --suite tiny -r 3
#
# Each round appends to target/compare/{base,candidate}.jsonl; compare pools every round's
# repetitions per test (3 rounds × 3 repetitions = 9 a side). The Markdown summary for a pull
# request is written to target/compare/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
base_rev="$1"; cand_rev="$2"; shift 2
rounds=3
if [ $# -gt 0 ] && [ "$1" != "--" ]; then rounds="$1"; shift; fi
[ "${1:-}" = "--" ] && shift
run_args=("$@")
[ ${#run_args[@]} -gt 0 ] || run_args=(--suite tiny -r 3)

out="$PWD/target/compare"
mkdir -p "$out"
rm -f "$out/base.jsonl" "$out/candidate.jsonl"
base_id="$(git rev-parse --short "$base_rev")"
cand_id="$(git rev-parse --short "$cand_rev")"
build() { # commit → target/compare/bin-<commit>/ with its edgebench and target workers
  local id="$1" dir="$out/bin-$1" tree="$out/tree-$1"
  rm -rf "$tree"; git worktree add --detach -f "$tree" "$id" >/dev/null
  # One shared target dir: the second build only recompiles what the commits change.
  CARGO_TARGET_DIR="$PWD/target" cargo build --release --workspace --bins --quiet \
    --manifest-path "$tree/Cargo.toml"
  rm -rf "$dir"; mkdir -p "$dir"
  find target/release -maxdepth 1 -type f -perm -u+x \
    \( -name edgebench -o -name 'edgebench-worker-*' \) -exec cp {} "$dir/" \;
  git worktree remove --force "$tree"
}
build "$base_id"
build "$cand_id"
for round in $(seq 1 "$rounds"); do
  echo "round $round/$rounds: $base_rev ($base_id)" >&2
  "$out/bin-$base_id/edgebench" run "${run_args[@]}" --results "$out/base.jsonl" >/dev/null || echo "  (some tests failed; see the results)" >&2
  echo "round $round/$rounds: $cand_rev ($cand_id)" >&2
  "$out/bin-$cand_id/edgebench" run "${run_args[@]}" --results "$out/candidate.jsonl" >/dev/null || echo "  (some tests failed; see the results)" >&2
done
# The candidate's edgebench compares (it must have `compare`).
"$out/bin-$cand_id/edgebench" compare "$out/base.jsonl" "$out/candidate.jsonl" \
  --markdown "$out/summary.md"
