"""``stacked_mnist``: three MNIST-5k digits as the R, G and B channels of one image, 1,000
modes (the PacGAN / VEEGAN protocol for counting the modes a GAN covers, built from the
embedded digits). Label = 100 * digit(R) + 10 * digit(G) + digit(B), in 0..999.

The triples are drawn once with a fixed seed (:data:`SIZE` images, each digit uniformly from
the 5,000); images are composed on demand from the three digits, so the source holds only
the digits and the index table."""
from __future__ import annotations

import numpy as np

from gan_jax.data.source import ImageSource

SIZE = 100_000
"""Number of stacked images (the triples drawn with seed 0)."""
SEED = 0


def digit_triples(count: int, size: int = SIZE, seed: int = SEED) -> np.ndarray:
    """int64 ``[size, 3]``: indices of the R, G and B digits among ``count`` digits."""
    return np.random.default_rng(seed).integers(0, count, size=(size, 3))


class StackedMNIST(ImageSource):
    """Stacked images uint8 ``[R, R, 3]`` composed from ``digits`` uint8 ``[N, R, R, 1]`` and
    their ``labels`` [N] (0..9)."""

    def __init__(self, digits: np.ndarray, labels: np.ndarray, size: int = SIZE, seed: int = SEED):
        self.name = "stacked_mnist"
        self.digits = np.asarray(digits)
        self.digit_labels = np.asarray(labels).astype(np.int32)
        self.triples = digit_triples(len(self.digits), size, seed)
        self.resolution = int(self.digits.shape[1])
        self.channels = 3
        self.num_classes = 1000

    @property
    def labels(self) -> np.ndarray:
        """int32 ``[size]``: 100 * R digit + 10 * G digit + B digit."""
        d = self.digit_labels[self.triples]
        return (100 * d[:, 0] + 10 * d[:, 1] + d[:, 2]).astype(np.int32)

    def __len__(self) -> int:
        return len(self.triples)

    def get(self, indices) -> tuple[np.ndarray, np.ndarray]:
        """Images uint8 ``[n, R, R, 3]`` and labels int32 ``[n]`` at ``indices``."""
        triples = self.triples[np.asarray(indices, dtype=np.int64)]  # [n, 3]
        images = np.concatenate([self.digits[triples[:, c]] for c in range(3)], axis=-1)
        d = self.digit_labels[triples]
        return images, (100 * d[:, 0] + 10 * d[:, 1] + d[:, 2]).astype(np.int32)
