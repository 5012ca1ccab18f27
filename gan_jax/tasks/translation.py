"""Running a trained image-to-image generator: what the paired and CycleGAN tasks share.

BatchNorm runs in eval mode (running statistics), so a tile's output does not depend on
its neighbours (see :mod:`gan_jax.tiles`).
"""
from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import registry
from gan_jax.tasks.init import build_models

DIRECTIONS = ("a2b", "b2a")


def as_is(source, output):
    """``compose`` of a generator whose output is the image itself."""
    return output


@functools.lru_cache(maxsize=8)
def _cached_generator(config, compose: Callable, registry_version: int):
    g_net, _ = build_models(config)

    def run(variables, source):
        return jnp.clip(compose(source, g_net.apply(variables, source, train=False)), -1.0, 1.0)

    return jax.jit(run)


def run_generator(config, variables, sources: np.ndarray, chunk: int = 16, compose: Callable = as_is) -> np.ndarray:
    """G applied to ``sources`` [N, h, w, C_in] in [-1, 1], ``chunk`` at a time -> [N, H, W, C] in [-1, 1].

    ``compose(source, output) -> image`` turns G's output into the image (the inpainting task
    keeps the known pixels); a module-level function, as it is part of the compiled program's key."""
    fn = _cached_generator(config, compose, registry.version())
    parts = [np.asarray(fn(variables, jnp.asarray(sources[i:i + chunk], jnp.float32)))
             for i in range(0, len(sources), chunk)]
    return np.concatenate(parts)


@functools.lru_cache(maxsize=4)
def grid_batch(config, num: int, split: str = "heldout") -> dict:
    """A fixed batch of ``num`` items of the task's ``split`` data, for the sample grids."""
    from gan_jax.tasks.base import of

    source = of(config).data_source(config, split)
    return source.make_batch(np.arange(min(num, len(source))), np.random.default_rng(0))


__all__ = ["DIRECTIONS", "grid_batch", "run_generator"]
