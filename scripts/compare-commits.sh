#!/usr/bin/env bash
# Did a commit make edgebench's targets slower? Builds two commits, then `edgebench ab` runs the
# same tests with each in paired blocks (ABBA/BAAB, so a machine that drifts between minutes —
# 50% has been seen — drifts for both; see docs/field-notes.md) until the difference is known or the budget is spent,
# and exits 1 on a significant regression.
#
#   scripts/compare-commits.sh BASE_REV CANDIDATE_REV [-- edgebench run args...]
#   scripts/compare-commits.sh main HEAD -- --suite tiny --target candle
#   AB_ARGS="--budget 20m --threshold 2" scripts/compare-commits.sh main HEAD
#
# Results go to target/compare/ab/ (a.jsonl, b.jsonl, blocks.csv, ratios.csv); the Markdown
# summary for a pull request to target/compare/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
base_rev="$1"; cand_rev="$2"; shift 2
[ "${1:-}" = "--" ] && shift
run_args=("$@")
[ ${#run_args[@]} -gt 0 ] || run_args=(--suite tiny --target candle -t 1)
read -r -a ab_args <<< "${AB_ARGS:-}"

out="$PWD/target/compare"
mkdir -p "$out"
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
# The candidate's edgebench drives both (it must have `ab`); each side runs its own binaries.
rm -rf "$out/ab"
"$out/bin-$cand_id/edgebench" ab --a-bin "$out/bin-$base_id" --a-name "$base_rev ($base_id)" \
  --b-bin "$out/bin-$cand_id" --b-name "$cand_rev ($cand_id)" --out "$out/ab" \
  --markdown "$out/summary.md" "${ab_args[@]}" -- "${run_args[@]}"
