"""Using trained image-to-image generators: translate, upscale and inpaint images of any size,
and the source | output | target grids written during training.

Images of any size go through the generator in overlapping tiles of a fixed size
(:func:`tiled`), a fixed number of tiles per call, so memory stays bounded; the tiles
are blended with weights that ramp linearly across the overlaps. BatchNorm runs in
eval mode (running statistics), so a tile's output does not depend on its neighbours.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import models
from gan_jax.errors import UserError
from gan_jax.img2img_step import compose

DIRECTIONS = ("a2b", "b2a")


@functools.lru_cache(maxsize=8)
def _jitted_generator(config):
    g_net, _ = models.build(config)

    def run(variables, source):
        return jnp.clip(compose(config, source, g_net.apply(variables, source, train=False)), -1.0, 1.0)

    return jax.jit(run)


def generator_variables(config, state, direction: str = "a2b", use_ema: bool = True) -> dict:
    """Flax variables of the generator for ``direction`` (CycleGAN: a2b or b2a; others: a2b)."""
    if direction not in DIRECTIONS:
        raise UserError(f"--direction {direction}: expected a2b or b2a")
    variables = state.generator_variables(use_ema)
    if config.task == "cyclegan":
        return {col: variables[col][direction] for col in ("params", "batch_stats")}
    if direction != "a2b":
        raise UserError(f"--direction {direction}: a {config.task} model translates one way only (a2b)")
    return variables


def run_generator(config, variables, sources: np.ndarray, chunk: int = 16) -> np.ndarray:
    """G applied to ``sources`` [N, h, w, C_in] in [-1, 1], ``chunk`` at a time -> [N, H, W, C]."""
    fn = _jitted_generator(config)
    parts = [np.asarray(fn(variables, jnp.asarray(sources[i:i + chunk], jnp.float32)))
             for i in range(0, len(sources), chunk)]
    return np.concatenate(parts)


def _starts(size: int, tile: int, step: int) -> list[int]:
    starts = list(range(0, max(size - tile, 0) + 1, step))
    if starts[-1] + tile < size:
        starts.append(size - tile)
    return starts


def _ramp(n: int, overlap: int) -> np.ndarray:
    """1-D blending weights [n]: rising linearly over ``overlap`` px at both ends, 1 inside."""
    i = np.arange(n, dtype=np.float32)
    return np.minimum(1.0, (np.minimum(i, n - 1 - i) + 1.0) / (overlap + 1.0))


def tiled(fn, image: np.ndarray, tile: int, overlap: int, scale: int = 1, chunk: int = 16) -> np.ndarray:
    """``fn`` (tiles [n, tile, tile, C_in] -> [n, scale*tile, scale*tile, C]) over ``image``
    [H, W, C_in] in overlapping tiles -> [scale*H, scale*W, C].

    An image smaller than a tile is reflect-padded to one tile (the padding is cropped
    off again); at most ``chunk`` tiles are in flight at once.
    """
    if not 0 <= overlap < tile:
        raise ValueError(f"tiled: overlap {overlap} must be in [0, tile={tile})")
    h, w = image.shape[:2]
    ph, pw = max(tile - h, 0), max(tile - w, 0)
    if ph or pw:
        image = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(h, w) > 1 else "edge")
    hp, wp = image.shape[:2]
    corners = [(y, x) for y in _starts(hp, tile, tile - overlap) for x in _starts(wp, tile, tile - overlap)]
    weight = np.outer(_ramp(tile * scale, overlap * scale), _ramp(tile * scale, overlap * scale))[..., None]
    out, total = None, np.zeros((hp * scale, wp * scale, 1), np.float32)
    for i in range(0, len(corners), chunk):
        part = corners[i:i + chunk]
        results = np.asarray(fn(np.stack([image[y:y + tile, x:x + tile] for y, x in part])))
        if out is None:
            out = np.zeros((hp * scale, wp * scale, results.shape[-1]), np.float32)
        for (y, x), res in zip(part, results):
            ys, xs = slice(y * scale, (y + tile) * scale), slice(x * scale, (x + tile) * scale)
            out[ys, xs] += res * weight
            total[ys, xs] += weight
    return (out / total)[:h * scale, :w * scale]


def translate(config, state, image: np.ndarray, direction: str = "a2b", use_ema: bool = True) -> np.ndarray:
    """pix2pix / CycleGAN: the translation of ``image`` [H, W, C] in [-1, 1] -> [H, W, C]."""
    if config.task not in ("pix2pix", "cyclegan"):
        raise UserError(f"translate: the run is a {config.task} model; expected pix2pix or cyclegan")
    variables = generator_variables(config, state, direction, use_ema)
    r = config.resolution
    return tiled(lambda t: run_generator(config, variables, t), image, r, r // 4)


def upscale(config, state, image: np.ndarray, tile: int = 64, use_ema: bool = True) -> np.ndarray:
    """SRGAN: ``image`` [H, W, C] in [-1, 1] -> [scale*H, scale*W, C], in ``tile``-px input tiles."""
    if config.task != "srgan":
        raise UserError(f"upscale: the run is a {config.task} model; expected srgan")
    variables = generator_variables(config, state, "a2b", use_ema)
    return tiled(lambda t: run_generator(config, variables, t), image, tile, max(tile // 8, 2), config.scale)


def inpaint(config, state, image: np.ndarray, mask: np.ndarray, use_ema: bool = True) -> np.ndarray:
    """Inpainting model: ``image`` [H, W, C] in [-1, 1] with ``mask`` [H, W, 1] (1 = missing)
    -> the image with the hole filled (known pixels unchanged)."""
    from gan_jax.data.paired import inpaint_source

    if config.task != "inpaint":
        raise UserError(f"inpaint: the run is a {config.task} model; expected inpaint")
    variables = generator_variables(config, state, "a2b", use_ema)
    r = config.resolution
    return tiled(lambda t: run_generator(config, variables, t), inpaint_source(image, mask), r, r // 4)


@functools.lru_cache(maxsize=4)
def _grid_batch(config, num: int) -> dict:
    """A fixed batch of the held-out data (training data for CycleGAN) for the sample grids."""
    from gan_jax.data.paired import source_for

    source = source_for(config, "heldout")
    return source.make_batch(np.arange(min(num, len(source))), np.random.default_rng(0))


def _show(config, source: np.ndarray) -> np.ndarray:
    """A source batch as images of the target size and channels (nearest upsampling for SR,
    the masked image without its mask channel for inpainting)."""
    if config.task == "srgan":
        return np.repeat(np.repeat(source, config.scale, axis=1), config.scale, axis=2)
    return source[..., :config.channels]


def sample_grid(config, state, num: int = 8) -> tuple[np.ndarray, int]:
    """Images for a grid and its column count: rows of source | output | target (CycleGAN:
    a | a2b | a2b2a | b | b2a | b2a2b), from a fixed batch."""
    batch = _grid_batch(config, num)
    if config.task == "cyclegan":
        g = {d: generator_variables(config, state, d) for d in DIRECTIONS}
        a2b = run_generator(config, g["a2b"], batch["a"])
        b2a = run_generator(config, g["b2a"], batch["b"])
        columns = [batch["a"], a2b, run_generator(config, g["b2a"], a2b),
                   batch["b"], b2a, run_generator(config, g["a2b"], b2a)]
    else:
        output = run_generator(config, generator_variables(config, state), batch["source"])
        columns = [_show(config, batch["source"]), output, batch["target"]]
    return np.stack(columns, axis=1).reshape((-1,) + columns[0].shape[1:]), len(columns)
