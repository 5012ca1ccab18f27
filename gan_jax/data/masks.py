"""Inpainting mask shapes: float32 [H, W, 1], 1 where a pixel is missing (the hole), 0 where known.

Pure JAX functions of an explicit key (the same key gives the same mask); ``jax.vmap`` over
keys gives a batch [B, H, W, 1]. The inpainting task's data (:mod:`gan_jax.data.paired`) and
the editing tools (:mod:`gan_jax.edit.masks`) draw from them.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def _grid(height: int, width: int) -> tuple[jax.Array, jax.Array]:
    """Pixel-centre coordinates (rows [H, 1], cols [1, W]) as float32."""
    return (jnp.arange(height, dtype=jnp.float32)[:, None] + 0.5,
            jnp.arange(width, dtype=jnp.float32)[None, :] + 0.5)


def _boxes(height: int, width: int, top, left, bottom, right) -> jax.Array:
    """Union of the boxes [top, bottom) x [left, right) (pixel edges, arrays [N]) as [H, W, 1]."""
    rows, cols = _grid(height, width)
    inside = ((rows[None] > top[:, None, None]) & (rows[None] < bottom[:, None, None])
              & (cols[None] > left[:, None, None]) & (cols[None] < right[:, None, None]))
    return jnp.any(inside, axis=0)[..., None].astype(jnp.float32)


@functools.partial(jax.jit, static_argnames=("height", "width", "fraction"))
def center_box(height: int, width: int, fraction: float = 0.5) -> jax.Array:
    """A centred box covering ``fraction`` of each side: [H, W, 1]."""
    h, w = round(height * fraction), round(width * fraction)
    top, left = (height - h) // 2, (width - w) // 2
    edges = [jnp.array([v], jnp.float32) for v in (top, left, top + h, left + w)]
    return _boxes(height, width, *edges)


@functools.partial(jax.jit, static_argnames=("height", "width", "num", "min_fraction", "max_fraction"))
def random_boxes(key: jax.Array, height: int, width: int, num: int = 3,
                 min_fraction: float = 0.15, max_fraction: float = 0.4) -> jax.Array:
    """The union of ``num`` boxes with sides uniform in [min, max] x the image side, placed
    uniformly inside the image: [H, W, 1]."""
    k_size, k_pos = jax.random.split(key)
    size = jax.random.uniform(k_size, (num, 2), minval=min_fraction, maxval=max_fraction)
    size = jnp.round(size * jnp.array([height, width], jnp.float32))
    pos = jnp.floor(jax.random.uniform(k_pos, (num, 2)) * (jnp.array([height, width], jnp.float32) - size + 1))
    return _boxes(height, width, pos[:, 0], pos[:, 1], pos[:, 0] + size[:, 0], pos[:, 1] + size[:, 1])


@functools.partial(jax.jit, static_argnames=("height", "width", "strokes", "vertices", "max_width"))
def free_form(key: jax.Array, height: int, width: int, strokes: int = 3, vertices: int = 5,
              max_width: float = 0.12) -> jax.Array:
    """Free-form brush strokes: ``strokes`` random walks of ``vertices`` segments each, drawn
    with a round brush of diameter up to ``max_width`` x the image side: [H, W, 1]."""
    side = float(min(height, width))
    k_start, k_angle, k_len, k_width = jax.random.split(key, 4)
    start = jax.random.uniform(k_start, (strokes, 1, 2)) * jnp.array([height, width], jnp.float32)
    angle = jax.random.uniform(k_angle, (strokes, vertices), maxval=2 * jnp.pi)
    length = jax.random.uniform(k_len, (strokes, vertices), minval=0.1, maxval=0.3) * side
    steps = jnp.stack([jnp.sin(angle), jnp.cos(angle)], -1) * length[..., None]
    points = jnp.concatenate([start, start + jnp.cumsum(steps, axis=1)], axis=1)  # [S, V + 1, 2]
    radius = jax.random.uniform(k_width, (strokes, 1), minval=0.5, maxval=1.0) * max_width * side / 2
    a, b = points[:, :-1].reshape(-1, 2), points[:, 1:].reshape(-1, 2)  # segment ends [S*V, 2]
    radius = jnp.broadcast_to(radius, (strokes, vertices)).reshape(-1)
    rows, cols = _grid(height, width)
    p = jnp.stack(jnp.broadcast_arrays(rows, cols), -1)[None]  # [1, H, W, 2]
    ab = (b - a)[:, None, None]
    t = jnp.clip(jnp.sum((p - a[:, None, None]) * ab, -1) / jnp.maximum(jnp.sum(ab * ab, -1), 1e-6), 0, 1)
    dist = jnp.linalg.norm(p - (a[:, None, None] + t[..., None] * ab), axis=-1)  # [S*V, H, W]
    return jnp.any(dist <= radius[:, None, None], axis=0)[..., None].astype(jnp.float32)
