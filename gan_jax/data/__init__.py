"""Data: image sources (embedded MNIST-5k, Fashion-MNIST idx, idx files,
TFDS, image folders) and deterministic, prefetched batches.

Images are uint8 ``[N, H, W, C]`` in sources and float32 in [-1, 1] in batches.
"""
from gan_jax.data.augment import diff_augment
from gan_jax.data.batches import Batches, batch_indices
from gan_jax.data.convert import to_float
from gan_jax.data.load import load_source
from gan_jax.data.paired import PairedSource, UnpairedSource
from gan_jax.data.source import ImageSource

__all__ = ["Batches", "ImageSource", "PairedSource", "UnpairedSource", "batch_indices", "diff_augment",
           "load_source", "to_float"]
