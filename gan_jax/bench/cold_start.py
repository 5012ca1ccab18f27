"""Cold start: process start -> first completed ``dcgan_mnist`` train step, in fresh processes.

Each run is a new Python process (``sys.executable -c ...``). ``--path cli`` (default)
runs what ``gan-jax train --steps 1`` runs (``gan_jax.cli.run_train``: run folder,
logs, data, state, compiled step) and reads when its first step finished
(``TrainResult.first_step_at``). ``--path library`` runs only the core of it, with
a time for each phase: import, load the embedded MNIST-5k, build the state (jitted
init), compile and run one step (``make_parallel_step``). Modes:

* ``no-cache``    no persistent compilation cache
* ``cache-cold``  ``jax_compilation_cache_dir`` set to an empty folder (the first run ever)
* ``cache-warm``  the same folder again (every later run)

``--steps-per-call 1,2,4`` (``--path cli``) runs ``gan-jax train --steps K --steps-per-call K
--set log_every=100`` for each K in turn within every repeat, so the variants see the same
machine load. Since fused runs start warm (``gan_jax.train``: single steps first, the K-step
program compiled in the background, only in runs with ``FUSED_MIN_STEPS`` steps left), the
first step of every K is a single step; before, it was the first call of K fused steps::

    python benchmarks/cold_start.py --repeats 3 --json cold.json
    python benchmarks/cold_start.py --repeats 3 --path library
    python benchmarks/cold_start.py --repeats 4 --modes cache-cold --steps-per-call 1,2,4
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

CLI_CHILD = r"""
import os, sys, time, json, tempfile
t_start = float(sys.argv[1])
marks = {"python_start": time.time() - t_start}
os.environ["JAX_COMPILATION_CACHE_DIR"] = sys.argv[2]  # empty: no persistent cache
from gan_jax import cli
import gan_jax.train
marks["imports"] = time.time() - t_start
k = int(sys.argv[3]) if len(sys.argv) > 3 else 1
fused = ["--steps-per-call", str(k), "--set", "log_every=100"] if k > 1 else []
with tempfile.TemporaryDirectory() as tmp:
    result = cli.run_train(["--workdir", os.path.join(tmp, "run"), "--steps", str(k), "--no-progress", *fused])
marks["first_step"] = result.first_step_at - t_start
print("MARKS " + json.dumps(marks))
"""

LIBRARY_CHILD = r"""
import os, sys, time, json
t_start = float(sys.argv[1])
marks = {"python_start": time.time() - t_start}
import numpy as np
import jax
cache = sys.argv[2]
if cache:
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
import gan_jax
from gan_jax import configs
from gan_jax.data import load_source
from gan_jax.parallel import make_parallel_step
from gan_jax.tasks import init_state
marks["imports"] = time.time() - t_start
config = configs.get("dcgan_mnist")
source = load_source(config.dataset, resolution=config.resolution, channels=config.channels)
batch = {"image": source.images[:config.batch_size].astype(np.float32) / 127.5 - 1.0}
marks["data"] = time.time() - t_start
ps = make_parallel_step(config)
state = ps.put_state(init_state(config))
jax.block_until_ready(state)
marks["init_state"] = time.time() - t_start
state, metrics = ps.step(state, ps.put_batch(batch))
jax.block_until_ready((state, metrics))
marks["first_step"] = time.time() - t_start
print("MARKS " + json.dumps(marks))
"""


CHILDREN = {"cli": CLI_CHILD, "library": LIBRARY_CHILD}
PHASES = {"cli": ["python_start", "imports", "first_step", "process_exit"],
          "library": ["python_start", "imports", "data", "init_state", "first_step", "process_exit"]}


def run_once(cache: str, env=None, path: str = "cli", steps_per_call: int = 1) -> dict:
    t0 = time.time()
    extra = [str(steps_per_call)] if steps_per_call > 1 else []
    out = subprocess.run([sys.executable, "-c", CHILDREN[path], repr(t0), cache, *extra], capture_output=True,
                         text=True, env=env)
    wall = time.time() - t0
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("MARKS ")), None)
    if out.returncode or line is None:
        raise RuntimeError(f"child failed ({out.returncode}):\n{out.stderr[-2000:]}")
    marks = json.loads(line[len("MARKS "):])
    marks["process_exit"] = wall
    return marks


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--modes", default="no-cache,cache-cold,cache-warm")
    p.add_argument("--path", choices=sorted(CHILDREN), default="cli",
                   help="cli: what `gan-jax train` runs (default); library: its core, phase by phase")
    p.add_argument("--steps-per-call", default="1",
                   help="comma-separated K (--path cli): one variant per K, `gan-jax train --steps-per-call K`")
    p.add_argument("--json")
    args = p.parse_args(argv)
    ks = [int(k) for k in args.steps_per_call.split(",")]
    if args.path != "cli" and ks != [1]:
        raise SystemExit("--steps-per-call: only with --path cli")
    env = dict(os.environ)
    env.setdefault("JAX_PLATFORMS", "cpu")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for k in ks[i % len(ks):] + ks[:i % len(ks)]:  # the order rotates each repeat
                for mode in args.modes.split(","):
                    cache = ""
                    if mode == "cache-cold":
                        cache = os.path.join(tmp, f"cold{i}-{k}")  # a fresh, empty folder each time
                    elif mode == "cache-warm":
                        cache = os.path.join(tmp, f"warm-{k}")
                        if not os.path.isdir(cache):
                            run_once(cache, env, args.path, k)  # populate it once
                    name = mode if ks == [1] else f"{mode} K={k}"
                    results.setdefault(name, []).append(run_once(cache, env, args.path, k))
                    print(f"{name} #{i}: first step done {results[name][-1]['first_step']:.2f} s after start",
                          file=sys.stderr, flush=True)
    phases = PHASES[args.path]
    print("| mode | " + " | ".join(f"{ph} (s)" for ph in phases) + " |")
    print("|---|" + "---|" * len(phases))
    for mode, runs in results.items():
        med = {ph: statistics.median(r[ph] for r in runs) for ph in phases}
        print(f"| {mode} | " + " | ".join(f"{med[ph]:.2f}" for ph in phases) + " |")
    print(f"\n`--path {args.path}`: medians of {args.repeats} fresh processes; times are since the parent "
          f"launched the process (cumulative); first_step = the first dcgan_mnist step completed.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
