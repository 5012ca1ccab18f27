"""Image folders (``folder:PATH``): every png/jpg/jpeg/bmp/gif/webp under PATH,
recursively, decoded with Pillow, centre-cropped to a square and Lanczos-resized to
the target resolution. Labels are the index of the top-level subfolder when there are
two or more and every image is in one.

:func:`read_folder` decodes every file at once (the in-memory path); a
:class:`FolderSource` lists the files and decodes only what ``get`` asks for (the
lazy path, for folders larger than memory: :mod:`gan_jax.data.grain_pipeline`)."""
from __future__ import annotations

import concurrent.futures
import functools
import os

import numpy as np
from PIL import Image

from gan_jax.data.convert import resize_square
from gan_jax.data.source import ImageSource
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


def find_images(root: str, what: str) -> list[str]:
    """:func:`list_images`, or a UserError when ``root`` is no folder or holds no image."""
    if not os.path.isdir(root):
        raise UserError(f"{what}: {root} is not a directory; expected a folder of images")
    relpaths = list_images(root)
    if not relpaths:
        raise UserError(f"{what}: no images ({'/'.join(EXTENSIONS)}) found under {root}")
    return relpaths


def decode_images(paths: list[str], resolution: int, channels: int, what: str) -> np.ndarray:
    """The files ``paths`` -> uint8 ``[N, R, R, C]`` (several files: decoded in threads)."""
    images = np.empty((len(paths), resolution, resolution, channels), np.uint8)
    if len(paths) < 8:
        for i, p in enumerate(paths):
            images[i] = load_image(p, resolution, channels, what)
        return images
    pool = concurrent.futures.ThreadPoolExecutor(min(8, os.cpu_count() or 1))
    try:
        for i, img in enumerate(pool.map(
                lambda p: load_image(p, resolution, channels, what), paths)):
            images[i] = img
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return images


def read_folder(root: str, resolution: int, channels: int, what: str):
    """Returns images uint8 ``[N, R, R, C]``, labels int32 ``[N]`` or None, num_classes."""
    relpaths = find_images(root, what)
    images = decode_images([os.path.join(root, p) for p in relpaths], resolution, channels, what)
    labels, num_classes = folder_labels(relpaths)
    return images, labels, num_classes


class FolderSource(ImageSource):
    """The images of a folder, decoded lazily: ``get`` reads only the files it is asked for.

    Pickles as its file list (what Grain's worker processes receive). ``images`` (every
    image decoded, cached) is there for callers that want the whole array; the in-memory
    path is :meth:`in_memory`."""

    lazy = True

    def __init__(self, name: str, root: str, relpaths: list[str], resolution: int, channels: int):
        self.name, self.root = name, root
        self.relpaths = list(relpaths)
        self.resolution, self.channels = int(resolution), int(channels)
        self.labels, self.num_classes = folder_labels(self.relpaths)

    @classmethod
    def open(cls, name: str, root: str, resolution: int, channels: int) -> "FolderSource":
        """List the images under ``root`` (nothing is decoded)."""
        return cls(name, root, find_images(root, f"dataset {name}"), resolution, channels)

    def __len__(self) -> int:
        return len(self.relpaths)

    def get(self, indices) -> tuple[np.ndarray, np.ndarray | None]:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        paths = [os.path.join(self.root, self.relpaths[i]) for i in idx]
        images = decode_images(paths, self.resolution, self.channels, f"dataset {self.name}")
        return images, (None if self.labels is None else self.labels[idx])

    @functools.cached_property
    def images(self) -> np.ndarray:  # noqa: D102 - the base class's attribute, decoded on first use
        return self.get(np.arange(len(self)))[0]

    def in_memory(self) -> ImageSource:
        """Every image decoded into one array (what :func:`read_folder` gives)."""
        return ImageSource(self.name, self.images, self.labels, num_classes=self.num_classes)

    def __getstate__(self):  # the file list, never a decoded ``images`` cache
        return {k: v for k, v in self.__dict__.items() if k != "images"}
