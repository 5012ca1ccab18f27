"""Data: image sources (embedded MNIST-5k, Fashion-MNIST idx, idx files,
TFDS, image folders) and deterministic, prefetched batches: in memory (:class:`Batches`) or
through Grain (:mod:`gan_jax.data.grain_pipeline`, imported when used), chosen by
:mod:`gan_jax.data.pipeline`.

Images are uint8 ``[N, H, W, C]`` in sources and float32 in [-1, 1] in batches.
"""
from gan_jax.data.augment import diff_augment
from gan_jax.data.batches import Batches, batch_indices
from gan_jax.data.clusters import equal_size_clusters, with_cluster_labels
from gan_jax.data.convert import to_float
from gan_jax.data.load import load_source
from gan_jax.data.paired import PairedSource, UnpairedSource
from gan_jax.data.pipeline import choose_pipeline, in_memory, make_batches, parse_pipeline
from gan_jax.data.source import ImageSource

__all__ = ["Batches", "ImageSource", "PairedSource", "UnpairedSource", "batch_indices", "choose_pipeline",
           "diff_augment", "equal_size_clusters", "in_memory", "load_source", "make_batches", "parse_pipeline",
           "to_float", "with_cluster_labels"]
