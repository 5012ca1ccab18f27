"""End to end: `gan-jax train --steps N --no-progress` wall time with 1 step per call against K
fused steps per call (warm-started: single steps while the K-step program compiles in the
background), fresh processes, each with an empty compilation cache, the K order rotating each
repeat (the variants share the machine's load). Reports, per K, the median wall time, the first
step (`TrainResult.first_step_at`) and the step the fused calls started at, and each repeat's
ratio against K = 1::

    python benchmarks/warm_start_wall.py --steps 1000 --repeats 2 --ks 1,4,2 --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, os, sys, time
t0 = float(sys.argv[1])
from gan_jax import cli
k, steps = int(sys.argv[2]), sys.argv[3]
args = ["--workdir", sys.argv[4], "--steps", steps, "--no-progress", "--set", "log_every=100"]
if k > 1:
    args += ["--steps-per-call", str(k)]
result = cli.run_train(args)
print("RESULT " + json.dumps({"first_step": result.first_step_at - t0, "train_s": result.seconds,
                              "fused_from": result.fused_from, "step": result.step}))
"""


def run_once(k: int, steps: int, tmp: str, tag: str) -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=os.path.join(tmp, f"cache-{tag}"))
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD, repr(t0), str(k), str(steps), os.path.join(tmp, f"run-{tag}")],
                         capture_output=True, text=True, env=env)
    wall = time.time() - t0
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if out.returncode or line is None:
        raise RuntimeError(f"child failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return {**json.loads(line[len("RESULT "):]), "wall": wall}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--ks", default="1,4,2")
    p.add_argument("--json")
    args = p.parse_args(argv)
    ks = [int(k) for k in args.ks.split(",")]
    runs: dict[int, list[dict]] = {k: [] for k in ks}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for k in ks[i % len(ks):] + ks[:i % len(ks)]:
                r = run_once(k, args.steps, tmp, f"{i}-{k}")
                runs[k].append(r)
                print(f"#{i} K={k}: wall {r['wall']:.1f} s, first step {r['first_step']:.1f} s, "
                      f"fused from step {r['fused_from']}", file=sys.stderr, flush=True)
    print("| K | wall (s, median) | first step (s) | fused from step | wall ÷ K=1 (per repeat) |")
    print("|---|---|---|---|---|")
    base = runs.get(1)
    for k, rs in runs.items():
        ratios = ", ".join(f"{r['wall'] / b['wall']:.3f}" for r, b in zip(rs, base)) if base else ""
        print(f"| {k} | {statistics.median(r['wall'] for r in rs):.1f} | "
              f"{statistics.median(r['first_step'] for r in rs):.1f} | "
              f"{', '.join(str(r['fused_from']) for r in rs)} | {ratios} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({str(k): v for k, v in runs.items()}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
