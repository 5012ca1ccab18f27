"""Image grids and files: [N, H, W, C] float arrays in [-1, 1] <-> PNG (and GIF, loss plots)."""
from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image

from gan_jax.errors import UserError
from gan_jax.files import atomic_write

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


def load_image_of_shape(path: str, shape: tuple[int, int, int], option: str = "--image") -> np.ndarray:
    """An image file as float32 [H, W, C] in [-1, 1]; UserError naming ``option`` unless it has
    exactly ``shape`` (a model's resolution and channels)."""
    image = load_image(path, option)
    if image.shape != tuple(shape):
        h, w, c = image.shape
        raise UserError(f"{option} {path}: {h}x{w} with {c} channel(s); expected {shape[0]}x{shape[1]} with "
                        f"{shape[2]} channel(s), the model's resolution and channels")
    return image


def load_image_with_channels(path: str, channels: int, option: str = "--image") -> np.ndarray:
    """An image file of any size as float32 [H, W, channels] in [-1, 1]: a greyscale file is
    repeated over RGB; a colour file for ``channels=1`` is a UserError naming ``option``."""
    image = load_image(path, option)
    if image.shape[-1] == channels:
        return image
    if image.shape[-1] == 1:
        return np.repeat(image, channels, axis=-1)
    raise UserError(f"{option} {path}: has {image.shape[-1]} channels; the model expects {channels} "
                    f"(greyscale)")


def _image_format(path: str) -> str:
    """PIL's format name for ``path``'s extension (PNG without one); ValueError for an unknown one."""
    ext = os.path.splitext(path)[1].lower()
    if not ext:
        return "PNG"
    formats = Image.registered_extensions()
    if ext not in formats:
        raise ValueError(f"unknown image file extension {ext!r}: {path}")
    return formats[ext]


def save_image(array: np.ndarray, path: str) -> None:
    """Write a uint8 [H, W, C] (C = 1 or 3) image, in the format of ``path``'s extension (PNG
    without one); atomic (:func:`gan_jax.files.atomic_write`)."""
    array = array[..., 0] if array.shape[-1] == 1 else array
    image, fmt = Image.fromarray(array), _image_format(path)
    with atomic_write(path) as f:
        image.save(f, format=fmt)


def save_grid(images: np.ndarray, path: str, ncol: int | None = None) -> None:
    """Save [N, H, W, C] images in [-1, 1] as one grid image at ``path``."""
    save_image(make_grid(images, ncol), path)


def save_array(array: np.ndarray, path: str) -> None:
    """Write a ``.npy`` file atomically."""
    with atomic_write(path) as f:
        np.save(f, array)


def grid_frames(images: np.ndarray, ncol: int | None = None, pad: int = 2, bounce: bool = False) -> np.ndarray:
    """The frames of an animation of N sequences of T images, images [N, T, H, W, C] in [-1, 1]:
    frame t is the grid (:func:`make_grid`, ``ncol`` columns) of every sequence's image t.
    -> uint8 [T, H', W', C]; with ``bounce``, forwards then back without repeating the ends:
    [2T - 2, H', W', C] (T frames when T <= 2)."""
    images = np.asarray(images)
    if images.ndim != 5:
        raise ValueError(f"grid_frames: images of shape {images.shape}; expected [N, T, H, W, C]")
    frames = [make_grid(images[:, t], ncol=ncol, pad=pad) for t in range(images.shape[1])]
    if bounce:
        frames = frames + frames[-2:0:-1]
    return np.stack(frames)


def save_gif(frames: np.ndarray, path: str, duration_ms: int = 100) -> None:
    """Write uint8 frames [T, H, W, C] (C = 1 or 3) as a looping animated GIF, ``duration_ms``
    per frame; atomic. (:func:`grid_frames` makes the frames of a grid animation.)"""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[0] < 1 or frames.shape[-1] not in (1, 3) or frames.dtype != np.uint8:
        raise ValueError(f"save_gif: frames {frames.dtype} {list(frames.shape)}; expected uint8 [T, H, W, 1 or 3]")
    frames = frames[..., 0] if frames.shape[-1] == 1 else frames
    first, *rest = [Image.fromarray(f) for f in frames]
    with atomic_write(path) as f:
        first.save(f, format="GIF", save_all=True, append_images=rest, duration=duration_ms, loop=0)


def save_curves(curves: dict, path: str, xlabel: str = "step", ylabel: str = "loss") -> None:
    """Plot 1-D arrays ``{label: values}`` against their index, log y axis, to a PNG (matplotlib); atomic."""
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
    try:
        with atomic_write(path) as f:
            fig.savefig(f, format="png")
    finally:
        plt.close(fig)
