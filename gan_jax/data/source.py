"""`ImageSource`: a random-access image dataset.

``src.get(indices)`` returns ``(images, labels)``: uint8 ``[n, H, W, C]`` with
``H == W == src.resolution`` and ``C == src.channels``, and int32 ``[n]`` labels
or ``None``. The base class holds its images in memory; subclasses (the TFDS
source) override ``__len__`` and ``get`` to decode lazily.
"""
from __future__ import annotations

import numpy as np


class ImageSource:
    """In-memory source: ``images`` uint8 ``[N, R, R, C]``, ``labels`` int ``[N]`` or None."""

    def __init__(self, name: str, images: np.ndarray, labels: np.ndarray | None = None,
                 num_classes: int | None = None):
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != images.shape[2]:
            raise ValueError(f"{name}: images must be uint8 [N, R, R, C], got "
                             f"{images.dtype} {images.shape}")
        if labels is not None:
            labels = np.asarray(labels).astype(np.int32, copy=False)
            if labels.shape != images.shape[:1]:
                raise ValueError(f"{name}: labels shape {labels.shape} does not match "
                                 f"{len(images)} images")
            if num_classes is None and len(labels):
                num_classes = int(labels.max()) + 1
        self.name = name
        self.images = images
        self.labels = labels
        self.resolution = int(images.shape[1])
        self.channels = int(images.shape[3])
        self.num_classes = num_classes if labels is not None else None

    def __len__(self) -> int:
        return len(self.images)

    def get(self, indices) -> tuple[np.ndarray, np.ndarray | None]:
        """Images uint8 ``[n, R, R, C]`` and labels int32 ``[n]`` (or None) at ``indices``."""
        idx = np.asarray(indices, dtype=np.int64)
        return self.images[idx], (None if self.labels is None else self.labels[idx])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, n={len(self)}, "
                f"resolution={self.resolution}, channels={self.channels}, "
                f"num_classes={self.num_classes})")
