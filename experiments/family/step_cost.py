"""What one train step of a config costs here: XLA's FLOP count of the jitted step and its
median wall-clock on this backend (after a warm-up step), at batch ``--batch-size``.

    python experiments/family/step_cost.py --configs dcgan_fashion sngan_fashion sngan_resnet_fashion

Each ``--setting`` (comma-separated key=value) is applied to every config; repeat it to
compare variants, e.g. ``--setting '' --setting g_width=64,d_width=64``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import jax
import jax.numpy as jnp

from gan_jax import configs
from gan_jax.bench.throughput import compiled_flops
from gan_jax.tasks import init_state
from gan_jax.tasks import make_train_step


def step_cost(config, repeats: int) -> tuple[float, float]:
    """(GFLOP per step from XLA's cost analysis, median seconds per step) for ``config``."""
    state = init_state(config)
    shape = (config.real_batch_size, config.resolution, config.resolution, config.channels)
    batch = {"image": jnp.zeros(shape, jnp.float32)}
    if config.num_classes:
        batch["label"] = jnp.zeros((config.real_batch_size,), jnp.int32)
    step = jax.jit(make_train_step(config))
    compiled = step.lower(state, batch).compile()
    state, _ = compiled(state, batch)  # warm-up
    jax.block_until_ready(state)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        state, _ = compiled(state, batch)
        jax.block_until_ready(state)
        times.append(time.perf_counter() - start)
    return compiled_flops(compiled) / 1e9, statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="+", default=["dcgan_fashion", "sngan_fashion", "sngan_resnet_fashion"])
    ap.add_argument("--setting", action="append", default=[], help="comma-separated key=value overrides; repeatable")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3, help="timed steps after the warm-up (default: %(default)s)")
    args = ap.parse_args(argv)
    print(f"backend {jax.default_backend()}, batch {args.batch_size}")
    print("| config | setting | GFLOP per step | seconds per step (median) |\n|---|---|---|---|")
    for name in args.configs:
        for setting in args.setting or [""]:
            overrides = [kv for kv in setting.split(",") if kv] + [f"batch_size={args.batch_size}"]
            config = configs.validate(configs.override(configs.get(name), overrides))
            gflop, seconds = step_cost(config, args.repeats)
            print(f"| `{name}` | {setting or '–'} | {gflop:.1f} | {seconds:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
