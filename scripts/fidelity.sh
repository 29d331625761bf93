#!/usr/bin/env bash
# Do edgebench's figures equal the upstream tools' own? Builds llama-bench and whisper-bench from
# the very llama.cpp / whisper.cpp sources the llamacpp and whispercpp workers are built from
# (the trees vendored in the llama-cpp-sys-2 and whisper-rs-sys crates Cargo.lock pins), with
# the workers' build settings, then runs each tool and edgebench on the same model file with the
# same threads, interleaved (tool, edgebench, tool, edgebench, …: a machine that drifts between
# minutes drifts for both), and prints edgebench ÷ upstream for each figure. 1.00 is equal; the
# project's promise is within 3%. Exit status: 0 every figure within 3%, 1 one differs (its whole
# interval outside ±3%), 3 one cannot be told at this noise (its interval straddles a bound).
#
#   scripts/fidelity.sh                       # both tools, 5 rounds, all cores
#   scripts/fidelity.sh --only whisper --rounds 5 --threads 2
#   scripts/fidelity.sh --llama-model my.gguf --whisper-model ggml-tiny.bin
#
# The crates vendor the libraries but not the tools' own sources (llama.cpp's
# tools/llama-bench/llama-bench.cpp, whisper.cpp's examples/bench/bench.cpp). They come from an
# upstream checkout of the matching version: --llama-cpp DIR / --whisper-cpp DIR (a checkout, or
# a folder holding llama-bench.cpp / bench.cpp), else the cache folder below, else a shallow
# `git clone` of the matching whisper.cpp tag (llama.cpp: the branch given by LLAMA_CPP_REF,
# default master; the script says which llama-bench.cpp it compiled). Only the tool's one .cpp
# file is taken from there; ggml, llama and whisper are compiled from the vendored trees.
#
# Figures compared (README "Fidelity"):
#   llama.cpp  pp t/s   llama-bench -p N -n 0 avg_ts     vs  edgebench pp t/s (mean of reps)
#              tg t/s   llama-bench -p 0 -n N avg_ts     vs  edgebench tg t/s (mean of reps)
#   whisper    encoder  whisper-bench "encode time"      vs  edgebench -w encode, enc ms
#              decoder  whisper-bench "decode time … per run" (256 single-token steps)
#                                                        vs  edgebench -w decode-t256, ms/step
# Ratios are edgebench's speed ÷ the tool's speed (> 1: edgebench measured faster): the median
# of the rounds' own ratios (tool and edgebench back to back in each), with its interval, so a
# round disturbed by the machine moves neither the verdict nor the figure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

rounds=5
threads="$(nproc)"
only="all"
llama_model=""
whisper_model=""
llama_src="${LLAMA_CPP_SRC:-}"
whisper_src="${WHISPER_CPP_SRC:-}"
n_prompt=128
n_gen=32
reps=5
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --threads|-t) threads="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --llama-model) llama_model="$2"; shift 2 ;;
    --whisper-model) whisper_model="$2"; shift 2 ;;
    --llama-cpp) llama_src="$2"; shift 2 ;;
    --whisper-cpp) whisper_src="$2"; shift 2 ;;
    -p) n_prompt="$2"; shift 2 ;;
    -n) n_gen="$2"; shift 2 ;;
    -r) reps="$2"; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "fidelity.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$only" in all|llama|whisper|onnxruntime) ;; *) echo "fidelity.sh: --only llama|whisper|onnxruntime|all, got $only" >&2; exit 2 ;; esac

say() { printf '\033[1m[fidelity]\033[0m %s\n' "$*" >&2; }
die() { printf 'fidelity.sh: %s\n' "$*" >&2; exit 2; }

cache="${XDG_CACHE_HOME:-$HOME/.cache}/edgebench/reference"
mkdir -p "$cache"
out="$repo/target/fidelity/$only"
rm -rf "$out"; mkdir -p "$out"

[ -x target/release/edgebench ] || scripts/setup.sh
eb="$repo/target/release/edgebench"

# --- The vendored sources, at the versions Cargo.lock pins --------------------------------------
lock_version() { # crate → version in Cargo.lock
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}
registry_src() { # crate version → its unpacked source folder
  local d
  for d in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$1-$2"; do
    [ -d "$d" ] && { echo "$d"; return; }
  done
  cargo fetch --quiet >/dev/null 2>&1 || true
  for d in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$1-$2"; do
    [ -d "$d" ] && { echo "$d"; return; }
  done
  die "$1 $2 is not in the cargo registry (run cargo fetch)"
}

# The workers' C/C++ flags (.cargo/config.toml [env] for this machine), so the tools are compiled
# exactly as the libraries inside the workers are.
arch="$(uname -m)"
cflags=""
if [ "$arch" = x86_64 ]; then
  cflags="$(sed -n 's/^CFLAGS_x86_64_unknown_linux_gnu = "\(.*\)"$/\1/p' .cargo/config.toml)"
fi
cflags="${CFLAGS:-$cflags}"

jobs="$(nproc)"

build_tool() { # name src_tree tool_dir tool_cpp target extra-cmake-args…
  local name="$1" tree="$2" tool_dir="$3" target="$4"; shift 4
  local build="$cache/build-$name"
  if [ -x "$build/bin/$target" ] && [ "$(cat "$build/.stamp" 2>/dev/null)" = "$tree|$cflags|$*" ]; then
    return
  fi
  say "building $target from $tree (once; a few minutes)"
  mkdir -p "$build"  # cmake rebuilds what changed; ccache, when present, does the rest
  CFLAGS="$cflags" CXXFLAGS="$cflags" cmake -S "$tree" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF "$@" >"$build/configure.log" 2>&1 \
    || die "cmake configure of $name failed: see $build/configure.log"
  cmake --build "$build" --target "$target" -j "$jobs" >"$build/build.log" 2>&1 \
    || die "building $target failed: see $build/build.log"
  mkdir -p "$build/bin"
  local built
  built="$(find "$build" -type f -name "$target" -perm -u+x | head -1)"
  [ "$built" -ef "$build/bin/$target" ] || cp "$built" "$build/bin/$target"
  echo "$tree|$cflags|$*" >"$build/.stamp"
}

# A writable copy of a vendored tree (the registry's is read-only to cargo), made once.
working_copy() { # tree dest → dest
  if [ ! -f "$2/.copied" ]; then
    rm -rf "$2"; cp -r "$1" "$2"; touch "$2/.copied"
  fi
  echo "$2"
}

# A file from the upstream checkout (or a folder holding just that file).
upstream_file() { # src rel-path base-name
  local src="$1" rel="$2" base="$3"
  if [ -f "$src/$rel" ]; then echo "$src/$rel"; elif [ -f "$src/$base" ]; then echo "$src/$base"; fi
}

# --- llama-bench ----------------------------------------------------------------------------------
# llama-bench.cpp from a checkout a few commits away from the vendored tree can call helpers of
# llama.cpp's `common` library whose signatures moved. Two such drifts are bridged here, both in
# set-up code outside the timed loop (MoE expert offload patterns, GPU memory fitting), so the
# measured work is untouched; each applied change is printed.
adapt_llama_bench() {
  local work="$1" f="$1/tools/llama-bench/llama-bench.cpp"
  if grep -q 'llm_ffn_exps_block_regex(' "$f" && ! grep -q 'llm_ffn_exps_block_regex' "$work/common/common.h" \
    && grep -q 'llm_ffn_block_regex(int idx, const char \* ffn_regex)' "$work/common/common.h"; then
    sed -i 's/llm_ffn_exps_block_regex(\([^)]*\))/llm_ffn_block_regex(\1, LLM_FFN_EXPS_REGEX)/' "$f"
    say "adapted llama-bench.cpp: llm_ffn_exps_block_regex(i) -> llm_ffn_block_regex(i, LLM_FFN_EXPS_REGEX) (MoE offload set-up)"
  fi
  if [ -f "$work/common/fit.h" ] && grep -q 'common_fit_extra_model \* extra' "$work/common/fit.h" \
    && ! grep -q 'common_fit_extra_model\|nullptr, *\(params.verbose\|GGML_LOG\)' "$f"; then
    perl -0pi -e 's/(common_fit_params\((?:[^;]*?),)(\s*)(params\.verbose \? GGML_LOG_LEVEL_DEBUG)/$1$2nullptr,$2$3/s' "$f"
    grep -q 'nullptr,\s*$' "$f" && say "adapted llama-bench.cpp: common_fit_params(..., nullptr /* no extra model */, log_level) (GPU memory fitting set-up)"
  fi
}

setup_llama() {
  local ver tree src cpp
  ver="$(lock_version llama-cpp-sys-2)"
  tree="$(registry_src llama-cpp-sys-2 "$ver")/llama.cpp"
  src="${llama_src:-$cache/llama-bench-src}"
  cpp="$(upstream_file "$src" tools/llama-bench/llama-bench.cpp llama-bench.cpp)"
  if [ -z "$cpp" ]; then
    say "no llama-bench.cpp in $src: cloning llama.cpp (${LLAMA_CPP_REF:-master})"
    git clone --quiet --depth 1 --branch "${LLAMA_CPP_REF:-master}" \
      https://github.com/ggml-org/llama.cpp "$cache/llama.cpp-upstream" \
      || die "no llama-bench source: pass --llama-cpp DIR (a llama.cpp checkout)"
    cpp="$cache/llama.cpp-upstream/tools/llama-bench/llama-bench.cpp"
  fi
  # The vendored tree with the tool's source put back where llama.cpp keeps it.
  local work
  work="$(working_copy "$tree" "$cache/llama.cpp-$ver")"
  mkdir -p "$work/tools/llama-bench"
  cp "$cpp" "$work/tools/llama-bench/llama-bench.cpp"
  adapt_llama_bench "$work"
  # Newer llama.cpp keeps llama-bench's body in a function `llama_bench` with `main` elsewhere.
  local sources="llama-bench.cpp"
  if ! grep -q '^int main' "$cpp"; then
    printf 'int llama_bench(int argc, char ** argv);\nint main(int argc, char ** argv) { return llama_bench(argc, argv); }\n' \
      >"$work/tools/llama-bench/main.cpp"
    sources="llama-bench.cpp main.cpp"
  fi
  # llama.cpp's helper library is `llama-common` in newer trees, `common` in older ones.
  local common=common
  grep -q 'set(TARGET llama-common)' "$work/common/CMakeLists.txt" && common=llama-common
  sed "s/@SOURCES@/$sources/; s/@COMMON@/$common/" >"$work/tools/llama-bench/CMakeLists.txt" <<'CMAKE'
set(TARGET llama-bench)
add_executable(${TARGET} @SOURCES@)
target_link_libraries(${TARGET} PRIVATE @COMMON@ llama ${CMAKE_THREAD_LIBS_INIT})
target_compile_features(${TARGET} PRIVATE cxx_std_17)
CMAKE
  # The vendored tree keeps none of the tools' folders: add just this one.
  grep -q 'tools/llama-bench' "$work/CMakeLists.txt" \
    || printf '\nadd_subdirectory(tools/llama-bench)\n' >>"$work/CMakeLists.txt"
  llama_cpp_file="$cpp"
  # llama-cpp-sys-2's settings (its build.rs): native off (the C flags carry the CPU), OpenMP on,
  # no curl, no tests/examples/tools/server/app (llama-bench is added above).
  build_tool "llama.cpp-$ver" "$work" "$work/tools/llama-bench" llama-bench \
    -DGGML_NATIVE=OFF -DGGML_OPENMP=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_APP=OFF -DGGML_METAL=OFF
  llama_bench="$cache/build-llama.cpp-$ver/bin/llama-bench"
  llama_version="llama.cpp vendored by llama-cpp-sys-2 $ver"
}

# --- whisper-bench --------------------------------------------------------------------------------
setup_whisper() {
  local ver tree wver src cpp
  ver="$(lock_version whisper-rs-sys)"
  tree="$(registry_src whisper-rs-sys "$ver")/whisper.cpp"
  wver="$(sed -n 's/^project("whisper.cpp" VERSION \([0-9.]*\)).*/\1/p' "$tree/CMakeLists.txt")"
  src="${whisper_src:-$cache/whisper-bench-src}"
  cpp="$(upstream_file "$src" examples/bench/bench.cpp bench.cpp)"
  if [ -z "$cpp" ]; then
    say "no bench.cpp in $src: cloning whisper.cpp v$wver"
    git clone --quiet --depth 1 --branch "v$wver" https://github.com/ggml-org/whisper.cpp \
      "$cache/whisper.cpp-v$wver" || die "no whisper-bench source: pass --whisper-cpp DIR (a whisper.cpp v$wver checkout)"
    cpp="$cache/whisper.cpp-v$wver/examples/bench/bench.cpp"
  fi
  local work
  work="$(working_copy "$tree" "$cache/whisper.cpp-$wver")"
  mkdir -p "$work/examples/bench"
  cp "$cpp" "$work/examples/bench/bench.cpp"
  # The vendored CMakeLists has no examples folder: add the one tool.
  grep -q 'examples/bench' "$work/CMakeLists.txt" \
    || printf '\nadd_executable(whisper-bench examples/bench/bench.cpp)\ntarget_link_libraries(whisper-bench PRIVATE whisper ${CMAKE_THREAD_LIBS_INIT})\n' >>"$work/CMakeLists.txt"
  whisper_cpp_file="$cpp"
  # whisper-rs-sys's settings (its build.rs): Release, static, Metal off, examples off; OpenMP
  # as the whispercpp worker is built (targets/whispercpp/Cargo.toml turns it on for Linux).
  build_tool "whisper.cpp-$wver" "$work" "$work/examples/bench" whisper-bench \
    -DWHISPER_BUILD_TESTS=OFF -DWHISPER_BUILD_EXAMPLES=OFF -DGGML_METAL=OFF -DGGML_OPENMP=ON
  whisper_bench="$cache/build-whisper.cpp-$wver/bin/whisper-bench"
  whisper_version="whisper.cpp $wver vendored by whisper-rs-sys $ver"
}

# --- models -----------------------------------------------------------------------------------------
cached_model() { # synth args… → the path `models synth` printed
  "$eb" models synth "$@" 2>/dev/null | grep -oE '/[^ ]+\.(gguf|bin)' | tail -1
}

mean_of() { python3 -c 'import sys,statistics as s; v=[float(x) for x in sys.argv[1:]]; print(s.mean(v))' "$@"; }

ratio() { python3 -c 'import sys; print(f"{float(sys.argv[1])/float(sys.argv[2]):.3f}")' "$1" "$2"; }

# One table row from the rounds: the medians of both sides, and the median of the rounds' own
# ratios (each round runs the tool and edgebench back to back, so what disturbed the machine
# during a round disturbed both; one disturbed round cannot move a median) with the
# distribution-free confidence interval of that median (its coverage printed: the range for 5–8
# rounds, 94% for 5 and 98% for 7; from 9 rounds on the k-th smallest to k-th largest, so more
# rounds narrow it: 96% for 9, 96% for 15). Also the ratio of the fastest repetitions of all rounds: a machine's
# disturbances only ever slow a repetition down, so the fastest are the least disturbed.
# kind: speed (t/s, higher is faster) or time (ms, lower is faster); lists are comma-separated.
# The verdict: ok when the whole interval is within ±3%, differs when it is wholly outside, and
# "?" (the machine too noisy to tell at this many rounds) when it straddles a bound, or when
# fewer than 5 rounds give an interval of under 90%.
paired_row() { # engine figure kind digits upstream-rounds edgebench-rounds upstream-all edgebench-all
  python3 - "$@" <<'PY'
import sys, statistics as st
engine, figure, kind, digits, up, eb, up_all, eb_all = sys.argv[1:]
nums = lambda s: [float(x) for x in s.split(",") if x]
up, eb, up_all, eb_all = map(nums, (up, eb, up_all, eb_all))
speed = lambda a, b: (b / a) if kind == "speed" else (a / b)
r = [speed(a, b) for a, b in zip(up, eb)]
best = (lambda v: max(v)) if kind == "speed" else (lambda v: min(v))
fastest = speed(best(up_all), best(eb_all))
# A distribution-free interval for the median ratio: [r(k), r(n+1-k)] of the sorted rounds, with
# the largest k whose coverage 1 - 2·P(Binomial(n, ½) < k) is still ≥ 95% (the range for 5–8
# rounds, narrower from 9 on); fewer than 5 rounds give no such interval.
from math import comb
n = len(r)
tail = lambda k: sum(comb(n, i) for i in range(k)) / 2 ** n
k = 1
while k + 1 <= n // 2 and 1 - 2 * tail(k + 1) >= 0.95:
    k += 1
coverage = 1 - 2 * tail(k)
lo, hi = sorted(r)[k - 1], sorted(r)[n - k]
if coverage < 0.9:  # fewer than 5 rounds
    verdict = "?"
else:
    verdict = "ok" if lo >= 0.97 and hi <= 1.03 else ("differs" if hi < 0.97 or lo > 1.03 else "?")
d = int(digits)
print(f"{engine}|{figure}|{st.median(up):.{d}f}|{st.median(eb):.{d}f}|{st.median(r):.3f}"
      f"|{lo:.2f}–{hi:.2f} ({coverage:.0%})|{fastest:.3f}|{verdict}")
PY
}
joined() { local IFS=,; echo "$*"; }

# edgebench's mean of a metric over a results file's repetitions, for tests of a workload.
eb_mean() { # file workload metric
  python3 - "$@" <<'PY'
import json, sys, statistics
path, workload, metric = sys.argv[1:]
vals = []
for line in open(path):
    rec = json.loads(line)
    if rec.get("kind", "test") != "test" and "repetitions" not in rec:
        continue
    if rec.get("scenario", {}).get("workload") != workload:
        continue
    for rep in rec.get("repetitions", []):
        if metric in rep.get("metrics", {}):
            vals.append(rep["metrics"][metric])
if not vals:
    sys.exit(f"{path}: no {metric} for {workload}")
print(statistics.mean(vals))
PY
}

# Every repetition's value of a metric in a results file, for tests of a workload (comma list).
eb_values() { # file workload metric [scale: x1000 for ms, inv1000 for ms per token]
  python3 - "$@" <<'PY'
import json, sys
path, workload, metric = sys.argv[1:4]
scale = sys.argv[4] if len(sys.argv) > 4 else ""
vals = []
for line in open(path):
    r = json.loads(line)
    if r.get("record") == "test" and r["scenario"]["workload"] == workload:
        for rep in r["repetitions"]:
            v = rep["metrics"].get(metric)
            if v:
                vals.append(v * 1000 if scale == "x1000" else (1000 / v if scale == "inv1000" else v))
print(",".join(str(v) for v in vals))
PY
}

rows=()

run_llama() {
  setup_llama
  [ -n "$llama_model" ] || llama_model="$(cached_model gemma-2b --quant q4_k_m)"
  [ -f "$llama_model" ] || die "no llama model (pass --llama-model FILE.gguf)"
  say "llama.cpp: $(basename "$llama_model"), -t $threads, pp$n_prompt / tg$n_gen, $reps reps, $rounds rounds"
  say "llama-bench source: $llama_cpp_file"
  local lb_pp=() lb_tg=() e_pp=() e_tg=() all_lb_pp="" all_lb_tg="" all_e_pp="" all_e_tg=""
  for r in $(seq 1 "$rounds"); do
    "$llama_bench" -m "$llama_model" -t "$threads" -p "$n_prompt" -n "$n_gen" -r "$reps" -o json \
      >"$out/llama-bench-$r.json" 2>"$out/llama-bench-$r.err" \
      || die "llama-bench failed: see $out/llama-bench-$r.err"
    "$eb" run --model "$llama_model" --target llamacpp -t "$threads" -p "$n_prompt" -n "$n_gen" \
      -r "$reps" --results "$out/edgebench-llama-$r.jsonl" --cooldown off >"$out/edgebench-llama-$r.log" 2>&1 \
      || die "edgebench run failed: see $out/edgebench-llama-$r.log"
    lb_pp+=("$(python3 -c 'import json,sys; t=[x for x in json.load(open(sys.argv[1])) if x["n_gen"]==0]; print(t[0]["avg_ts"])' "$out/llama-bench-$r.json")")
    lb_tg+=("$(python3 -c 'import json,sys; t=[x for x in json.load(open(sys.argv[1])) if x["n_prompt"]==0]; print(t[0]["avg_ts"])' "$out/llama-bench-$r.json")")
    e_pp+=("$(eb_mean "$out/edgebench-llama-$r.jsonl" "pp$n_prompt" pp_tps)")
    e_tg+=("$(eb_mean "$out/edgebench-llama-$r.jsonl" "tg$n_gen" tg_tps)")
    all_lb_pp+=",$(python3 -c 'import json,sys; t=[x for x in json.load(open(sys.argv[1])) if x["n_gen"]==0]; print(",".join(map(str, t[0]["samples_ts"])))' "$out/llama-bench-$r.json")"
    all_lb_tg+=",$(python3 -c 'import json,sys; t=[x for x in json.load(open(sys.argv[1])) if x["n_prompt"]==0]; print(",".join(map(str, t[0]["samples_ts"])))' "$out/llama-bench-$r.json")"
    all_e_pp+=",$(eb_values "$out/edgebench-llama-$r.jsonl" "pp$n_prompt" pp_tps)"
    all_e_tg+=",$(eb_values "$out/edgebench-llama-$r.jsonl" "tg$n_gen" tg_tps)"
    say "round $r: pp ${lb_pp[-1]} vs ${e_pp[-1]} t/s, tg ${lb_tg[-1]} vs ${e_tg[-1]} t/s (llama-bench vs edgebench)"
  done
  rows+=("$(paired_row llama.cpp "pp$n_prompt t/s" speed 2 "$(joined "${lb_pp[@]}")" "$(joined "${e_pp[@]}")" "$all_lb_pp" "$all_e_pp")")
  rows+=("$(paired_row llama.cpp "tg$n_gen t/s" speed 2 "$(joined "${lb_tg[@]}")" "$(joined "${e_tg[@]}")" "$all_lb_tg" "$all_e_tg")")
  grep -h "system_info\|CPU :" "$out"/llama-bench-1.err | head -1 >"$out/llama-system-info.txt" || true
}

run_whisper() {
  setup_whisper
  [ -n "$whisper_model" ] || whisper_model="$(cached_model whisper-tiny --quant f16 --format whisper-ggml)"
  [ -f "$whisper_model" ] || die "no whisper model (pass --whisper-model ggml-*.bin)"
  say "whisper.cpp: $(basename "$whisper_model"), -t $threads, $rounds rounds of $reps whisper-bench runs"
  local wb_enc=() wb_dec=() e_enc=() e_dec=() all_wb_enc="" all_wb_dec="" all_e_enc="" all_e_dec=""
  for r in $(seq 1 "$rounds"); do
    local enc=() dec=()
    for i in $(seq 1 "$reps"); do
      "$whisper_bench" -m "$whisper_model" -t "$threads" >"$out/whisper-bench-$r-$i.log" 2>&1 \
        || die "whisper-bench failed: see $out/whisper-bench-$r-$i.log"
      enc+=("$(sed -n 's/.*encode time = *\([0-9.]*\) ms.*/\1/p' "$out/whisper-bench-$r-$i.log")")
      dec+=("$(sed -n 's/.*decode time = .*(\s*\([0-9.]*\) ms per run).*/\1/p' "$out/whisper-bench-$r-$i.log")")
    done
    wb_enc+=("$(mean_of "${enc[@]}")"); wb_dec+=("$(mean_of "${dec[@]}")")
    all_wb_enc+=",$(joined "${enc[@]}")"; all_wb_dec+=",$(joined "${dec[@]}")"
    "$eb" run --model "$whisper_model" --target whispercpp -t "$threads" -w encode,decode-t256 \
      -r "$reps" --results "$out/edgebench-whisper-$r.jsonl" --cooldown off >"$out/edgebench-whisper-$r.log" 2>&1 \
      || die "edgebench run failed: see $out/edgebench-whisper-$r.log"
    e_enc+=("$(python3 -c 'import sys; print(float(sys.argv[1])*1000)' "$(eb_mean "$out/edgebench-whisper-$r.jsonl" encode encode_s)")")
    e_dec+=("$(python3 -c 'import sys; print(1000/float(sys.argv[1]))' "$(eb_mean "$out/edgebench-whisper-$r.jsonl" decode-t256 tg_tps)")")
    all_e_enc+=",$(eb_values "$out/edgebench-whisper-$r.jsonl" encode encode_s x1000)"
    all_e_dec+=",$(eb_values "$out/edgebench-whisper-$r.jsonl" decode-t256 tg_tps inv1000)"
    say "round $r: encoder ${wb_enc[-1]} vs ${e_enc[-1]} ms, decoder ${wb_dec[-1]} vs ${e_dec[-1]} ms/step (whisper-bench vs edgebench)"
  done
  rows+=("$(paired_row whisper.cpp "encoder ms" time 1 "$(joined "${wb_enc[@]}")" "$(joined "${e_enc[@]}")" "$all_wb_enc" "$all_e_enc")")
  rows+=("$(paired_row whisper.cpp "decoder ms/step" time 2 "$(joined "${wb_dec[@]}")" "$(joined "${e_dec[@]}")" "$all_wb_dec" "$all_e_dec")")
  grep -h "system_info" "$out"/whisper-bench-1-1.log | head -1 >"$out/whisper-system-info.txt" || true
}

case "$only" in all|llama) run_llama ;; esac
case "$only" in all|whisper) run_whisper ;; esac

# --- ONNX Runtime: onnxruntime-genai's own loop (scripts/fidelity_genai.py) -----------------------
# Its venv (onnxruntime-genai + the onnxruntime wheel edgebench loads) lives in $cache; the
# default model is edgebench's synthetic gemma-2b int4 GenAI folder. Part of `all` when python3
# is there; its rows join the table below.
if [ "$only" = onnxruntime ] || { [ "$only" = all ] && command -v python3 >/dev/null; }; then
  genai_rc=0
  python3 scripts/fidelity_genai.py --edgebench "$eb" -t "$threads" --rounds "$rounds" \
    -p "$n_prompt" -n "$n_gen" -r "$reps" --out "$out/onnxruntime" --rows "$out/genai-rows.txt" \
    >"$out/genai.log" || genai_rc=$?
  [ "$genai_rc" -le 1 ] || [ "$genai_rc" = 3 ] || die "scripts/fidelity_genai.py failed (exit $genai_rc): see $out/genai.log"
  while IFS= read -r row; do rows+=("$row"); done <"$out/genai-rows.txt"
  genai_version="$(grep '^GenAI:' "$out/genai.log")"
fi

echo
echo "| engine | figure | upstream tool | edgebench | ratio (edgebench speed ÷ tool's) | rounds' ratios (interval) | fastest ÷ fastest | within 3%? |"
echo "|---|---|---|---|---|---|---|---|"
fail=0; unsure=0
for row in "${rows[@]}"; do
  IFS='|' read -r engine fig up ebv r range fastest verdict <<<"$row"
  if [ -z "${verdict:-}" ]; then  # onnxruntime-genai's rows: one ratio of means
    verdict=$(python3 -c 'import sys; print("ok" if abs(float(sys.argv[1])-1) <= 0.03 else "differs")' "$r")
  fi
  case "$verdict" in differs) fail=1 ;; "?") unsure=1 ;; esac
  echo "| $engine | $fig | $up | $ebv | $r | ${range:-} | ${fastest:-} | $verdict |"
done
echo
echo "threads $threads, $rounds interleaved rounds, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
case "$only" in all|llama) echo "llama-bench: $llama_version + $(basename "$llama_cpp_file") from $(dirname "$llama_cpp_file")" ;; esac
case "$only" in all|whisper) echo "whisper-bench: $whisper_version + bench.cpp from $(dirname "$whisper_cpp_file")" ;; esac
[ -z "${genai_version:-}" ] || echo "$genai_version"
echo "raw outputs: $out"
if [ "$fail" = 1 ]; then exit 1; fi
if [ "$unsure" = 1 ]; then
  echo "Some figures (?) cannot be told from ±3% at this noise: run more --rounds, or on a quieter machine." >&2
  exit 3
fi
exit 0
