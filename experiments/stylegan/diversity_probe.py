"""Sample diversity during a short run: the per-pixel standard deviation over 256 samples of
the raw (non-EMA) generator every 100 steps (the real MNIST-5k digits give 0.37; a generator
collapsing to one image falls towards 0). In memory, no run directory.

    python experiments/stylegan/diversity_probe.py CONFIG STEPS [key=value ...]
"""
import sys, time, jax, numpy as np
from gan_jax.configs import get, override, validate
from gan_jax.data import Batches
from gan_jax.tasks import init_state, data_source
from gan_jax.parallel import make_parallel_step
from gan_jax.sampling import generate
name, steps, sets = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
c = validate(override(get(name), sets))
runner = make_parallel_step(c, "jit")
state = runner.put_state(init_state(c))
src = data_source(c)
t0 = time.time()
with Batches(src, c.batch_size, seed=0) as batches:
    for i in range(1, steps + 1):
        state, m = runner.step(state, runner.put_batch(next(batches)))
        if i % 100 == 0:
            x = generate(c, state, 256, use_ema=False)
            print(sets, i, f"{time.time()-t0:.0f}s", "diversity", round(float(x.std(0).mean()), 3),
                  {k: round(float(v), 3) for k, v in m.items() if k in ("d_real", "d_fake", "ada_p", "pl_mean")}, flush=True)
