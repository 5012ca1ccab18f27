"""Stacked MNIST mode coverage: counts and KL against hand-computed values, the channel order
(R is the hundreds digit, as in the data source's labels), and errors on bad input."""
import math

import numpy as np
import pytest

from gan_jax.data.stacked_mnist import StackedMNIST
from gan_jax.metrics import channel_classes, mode_coverage


def test_every_mode_once_covers_all_with_zero_kl():
    classes = np.array([[a, b, c] for a in range(10) for b in range(10) for c in range(10)])
    out = mode_coverage(classes)
    assert out["modes"] == 1000 and out["of"] == 1000
    assert out["kl"] == pytest.approx(0.0, abs=1e-12)
    assert out["largest_mode_share"] == pytest.approx(1e-3)


def test_one_mode_gives_log_1000_and_two_modes_the_formula():
    assert mode_coverage(np.full((50, 3), 7))["kl"] == pytest.approx(math.log(1000))
    # 3/4 in one mode, 1/4 in another: KL = 3/4 log(750) + 1/4 log(250)
    classes = np.array([[1, 2, 3]] * 3 + [[3, 2, 1]])
    out = mode_coverage(classes)
    assert out["modes"] == 2
    assert out["kl"] == pytest.approx(0.75 * math.log(750) + 0.25 * math.log(250))
    assert out["largest_mode_share"] == pytest.approx(0.75)


def test_channel_classes_reads_each_channel_in_order():
    # channel c of sample i is filled with the value (i + c) % 10; the "classifier" reads it back
    n = 12
    samples = np.zeros((n, 4, 4, 3), np.float32)
    for i in range(n):
        for c in range(3):
            samples[i, :, :, c] = (i + c) % 10
    seen_shapes = []

    def predict(planes):
        seen_shapes.append(planes.shape)
        return planes[:, 0, 0, 0].astype(int)

    classes = channel_classes(predict, samples)
    assert seen_shapes == [(n * 3, 4, 4, 1)]
    np.testing.assert_array_equal(classes, [[(i + c) % 10 for c in range(3)] for i in range(n)])


def test_modes_of_stacked_images_equal_the_sources_labels():
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 256, size=(30, 5, 5, 1), dtype=np.uint8)  # 30 distinct random "digits"
    labels = np.arange(30) % 10
    source = StackedMNIST(digits, labels, size=200, seed=3)
    images, source_labels = source.get(np.arange(200))
    lookup = {d.tobytes(): int(l) for d, l in zip(digits, labels)}
    classes = channel_classes(lambda planes: np.array([lookup[p.tobytes()] for p in planes]), images)
    np.testing.assert_array_equal(classes @ np.array([100, 10, 1]), source_labels)
    assert mode_coverage(classes)["modes"] == len(np.unique(source_labels))


def test_bad_input_is_refused_with_the_shape():
    with pytest.raises(ValueError, match=r"\[N, H, W, C\]"):
        channel_classes(lambda x: x, np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="non-empty"):
        mode_coverage(np.zeros((0, 3), int))
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        mode_coverage(np.array([[1, 2, 10]]))
