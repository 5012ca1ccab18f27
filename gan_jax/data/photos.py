"""Offline photos and fixed random patches of them (``photos``, ``photos:train``, ``photos:heldout``).

The photos are the ones shipped inside installed packages, so they need no network:

* ``china``, ``flower``: scikit-learn's ``load_sample_images`` (427 x 640 JPEGs, the
  training photos);
* ``grace_hopper``: matplotlib's sample data (600 x 512 JPEG, **held out**: never in the
  training split, used for every evaluation of the image-to-image models).

A :class:`PatchSource` is a random-access dataset of ``num`` crops of ``resolution`` px,
drawn once from a fixed seed (photo chosen in proportion to its area, position uniform,
horizontal flip with probability 1/2): item ``i`` is always the same patch.
"""
from __future__ import annotations

import functools
import importlib.util
import os

import numpy as np
from PIL import Image

from gan_jax.data.convert import convert_channels
from gan_jax.data.source import ImageSource
from gan_jax.errors import UserError

PHOTOS = {
    "china": ("sklearn", ("datasets", "images", "china.jpg")),
    "flower": ("sklearn", ("datasets", "images", "flower.jpg")),
    "grace_hopper": ("matplotlib", ("mpl-data", "sample_data", "grace_hopper.jpg")),
}
SPLITS = {"train": ("china", "flower"), "heldout": ("grace_hopper",)}
"""The fixed photo split: ``heldout`` photos are never in ``train``."""


def photo_path(name: str) -> str:
    """The file of photo ``name`` inside its package (found without importing the package)."""
    if name not in PHOTOS:
        raise UserError(f"photo {name!r}: unknown; expected one of {', '.join(PHOTOS)}")
    package, parts = PHOTOS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"photo {name!r}: package {package} is not installed (pip install {package})")
    path = os.path.join(list(spec.submodule_search_locations)[0], *parts)
    if not os.path.isfile(path):
        raise UserError(f"photo {name!r}: {path} is missing from the installed {package}")
    return path


@functools.lru_cache(maxsize=None)
def read_photo(name: str) -> np.ndarray:
    """Photo ``name`` as uint8 [H, W, 3] (read-only, cached)."""
    with Image.open(photo_path(name)) as im:
        photo = np.asarray(im.convert("RGB"))
    photo.setflags(write=False)
    return photo


def read_split(split: str) -> list[np.ndarray]:
    """The photos of ``split`` (``train`` or ``heldout``), uint8 [H, W, 3] each."""
    if split not in SPLITS:
        raise UserError(f"dataset photos:{split}: unknown split; expected photos:train or photos:heldout")
    return [read_photo(n) for n in SPLITS[split]]


class PatchSource(ImageSource):
    """``num`` fixed random ``resolution``-px crops of ``photos`` (uint8 [H, W, 3] each)."""

    def __init__(self, name: str, photos: list[np.ndarray], resolution: int, channels: int,
                 num: int = 16384, seed: int = 0):
        small = [p.shape for p in photos if min(p.shape[:2]) < resolution]
        if small:
            raise UserError(f"dataset {name}: resolution={resolution} is larger than a photo {small[0][:2]}")
        self.name, self.photos = name, photos
        self.resolution, self.channels = resolution, channels
        self.labels, self.num_classes = None, None
        rng = np.random.default_rng(seed)
        area = np.array([(p.shape[0] - resolution + 1) * (p.shape[1] - resolution + 1) for p in photos], float)
        self.photo = rng.choice(len(photos), size=num, p=area / area.sum())
        limits = np.array([[p.shape[0] - resolution + 1, p.shape[1] - resolution + 1] for p in photos])
        self.corner = (rng.random((num, 2)) * limits[self.photo]).astype(np.int64)
        self.flip = rng.random(num) < 0.5

    def __len__(self) -> int:
        return len(self.photo)

    def get(self, indices) -> tuple[np.ndarray, None]:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        r = self.resolution
        out = np.empty((len(idx), r, r, 3), np.uint8)
        for j, i in enumerate(idx):
            (y, x), photo = self.corner[i], self.photos[self.photo[i]]
            crop = photo[y:y + r, x:x + r]
            out[j] = crop[:, ::-1] if self.flip[i] else crop
        return convert_channels(out, self.channels, self.name), None


def photo_patches(split: str, resolution: int, channels: int) -> PatchSource:
    """The ``photos[:SPLIT]`` dataset: fixed patches of the ``train`` or ``heldout`` photos."""
    return PatchSource(f"photos:{split}", read_split(split), resolution, channels,
                       seed=0 if split == "train" else 1)
