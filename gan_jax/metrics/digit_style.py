"""Style attributes of a handwritten glyph that do not say which digit it is.

* :func:`ink_mass`: stroke thickness, as the share of the image that is ink.
* :func:`slant`: the lean of the glyph, from its second moments (the shear that MNIST
  deskewing removes), in degrees, positive leaning right ("/").

Both take images [B, H, W, 1] in [-1, 1] with white ink on black (MNIST's convention:
-1 background, 1 ink) and return [B] float32.
"""
from __future__ import annotations

import jax.numpy as jnp


def _ink(images: jnp.ndarray) -> jnp.ndarray:
    """[B, H, W] ink in [0, 1] of images [B, H, W, 1] in [-1, 1]."""
    if images.ndim != 4 or images.shape[-1] != 1:
        raise ValueError(f"digit style attributes need greyscale images [B, H, W, 1]; got shape {images.shape}")
    return jnp.clip((images[..., 0] + 1.0) / 2.0, 0.0, 1.0)


def ink_mass(images: jnp.ndarray) -> jnp.ndarray:
    """Mean ink [B] in [0, 1]: thicker strokes of the same glyph give more."""
    return _ink(images).mean(axis=(1, 2))


def slant(images: jnp.ndarray) -> jnp.ndarray:
    """The glyph's lean [B] in degrees: atan of the slope of x on y over its ink (mu_xy / mu_yy,
    the central second moments, y pointing up), so an upright stroke gives 0, "/" > 0, "\\" < 0.
    A blank image gives 0."""
    ink = _ink(images)
    h, w = ink.shape[1:]
    y = -jnp.arange(h, dtype=jnp.float32)[None, :, None]  # rows go down; y goes up
    x = jnp.arange(w, dtype=jnp.float32)[None, None, :]
    total = jnp.maximum(ink.sum(axis=(1, 2)), 1e-6)
    mx = (ink * x).sum(axis=(1, 2)) / total
    my = (ink * y).sum(axis=(1, 2)) / total
    dx, dy = x - mx[:, None, None], y - my[:, None, None]
    mu_xy = (ink * dx * dy).sum(axis=(1, 2)) / total
    mu_yy = (ink * dy * dy).sum(axis=(1, 2)) / total
    return jnp.degrees(jnp.arctan2(mu_xy, jnp.maximum(mu_yy, 1e-6)))
