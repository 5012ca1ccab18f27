"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient
GAN Training") in pure JAX.

``diff_augment(images, key, policy)`` maps images ``[B, H, W, C]`` (float, in
[-1, 1]) to augmented images of the same shape and dtype. It is differentiable
w.r.t. the images, deterministic given ``key``, and draws its random parameters
per sample. Apply the same policy to real and fake images before D (and to
fakes in G's step). ``policy`` is a Python string, static under ``jit``.

Ops, following the reference ``DiffAugment_pytorch.py`` (mit-han-lab/data-efficient-gans):

* ``color``: brightness (add U[-0.5, 0.5)), then saturation (scale each
  pixel's deviation from its channel mean by U[0, 2); a no-op for C=1), then
  contrast (scale the deviation from the image mean by U[0.5, 1.5)).
* ``translation``: shift by an integer in [-s, s] per axis, s = round(H/8)
  (resp. W/8), zero fill.
* ``cutout``: zero a round(H/2) x round(W/2) square centred at a random pixel
  (the centre may lie on the far border); the parts outside the image are clipped.

"Zero" fill is the value 0.0, as in the reference, whose images are also in
[-1, 1]: mid-grey here, not black (-1). After ``color`` the values are no
longer in [-1, 1], and the fill stays 0.0.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

FILL_VALUE = 0.0
"""Value of translated-in and cut-out pixels (mid-grey for images in [-1, 1])."""

TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def _per_sample_uniform(key: jax.Array, images: jax.Array, low: float, high: float) -> jax.Array:
    """[B, 1, 1, 1] draws from U[low, high) in the images' dtype."""
    return jax.random.uniform(key, (images.shape[0], 1, 1, 1), images.dtype, low, high)


def _round_half_up(x: float) -> int:
    return int(x + 0.5)


def random_brightness(images: jax.Array, key: jax.Array) -> jax.Array:
    """Add U[-0.5, 0.5) per sample."""
    return images + _per_sample_uniform(key, images, -0.5, 0.5)


def random_saturation(images: jax.Array, key: jax.Array) -> jax.Array:
    """Scale the deviation from the per-pixel channel mean by U[0, 2) per sample."""
    pixel_mean = jnp.mean(images, axis=-1, keepdims=True)
    return (images - pixel_mean) * _per_sample_uniform(key, images, 0.0, 2.0) + pixel_mean


def random_contrast(images: jax.Array, key: jax.Array) -> jax.Array:
    """Scale the deviation from the per-image mean (over H, W, C) by U[0.5, 1.5) per sample."""
    image_mean = jnp.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - image_mean) * _per_sample_uniform(key, images, 0.5, 1.5) + image_mean


def random_translation(images: jax.Array, key: jax.Array, ratio: float = TRANSLATION_RATIO) -> jax.Array:
    """Shift each sample by integers (dy, dx) in [-round(ratio*H), round(ratio*H)] x (same for W).

    out[b, i, j] = images[b, i + dy_b, j + dx_b] where that is inside the image, else FILL_VALUE.
    """
    batch, height, width = images.shape[:3]
    max_dy, max_dx = _round_half_up(height * ratio), _round_half_up(width * ratio)
    key_y, key_x = jax.random.split(key)
    dy = jax.random.randint(key_y, (batch, 1), -max_dy, max_dy + 1)
    dx = jax.random.randint(key_x, (batch, 1), -max_dx, max_dx + 1)
    source_rows = jnp.arange(height)[None, :] + dy    # [B, H]
    source_cols = jnp.arange(width)[None, :] + dx     # [B, W]
    rows_inside = (source_rows >= 0) & (source_rows < height)
    cols_inside = (source_cols >= 0) & (source_cols < width)
    shifted = jnp.take_along_axis(images, jnp.clip(source_rows, 0, height - 1)[:, :, None, None], axis=1)
    shifted = jnp.take_along_axis(shifted, jnp.clip(source_cols, 0, width - 1)[:, None, :, None], axis=2)
    inside = rows_inside[:, :, None, None] & cols_inside[:, None, :, None]
    return jnp.where(inside, shifted, jnp.asarray(FILL_VALUE, images.dtype))


def random_cutout(images: jax.Array, key: jax.Array, ratio: float = CUTOUT_RATIO) -> jax.Array:
    """Set one square of round(ratio*H) x round(ratio*W) pixels per sample to FILL_VALUE.

    As in the reference: the centre (cy, cx) is uniform over [0, H] (even size) or
    [0, H - 1] (odd size), the square covers rows [cy - size//2, cy - size//2 + size),
    and the part outside the image is clipped away (the square is then smaller).
    """
    batch, height, width = images.shape[:3]
    size_y, size_x = _round_half_up(height * ratio), _round_half_up(width * ratio)
    key_y, key_x = jax.random.split(key)
    centre_y = jax.random.randint(key_y, (batch, 1), 0, height + (1 - size_y % 2))
    centre_x = jax.random.randint(key_x, (batch, 1), 0, width + (1 - size_x % 2))
    top, left = centre_y - size_y // 2, centre_x - size_x // 2
    rows, cols = jnp.arange(height)[None, :], jnp.arange(width)[None, :]
    in_rows = (rows >= top) & (rows < top + size_y)    # [B, H]
    in_cols = (cols >= left) & (cols < left + size_x)  # [B, W]
    cut = in_rows[:, :, None, None] & in_cols[:, None, :, None]
    return jnp.where(cut, jnp.asarray(FILL_VALUE, images.dtype), images)


Augmentation = Callable[[jax.Array, jax.Array], jax.Array]
"""(images [B, H, W, C], key) -> images [B, H, W, C]."""

AUGMENTATIONS: dict[str, tuple[Augmentation, ...]] = {
    "color": (random_brightness, random_saturation, random_contrast),
    "translation": (random_translation,),
    "cutout": (random_cutout,),
}


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"color,translation"`` -> ``("color", "translation")``; ``""`` -> ``()``.

    Whitespace around names and empty items are ignored; an unknown name raises ValueError.
    """
    names = tuple(name.strip() for name in policy.split(",") if name.strip())
    for name in names:
        if name not in AUGMENTATIONS:
            raise ValueError(f"unknown DiffAugment op {name!r} in policy {policy!r}; "
                             f"expected a comma-separated list of: {', '.join(sorted(AUGMENTATIONS))}")
    return names


def diff_augment(images: jax.Array, key: jax.Array, policy: str = "color,translation,cutout") -> jax.Array:
    """Apply the policy's ops in order; images [B, H, W, C] -> same shape and dtype.

    Each op gets its own key split from ``key``; an empty policy returns ``images`` unchanged.
    """
    ops = [op for name in parse_policy(policy) for op in AUGMENTATIONS[name]]
    if not ops:
        return images
    for op, op_key in zip(ops, jax.random.split(key, len(ops))):
        images = op(images, op_key)
    return images
