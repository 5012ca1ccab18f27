"""GAN inversion with progress reported to the page.

:func:`invert` is :func:`gan_jax.edit.invert_with_progress` without a terminal progress bar,
each chunk of steps reported to a callback instead, so that the page can show a progress bar
while the latent is optimised.
"""
from __future__ import annotations

from typing import Callable

import jax

from gan_jax.edit.invert import Inversion, invert_with_progress


def invert(g: Callable, variables, targets: jax.Array, key: jax.Array, *, z_dim: int,
           weights: jax.Array | None = None, features: Callable | None = None, feature_variables=None,
           feature_weight: float = 0.1, latent_weight: float = 0.0, steps: int = 1000, restarts: int = 8,
           lr: float = 0.1, max_chunks: int = 20, codes: int = 0,
           on_progress: Callable[[int, int], None] | None = None) -> Inversion:
    """Invert ``g`` on ``targets`` [B, H, W, C] in [-1, 1] (arguments as in
    :func:`gan_jax.edit.invert`); ``on_progress(done, steps)`` is called after each of at most
    ``max_chunks`` equal chunks of steps, once the chunk has been computed."""
    return invert_with_progress(g, variables, targets, key, z_dim=z_dim, weights=weights, features=features,
                                feature_variables=feature_variables, feature_weight=feature_weight,
                                latent_weight=latent_weight, steps=steps, restarts=restarts, lr=lr,
                                progress=False, max_chunks=max_chunks, codes=codes, on_progress=on_progress)
