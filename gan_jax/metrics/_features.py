"""Input checks shared by the metrics that compare two feature sets."""
from __future__ import annotations

import numpy as np


def check_feature_pair(feats_real, feats_fake) -> tuple[np.ndarray, np.ndarray]:
    """Real [N, D] and fake [M, D] features as arrays; ValueError on bad shapes or NaN/inf."""
    feats_real, feats_fake = np.asarray(feats_real), np.asarray(feats_fake)
    if feats_real.ndim != 2 or feats_fake.ndim != 2:
        raise ValueError(f"features must have shape [N, D], got {feats_real.shape} (real) "
                         f"and {feats_fake.shape} (fake)")
    if feats_real.shape[1] != feats_fake.shape[1]:
        raise ValueError(f"feature dimension mismatch: real {feats_real.shape}, fake {feats_fake.shape}")
    for name, feats in (("feats_real", feats_real), ("feats_fake", feats_fake)):
        if not np.all(np.isfinite(feats)):
            raise ValueError(f"{name} contains NaN or inf")
    return feats_real, feats_fake
