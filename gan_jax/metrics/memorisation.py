"""Does a generator copy its training images? Nearest training image of each sample, in pixels.

For few-shot data (the 100 faces of ``faces100``) a Fréchet distance cannot tell a generator
that reproduces its training set from one that generalises. The check of the DiffAugment /
ADA few-shot papers: for each sample, the L2 pixel distance to its nearest training image;
a sample is *memorised* when that distance is smaller than the smallest distance between
two distinct training images (no sample should be closer to a training image than the
training images are to each other).

    nearest = nearest_training(samples, train)       # {"index": [N], "distance": [N]}
    memorised_share(samples, train)                  # {"share": 0.03, "threshold": ..., ...}
"""
from __future__ import annotations

import numpy as np


def _flat(images: np.ndarray, name: str) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"{name} must be a non-empty [N, H, W, C] image array, got shape {images.shape}")
    return images.reshape(len(images), -1).astype(np.float64)


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """L2 distances [N, M] between the rows of a [N, D] and b [M, D]."""
    d2 = np.sum(a * a, 1)[:, None] - 2.0 * a @ b.T + np.sum(b * b, 1)[None, :]
    return np.sqrt(np.maximum(d2, 0.0))


def nearest_training(samples: np.ndarray, train: np.ndarray) -> dict:
    """For samples [N, H, W, C] and training images [M, H, W, C] (same shape and value range):
    ``{"index": int [N] nearest training image, "distance": float [N] its L2 pixel distance}``."""
    s, t = _flat(samples, "samples"), _flat(train, "train")
    if s.shape[1] != t.shape[1]:
        raise ValueError(f"samples {np.shape(samples)[1:]} and training images {np.shape(train)[1:]} differ in shape")
    d = pairwise_distances(s, t)
    index = d.argmin(axis=1)
    return {"index": index, "distance": d[np.arange(len(s)), index]}


def closest_training_pair(train: np.ndarray) -> float:
    """The smallest L2 pixel distance between two distinct training images (exact duplicates,
    distance 0, are skipped: they are the same image twice)."""
    t = _flat(train, "train")
    if len(t) < 2:
        raise ValueError("train must hold at least two images")
    d = pairwise_distances(t, t)
    d[np.tril_indices(len(t))] = np.inf
    d[d <= 1e-9] = np.inf
    return float(d.min())


def memorised_share(samples: np.ndarray, train: np.ndarray) -> dict:
    """``{"share": fraction of samples closer to a training image than ``threshold``,
    "threshold": :func:`closest_training_pair`, "median_distance": median nearest distance,
    "distinct_nearest": how many training images are some sample's nearest}``."""
    nearest = nearest_training(samples, train)
    threshold = closest_training_pair(train)
    return {"share": float(np.mean(nearest["distance"] < threshold)), "threshold": threshold,
            "median_distance": float(np.median(nearest["distance"])),
            "distinct_nearest": int(len(np.unique(nearest["index"])))}
