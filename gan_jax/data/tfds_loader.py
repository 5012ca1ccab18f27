"""TFDS datasets (``tfds:NAME[:SPLIT]``) through ``tfds.data_source``
(array_record random access; TensorFlow is not needed).

Nothing is ever downloaded: the prepared dataset must already be in the data
dir, otherwise loading fails at once with a UserError saying how to get it.
Images are decoded lazily, per item, in ``get``.
"""
from __future__ import annotations

import os
import re

import numpy as np

from gan_jax.data.convert import fit_images
from gan_jax.data.source import ImageSource
from gan_jax.errors import UserError

_VERSION_RE = re.compile(r"^(\d+|\*)\.(\d+|\*)\.(\d+|\*)(:|$)")


def parse_tfds_spec(rest: str) -> tuple[str, str]:
    """``NAME[/CONFIG][:VERSION][:SPLIT]`` -> (name for tfds.builder, split; default train)."""
    name, _, split = rest.partition(":")
    if _VERSION_RE.match(split):                       # NAME:1.2.3[:SPLIT]
        version, _, split = split.partition(":")
        name = f"{name}:{version}"
    if not name:
        raise UserError(f"dataset tfds:{rest}: expected tfds:NAME[:SPLIT], e.g. tfds:mnist:train")
    return name, split or "train"


def _first_line(e: BaseException) -> str:
    """The first line of an exception message, without a dangling "...match:" tail."""
    line = (str(e).strip().splitlines() or [type(e).__name__])[0]
    if line.endswith(":") and ". " in line:
        line = line[:line.rindex(". ") + 1]
    return line


class TfdsSource(ImageSource):
    """A TFDS split read lazily: ``get`` decodes and fits only the requested items. It
    pickles as its ``data_source`` (what Grain's worker processes receive)."""

    lazy = True

    def __init__(self, name: str, data_source, resolution: int, channels: int,
                 num_classes: int | None, has_labels: bool):
        self.name = name
        self.data_source = data_source
        self.resolution = resolution
        self.channels = channels
        self.num_classes = num_classes
        self.has_labels = has_labels
        self._len = len(data_source)

    def __len__(self) -> int:
        return self._len

    def get(self, indices) -> tuple[np.ndarray, np.ndarray | None]:
        idx = [int(i) for i in np.asarray(indices, dtype=np.int64).reshape(-1)]
        for i in idx:
            if not -self._len <= i < self._len:
                raise IndexError(f"{self.name}: index {i} out of range for {self._len} items")
        idx = [i % self._len for i in idx]
        items = self.data_source.__getitems__(idx) if idx else []
        images = fit_images([it["image"] for it in items], self.resolution, self.channels,
                            self.name)
        labels = (np.array([it["label"] for it in items], np.int32)
                  if self.has_labels else None)
        return images, labels


def load_tfds(rest: str, resolution: int, channels: int, data_dir: str | None) -> TfdsSource:
    """Open a prepared TFDS split; UserError (fast, no network) if it is not there."""
    import tensorflow_datasets as tfds   # lazy: importing tfds costs ~0.3 s

    what = f"dataset tfds:{rest}"
    name, split = parse_tfds_spec(rest)
    try:
        builder = tfds.builder(name, data_dir=data_dir or None)
    except tfds.core.registered.DatasetNotFoundError:
        raise UserError(f"{what}: no TFDS dataset named {name!r} (not registered and not "
                        f"prepared under {data_dir or 'the default TFDS data dir'})") from None
    except (ValueError, ImportError, TypeError) as e:
        raise UserError(f"{what}: {_first_line(e)}") from None
    if not builder.is_prepared():
        top = builder.info.full_name.split("/")[0]      # full_name: name[/config]/version
        root = builder.data_dir
        for _ in builder.info.full_name.split("/"):
            root = os.path.dirname(root)
        raise UserError(
            f"{what}: not prepared at {builder.data_dir} (downloads are disabled); on a "
            f"machine with network run `tfds build {name} --data_dir DIR --file_format "
            f"array_record`, then copy DIR/{top} into {root} (or point tfds_data_dir at DIR)")
    features = builder.info.features
    if "image" not in features:
        raise UserError(f"{what}: has no 'image' feature (features: {', '.join(features)})")
    try:
        source = builder.as_data_source(split=split)
    except NotImplementedError:
        raise UserError(
            f"{what}: prepared as {builder.info.file_format} at {builder.data_dir}; random "
            f"access needs array_record: `tfds build {name} --file_format array_record`"
        ) from None
    except (ValueError, KeyError) as e:
        raise UserError(f"{what}: {_first_line(e)}") from None
    if len(source) == 0:
        raise UserError(f"{what}: split {split!r} is empty")
    label = features["label"] if "label" in features else None
    num_classes = getattr(label, "num_classes", None)
    has_labels = isinstance(label, tfds.features.ClassLabel)
    return TfdsSource(f"tfds:{name}:{split}", source, resolution, channels,
                      num_classes if has_labels else None, has_labels)
