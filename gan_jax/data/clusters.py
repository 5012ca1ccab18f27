"""Equal-size clusters of a dataset's images, found without labels (``config.cluster_code``).

Self-conditioning (Liu et al. 2020, "Diverse Image Generation via Self-Conditioned GANs";
Sage et al. 2018, "Logo Synthesis and Manipulation with Clustered GANs") conditions an
unconditional GAN on clusters of its own training images: D learns what each cluster looks
like, G draws one cluster at a time, and the disconnected modes of the data (digits) stop
blending into one another. Here the clusters are fixed once, before training, by k-means on
the PCA-reduced pixels (scikit-learn), then made equal in size, so that G's uniform
categorical code (:func:`gan_jax.models.dcgan.latent_code`) draws every cluster, and so every
part of the data, at its true frequency.
"""
from __future__ import annotations

import numpy as np

PCA_DIMS = 50
"""Pixels are reduced to this many principal components before k-means (noise off, 15x faster)."""


def balanced_assignment(distances: np.ndarray) -> np.ndarray:
    """int32 [N]: a cluster for each of N points given their distances [N, K] to K centres,
    every cluster getting ``N // K`` or ``N // K + 1`` points. Greedy: the closest
    (point, centre) pairs are taken first while the centre has room."""
    n, k = distances.shape
    capacity = np.full(k, n // k)
    capacity[: n % k] += 1
    assigned = np.full(n, -1, np.int32)
    left = n
    for flat in np.argsort(distances, axis=None, kind="stable"):
        point, centre = divmod(int(flat), k)
        if assigned[point] < 0 and capacity[centre]:
            assigned[point] = centre
            capacity[centre] -= 1
            left -= 1
            if not left:
                break
    return assigned


def equal_size_clusters(images: np.ndarray, k: int, seed: int = 0, rounds: int = 5) -> np.ndarray:
    """int32 [N] cluster ids in 0..k-1 of ``images`` [N, H, W, C] (any dtype), sizes equal to
    within one: k-means (scikit-learn, ``seed``) on the first :data:`PCA_DIMS` principal
    components, then ``rounds`` of balanced assignment and re-centring."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    if not 2 <= k <= len(images):
        raise ValueError(f"k={k}: expected 2 .. {len(images)} clusters (the number of images)")
    x = np.asarray(images, np.float32).reshape(len(images), -1) / 255.0
    x = PCA(min(PCA_DIMS, *x.shape), random_state=seed).fit_transform(x)
    centres = KMeans(k, n_init=4, random_state=seed).fit(x).cluster_centers_
    for _ in range(rounds):
        distances = ((x[:, None, :] - centres[None]) ** 2).sum(-1)
        assigned = balanced_assignment(distances)
        centres = np.stack([x[assigned == c].mean(0) for c in range(k)])
    return assigned


def with_cluster_labels(source, k: int, option: str = "cluster_code"):
    """An in-memory copy of ``source`` whose labels are its images' :func:`equal_size_clusters`
    (seed 0: the clusters are the data's, the same for every run). ``option`` names the setting
    in errors."""
    from gan_jax.data.pipeline import in_memory
    from gan_jax.data.source import ImageSource
    from gan_jax.errors import UserError

    source = in_memory(source)
    if not isinstance(source, ImageSource):
        raise UserError(f"{option}: expected a dataset of images to cluster, got {type(source).__name__}")
    try:
        clusters = equal_size_clusters(source.images, k)
    except ValueError as e:  # too many clusters for the dataset
        raise UserError(f"{option}: {e}") from None
    return ImageSource(f"{source.name} (clusters)", source.images, clusters, num_classes=k)
