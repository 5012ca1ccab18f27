"""The DCGAN's analogue of StyleGAN2's truncation about each cluster's mean w (eighth round of
``results.md``): a self-conditioned DCGAN reads its cluster off z (the argmax of the first K
entries), so its z is moved about the mean z of its cluster, z_c + psi (z - z_c), with
z_c = E[z | argmax z[:K] = c] estimated from 20,000 fixed draws. (z scaled about 0, the plain
truncation trick, is ``gan-jax sample --truncation PSI``.)

    python experiments/stylegan/dcgan_cluster_truncation.py RUN PSI OUT.npy [--num 1000] [--seed 0]
"""
from __future__ import annotations

import argparse

import jax
import numpy as np

from gan_jax import images, workdir as wd
from gan_jax.checkpoint import restore_run
from gan_jax.errors import UserError
from gan_jax.tasks.generate import jitted_sampler


def cluster_means(z_dim: int, codes: int, draws: int = 20000, seed: int = 123) -> np.ndarray:
    """[K, Z]: the mean z of each cluster over ``draws`` N(0, I) latents drawn with ``seed``."""
    z = np.asarray(jax.random.normal(jax.random.PRNGKey(seed), (draws, z_dim)))
    c = z[:, :codes].argmax(-1)
    return np.stack([z[c == k].mean(0) for k in range(codes)])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run")
    ap.add_argument("psi", type=float)
    ap.add_argument("out")
    ap.add_argument("--num", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0, help="latent seed (that of gan-jax sample)")
    args = ap.parse_args(argv)
    config = wd.load_config(args.run)
    if config.model != "dcgan" or not config.cluster_code:
        raise UserError(f"{args.run}: expected a self-conditioned DCGAN run (cluster_code > 0)")
    state, _ = restore_run(args.run, config, "latest")
    codes = config.cluster_code
    z = np.asarray(jax.random.normal(jax.random.PRNGKey(args.seed), (args.num, config.z_dim)))
    centers = cluster_means(config.z_dim, codes)[z[:, :codes].argmax(-1)]
    moved = centers + args.psi * (z - centers)
    sample = jitted_sampler(config)
    images.save_array(np.asarray(sample(state.generator_variables(True), moved, None), np.float32), args.out)
    print(f"wrote {args.num} samples at psi {args.psi:g} about the cluster means to {args.out}")


if __name__ == "__main__":
    try:
        main()
    except UserError as e:
        raise SystemExit(f"error: {e}")
