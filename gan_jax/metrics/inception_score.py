"""Inception Score (Salimans et al. 2016) from classifier logits [N, C].

    IS = exp(E_x KL(p(y|x) || p(y))),   p(y) = E_x p(y|x),

computed on each of ``splits`` consecutive, equal-as-possible slices of the
N samples (no shuffling: permute the logits first if their order matters) and
reported as (mean, std with ddof=0) over the slices, like the reference code.
Probabilities are never formed from ``exp`` of raw logits: everything is in
log space via ``log_softmax`` in float64, so huge or very negative logits are
fine. IS ranges from 1 (every sample gets the same prediction) to C (confident
predictions spread uniformly over the C classes).
"""
from __future__ import annotations

import numpy as np


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    top = x.max(axis=axis, keepdims=True)
    return top + np.log(np.exp(x - top).sum(axis=axis, keepdims=True))


def _split_score(logits: np.ndarray) -> float:
    """exp(mean KL(p(y|x) || p(y))) for logits [n, C]."""
    logits = logits.astype(np.float64)
    log_probs = logits - _logsumexp(logits, axis=1)  # log_softmax: log p(y|x) [n, C]
    log_marginal = _logsumexp(log_probs, axis=0) - np.log(log_probs.shape[0])  # log p(y) [1, C]
    kl = np.sum(np.exp(log_probs) * (log_probs - log_marginal), axis=1)
    return float(np.exp(kl.mean()))


def inception_score(logits, splits: int = 10) -> tuple[float, float]:
    """IS of logits [N, C] -> (mean, std) over ``splits`` slices (1 <= splits <= N)."""
    logits = np.asarray(logits)
    if logits.ndim != 2 or logits.shape[1] < 1:
        raise ValueError(f"logits must have shape [N, C], got {logits.shape}")
    n = logits.shape[0]
    if not 1 <= splits <= n:
        raise ValueError(f"splits must be between 1 and the number of samples ({n}), got {splits}")
    if not np.all(np.isfinite(logits)):
        raise ValueError("logits contain NaN or inf")
    scores = np.array([_split_score(logits[i * n // splits:(i + 1) * n // splits]) for i in range(splits)])
    return float(scores.mean()), float(scores.std())
