"""GAN inversion with progress reported to the page.

:func:`invert` computes what :func:`gan_jax.edit.invert_with_progress` computes (the same
jitted pieces, in the same order: equal results, tested), but reports each chunk of steps to
a callback instead of a terminal progress bar, so the page can show a progress bar while
the latent is optimised. (Should ``invert_with_progress`` take such a callback one day, this
module becomes that one call.)
"""
from __future__ import annotations

import importlib
from typing import Callable

import jax
import jax.numpy as jnp

from gan_jax.edit.progress import chunk_length

core = importlib.import_module("gan_jax.edit.invert")  # the module (gan_jax.edit.invert is also its function's name)


def invert(g: Callable, variables, targets: jax.Array, key: jax.Array, *, z_dim: int,
           weights: jax.Array | None = None, features: Callable | None = None, feature_variables=None,
           feature_weight: float = 0.1, latent_weight: float = 0.0, steps: int = 1000, restarts: int = 8,
           lr: float = 0.1, max_chunks: int = 20, codes: int = 0,
           on_progress: Callable[[int, int], None] | None = None) -> core.Inversion:
    """Invert ``g`` on ``targets`` [B, H, W, C] in [-1, 1] (arguments as in
    :func:`gan_jax.edit.invert`); ``on_progress(done, steps)`` is called after each of at most
    ``max_chunks`` equal chunks of steps, once the chunk has been computed."""
    losses = dict(g=g, variables=variables, features=features, feature_variables=feature_variables,
                  feature_weight=feature_weight, latent_weight=latent_weight)
    carry, weights = core._jit_start(targets, key, z_dim, weights, restarts, lr, steps, g, variables, codes)
    length = chunk_length(steps, max_chunks)
    curves = []
    for done in range(length, steps + 1, length):
        carry, curve = core._jit_advance(carry, targets, weights, **losses, lr=lr, steps=steps, length=length)
        curves.append(curve)
        if on_progress is not None:
            curve.block_until_ready()
            on_progress(done, steps)
    curves = curves[0] if len(curves) == 1 else jnp.concatenate(curves, axis=-1)
    return core._jit_finish(carry[0], curves, targets, weights, **losses)
