"""What does an ACGAN run's own auxiliary classifier (D's class head) think?

Reports the head's accuracy on held-out real Fashion-MNIST images (the 20,000 that the
evaluation reference does not use) and on the generator's samples, against the class
each sample was drawn for. A head far more sure of the fakes than of real images, while
an independent classifier does not recognise the fakes' classes, means that G and D's
head agree on cues of their own rather than on the classes' features.

    python experiments/family/check_acgan_head.py --workdir runs/family/acgan_fashion_seed0
"""
import argparse
import os

import jax
import numpy as np

from gan_jax import data, models, sampling, workdir as wd
from gan_jax.checkpoint import restore_run


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", required=True, help="an ACGAN run (conditioning=acgan)")
    ap.add_argument("--num", type=int, default=2000)
    args = ap.parse_args()
    workdir = os.path.abspath(args.workdir)
    config = wd.load_config(workdir)
    if config.conditioning != "acgan":
        raise SystemExit(f"{args.workdir}: conditioning={config.conditioning!r}, expected acgan")
    state, _ = restore_run(workdir, config)
    _, d = models.build(config)
    variables = {"params": state.d_params, "batch_stats": state.d_stats}
    head = jax.jit(lambda x: d.apply(variables, x, None, train=False)[1])

    source = data.load_source(config.dataset, resolution=config.resolution, channels=config.channels)
    held_out = np.sort(np.random.default_rng(0).permutation(len(source))[50_000:][:args.num])
    images, labels = source.get(held_out)
    real_acc = np.mean(np.argmax(head(data.to_float(images)), -1) == labels)
    asked = np.arange(args.num) % config.num_classes
    print(f"{args.workdir} at step {int(state.step)}: D's class head, accuracy on {len(held_out)} held-out "
          f"real images {real_acc:.3f}")
    for use_ema in (True, False):
        fake = sampling.generate(config, state, args.num, seed=3, labels=asked, use_ema=use_ema)
        acc = np.mean(np.argmax(head(fake), -1) == asked)
        print(f"  on {args.num} samples ({'EMA' if use_ema else 'raw'} generator), against the asked class: {acc:.3f}")


if __name__ == "__main__":
    main()
