"""Fréchet distance between Gaussians fitted to features (FID, FCD).

* :class:`FeatureStats` streams features [N, D] in chunks and keeps their mean
  [D] and unbiased covariance [D, D] (divisor N - 1, like ``numpy.cov`` and
  pytorch-fid) in float64 on the host. Memory is O(D^2) whatever N is: chunks
  are merged with Chan et al.'s pairwise update, so 50k x 2048 needs a few
  hundred MB. ``save``/``load`` use ``.npz`` files with the pytorch-fid keys
  ``mu`` and ``sigma`` (plus ``count``).
* :func:`frechet_distance` is the squared Fréchet (2-Wasserstein) distance
  between N(mu1, cov1) and N(mu2, cov2):

      FD = |mu1 - mu2|^2 + Tr(cov1) + Tr(cov2) - 2 Tr((cov1 cov2)^(1/2))

The matrix square root is taken without ``scipy.linalg.sqrtm`` (which works on
the non-symmetric product cov1 cov2, can return complex noise and fails on
singular covariances). With S = cov1^(1/2) from a symmetric eigendecomposition,
cov1 cov2 = S (S cov2) has the same eigenvalues as (S cov2) S = S cov2 S, which
is symmetric positive semi-definite, so

    Tr((cov1 cov2)^(1/2)) = sum_i sqrt(lambda_i(S cov2 S)),

with eigenvalues within round-off of 0 (or negative) set to 0. Two ``eigh``
calls in float64: stable for rank-deficient covariances (fewer samples than
dimensions), where ``sqrtm`` needs a regularising epsilon.
"""
from __future__ import annotations

import numpy as np

from gan_jax.files import atomic_write

_CHUNK_ROWS = 4096
"""Rows converted to float64 at a time in :meth:`FeatureStats.update` (bounds memory)."""


class FeatureStats:
    """Streaming mean and covariance of features [N, D], in float64.

    ``update`` may be called with chunks of any size; the result equals
    ``features.mean(0)`` and ``np.cov(features, rowvar=False)`` on all rows at once.
    """

    def __init__(self, dim: int | None = None):
        """``dim``: the feature dimension D, or None to take it from the first ``update``."""
        if dim is not None and dim < 1:
            raise ValueError(f"feature dimension must be >= 1, got {dim}")
        self.dim = None
        self.count = 0
        self._mean = self._m2 = None
        if dim is not None:
            self._allocate(dim)

    def _allocate(self, dim: int) -> None:
        self.dim = dim
        self._mean = np.zeros(dim, np.float64)
        self._m2 = np.zeros((dim, dim), np.float64)  # sum of outer products of centred features

    def update(self, features) -> "FeatureStats":
        """Add features [N, D] (any float dtype); returns ``self``."""
        features = np.asarray(features)
        if features.ndim != 2 or features.shape[1] < 1:
            raise ValueError(f"features must have shape [N, D] with D >= 1, got shape {features.shape}")
        if self.dim is None:
            self._allocate(features.shape[1])
        if features.shape[1] != self.dim:
            raise ValueError(f"feature dimension mismatch: these stats have D={self.dim}, "
                             f"got features of shape {features.shape}")
        for start in range(0, features.shape[0], _CHUNK_ROWS):
            self._merge_chunk(features[start:start + _CHUNK_ROWS].astype(np.float64))
        return self

    def _merge_chunk(self, chunk: np.ndarray) -> None:
        # Chan, Golub & LeVeque pairwise update: centred sums, no E[x x^T] - mu mu^T cancellation.
        if not np.all(np.isfinite(chunk)):
            raise ValueError("features contain NaN or inf")
        n_b = chunk.shape[0]
        mean_b = chunk.mean(axis=0)
        centred = chunk - mean_b
        m2_b = centred.T @ centred
        n_a, n = self.count, self.count + n_b
        delta = mean_b - self._mean
        self._mean += delta * (n_b / n)
        self._m2 += m2_b + np.outer(delta, delta) * (n_a * n_b / n)
        self.count = n

    @property
    def mean(self) -> np.ndarray:
        """Mean [D], float64."""
        if self.count < 1:
            raise ValueError("mean of an empty FeatureStats: call update() first")
        return self._mean.copy()

    @property
    def cov(self) -> np.ndarray:
        """Unbiased covariance [D, D] (divisor N - 1), float64."""
        if self.count < 2:
            raise ValueError(f"covariance needs at least 2 samples, got {self.count}")
        return self._m2 / (self.count - 1)

    def save(self, path: str, **extra: np.ndarray) -> None:
        """Write ``mu``, ``sigma`` (pytorch-fid names), ``count`` and any ``extra`` arrays
        to ``path`` (used as given) atomically."""
        mu, sigma = self.mean, self.cov
        with atomic_write(path) as f:  # a file object: np.savez would append .npz to other names
            np.savez(f, **extra, mu=mu, sigma=sigma, count=np.int64(self.count))

    @classmethod
    def load(cls, path: str) -> "FeatureStats":
        """Read stats written by :meth:`save`; ``update`` can continue from them."""
        with np.load(path, allow_pickle=False) as data:
            missing = {"mu", "sigma", "count"} - set(data.files)
            if missing:
                raise ValueError(f"{path}: not a FeatureStats file (missing {', '.join(sorted(missing))})")
            mu, sigma, count = data["mu"], data["sigma"], int(data["count"])
        if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]) or count < 2:
            raise ValueError(f"{path}: inconsistent stats (mu {mu.shape}, sigma {sigma.shape}, count {count})")
        stats = cls(mu.shape[0])
        stats.count = count
        stats._mean = mu.astype(np.float64)
        stats._m2 = sigma.astype(np.float64) * (count - 1)
        return stats


def _psd_eigvals_sqrt(eigvals: np.ndarray) -> np.ndarray:
    """sqrt of the eigenvalues of a PSD matrix, those within round-off of 0 (or below) set to 0.

    The cut-off, max|lambda| * D * eps (as in ``numpy.linalg.matrix_rank``), keeps
    round-off noise ~1e-16 on zero eigenvalues from becoming ~1e-8 after the sqrt.
    """
    cutoff = np.max(np.abs(eigvals), initial=0.0) * eigvals.shape[0] * np.finfo(np.float64).eps
    return np.sqrt(np.where(eigvals > cutoff, eigvals, 0.0))


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix via ``eigh``."""
    eigvals, eigvecs = np.linalg.eigh(matrix)
    return (eigvecs * _psd_eigvals_sqrt(eigvals)) @ eigvecs.T


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """FD between N(mu1 [D], cov1 [D, D]) and N(mu2 [D], cov2 [D, D]), in float64.

    Non-negative up to round-off (a tiny negative value, ~1e-12 of the traces,
    is possible for identical statistics and is returned as is).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(f"means must both have shape [D], got {mu1.shape} and {mu2.shape}")
    dim = mu1.shape[0]
    for name, cov in (("cov1", cov1), ("cov2", cov2)):
        if cov.shape != (dim, dim):
            raise ValueError(f"{name} must have shape [{dim}, {dim}] to match the means, got {cov.shape}")
    for name, value in (("mu1", mu1), ("cov1", cov1), ("mu2", mu2), ("cov2", cov2)):
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name} contains NaN or inf")
    cov1, cov2 = (cov1 + cov1.T) / 2, (cov2 + cov2.T) / 2
    sqrt_cov1 = _sqrt_psd(cov1)
    inner = sqrt_cov1 @ cov2 @ sqrt_cov1
    inner_eigvals = np.linalg.eigvalsh((inner + inner.T) / 2)
    trace_sqrt_product = np.sum(_psd_eigvals_sqrt(inner_eigvals))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt_product)
