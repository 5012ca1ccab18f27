"""Evaluation: sample-quality metrics and the feature extractors they are computed in.

* :mod:`frechet` — :class:`FeatureStats` (streaming mean/covariance), :func:`frechet_distance`
* :mod:`kid`, :mod:`inception_score`, :mod:`precision_recall` — the other metrics
* :mod:`extractors` — ``classifier:DIR`` / ``inception:FILE.npz`` feature extractors
* :mod:`classifier` — the small domain classifier; :mod:`inception` — FID InceptionV3
* :mod:`modes` — Stacked MNIST mode coverage: :func:`mode_coverage`, :func:`channel_classes`
* :mod:`memorisation` — nearest training images and the share of samples that copy one
* :mod:`evaluation` — everything at once for a trained state, with cached real statistics
"""
from gan_jax.metrics.evaluation import class_accuracy, evaluate, real_reference
from gan_jax.metrics.extractors import Extractor, load_extractor
from gan_jax.metrics.frechet import FeatureStats, frechet_distance
from gan_jax.metrics.inception_score import inception_score
from gan_jax.metrics.kid import kernel_inception_distance
from gan_jax.metrics.memorisation import memorised_share, nearest_training
from gan_jax.metrics.modes import channel_classes, mode_coverage
from gan_jax.metrics.precision_recall import precision_recall

__all__ = ["Extractor", "FeatureStats", "channel_classes", "class_accuracy", "evaluate", "frechet_distance",
           "inception_score", "kernel_inception_distance", "load_extractor", "memorised_share", "mode_coverage",
           "nearest_training", "precision_recall", "real_reference"]
