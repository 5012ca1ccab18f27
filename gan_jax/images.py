"""Image grids and files: [N, H, W, C] float arrays in [-1, 1] <-> PNG."""
from __future__ import annotations

import math
import os
import tempfile

import numpy as np
from PIL import Image


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[..., C] floats in [-1, 1] -> uint8 in [0, 255] (clipped)."""
    return np.clip(np.rint((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def make_grid(images: np.ndarray, ncol: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile [N, H, W, C] images (values in [-1, 1]) into one uint8 [rows*(H+pad)+pad, ..., C] image."""
    images = to_uint8(images)
    n, h, w, c = images.shape
    ncol = ncol or math.ceil(math.sqrt(n))
    nrow = math.ceil(n / ncol)
    grid = np.zeros((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), np.uint8)
    for i, img in enumerate(images):
        r, q = divmod(i, ncol)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + q * (w + pad): pad + q * (w + pad) + w] = img
    return grid


def save_image(array: np.ndarray, path: str) -> None:
    """Write a uint8 [H, W, C] (C = 1 or 3) image; atomic (temp file + rename)."""
    array = array[..., 0] if array.shape[-1] == 1 else array
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.splitext(path)[1] or ".png")
    os.close(fd)
    try:
        Image.fromarray(array).save(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_grid(images: np.ndarray, path: str, ncol: int | None = None) -> None:
    """Save [N, H, W, C] images in [-1, 1] as one grid image at ``path``."""
    save_image(make_grid(images, ncol), path)


def save_array(array: np.ndarray, path: str) -> None:
    """Write a ``.npy`` file atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
