"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD^2 on features.

With the cubic polynomial kernel k(x, y) = (x . y / D + 1)^3 and subsets
X, Y of m real and m fake features [m, D], the unbiased estimate is

    MMD^2 = sum_{i != j} k(x_i, x_j) / (m (m - 1))
          + sum_{i != j} k(y_i, y_j) / (m (m - 1))
          - 2 sum_{i, j} k(x_i, y_j) / m^2

KID is its mean (and std, ddof=0) over ``num_subsets`` random subsets, each
drawn without replacement from the real and from the fake features
(m = ``subset_size``, clipped to min(N, M)). It can be slightly negative.

The Gram matrices X X^T, Y Y^T, X Y^T (the cost: 3 m^2 D flops per subset) are
computed by a jitted JAX function in float32 at ``Precision.HIGHEST`` (not
TF32 on GPUs); the kernel and the sums, where the three terms cancel, are
done in float64 on the host.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.metrics._features import check_feature_pair


@jax.jit
def _subset_grams(feats_real, feats_fake, real_idx, fake_idx):
    """Features [N, D], [M, D], indices [m] -> Gram matrices XX^T, YY^T, XY^T, each [m, m]."""
    x, y = feats_real[real_idx], feats_fake[fake_idx]
    dot = lambda a, b: jnp.matmul(a, b.T, precision=jax.lax.Precision.HIGHEST)
    return dot(x, x), dot(y, y), dot(x, y)


def _unbiased_mmd2(gram_xx, gram_yy, gram_xy, dim: int) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel, from Gram matrices [m, m], in float64."""
    def kernel(gram):
        base = np.asarray(gram, np.float64) / dim + 1.0
        return base * base * base

    k_xx, k_yy, k_xy = kernel(gram_xx), kernel(gram_yy), kernel(gram_xy)
    m = k_xx.shape[0]
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kernel_inception_distance(feats_real, feats_fake, num_subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """KID between real features [N, D] and fake features [M, D] -> (mean, std) of MMD^2 over subsets.

    Subsets come from ``np.random.default_rng(seed)``, so the result is deterministic.
    """
    feats_real, feats_fake = check_feature_pair(feats_real, feats_fake)
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}")
    (n_real, dim), n_fake = feats_real.shape, feats_fake.shape[0]
    subset_size = min(subset_size, n_real, n_fake)
    if subset_size < 2:
        raise ValueError(f"KID needs subsets of at least 2 samples; got subset_size={subset_size} "
                         f"from {n_real} real and {n_fake} fake samples")

    real_dev = jnp.asarray(feats_real, jnp.float32)
    fake_dev = jnp.asarray(feats_fake, jnp.float32)
    rng = np.random.default_rng(seed)
    mmds = np.empty(num_subsets, np.float64)
    for i in range(num_subsets):
        real_idx = rng.choice(n_real, subset_size, replace=False)
        fake_idx = rng.choice(n_fake, subset_size, replace=False)
        grams = _subset_grams(real_dev, fake_dev, real_idx, fake_idx)
        mmds[i] = _unbiased_mmd2(*grams, dim=dim)
    return float(mmds.mean()), float(mmds.std())
