"""Image folders (``folder:PATH``): every png/jpg/jpeg/bmp/gif/webp under PATH,
recursively, decoded with Pillow at load time, centre-cropped to a square and
Lanczos-resized to the target resolution. Labels are the index of the
top-level subfolder when there are two or more and every image is in one."""
from __future__ import annotations

import concurrent.futures
import os

import numpy as np
from PIL import Image

from gan_jax.data.convert import resize_square
from gan_jax.errors import UserError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def list_images(root: str) -> list[str]:
    """Sorted relative paths of the image files under ``root``."""
    found = []
    for d, subdirs, files in os.walk(root, followlinks=True):
        subdirs.sort()
        found += [os.path.relpath(os.path.join(d, f), root)
                  for f in files if f.lower().endswith(EXTENSIONS)]
    return sorted(found)


def load_image(path: str, resolution: int, channels: int, what: str) -> np.ndarray:
    """One file -> uint8 ``[resolution, resolution, channels]``."""
    try:
        with Image.open(path) as im:
            im.load()
            im = im.convert("L" if channels == 1 else "RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise UserError(f"{what}: cannot decode image {path} ({e})") from None
    if min(im.size) < resolution:
        raise UserError(f"{what}: image {path} is {im.size[0]}x{im.size[1]}; "
                        f"expected at least {resolution} px on the short side "
                        f"(resolution={resolution})")
    arr = np.asarray(im).reshape(im.size[1], im.size[0], channels)
    return resize_square(arr, resolution)


def folder_labels(relpaths: list[str]) -> tuple[np.ndarray | None, int | None]:
    """Labels int32 ``[N]`` from top-level subfolder names, or (None, None)."""
    tops = [p.split(os.sep, 1)[0] if os.sep in p else None for p in relpaths]
    classes = sorted(set(tops) - {None})
    if None in tops or len(classes) < 2:
        return None, None
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[t] for t in tops], np.int32), len(classes)


def read_folder(root: str, resolution: int, channels: int, what: str):
    """Returns images uint8 ``[N, R, R, C]``, labels int32 ``[N]`` or None, num_classes."""
    if not os.path.isdir(root):
        raise UserError(f"{what}: {root} is not a directory; expected a folder of images")
    relpaths = list_images(root)
    if not relpaths:
        raise UserError(f"{what}: no images ({'/'.join(EXTENSIONS)}) found under {root}")
    paths = [os.path.join(root, p) for p in relpaths]
    images = np.empty((len(paths), resolution, resolution, channels), np.uint8)
    workers = min(8, os.cpu_count() or 1)
    pool = concurrent.futures.ThreadPoolExecutor(workers)
    try:
        for i, img in enumerate(pool.map(
                lambda p: load_image(p, resolution, channels, what), paths)):
            images[i] = img
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    labels, num_classes = folder_labels(relpaths)
    return images, labels, num_classes
