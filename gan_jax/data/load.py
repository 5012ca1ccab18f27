"""`load_source(spec, ...)`: turn a dataset spec string into an `ImageSource`.

Specs: ``mnist5k`` (embedded; ``:test`` every tenth digit, 500, 50 of each class as the rows
are sorted by class, ``:train`` the other 4,500), ``fashion_mnist`` (Debian idx files; ``:train``
the first 60k, ``:test`` the last 10k), ``idx:PATH``, ``tfds:NAME[:SPLIT]``,
``folder:PATH``, ``photos[:train|heldout]`` (patches of the photos shipped in
scikit-learn and matplotlib, :mod:`gan_jax.data.photos`), ``faces100`` (the 100 faces of
scikit-image's ``lfw_subset``, :mod:`gan_jax.data.faces100`), ``stacked_mnist`` (three MNIST-5k
digits as RGB, 1,000 modes, :mod:`gan_jax.data.stacked_mnist`; channels=3). Every source is fitted
to ``resolution`` x ``resolution`` pixels and ``channels`` (1 or 3).

An image folder is decoded into memory at once when it is small (``pipeline="auto"``: up to
:data:`~gan_jax.data.pipeline.MEMORY_LIMIT_BYTES` of decoded images; ``"memory"``: always) and
opened lazily otherwise (a :class:`~gan_jax.data.folder.FolderSource`: files listed, each decoded
when read). TFDS sets are always read lazily.
"""
from __future__ import annotations

import os

import numpy as np

from gan_jax.data.convert import check_target, fit_images
from gan_jax.data.folder import FolderSource
from gan_jax.data.idx import read_fashion_mnist, read_idx_dataset
from gan_jax.data.mnist5k import read_mnist5k
from gan_jax.data.photos import photo_patches
from gan_jax.data.source import ImageSource
from gan_jax.data.tfds_loader import load_tfds
from gan_jax.errors import UserError

SPEC_FORMS = ("mnist5k[:train|test], fashion_mnist[:train|test], idx:PATH, tfds:NAME[:SPLIT], folder:PATH, "
              "photos[:train|heldout], faces100, stacked_mnist")


def _in_memory(name, images, labels, resolution, channels, num_classes=None) -> ImageSource:
    images = fit_images(images, resolution, channels, f"dataset {name}")
    return ImageSource(name, images, labels, num_classes=num_classes)


def load_source(spec: str, *, resolution: int, channels: int,
                tfds_data_dir: str | None = None, pipeline: str = "auto") -> ImageSource:
    """Load the dataset named by ``spec``; images come out uint8 ``[R, R, channels]``.
    ``pipeline`` (``auto``, ``memory``, ``grain``): whether an image folder is decoded now or
    when read (see the module docstring)."""
    from gan_jax.data.pipeline import MEMORY_LIMIT_BYTES, decoded_nbytes, parse_pipeline

    check_target(resolution, channels)
    mode, _ = parse_pipeline(pipeline)
    kind, sep, rest = str(spec).partition(":")
    if not sep and kind == "mnist5k":
        images, labels = read_mnist5k()
        return _in_memory("mnist5k", images, labels, resolution, channels, 10)
    if kind == "mnist5k" and rest in ("train", "test"):  # held out: every tenth digit
        images, labels = read_mnist5k()
        test = np.arange(len(images)) % 10 == 0
        part = test if rest == "test" else ~test
        return _in_memory(spec, images[part], labels[part], resolution, channels, 10)
    if not sep and kind == "faces100":
        from gan_jax.data.faces100 import read_faces100
        return _in_memory("faces100", read_faces100(), None, resolution, channels)
    if not sep and kind == "stacked_mnist":
        from gan_jax.data.stacked_mnist import StackedMNIST
        if channels != 3:
            raise UserError(f"dataset stacked_mnist: its digits are the 3 colour channels; expected channels=3, "
                            f"got {channels}")
        digits, labels = read_mnist5k()
        return StackedMNIST(fit_images(digits, resolution, 1, "dataset stacked_mnist"), labels)
    if not sep and kind == "fashion_mnist":
        images, labels = read_fashion_mnist()
        return _in_memory("fashion_mnist", images, labels, resolution, channels, 10)
    if kind == "fashion_mnist" and rest in ("train", "test"):  # the first 60k / the last 10k
        images, labels = read_fashion_mnist()
        part = slice(None, 60000) if rest == "train" else slice(60000, None)
        return _in_memory(spec, images[part], labels[part], resolution, channels, 10)
    if kind == "photos" and rest in ("", "train", "heldout"):
        return photo_patches(rest or "train", resolution, channels)
    if sep and rest and kind == "idx":
        images, labels = read_idx_dataset(os.path.expanduser(rest), f"dataset {spec}")
        return _in_memory(spec, images, labels, resolution, channels)
    if sep and rest and kind == "folder":
        folder = FolderSource.open(spec, os.path.expanduser(rest), resolution, channels)
        if mode == "grain" or (mode == "auto" and decoded_nbytes(folder) > MEMORY_LIMIT_BYTES):
            return folder
        return folder.in_memory()
    if sep and rest and kind == "tfds":
        data_dir = os.path.expanduser(str(tfds_data_dir)) if tfds_data_dir else None
        return load_tfds(rest, resolution, channels, data_dir)
    raise UserError(f"dataset {spec!r}: unknown spec; expected one of {SPEC_FORMS}")
