#!/usr/bin/env python3
"""Do edgebench's ONNX Runtime figures equal onnxruntime-genai's own?

Runs onnxruntime-genai's generation loop (the PyPI wheel, in a venv of its own under
~/.cache/edgebench/reference/, never in the repository) and `edgebench run --target onnxruntime`
on the same GenAI folder with the same intra-op threads, interleaved (GenAI, edgebench, GenAI,
edgebench, ...: a machine that drifts between minutes drifts for both), and prints edgebench ÷
GenAI for each figure. 1.00 is equal; the project's promise is within 3%.

  scripts/fidelity_genai.py                          # gemma-2b int4 (synthesized), all cores
  scripts/fidelity_genai.py --model FOLDER -t 2 --rounds 5 -p 128 -n 32 -r 5

Figures compared (README "Fidelity"):
  pp t/s  N ÷ time of GenAI's `append_tokens(prompt)` (the one prefill run over N tokens),
          vs edgebench's ppN (the one prefill call), mean of repetitions
  tg t/s  M ÷ time of M `generate_next_token()` calls that each run the model on one token,
          vs edgebench's tgM (M single-token decodes), mean of repetitions

GenAI's first `generate_next_token()` after `append_tokens` only picks a token from the prefill
logits; every later call runs the model on the last token and picks the next. So the tg
repetition appends one seeded token (edgebench's tg test also starts from one token at position
0), makes that first call untimed, and times the next M, with max_length = min_length = 1 + 1 + M
(min_length keeps end-of-sequence from stopping it early; edgebench ignores it too).

onnxruntime-genai 0.18.0 is the release whose wheel requires onnxruntime >= 1.31.0 (0.17.x: >=
1.30); it is installed with onnxruntime==1.31.1, the release scripts/setup.sh installs for
edgebench, and loads that wheel's libonnxruntime: both sides run the same library build.

Exit status: 0 when every figure is within 3% (ok), 1 when one differs, 3 when one cannot be told
from ±3% at this noise (?), 2 on an error. Figures are medians of the rounds' paired ratios, as in
scripts/fidelity.sh.
"""

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

GENAI_VERSION = "0.18.0"
ORT_VERSION = "1.31.1"  # scripts/setup.sh's ORT_VERSION
TOLERANCE = 0.03


def die(msg):
    print(f"fidelity_genai.py: {msg}", file=sys.stderr)
    sys.exit(2)


def say(msg):
    print(f"\033[1m[fidelity onnxruntime]\033[0m {msg}", file=sys.stderr, flush=True)


# --- The GenAI side (runs inside the reference venv) ---------------------------------------------


def genai_tokens(seed, n, vocab):
    """n pseudo-random token ids that are not the synthetic vocabulary's specials (0–2)."""
    rng = random.Random(seed)
    return [rng.randrange(3, vocab) for _ in range(n)]


def genai_worker(args):
    """One round: a warmup, then R pp and R tg repetitions; one JSON line per repetition."""
    import onnxruntime_genai as og

    folder = Path(args.model)
    vocab = json.loads((folder / "genai_config.json").read_text())["model"]["vocab_size"]
    config = og.Config(str(folder))
    config.clear_providers()  # the CPU execution provider
    config.overlay(
        json.dumps({"model": {"decoder": {"session_options": {"intra_op_num_threads": args.threads}}}})
    )
    model = og.Model(config)

    def generator(length):
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=length, min_length=length, do_sample=False, batch_size=1)
        return og.Generator(model, params)

    def pp(seed):
        gen = generator(args.p + 1)
        prompt = genai_tokens(seed, args.p, vocab)
        start = time.perf_counter()
        gen.append_tokens(prompt)
        return time.perf_counter() - start

    def tg(seed):
        gen = generator(1 + 1 + args.n)
        gen.append_tokens(genai_tokens(seed, 1, vocab))
        gen.generate_next_token()  # picks from the one-token prefill's logits; runs nothing
        steps = []
        for _ in range(args.n):
            if gen.is_done():
                raise SystemExit("GenAI stopped before M steps (max_length/min_length)")
            start = time.perf_counter()
            gen.generate_next_token()
            steps.append(time.perf_counter() - start)
        if len(gen.get_sequence(0)) != 1 + 1 + args.n:
            raise SystemExit(f"GenAI sequence of {len(gen.get_sequence(0))} tokens, expected {2 + args.n}")
        return steps

    # One untimed warmup of each, as edgebench's.
    if args.p > 0:
        pp(args.seed)
    if args.n > 0:
        tg(args.seed)
    for r in range(args.r):
        if args.p > 0:
            s = pp(args.seed + r)
            print(json.dumps({"figure": "pp", "tps": args.p / s, "s": s}), flush=True)
        if args.n > 0:
            steps = tg(args.seed + r)
            print(json.dumps({"figure": "tg", "tps": args.n / sum(steps), "steps_s": steps}), flush=True)


# --- The orchestrator (system python3) ---------------------------------------------------------


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edgebench" / "reference"


def genai_python():
    """The reference venv's python, created on first use."""
    venv = cache_dir() / f"onnxruntime-genai-{GENAI_VERSION}"
    py = venv / "bin" / "python"
    probe = [str(py), "-c", "import onnxruntime_genai as g, onnxruntime as o; print(g.__version__, o.__version__)"]
    if py.exists():
        got = subprocess.run(probe, capture_output=True, text=True)
        if got.returncode == 0 and got.stdout.split() == [GENAI_VERSION, ORT_VERSION]:
            return py
    say(f"installing onnxruntime-genai {GENAI_VERSION} + onnxruntime {ORT_VERSION} into {venv} (once)")
    if subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)]).returncode != 0:
        die(f"cannot create a venv at {venv} (install python3-venv)")
    pip = [str(py), "-m", "pip", "install", "--quiet", "--only-binary=:all:"]
    if subprocess.run(pip + [f"onnxruntime-genai=={GENAI_VERSION}", f"onnxruntime=={ORT_VERSION}"]).returncode != 0:
        die(f"pip could not install onnxruntime-genai=={GENAI_VERSION} onnxruntime=={ORT_VERSION} into {venv}")
    got = subprocess.run(probe, capture_output=True, text=True)
    if got.returncode != 0:
        die(f"{venv}: onnxruntime_genai does not import: {got.stderr.strip().splitlines()[-1:]}")
    return py


def synth_folder(eb, scenario):
    """`edgebench models synth SCENARIO --quant int4`: the folder it printed."""
    got = subprocess.run([eb, "models", "synth", scenario, "--quant", "int4"], capture_output=True, text=True)
    for line in (got.stdout + got.stderr).splitlines()[::-1]:
        for word in line.split():
            p = Path(word.strip("`'\",:"))
            if p.is_absolute() and (p / "genai_config.json").is_file():
                return p
    die(f"`{eb} models synth {scenario} --quant int4` gave no GenAI folder:\n{got.stdout}{got.stderr}")


def eb_values(path, workload, metric):
    """Per-repetition values of `metric` in an edgebench results file, for tests of `workload`."""
    vals = []
    for line in open(path):
        rec = json.loads(line)
        if rec.get("scenario", {}).get("workload") != workload:
            continue
        for rep in rec.get("repetitions", []):
            if metric in rep.get("metrics", {}):
                vals.append(rep["metrics"][metric])
    if not vals:
        die(f"{path}: no {metric} for {workload}")
    return vals


def run_round(args, py, eb, out, r):
    cmd = [str(py), __file__, "--genai-worker", "--model", str(args.model), "-t", str(args.threads),
           "-p", str(args.p), "-n", str(args.n), "-r", str(args.r), "--seed", str(args.seed)]
    log = out / f"genai-{r}.jsonl"
    with open(log, "w") as f, open(out / f"genai-{r}.err", "w") as err:
        if subprocess.run(cmd, stdout=f, stderr=err).returncode != 0:
            die(f"the GenAI loop failed: see {out / f'genai-{r}.err'}")
    reps = [json.loads(line) for line in open(log)]
    g = {fig: [x["tps"] for x in reps if x["figure"] == fig] for fig in ("pp", "tg")}

    results = out / f"edgebench-{r}.jsonl"
    cmd = [eb, "run", "--model", str(args.model), "--target", "onnxruntime", "-t", str(args.threads),
           "-p", str(args.p), "-n", str(args.n), "-r", str(args.r), "--seed", str(args.seed),
           "--results", str(results), "--cooldown", "off"]
    with open(out / f"edgebench-{r}.log", "w") as f:
        if subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode != 0:
            die(f"edgebench run failed: see {out / f'edgebench-{r}.log'}")
    e = {}
    if args.p > 0:
        e["pp"] = eb_values(results, f"pp{args.p}", "pp_tps")
    if args.n > 0:
        e["tg"] = eb_values(results, f"tg{args.n}", "tg_tps")
    return g, e


def fmt(vals):
    return " ".join(f"{v:.2f}" for v in vals)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="a GenAI folder (default: edgebench's synthetic int4 of --scenario)")
    ap.add_argument("--scenario", default="gemma-2b", help="scenario synthesized when no --model (default gemma-2b)")
    ap.add_argument("-t", "--threads", type=int, default=os.cpu_count())
    ap.add_argument("-p", type=int, default=128, help="prompt tokens (pp test)")
    ap.add_argument("-n", type=int, default=32, help="generated tokens (tg test)")
    ap.add_argument("-r", type=int, default=5, help="repetitions per round on each side")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--edgebench", default=str(Path(__file__).resolve().parent.parent / "target/release/edgebench"))
    ap.add_argument("--out", help="raw outputs (default target/fidelity/onnxruntime)")
    ap.add_argument("--rows", help="also write engine|figure|genai|edgebench|ratio lines here (fidelity.sh)")
    ap.add_argument("--genai-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.genai_worker:
        return genai_worker(args)
    if args.p < 0 or args.n < 0 or args.p + args.n == 0 or args.r < 1 or args.rounds < 1 or args.threads < 1:
        die("-p and -n must not both be 0; -r, --rounds and -t must be at least 1")

    eb = args.edgebench
    if not os.access(eb, os.X_OK):
        die(f"{eb}: no edgebench binary (run scripts/setup.sh, or pass --edgebench)")
    py = genai_python()
    if args.model is None:
        args.model = synth_folder(eb, args.scenario)
    elif not (Path(args.model) / "genai_config.json").is_file():
        die(f"{args.model}: not a GenAI folder (no genai_config.json)")
    args.model = Path(args.model).resolve()
    out = Path(args.out) if args.out else Path(eb).resolve().parent.parent / "fidelity" / "onnxruntime"
    out.mkdir(parents=True, exist_ok=True)

    say(f"{args.model}, -t {args.threads}, pp{args.p} / tg{args.n}, {args.r} reps, {args.rounds} rounds")
    g_all = {"pp": [], "tg": []}
    e_all = {"pp": [], "tg": []}
    paired = {"pp": [], "tg": []}  # per round: (GenAI mean, edgebench mean)
    for r in range(1, args.rounds + 1):
        g, e = run_round(args, py, eb, out, r)
        parts = []
        for fig in ("pp", "tg"):
            if e.get(fig):
                g_all[fig] += g[fig]
                e_all[fig] += e[fig]
                paired[fig].append((statistics.mean(g[fig]), statistics.mean(e[fig])))
                parts.append(f"{fig} GenAI [{fmt(g[fig])}] vs edgebench [{fmt(e[fig])}] t/s")
        say(f"round {r}: " + "; ".join(parts))

    rows = []
    for fig, n in (("pp", args.p), ("tg", args.n)):
        if paired[fig]:
            rows.append(paired_row(fig, n, paired[fig], max(g_all[fig]), max(e_all[fig])))
    if args.rows:
        Path(args.rows).write_text("".join("|".join(row) + "\n" for row in rows))

    print()
    print("| engine | figure | upstream tool | edgebench | ratio (edgebench speed ÷ tool's) "
          "| rounds' ratios (interval) | fastest ÷ fastest | within 3%? |")
    print("|---|---|---|---|---|---|---|---|")
    verdicts = set()
    for row in rows:
        verdicts.add(row[-1])
        print("| " + " | ".join(row) + " |")
    print()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    print(f"threads {args.threads}, {args.rounds} interleaved rounds of {args.r} repetitions, "
          f"{os.cpu_count()} CPUs, load average {load}")
    print(f"GenAI: onnxruntime-genai {GENAI_VERSION} with onnxruntime {ORT_VERSION} ({py})")
    print(f"raw outputs: {out}")
    if "differs" in verdicts:
        return 1
    if "?" in verdicts:
        say("some figures (?) cannot be told from ±3% at this noise: run more --rounds, or on a quieter machine")
        return 3
    return 0


def paired_row(fig, n, rounds, g_best, e_best):
    """One row as scripts/fidelity.sh prints it: the medians of both sides' round means, the
    median of the rounds' own ratios (GenAI and edgebench back to back in each round) with its
    distribution-free interval ([r(k), r(n+1-k)], the largest k keeping 95% coverage; the range
    for 5-8 rounds), the ratio of the fastest repetitions, and the verdict: ok when the interval
    lies within ±3%, differs when wholly outside, ? when it straddles a bound or when fewer than
    5 rounds give an interval of under 90%."""
    ratios = sorted(e / g for g, e in rounds)
    m = len(ratios)
    tail = lambda k: sum(math.comb(m, i) for i in range(k)) / 2 ** m
    k = 1
    while k + 1 <= m // 2 and 1 - 2 * tail(k + 1) >= 0.95:
        k += 1
    coverage = 1 - 2 * tail(k)
    lo, hi = ratios[k - 1], ratios[m - k]
    if coverage < 0.9:
        verdict = "?"
    elif lo >= 1 - TOLERANCE and hi <= 1 + TOLERANCE:
        verdict = "ok"
    elif hi < 1 - TOLERANCE or lo > 1 + TOLERANCE:
        verdict = "differs"
    else:
        verdict = "?"
    return ("onnxruntime-genai", f"{fig}{n} t/s",
            f"{statistics.median(g for g, _ in rounds):.2f}",
            f"{statistics.median(e for _, e in rounds):.2f}",
            f"{statistics.median(ratios):.3f}", f"{lo:.2f}–{hi:.2f} ({coverage:.0%})",
            f"{e_best / g_best:.3f}", verdict)


if __name__ == "__main__":
    sys.exit(main())
