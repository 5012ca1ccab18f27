"""The memorisation check: nearest training images against a brute-force loop, the threshold
(closest distinct training pair), copies counted as memorised, and errors on bad input."""
import numpy as np
import pytest

from gan_jax.metrics.memorisation import closest_training_pair, memorised_share, nearest_training


def _images(n, seed):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, 6, 6, 1))


def test_nearest_training_matches_a_loop():
    samples, train = _images(7, 0), _images(11, 1)
    out = nearest_training(samples, train)
    for i, s in enumerate(samples):
        d = [np.sqrt(np.sum((s - t) ** 2)) for t in train]
        assert out["index"][i] == int(np.argmin(d))
        assert out["distance"][i] == pytest.approx(min(d), rel=1e-9)


def test_copies_are_memorised_and_fresh_images_are_not():
    train = _images(20, 2)
    threshold = closest_training_pair(train)
    flat = train.reshape(20, -1)
    pairs = [np.linalg.norm(flat[i] - flat[j]) for i in range(20) for j in range(i + 1, 20)]
    assert threshold == pytest.approx(min(pairs))
    copies = train[:5] + 0.01 * _images(5, 3)  # near-copies of five training images
    fresh = _images(15, 4)  # independent uniform noise: far from every training image
    out = memorised_share(np.concatenate([copies, fresh]), train)
    assert out["share"] == pytest.approx(5 / 20)
    assert out["threshold"] == pytest.approx(threshold)
    # an exact duplicate inside the training set does not make the threshold 0
    assert closest_training_pair(np.concatenate([train, train[:1]])) == pytest.approx(threshold)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="samples must be"):
        nearest_training(np.zeros((3, 6, 6)), _images(4, 0))
    with pytest.raises(ValueError, match="differ in shape"):
        nearest_training(_images(3, 0), np.zeros((4, 5, 5, 1)))
    with pytest.raises(ValueError, match="at least two"):
        closest_training_pair(_images(1, 0))
