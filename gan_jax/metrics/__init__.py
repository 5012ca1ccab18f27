"""Evaluation: sample-quality metrics and the feature extractors they are computed in.

* :mod:`frechet` — :class:`FeatureStats` (streaming mean/covariance), :func:`frechet_distance`
* :mod:`kid`, :mod:`inception_score`, :mod:`precision_recall` — the other metrics
* :mod:`extractors` — ``classifier:DIR`` / ``inception:FILE.npz`` feature extractors
* :mod:`classifier` — the small domain classifier; :mod:`inception` — FID InceptionV3
* :mod:`evaluation` — everything at once for a trained state, with cached real statistics
"""
from gan_jax.metrics.evaluation import class_accuracy, evaluate, real_reference
from gan_jax.metrics.extractors import Extractor, load_extractor
from gan_jax.metrics.frechet import FeatureStats, frechet_distance
from gan_jax.metrics.inception_score import inception_score
from gan_jax.metrics.kid import kernel_inception_distance
from gan_jax.metrics.precision_recall import precision_recall

__all__ = ["Extractor", "FeatureStats", "class_accuracy", "evaluate", "frechet_distance", "inception_score",
           "kernel_inception_distance", "load_extractor", "precision_recall", "real_reference"]
