"""Improved precision and recall (Kynkäänniemi et al. 2019) on features.

The manifold of a point set is the union of closed balls around its points,
each with radius = distance to the point's k-th nearest neighbour in the same
set (the point itself excluded; duplicates count as neighbours at distance 0).

* precision = fraction of fake features [M, D] inside the real manifold,
* recall    = fraction of real features [N, D] inside the fake manifold.

Squared distances |a|^2 + |b|^2 - 2 a.b are computed by jitted JAX functions
over blocks of ``batch_size`` rows, so memory is O(batch_size * max(N, M))
(10k x 10k works). Three distance matrices are computed: real-real and
fake-fake for the radii, and fake-real once for both precision and recall.
They are float32 at ``Precision.HIGHEST`` (not TF32 on GPUs), after
subtracting the mean real feature from both sets: distances do not change,
and the cancellation in the formula is much smaller.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.metrics._features import check_feature_pair


def _sq_dists(queries, points):
    """Squared Euclidean distances [q, p] between queries [q, D] and points [p, D], clipped at 0."""
    cross = jnp.matmul(queries, points.T, precision=jax.lax.Precision.HIGHEST)
    sq = jnp.sum(queries ** 2, axis=1)[:, None] + jnp.sum(points ** 2, axis=1)[None, :] - 2.0 * cross
    return jnp.maximum(sq, 0.0)


@functools.partial(jax.jit, static_argnames="k")
def _kth_neighbour_sq_dist(rows, first_row, points, k: int):
    """Squared distance [b] from points[first_row + i] = rows[i] to its k-th nearest other point."""
    sq = _sq_dists(rows, points)
    is_self = (first_row + jnp.arange(rows.shape[0]))[:, None] == jnp.arange(points.shape[0])[None, :]
    sq = jnp.where(is_self, jnp.inf, sq)
    neg_smallest, _ = jax.lax.top_k(-sq, k)
    return -neg_smallest[:, k - 1]


@jax.jit
def _coverage_block(fake_rows, fake_radii_sq, real, real_radii_sq):
    """One block of fake rows [b, D] against all real points [n, D].

    Returns (bool [b]: each fake row inside the real manifold,
             bool [n]: each real point inside the union of this block's fake balls).
    """
    sq = _sq_dists(fake_rows, real)
    fake_in_real = jnp.any(sq <= real_radii_sq[None, :], axis=1)
    real_in_fake = jnp.any(sq <= fake_radii_sq[:, None], axis=0)
    return fake_in_real, real_in_fake


def _row_blocks(array, batch_size: int):
    """Yield (first_row, block) with every block padded to the same number of rows (one jit shape)."""
    batch_size = min(batch_size, array.shape[0])
    for start in range(0, array.shape[0], batch_size):
        block = array[start:start + batch_size]
        pad = batch_size - block.shape[0]
        yield start, (jnp.pad(block, ((0, pad), (0, 0))) if pad else block)


def _manifold_radii_sq(points, k: int, batch_size: int) -> jax.Array:
    """Squared k-NN radius [n] of every point [n, D] of a set."""
    n = points.shape[0]
    radii = [_kth_neighbour_sq_dist(block, start, points, k) for start, block in _row_blocks(points, batch_size)]
    return jnp.concatenate(radii)[:n]


def precision_recall(feats_real, feats_fake, k: int = 3, batch_size: int = 1024) -> tuple[float, float]:
    """Improved (precision, recall) of fake features [M, D] against real features [N, D].

    Needs N > k and M > k. ``batch_size`` rows are compared with a whole set at a time.
    """
    feats_real, feats_fake = check_feature_pair(feats_real, feats_fake)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for name, feats in (("feats_real", feats_real), ("feats_fake", feats_fake)):
        if feats.shape[0] <= k:
            raise ValueError(f"{name} has {feats.shape[0]} samples; the k-th nearest neighbour "
                             f"(k={k}) needs more than k")

    centre = jnp.asarray(feats_real.mean(axis=0, dtype=np.float64), jnp.float32)
    real = jnp.asarray(feats_real, jnp.float32) - centre
    fake = jnp.asarray(feats_fake, jnp.float32) - centre
    real_radii_sq = _manifold_radii_sq(real, k, batch_size)
    fake_radii_sq = _manifold_radii_sq(fake, k, batch_size)

    # One pass over fake-vs-real distances serves both directions (3 distance matrices in all, not 4).
    rows = min(batch_size, fake.shape[0])
    padded_radii_sq = jnp.pad(fake_radii_sq, (0, rows), constant_values=-1.0)  # padding rows cover nothing
    fake_in_real, real_in_fake = [], jnp.zeros(real.shape[0], bool)
    for start, block in _row_blocks(fake, batch_size):
        inside, covered = _coverage_block(block, padded_radii_sq[start:start + rows], real, real_radii_sq)
        fake_in_real.append(inside)
        real_in_fake = real_in_fake | covered
    precision = float(np.mean(np.asarray(jnp.concatenate(fake_in_real)[:fake.shape[0]])))
    recall = float(np.mean(np.asarray(real_in_fake)))
    return precision, recall
