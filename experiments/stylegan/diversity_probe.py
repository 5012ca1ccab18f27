"""Sample diversity during a short run: the per-pixel standard deviation over 256 samples of
the raw (non-EMA) generator every 100 steps (the real MNIST-5k digits give 0.37; a generator
collapsing to one image falls towards 0), with D's mean outputs. When the cached judge
``runs/judges/mnist5k/cnn_a`` exists (``experiments/quality/judges.py`` makes it), also the
share of confidently recognised samples (>= 0.9) and the largest class share and the number of
classes holding >= 5 % of the samples (1,000 samples; a collapsed generator: 1-2 classes).
In memory, no run directory.

    python experiments/stylegan/diversity_probe.py CONFIG STEPS [--unclipped] [key=value ...]

``--unclipped``: the ``style`` step's D sees G's raw images, not clipped to [-1, 1] (the
ablation of ``gan_jax.tasks.style.FAKES_CLIPPED``; the step before the 2026-12-06 fix).
"""
import os
import sys
import time

import numpy as np

from gan_jax.configs import get, override, validate
from gan_jax.data import Batches
from gan_jax.parallel import make_parallel_step
from gan_jax.sampling import generate
from gan_jax.tasks import data_source, init_state

SHOWN = ("d_real", "d_fake", "ada_p", "pl_mean")
JUDGE = "runs/judges/mnist5k/cnn_a"


def class_summary(judge, images) -> str:
    """'conf 0.63 top 0.21 classes>=5% 9' for images [N, H, W, 1]."""
    label, confidence = judge.predict(images)
    shares = np.bincount(label, minlength=10) / len(label)
    return f"conf {np.mean(confidence >= 0.9):.2f} top {shares.max():.2f} classes>=5% {int(np.sum(shares >= 0.05))}"


def main():
    name, steps, sets = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    if "--unclipped" in sets:
        from gan_jax.tasks import style
        style.FAKES_CLIPPED = False  # read when the step is made, below
        sets = [s for s in sets if s != "--unclipped"]
        print("D sees unclipped fakes", flush=True)
    config = validate(override(get(name), sets))
    judge = None
    if config.dataset == "mnist5k" and os.path.isdir(JUDGE):
        from gan_jax.metrics.classifier import Classifier
        judge = Classifier.load(JUDGE)
    runner = make_parallel_step(config, "jit")
    state = runner.put_state(init_state(config))
    start = time.time()
    with Batches(data_source(config), config.batch_size, seed=0) as batches:
        for i in range(1, steps + 1):
            state, metrics = runner.step(state, runner.put_batch(next(batches)))
            if i % 100 == 0:
                images = generate(config, state, 1000 if judge else 256, use_ema=False)
                shown = {k: round(float(v), 3) for k, v in metrics.items() if k in SHOWN}
                classes = class_summary(judge, images) if judge else ""
                print(sets, i, f"{time.time() - start:.0f}s", "diversity", round(float(images[:256].std(0).mean()), 3),
                      classes, shown, flush=True)


if __name__ == "__main__":
    main()
