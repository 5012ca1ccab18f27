"""Using trained image-to-image generators: translate, upscale and inpaint images of any size.

Each function asks the run's task for its implementation (:func:`gan_jax.tasks.operation`)
and raises UserError when the task has none (e.g. ``upscale`` of a pix2pix run). Images of
any size go through the generator in overlapping tiles (:func:`gan_jax.tiles.tiled`).
"""
from __future__ import annotations

import numpy as np

from gan_jax import tasks
from gan_jax.tasks.translation import DIRECTIONS
from gan_jax.tiles import tiled


def translate(config, state, image: np.ndarray, direction: str = "a2b", use_ema: bool = True) -> np.ndarray:
    """pix2pix / CycleGAN: the translation of ``image`` [H, W, C] in [-1, 1] -> [H, W, C]."""
    return tasks.operation(config, "translate", "translate")(config, state, image, direction, use_ema)


def upscale(config, state, image: np.ndarray, tile: int = 64, use_ema: bool = True) -> np.ndarray:
    """SRGAN: ``image`` [H, W, C] in [-1, 1] -> [scale*H, scale*W, C], in ``tile``-px input tiles."""
    return tasks.operation(config, "upscale", "upscale")(config, state, image, tile, use_ema)


def inpaint(config, state, image: np.ndarray, mask: np.ndarray, use_ema: bool = True) -> np.ndarray:
    """Inpainting model: ``image`` [H, W, C] in [-1, 1] with ``mask`` [H, W, 1] (1 = missing)
    -> the image with the hole filled (known pixels unchanged)."""
    return tasks.operation(config, "inpaint", "inpaint")(config, state, image, mask, use_ema)


def generator_variables(config, state, direction: str = "a2b", use_ema: bool = True) -> dict:
    """Flax variables of the generator for ``direction`` (CycleGAN: a2b or b2a; others: a2b)."""
    return tasks.operation(config, "generator_variables", "generator_variables")(config, state, direction, use_ema)


def run_generator(config, variables, sources: np.ndarray, chunk: int = 16) -> np.ndarray:
    """G applied to ``sources`` [N, h, w, C_in] in [-1, 1], ``chunk`` at a time -> [N, H, W, C]."""
    return tasks.operation(config, "run_generator", "run_generator")(config, variables, sources, chunk)


def sample_grid(config, state, num: int = 8) -> tuple[np.ndarray, int]:
    """Images for a grid and its column count: rows of source | output | target (CycleGAN:
    a | a2b | a2b2a | b | b2a | b2a2b), from a fixed batch."""
    return tasks.of(config).sample_grid(config, state, None, num)


__all__ = ["DIRECTIONS", "generator_variables", "inpaint", "run_generator", "sample_grid", "tiled", "translate",
           "upscale"]
