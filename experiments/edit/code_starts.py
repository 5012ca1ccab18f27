"""Inversion of a generator with a code in z (the default ``selfcond_mnist``): restarts from
random z against restarts spread over the codes that fit best (``codes``, the library's
default for such a generator). Same targets, same keys, same steps.

    gan-jax train                                            # runs/selfcond_mnist
    python experiments/edit/code_starts.py --workdir runs/selfcond_mnist [--num 64 --steps 500 --restarts 4]

The real digits are random images of ``mnist5k`` (seed 0), the run's training set (no other
MNIST is on this machine); the generated ones are G's images of fresh z (seed 1000).
"""
import argparse
import os

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import data, edit, models, sampling, workdir as wd
from gan_jax.checkpoint import restore_run
from gan_jax.models.dcgan import latent_codes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="runs/selfcond_mnist")
    ap.add_argument("--num", type=int, default=64)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--restarts", type=int, default=4)
    args = ap.parse_args()
    config = wd.load_config(os.path.abspath(args.workdir))
    state, _ = restore_run(os.path.abspath(args.workdir), config)
    codes = latent_codes(config)
    if not codes:
        raise SystemExit(f"{args.workdir}: this generator has no code in z (latent_code = cluster_code = 0)")
    g, gv = sampling.latent_generator(config), state.generator_variables()
    d_net = models.build(config)[1]
    feats, dv = edit.discriminator_features(d_net), {"params": state.d_params, "batch_stats": state.d_stats}
    source = data.load_source("mnist5k", resolution=28, channels=1)
    real = data.to_float(source.get(np.random.default_rng(0).choice(len(source), args.num, replace=False))[0])
    generated = np.asarray(jax.jit(g)(gv, jax.random.normal(jax.random.PRNGKey(1000), (args.num, config.z_dim))))
    print(f"{args.workdir}: {codes} codes; {args.num} targets, {args.steps} steps x {args.restarts} restarts")
    for name, targets in (("real (training digits)", real), ("generated", generated)):
        targets = jnp.asarray(targets)
        row = {}
        for label, c in (("random starts", 0), ("code starts", codes)):
            found = edit.invert(g, gv, targets, jax.random.PRNGKey(1), z_dim=config.z_dim, steps=args.steps,
                                restarts=args.restarts, features=feats, feature_variables=dv, codes=c)
            row[label] = np.asarray(edit.psnr(found.images, targets))
        diff = row["code starts"] - row["random starts"]
        print(f"{name}: PSNR random starts {row['random starts'].mean():.2f} dB, code starts "
              f"{row['code starts'].mean():.2f} dB; per image {np.median(diff):+.2f} dB (median), better on "
              f"{(diff > 0).mean():.0%}", flush=True)


if __name__ == "__main__":
    main()
