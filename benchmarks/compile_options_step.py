"""Step time of the dcgan_mnist train step under ``compile_levers.py``'s variants, interleaved.

Compiles one step per variant, then alternates them step by step for ``--rounds``
rounds (order reversed every other round) and prints each one's median and its median
paired ratio to the first.

    python benchmarks/compile_options_step.py --variants default,O2,O1 --rounds 60
"""
import argparse
import statistics
import time

import jax
import numpy as np

from compile_levers import VARIANTS  # benchmarks/, the script's own folder
from gan_jax import configs
from gan_jax.tasks import init_state
from gan_jax.tasks import make_train_step


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", default="default,O2,O1", help=f"of {', '.join(VARIANTS)}")
    p.add_argument("--rounds", type=int, default=40)
    args = p.parse_args(argv)
    config = configs.get("dcgan_mnist")
    state = init_state(config)
    r = config.resolution
    batch = {"image": np.random.default_rng(0).uniform(-1, 1, (config.batch_size, r, r, config.channels))
             .astype(np.float32)}
    names = args.variants.split(",")
    compiled, states, times = {}, {}, {k: [] for k in names}
    for k in names:
        ctx, opts = VARIANTS[k]
        with ctx():
            low = jax.jit(make_train_step(config), donate_argnums=0).lower(state, batch)
            t = time.perf_counter()
            compiled[k] = low.compile(compiler_options=opts) if opts else low.compile()
        print(f"{k}: compile {time.perf_counter() - t:.2f} s", flush=True)
        states[k] = jax.tree.map(lambda x: x.copy(), state)
        for _ in range(2):  # warm-up
            states[k], _ = compiled[k](states[k], batch)
            jax.block_until_ready(states[k])
    for i in range(args.rounds):
        for k in (names if i % 2 == 0 else names[::-1]):
            t = time.perf_counter()
            states[k], _ = compiled[k](states[k], batch)
            jax.block_until_ready(states[k])
            times[k].append(time.perf_counter() - t)
    for k in names:
        ratio = statistics.median(a / b for a, b in zip(times[k], times[names[0]]))
        print(f"{k}: median {1000 * statistics.median(times[k]):.1f} ms, paired ratio to {names[0]} {ratio:.3f}")


if __name__ == "__main__":
    main()
