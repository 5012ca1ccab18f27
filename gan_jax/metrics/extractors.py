"""Feature extractors for the sample-quality metrics, chosen by a spec string.

``classifier:PATH``  a domain classifier trained by ``gan-jax train-classifier``
                     (penultimate features; distances are *classifier* distances)
``inception:PATH``   InceptionV3 of FID from a converted weights file (``.npz``;
                     see :mod:`gan_jax.metrics.convert_inception`)

With no spec, ``gan-jax evaluate`` uses the dataset's default extractor, a domain
classifier trained on first use and cached (:mod:`gan_jax.metrics.default_extractor`).

An extractor maps images ``[N, H, W, C]`` in [-1, 1] to ``(features [N, D],
logits [N, K])`` (numpy float32) and carries the ``name`` its numbers are reported
under, plus a ``fingerprint`` of its weights for caching reference statistics.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Callable

import numpy as np

from gan_jax.errors import UserError


@dataclasses.dataclass(frozen=True)
class Extractor:
    """``name`` (what the numbers are labelled with), ``fingerprint`` (weights hash),
    ``fn``: images [N, H, W, C] in [-1, 1] -> (features [N, D], logits [N, K]);
    ``image_shape``: the (H, W, C) it accepts, or None for any (it resizes)."""

    name: str
    fingerprint: str
    fn: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    image_shape: tuple[int, int, int] | None = None

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.fn(images)


def _file_hash(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def classifier_extractor(clf, directory: str) -> Extractor:
    """The :class:`Extractor` of a :class:`~gan_jax.metrics.classifier.Classifier` saved in ``directory``
    (its penultimate features; fingerprint: the hash of its ``params.msgpack``)."""
    return Extractor(f"classifier:{clf.info['name']}", _file_hash(os.path.join(directory, "params.msgpack")),
                     lambda x: clf.logits_and_features(x)[::-1], tuple(clf.info["image_shape"]))


def check_extractor(config, extractor: Extractor) -> None:
    """UserError if ``extractor`` cannot take the images of ``config``'s model."""
    shape = (config.resolution, config.resolution, config.channels)
    if extractor.image_shape is not None and tuple(extractor.image_shape) != shape:
        raise UserError(f"extractor {extractor.name} takes images {tuple(extractor.image_shape)}, "
                        f"but this run's model makes {shape}")


def load_extractor(spec: str) -> Extractor:
    """``classifier:PATH`` or ``inception:PATH`` -> :class:`Extractor` (UserError on bad input)."""
    kind, _, path = spec.partition(":")
    if kind not in ("classifier", "inception") or not path:
        raise UserError(f"extractor {spec!r}: expected classifier:DIR (from gan-jax train-classifier) "
                        f"or inception:FILE.npz (converted FID Inception weights)")
    if kind == "classifier":
        from gan_jax.metrics.classifier import Classifier

        return classifier_extractor(Classifier.load(path), path)
    if not os.path.isfile(path):
        raise UserError(f"extractor {spec!r}: weights file {path} not found; convert the FID Inception "
                        f"weights once with python -m gan_jax.metrics.convert_inception")
    from gan_jax.metrics.inception import InceptionExtractor

    try:
        net = InceptionExtractor(path)
    except ValueError as e:
        raise UserError(f"extractor {spec!r}: {e}") from None
    return Extractor(net.name, _file_hash(path), net)
