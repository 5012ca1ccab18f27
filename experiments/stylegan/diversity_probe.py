"""Sample diversity during a short run: the per-pixel standard deviation over 256 samples of
the raw (non-EMA) generator every 100 steps (the real MNIST-5k digits give 0.37; a generator
collapsing to one image falls towards 0), with D's mean outputs. In memory, no run directory.

    python experiments/stylegan/diversity_probe.py CONFIG STEPS [key=value ...]
"""
import sys
import time

from gan_jax.configs import get, override, validate
from gan_jax.data import Batches
from gan_jax.parallel import make_parallel_step
from gan_jax.sampling import generate
from gan_jax.tasks import data_source, init_state

SHOWN = ("d_real", "d_fake", "ada_p", "pl_mean")


def main():
    name, steps, sets = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    config = validate(override(get(name), sets))
    runner = make_parallel_step(config, "jit")
    state = runner.put_state(init_state(config))
    start = time.time()
    with Batches(data_source(config), config.batch_size, seed=0) as batches:
        for i in range(1, steps + 1):
            state, metrics = runner.step(state, runner.put_batch(next(batches)))
            if i % 100 == 0:
                images = generate(config, state, 256, use_ema=False)
                shown = {k: round(float(v), 3) for k, v in metrics.items() if k in SHOWN}
                print(sets, i, f"{time.time() - start:.0f}s", "diversity", round(float(images.std(0).mean()), 3),
                      shown, flush=True)


if __name__ == "__main__":
    main()
