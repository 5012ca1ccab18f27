"""Evaluate a generator: Fréchet distance, KID, IS and precision/recall in one extractor's features.

``evaluate(config, state, extractor, num=...)`` draws ``num`` samples, embeds them
with the extractor and compares them with the real data of ``config.dataset``.
The real side (feature statistics plus up to ``max_real_features`` features for
KID and precision/recall) is computed once per dataset, resolution and extractor
weights and cached as ``.npz`` (default ``~/.cache/gan_jax/stats``). With no extractor
named, the CLI uses the dataset's default one (:mod:`gan_jax.metrics.default_extractor`).

Every number is reported under the extractor's name: with ``inception_v3_fid``
the Fréchet distance is FID, with a domain classifier it is a Fréchet
*classifier* distance (FCD), and the "inception score" is that classifier's score.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os

import jax
import numpy as np
import tqdm

from gan_jax import data, sampling
from gan_jax.errors import UserError
from gan_jax.metrics.extractors import Extractor, check_extractor
from gan_jax.metrics.frechet import FeatureStats, frechet_distance
from gan_jax.metrics.inception_score import inception_score
from gan_jax.metrics.kid import kernel_inception_distance
from gan_jax.metrics.precision_recall import precision_recall

LOWER_IS_BETTER = {"fd": True, "kid": True, "is": False, "precision": False, "recall": False}


@dataclasses.dataclass
class Reference:
    """Real-data side: streaming ``stats`` of all used images and a ``features`` subset [M, D]."""

    stats: FeatureStats
    features: np.ndarray


def default_cache_dir() -> str:
    """``$GAN_JAX_CACHE/stats`` (default ``~/.cache/gan_jax/stats``; or ``$XDG_CACHE_HOME/gan_jax/stats``)."""
    from gan_jax.metrics.default_extractor import cache_root

    return os.path.join(cache_root(), "stats")


def real_reference(config, extractor: Extractor, *, max_real: int = 50_000, max_real_features: int = 10_000,
                   cache_dir: str | None = None, chunk: int = 1000, progress: bool = False) -> Reference:
    """Features of up to ``max_real`` real images of ``config.dataset``.

    Cached by dataset spec, resolution, channels and extractor weights: delete the
    cache file (``default_cache_dir()``) if the files behind a spec change.
    """
    check_extractor(config, extractor)
    key = "|".join(map(str, (config.dataset, config.tfds_data_dir, config.resolution, config.channels,
                             extractor.name, extractor.fingerprint, max_real, max_real_features)))
    cache_dir = cache_dir or default_cache_dir()
    path = os.path.join(cache_dir, f"real-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz")
    if os.path.isfile(path):
        try:
            with np.load(path) as f:
                return Reference(FeatureStats.load(path), f["features"])
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache entry is recomputed below
    source = data.load_source(config.dataset, resolution=config.resolution, channels=config.channels,
                              tfds_data_dir=config.tfds_data_dir or None)
    order = np.random.default_rng(0).permutation(len(source))[:max_real]
    stats, kept = FeatureStats(), []
    for i in tqdm.trange(0, len(order), chunk, desc="real features", disable=not progress, unit_scale=chunk):
        images, _ = source.get(np.sort(order[i:i + chunk]))
        feats, _ = extractor(data.to_float(images))
        stats.update(feats)
        if sum(len(k) for k in kept) < max_real_features:
            kept.append(feats)
    ref = Reference(stats, np.concatenate(kept)[:max_real_features].astype(np.float32))
    os.makedirs(cache_dir, exist_ok=True)
    stats.save(path, features=ref.features)  # atomic
    return ref


def evaluate(config, state, extractor: Extractor, *, num: int = 10_000, seed: int = 0, use_ema: bool = True,
             kid_subsets: int = 100, pr_k: int = 3, cache_dir: str | None = None,
             reference: Reference | None = None, progress: bool = False) -> dict:
    """Metrics of ``num`` samples of ``state``'s generator against the real data.

    Returns ``{"extractor", "num_fake", "num_real", "fd", "kid", "kid_std", "is", "is_std",
    "precision", "recall"}`` (floats); ``fd`` is FID with the Inception extractor.
    """
    if num < 2:
        raise UserError(f"--num {num}: expected at least 2 samples for a covariance")
    check_extractor(config, extractor)
    ref = reference or real_reference(config, extractor, cache_dir=cache_dir, progress=progress)
    stats, fake_feats, fake_logits = FeatureStats(), [], []
    # The same latents as sampling.generate(config, state, num, seed).
    z = jax.random.normal(jax.random.PRNGKey(seed), (num, config.z_dim))
    for i in tqdm.trange(0, num, 1000, desc="samples", disable=not progress, unit_scale=1000):
        feats, logits = extractor(sampling.generate_from(config, state, z[i:i + 1000], use_ema))
        stats.update(feats)
        fake_feats.append(feats)
        fake_logits.append(logits)
    fake_feats = np.concatenate(fake_feats)
    fake_logits = np.concatenate(fake_logits)
    n_pr = min(len(ref.features), len(fake_feats))
    kid, kid_std = kernel_inception_distance(ref.features, fake_feats, num_subsets=kid_subsets,
                                             subset_size=min(1000, n_pr), seed=seed)
    is_mean, is_std = inception_score(fake_logits, splits=min(10, num // 2))
    precision, recall = precision_recall(ref.features[:n_pr], fake_feats[:n_pr], k=pr_k)
    return {"extractor": extractor.name, "num_fake": int(num), "num_real": int(ref.stats.count),
            "fd": frechet_distance(ref.stats.mean, ref.stats.cov, stats.mean, stats.cov),
            "kid": float(kid), "kid_std": float(kid_std), "is": float(is_mean), "is_std": float(is_std),
            "precision": float(precision), "recall": float(recall)}


def class_accuracy(config, state, classifier, per_class: int = 100, use_ema: bool = True) -> list[float]:
    """For each class K of a class-conditional run, the share of ``per_class`` samples drawn
    with label K (latent seed K, as ``gan-jax sample --class K --seed K``) that ``classifier``
    (anything with ``predict(images) -> (classes [N], confidences [N])``) assigns to K."""
    if not config.num_classes:
        raise UserError("class accuracy needs a class-conditional run (num_classes > 0)")
    return [float(np.mean(classifier.predict(sampling.generate(config, state, per_class, seed=k, use_ema=use_ema,
                                                               labels=k))[0] == k))
            for k in range(config.num_classes)]


def format_table(result: dict) -> str:
    """A small markdown table of ``evaluate``'s result, each metric labelled with the extractor."""
    name = result["extractor"]
    fd_name = "FID" if name == "inception_v3_fid" else "Fréchet classifier distance"
    is_name = "Inception Score" if name == "inception_v3_fid" else "classifier score (IS formula)"
    rows = [(f"{fd_name} ↓", f"{result['fd']:.4f}"),
            ("KID ↓", f"{result['kid']:.5f} ± {result['kid_std']:.5f}"),
            (f"{is_name} ↑", f"{result['is']:.3f} ± {result['is_std']:.3f}"),
            ("precision ↑", f"{result['precision']:.3f}"), ("recall ↑", f"{result['recall']:.3f}")]
    head = (f"{result['num_fake']} samples vs {result['num_real']} real images, features: {name}\n\n"
            "| metric | value |\n|---|---|\n")
    return head + "\n".join(f"| {a} | {b} |" for a, b in rows)
