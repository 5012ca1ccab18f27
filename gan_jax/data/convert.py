"""Pixel conversions: uint8 -> float in [-1, 1], and fitting images to a
target resolution and channel count (centre-crop to square, Pillow resize,
grey <-> RGB)."""
from __future__ import annotations

import numpy as np
from PIL import Image

from gan_jax.errors import UserError


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 ``[..., H, W, C]`` in [0, 255] -> float32 in [-1, 1] (``x / 127.5 - 1``)."""
    return np.asarray(images, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)


def check_target(resolution: int, channels: int) -> None:
    """UserError unless ``resolution`` is a positive int and ``channels`` is 1 or 3."""
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) \
            or resolution < 1:
        raise UserError(f"resolution={resolution!r}: expected a positive integer")
    if channels not in (1, 3):
        raise UserError(f"channels={channels!r}: expected 1 (greyscale) or 3 (RGB)")


def convert_channels(images: np.ndarray, channels: int, what: str) -> np.ndarray:
    """uint8 ``[..., C]`` -> ``[..., channels]``: replicate grey, luminance of RGB, drop alpha."""
    c = images.shape[-1]
    if c == channels:
        return images
    if channels == 3 and c in (1, 2):            # grey (+ alpha) -> RGB
        return np.repeat(images[..., :1], 3, axis=-1)
    if channels == 3 and c == 4:                 # RGBA -> RGB
        return np.ascontiguousarray(images[..., :3])
    if channels == 1 and c in (3, 4):            # RGB(A) -> luminance (ITU-R 601, like Pillow "L")
        rgb = images[..., :3].astype(np.uint32)
        lum = (rgb[..., 0] * 299 + rgb[..., 1] * 587 + rgb[..., 2] * 114 + 500) // 1000
        return lum.astype(np.uint8)[..., None]
    if channels == 1 and c == 2:                 # grey + alpha -> grey
        return np.ascontiguousarray(images[..., :1])
    raise UserError(f"{what}: images have {c} channels; cannot convert to channels={channels} "
                    "(expected 1, 2, 3 or 4 source channels)")


def resize_square(image: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 ``[H, W, C]`` (C 1 or 3) -> centre-cropped, Lanczos-resized ``[R, R, C]``."""
    h, w, c = image.shape
    s = min(h, w)
    if h != w:
        top, left = (h - s) // 2, (w - s) // 2
        image = image[top:top + s, left:left + s]
    if s == resolution:
        return np.ascontiguousarray(image)
    pil = Image.fromarray(image[..., 0], "L") if c == 1 else Image.fromarray(image, "RGB")
    out = np.asarray(pil.resize((resolution, resolution), Image.LANCZOS))
    return out.reshape(resolution, resolution, c)


def fit_images(images, resolution: int, channels: int, what: str) -> np.ndarray:
    """Images (uint8 ``[N, H, W, C]`` or a list of ``[H, W, C]``) -> uint8 ``[N, R, R, channels]``."""
    if isinstance(images, np.ndarray) and images.ndim == 4:
        images = convert_channels(images, channels, what)
        if images.shape[1] == images.shape[2] == resolution:
            return images
    out = np.empty((len(images), resolution, resolution, channels), np.uint8)
    for i, image in enumerate(images):
        out[i] = resize_square(convert_channels(np.asarray(image), channels, what), resolution)
    return out
