"""Train-step throughput of two checkouts of gan_jax, side by side: A/B/A/B... in fresh processes.

One process cannot import two versions of a package, so each round runs one short timing
process per tree, alternating, and the ratio is taken round by round (this tree over the
base). Each process times the default train step (the one ``gan-jax train`` runs: jit, XLA's
default flags) on a fixed batch: compile, warm up, then the median of ``--steps`` steps.
Only the public API is used, so any version of the library can be the base::

    git worktree add /tmp/base 586a9ae
    python benchmarks/ab_trees.py --base /tmp/base --rounds 6
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_TIMING = r"""
import json, statistics, sys, time
import jax, numpy as np
import gan_jax
from gan_jax import configs
name, batch_size, resolution, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
config = configs.override(configs.get(name), [f"batch_size={batch_size}", f"resolution={resolution}"])
state = gan_jax.init_state(config)
batch = {"image": np.random.default_rng(0).uniform(-1, 1, (batch_size, resolution, resolution,
                                                        config.channels)).astype(np.float32)}
step = jax.jit(gan_jax.make_train_step(config), donate_argnums=0).lower(state, batch).compile()
for _ in range(3):
    state, _ = step(state, batch)
jax.block_until_ready(state)
times = []
for _ in range(steps):
    t = time.perf_counter()
    state, _ = step(state, batch)
    jax.block_until_ready(state)
    times.append(time.perf_counter() - t)
print(json.dumps({"file": gan_jax.__file__, "median_s": statistics.median(times)}))
"""

_HLO = r"""
import re, sys, numpy as np, jax, gan_jax
from gan_jax import configs
config = configs.override(configs.get(sys.argv[1]), [f"batch_size={sys.argv[2]}", f"resolution={sys.argv[3]}"])
state = gan_jax.init_state(config)
batch = {"image": np.zeros((config.batch_size, config.resolution, config.resolution, config.channels), np.float32)}
hlo = jax.jit(gan_jax.make_train_step(config), donate_argnums=0).lower(state, batch).as_text(dialect="hlo")
print(hlo)
"""


def hlo_instructions(tree: str, setting: str):
    """The lowered train step of ``setting`` at ``tree`` as a multiset of HLO instructions, with
    metadata, value numbers and the Python names XLA takes from the code stripped (what is left
    is what the program computes, whatever order it was traced in)."""
    import collections
    import re

    name, batch, resolution = SETTINGS[setting]
    env = {**{k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}, "PYTHONPATH": tree}
    text = subprocess.run([sys.executable, "-c", _HLO, name, str(batch), str(resolution)], env=env, cwd=tree,
                          capture_output=True, text=True, check=True).stdout
    text = re.sub(r", metadata=\{[^}]*\}", "", text)
    text = re.sub(r"HloModule \S+", "HloModule m", text)
    text = re.sub(r"\b\w*__locals__\w*", "x", text)
    return collections.Counter(re.sub(r"\.[0-9]+", "", line).strip() for line in text.splitlines())


SETTINGS = {"dcgan28:128": ("dcgan_mnist", 128, 28), "dcgan64:64": ("dcgan_64", 64, 64)}


def time_tree(tree: str, setting: str, steps: int) -> float:
    """Median seconds per step of ``setting`` with the library at ``tree``."""
    name, batch, resolution = SETTINGS[setting]
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["PYTHONPATH"] = tree
    out = subprocess.run([sys.executable, "-c", _TIMING, name, str(batch), str(resolution), str(steps)],
                         env=env, cwd=tree, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["file"].startswith(os.path.abspath(tree)):
        raise RuntimeError(f"{tree}: imported gan_jax from {result['file']}, not from that tree")
    return result["median_s"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True, help="the other checkout (the root of its repo)")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--steps", type=int, default=20, help="timed steps per process")
    p.add_argument("--settings", default="dcgan28:128,dcgan64:64")
    p.add_argument("--compare-hlo", action="store_true", help="also compare the two trees' lowered train steps")
    args = p.parse_args(argv)
    trees = {"base": os.path.abspath(args.base), "this": HERE}
    for setting in args.settings.split(",") if args.compare_hlo else ():
        base, this = (hlo_instructions(trees[k], setting) for k in ("base", "this"))
        print(f"{setting}: lowered step, {sum(base.values())} vs {sum(this.values())} HLO instructions; the same "
              f"instructions (up to order and names): {base == this}", flush=True)
    for setting in args.settings.split(",") if args.rounds > 0 else ():
        ratios, times = [], {k: [] for k in trees}
        for r in range(args.rounds):
            order = ("base", "this") if r % 2 == 0 else ("this", "base")
            for which in order:
                times[which].append(time_tree(trees[which], setting, args.steps))
            ratios.append(times["base"][-1] / times["this"][-1])
            print(f"{setting} round {r}: base {1000 * times['base'][-1]:.1f} ms, this {1000 * times['this'][-1]:.1f} ms,"
                  f" this/base throughput {ratios[-1]:.3f}", flush=True)
        print(f"{setting}: median step base {1000 * statistics.median(times['base']):.1f} ms, this "
              f"{1000 * statistics.median(times['this']):.1f} ms; throughput this/base median {statistics.median(ratios):.3f}"
              f" (min {min(ratios):.3f}, max {max(ratios):.3f}, {args.rounds} rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
