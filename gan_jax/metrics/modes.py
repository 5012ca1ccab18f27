"""Mode coverage on Stacked MNIST (the PacGAN / VEEGAN protocol).

A Stacked MNIST image holds three digits as its R, G and B channels, so the data has 1,000
modes (``100 * R + 10 * G + B``, uniform). A digit classifier labels each channel of each
sample; a mode is *covered* when at least one sample falls in it, and the KL divergence
``KL(p_samples || uniform)`` says how evenly the samples spread over the modes (0 when
perfectly even, ``log 1000 = 6.91`` when all samples share one mode).

    classes = channel_classes(classifier.predict, samples)   # [N, 3] digits 0..9
    mode_coverage(classes)   # {"modes": 987, "kl": 0.08, ...}
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def channel_classes(predict: Callable[[np.ndarray], np.ndarray], samples: np.ndarray) -> np.ndarray:
    """int ``[N, C]``: the class ``predict`` gives each channel of ``samples`` ``[N, H, W, C]``.

    ``predict`` maps one-channel images ``[n, H, W, 1]`` to classes ``[n]`` (e.g. the first
    output of :meth:`gan_jax.metrics.classifier.Classifier.predict`)."""
    samples = np.asarray(samples)
    if samples.ndim != 4:
        raise ValueError(f"samples must be [N, H, W, C] images, got shape {samples.shape}")
    n, h, w, c = samples.shape
    planes = np.moveaxis(samples, -1, 1).reshape(n * c, h, w, 1)  # sample-major: [s0c0, s0c1, ...]
    return np.asarray(predict(planes)).reshape(n, c).astype(np.int64)


def mode_coverage(classes: np.ndarray, num_classes: int = 10) -> dict:
    """Modes covered and KL to uniform for per-channel classes ``[N, C]`` (ints in
    ``[0, num_classes)``); there are ``num_classes ** C`` modes.

    Returns ``{"modes": covered, "of": all modes, "kl": KL(p || uniform) in nats,
    "samples": N, "largest_mode_share": the biggest mode's share}``."""
    classes = np.asarray(classes)
    if classes.ndim != 2 or len(classes) == 0:
        raise ValueError(f"classes must be a non-empty [N, C] array of per-channel classes, got shape {classes.shape}")
    if classes.min() < 0 or classes.max() >= num_classes:
        raise ValueError(f"classes must lie in [0, {num_classes}), got {classes.min()} .. {classes.max()}")
    channels = classes.shape[1]
    modes = np.zeros(len(classes), np.int64)
    for c in range(channels):  # R is the most significant digit: 100 R + 10 G + B for three channels
        modes = modes * num_classes + classes[:, c]
    total = num_classes ** channels
    p = np.bincount(modes, minlength=total) / len(modes)
    seen = p > 0
    kl = float(np.sum(p[seen] * np.log(p[seen] * total)))
    return {"modes": int(seen.sum()), "of": int(total), "kl": kl, "samples": int(len(modes)),
            "largest_mode_share": float(p.max())}
