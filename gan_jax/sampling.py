"""Generating images from a trained state."""
from __future__ import annotations

import functools

import jax
import numpy as np

from gan_jax.step import make_sample_fn


@functools.lru_cache(maxsize=8)
def _jitted_sampler(config):
    return jax.jit(make_sample_fn(config))


def generate_from(config, state, z: jax.Array, use_ema: bool = True) -> np.ndarray:
    """Images [N, R, R, C] in [-1, 1] for the latents ``z`` [N, Z] (one call)."""
    return np.asarray(_jitted_sampler(config)(state.generator_variables(use_ema), z))


def generate(config, state, num: int, seed: int = 0, use_ema: bool = True,
             chunk: int = 500) -> np.ndarray:
    """``num`` images [num, R, R, C] float32 in [-1, 1] from latents drawn with ``seed``.

    Uses the EMA generator when the run keeps one (``use_ema``), BatchNorm in
    eval mode; generates ``chunk`` images per call to bound memory.
    """
    variables = state.generator_variables(use_ema)
    z = jax.random.normal(jax.random.PRNGKey(seed), (num, config.z_dim))
    sample = _jitted_sampler(config)
    parts = [np.asarray(sample(variables, z[i:i + chunk])) for i in range(0, num, chunk)]
    return np.concatenate(parts, axis=0) if parts else np.zeros(
        (0, config.resolution, config.resolution, config.channels), np.float32)
