"""Image grids and files: [N, H, W, C] float arrays in [-1, 1] <-> PNG (and GIF, loss plots)."""
from __future__ import annotations

import math
import os
import tempfile

import numpy as np
from PIL import Image

from gan_jax.errors import UserError

_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


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


def read_image(path: str, option: str = "--image") -> np.ndarray:
    """An image file -> uint8 [H, W, C]: C = 1 for greyscale files, 3 for colour ones (alpha
    dropped). UserError naming ``option`` if the file is missing or not an image."""
    try:
        with Image.open(path) as img:
            img = img.convert("L" if img.mode in _GREY_MODES else "RGB")
            return np.asarray(img, np.uint8).reshape(img.height, img.width, -1)
    except FileNotFoundError:
        raise UserError(f"{option} {path}: no such file; expected an image file (PNG)") from None
    except (OSError, ValueError) as e:
        raise UserError(f"{option} {path}: not a readable image ({type(e).__name__}); expected a PNG") from None


def load_image(path: str, option: str = "--image") -> np.ndarray:
    """An image file -> float32 [H, W, C] in [-1, 1] (see :func:`read_image`)."""
    return read_image(path, option).astype(np.float32) / 127.5 - 1.0


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


def save_gif(frames: np.ndarray, path: str, duration_ms: int = 100) -> None:
    """Write uint8 frames [T, H, W, C] (C = 1 or 3) as a looping animated GIF; atomic."""
    frames = frames[..., 0] if frames.shape[-1] == 1 else frames
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".gif")
    os.close(fd)
    try:
        first, *rest = [Image.fromarray(f) for f in frames]
        first.save(tmp, save_all=True, append_images=rest, duration=duration_ms, loop=0)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_curves(curves: dict, path: str, xlabel: str = "step", ylabel: str = "loss") -> None:
    """Plot 1-D arrays ``{label: values}`` against their index, log y axis, to a PNG (matplotlib)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    for label, values in curves.items():
        ax.plot(np.asarray(values), label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, yscale="log")
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
