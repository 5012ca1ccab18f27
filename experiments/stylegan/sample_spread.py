"""How far apart a generator's samples lie: for each of the first 1,000 samples, the pixel
distance (L2 over [-1, 1] pixels) to its nearest *other* sample, averaged. Near-duplicates
(a generator that draws few images per mode) pull it down; 1,000 real digits give the
reference (``--real``).

    python experiments/stylegan/sample_spread.py A.npy [B.npy ...] [--real]
"""
from __future__ import annotations

import argparse

import numpy as np

from gan_jax.metrics.memorisation import pairwise_distances


def nearest_other(samples: np.ndarray) -> float:
    """Mean over samples [N, H, W, C] of the L2 distance to the nearest other sample."""
    flat = samples.reshape(len(samples), -1).astype(np.float64)
    d = pairwise_distances(flat, flat)
    np.fill_diagonal(d, np.inf)
    return float(np.mean(d.min(axis=1)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("samples", nargs="*", help=".npy files of samples [N, H, W, C] in [-1, 1]")
    ap.add_argument("--real", action="store_true", help="also 1,000 random MNIST-5k digits (permutation seed 0)")
    ap.add_argument("--num", type=int, default=1000)
    args = ap.parse_args()
    if args.real:
        from gan_jax import data

        source = data.load_source("mnist5k", resolution=28, channels=1)
        index = np.random.default_rng(0).permutation(len(source))[:args.num]
        print(f"real mnist5k: {nearest_other(data.to_float(source.get(np.sort(index))[0])):.2f}")
    for path in args.samples:
        print(f"{path}: {nearest_other(np.load(path)[:args.num]):.2f}")


if __name__ == "__main__":
    main()
