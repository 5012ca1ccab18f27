"""Sample-quality metrics against closed forms and reference formulas written here in numpy/scipy."""
import os

import numpy as np
import pytest

from gan_jax.metrics import frechet
from gan_jax.metrics.frechet import FeatureStats, frechet_distance
from gan_jax.metrics.inception_score import inception_score
from gan_jax.metrics.kid import kernel_inception_distance
from gan_jax.metrics.precision_recall import precision_recall


def _random_cov(rng, dim, rank=None):
    """A random covariance [dim, dim] of the given rank (full rank by default)."""
    factor = rng.normal(size=(dim, rank or 2 * dim))
    return factor @ factor.T / factor.shape[1]


def _random_rotation(rng, dim):
    q, r = np.linalg.qr(rng.normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))


# ---------------------------------------------------------------- Fréchet distance

def _frechet_reference(mu1, cov1, mu2, cov2):
    """pytorch-fid / TF-GAN formula: scipy sqrtm of the (non-symmetric) product."""
    scipy_linalg = pytest.importorskip("scipy.linalg")
    covmean = np.real(scipy_linalg.sqrtm(cov1 @ cov2))
    diff = mu1 - mu2
    return diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(covmean)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frechet_matches_sqrtm_reference(seed):
    rng = np.random.default_rng(seed)
    dim = 48
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim) * 0.3
    cov1, cov2 = _random_cov(rng, dim), 2.0 * _random_cov(rng, dim)
    got = frechet_distance(mu1, cov1, mu2, cov2)
    np.testing.assert_allclose(got, _frechet_reference(mu1, cov1, mu2, cov2), rtol=1e-6)
    np.testing.assert_allclose(frechet_distance(mu2, cov2, mu1, cov1), got, rtol=1e-9)  # symmetric


def test_frechet_of_identical_stats_is_zero():
    rng = np.random.default_rng(3)
    mu, cov = rng.normal(size=32), _random_cov(rng, 32)
    assert abs(frechet_distance(mu, cov, mu, cov)) <= 1e-8


def test_frechet_one_dimensional_closed_form():
    # FD(N(m1, s1^2), N(m2, s2^2)) = (m1 - m2)^2 + (s1 - s2)^2
    got = frechet_distance([1.0], [[4.0]], [-2.0], [[9.0]])
    assert got == pytest.approx((1 + 2) ** 2 + (2 - 3) ** 2, rel=1e-12)


def test_frechet_singular_commuting_covariances_closed_form():
    # Covariances sharing eigenvectors Q with eigenvalues a, b (both rank-deficient):
    # FD = |mu1 - mu2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2.
    rng = np.random.default_rng(4)
    dim = 24
    a = np.where(np.arange(dim) % 3 == 0, 0.0, rng.uniform(0.1, 4.0, dim))
    b = np.where(np.arange(dim) % 2 == 0, 0.0, rng.uniform(0.1, 4.0, dim))
    q = _random_rotation(rng, dim)
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    np.testing.assert_allclose(frechet_distance(mu1, np.diag(a), mu2, np.diag(b)), expected, rtol=1e-10)
    got = frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert np.isfinite(got)
    np.testing.assert_allclose(got, expected, rtol=1e-7)


def test_frechet_low_rank_sample_covariances():
    # Fewer samples than dimensions (where sqrtm of the product breaks down).
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(5)
    dim = 64
    cov1 = np.cov(rng.normal(size=(10, dim)), rowvar=False)  # rank 9
    cov2 = np.cov(rng.normal(size=(20, dim)), rowvar=False)  # rank 19
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    # Same covariance: FD = |mu1 - mu2|^2 (no sqrt-of-round-off noise from the zero eigenvalues).
    np.testing.assert_allclose(frechet_distance(mu1, cov1, mu2, cov1), np.sum((mu1 - mu2) ** 2),
                               atol=1e-9 * np.trace(cov1))
    # Different covariances: Tr((cov1 cov2)^(1/2)) is the nuclear norm of cov1^(1/2) cov2^(1/2).
    sqrt1, sqrt2 = np.real(scipy_linalg.sqrtm(cov1)), np.real(scipy_linalg.sqrtm(cov2))
    expected = (np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2)
                - 2 * np.linalg.norm(sqrt1 @ sqrt2, "nuc"))
    np.testing.assert_allclose(frechet_distance(mu1, cov1, mu2, cov2), expected, rtol=1e-6)


def test_frechet_rejects_bad_shapes_and_values():
    mu, cov = np.zeros(4), np.eye(4)
    with pytest.raises(ValueError, match="means"):
        frechet_distance(mu, cov, np.zeros(5), np.eye(5))
    with pytest.raises(ValueError, match="cov2"):
        frechet_distance(mu, cov, mu, np.eye(3))
    with pytest.raises(ValueError, match="cov1"):
        frechet_distance(mu, np.full((4, 4), np.nan), mu, cov)


# ---------------------------------------------------------------- FeatureStats

def test_feature_stats_streaming_equals_numpy_on_all_data(monkeypatch):
    monkeypatch.setattr(frechet, "_CHUNK_ROWS", 16)  # also split inside update()
    rng = np.random.default_rng(6)
    feats = (rng.normal(size=(500, 12)) @ rng.normal(size=(12, 12)) + 100.0).astype(np.float32)
    stats = FeatureStats()
    for lo, hi in [(0, 1), (1, 8), (8, 108), (108, 108), (108, 500)]:
        stats.update(feats[lo:hi])
    assert stats.count == 500 and stats.dim == 12
    np.testing.assert_allclose(stats.mean, feats.astype(np.float64).mean(0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(stats.cov, np.cov(feats.astype(np.float64), rowvar=False), rtol=1e-10, atol=1e-10)


def test_feature_stats_save_load_roundtrip_and_continue(tmp_path):
    rng = np.random.default_rng(7)
    feats = rng.normal(size=(300, 6))
    path = str(tmp_path / "stats.npz")
    FeatureStats(6).update(feats[:200]).save(path)
    assert os.listdir(tmp_path) == ["stats.npz"]  # no temp file left behind
    loaded = FeatureStats.load(path)
    assert loaded.count == 200 and loaded.dim == 6
    np.testing.assert_allclose(loaded.mean, feats[:200].mean(0), rtol=1e-12)
    np.testing.assert_allclose(loaded.cov, np.cov(feats[:200], rowvar=False), rtol=1e-12)
    with np.load(path) as data:  # pytorch-fid key names
        assert set(data.files) == {"mu", "sigma", "count"}
    loaded.update(feats[200:])
    np.testing.assert_allclose(loaded.cov, np.cov(feats, rowvar=False), rtol=1e-10, atol=1e-12)


def test_feature_stats_errors(tmp_path):
    stats = FeatureStats(8)
    with pytest.raises(ValueError, match="dimension mismatch"):
        stats.update(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        stats.update(np.zeros(8))
    with pytest.raises(ValueError, match="empty"):
        stats.mean
    stats.update(np.ones((1, 8)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        stats.cov
    with pytest.raises(ValueError, match="NaN"):
        stats.update(np.full((2, 8), np.nan))
    bad = tmp_path / "bad.npz"
    np.savez(bad, mu=np.zeros(3))
    with pytest.raises(ValueError, match="missing count, sigma"):
        FeatureStats.load(str(bad))


def test_frechet_of_feature_stats_matches_reference():
    rng = np.random.default_rng(8)
    real, fake = rng.normal(size=(400, 16)), rng.normal(size=(300, 16)) * 1.2 + 0.1
    s_real, s_fake = FeatureStats().update(real), FeatureStats().update(fake)
    expected = _frechet_reference(real.mean(0), np.cov(real, rowvar=False), fake.mean(0), np.cov(fake, rowvar=False))
    np.testing.assert_allclose(frechet_distance(s_real.mean, s_real.cov, s_fake.mean, s_fake.cov), expected, rtol=1e-6)


# ---------------------------------------------------------------- KID

def _mmd2_reference(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b / D + 1)^3, written out in float64."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    dim, m = x.shape[1], x.shape[0]
    k = lambda a, b: (a @ b.T / dim + 1.0) ** 3
    k_xx, k_yy, k_xy = k(x, x), k(y, y), k(x, y)
    return ((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1)) + (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
            - 2.0 * k_xy.sum() / (m * m))


def test_kid_one_full_subset_equals_direct_mmd():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(120, 16)).astype(np.float32)
    y = (rng.normal(size=(120, 16)) * 1.1 + 0.3).astype(np.float32)
    mean, std = kernel_inception_distance(x, y, num_subsets=1, subset_size=120)
    np.testing.assert_allclose(mean, _mmd2_reference(x, y), rtol=1e-5)
    assert std == 0.0
    # With subset_size = N = M every subset is a permutation of all samples: the same value each time.
    mean3, std3 = kernel_inception_distance(x, y, num_subsets=3, subset_size=10_000)
    np.testing.assert_allclose(mean3, mean, rtol=1e-5)
    assert std3 <= 1e-6 * abs(mean)


def test_kid_same_distribution_near_zero_and_shift_positive():
    rng = np.random.default_rng(10)
    x, x2 = rng.normal(size=(400, 32)), rng.normal(size=(400, 32))
    same, same_std = kernel_inception_distance(x, x2, num_subsets=20, subset_size=200, seed=1)
    shifted, _ = kernel_inception_distance(x, x2 + 0.5, num_subsets=20, subset_size=200, seed=1)
    assert abs(same) < 3 * same_std + 1e-3
    assert shifted > 0.1 and shifted > 50 * abs(same)
    # Deterministic given the seed; subset_size is clipped to min(N, M).
    assert kernel_inception_distance(x, x2, num_subsets=20, subset_size=200, seed=1) == (same, same_std)
    assert np.isfinite(kernel_inception_distance(x[:50], x2[:30], num_subsets=2)[0])


def test_kid_rejects_bad_input():
    with pytest.raises(ValueError, match="feature dimension mismatch"):
        kernel_inception_distance(np.zeros((10, 4)), np.zeros((10, 5)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        kernel_inception_distance(np.zeros((1, 4)), np.zeros((10, 4)))
    with pytest.raises(ValueError, match="num_subsets"):
        kernel_inception_distance(np.zeros((10, 4)), np.zeros((10, 4)), num_subsets=0)


# ---------------------------------------------------------------- Inception Score

def _inception_score_reference(logits, splits):
    """Salimans et al. 2016: softmax probabilities, KL to the split's marginal, exp of the mean."""
    special = pytest.importorskip("scipy.special")
    probs = special.softmax(np.asarray(logits, np.float64), axis=1)
    n, scores = len(probs), []
    for i in range(splits):
        part = probs[i * n // splits:(i + 1) * n // splits]
        marginal = part.mean(0, keepdims=True)
        scores.append(np.exp(np.mean(np.sum(part * (np.log(part) - np.log(marginal)), axis=1))))
    return np.mean(scores), np.std(scores)


def test_inception_score_confident_uniform_predictions_give_num_classes():
    num_classes = 10
    logits = 60.0 * np.eye(num_classes)[np.arange(200) % num_classes]
    mean, std = inception_score(logits, splits=10)
    assert mean == pytest.approx(num_classes, rel=1e-9) and std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_identical_predictions_give_one():
    row = np.random.default_rng(11).normal(size=(1, 7)) * 3
    mean, std = inception_score(np.repeat(row, 50, axis=0), splits=5)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("splits", [1, 3, 10])
def test_inception_score_matches_reference(splits):
    logits = np.random.default_rng(12).normal(size=(103, 20)) * 2.5
    np.testing.assert_allclose(inception_score(logits, splits=splits), _inception_score_reference(logits, splits),
                               rtol=1e-10, atol=1e-12)


def test_inception_score_huge_logits_are_finite_and_bad_input_raises():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [0.0, 0.0, 1e4]])
    assert inception_score(logits, splits=1)[0] == pytest.approx(3.0, rel=1e-9)
    with pytest.raises(ValueError, match="splits"):
        inception_score(logits, splits=4)
    with pytest.raises(ValueError, match=r"\[N, C\]"):
        inception_score(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        inception_score(np.full((4, 3), np.nan), splits=1)


# ---------------------------------------------------------------- precision / recall

def _precision_recall_reference(real, fake, k):
    """Brute force in float64: full distance matrices, k-th neighbour excluding the point itself."""
    def dists(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    def radii(points):
        d = dists(points, points)
        np.fill_diagonal(d, np.inf)
        return np.sort(d, axis=1)[:, k - 1]

    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    precision = np.mean(np.any(dists(fake, real) <= radii(real)[None, :], axis=1))
    recall = np.mean(np.any(dists(real, fake) <= radii(fake)[None, :], axis=1))
    return precision, recall


def test_precision_recall_hand_made_1d():
    # k=1. Real radii: 1, 1, 1, 1, 7 (point 10's nearest is 3). Fake sorted 2.4, 5, 16.5, 20 with radii
    # 2.6, 2.6, 3.5, 3.5. Precision: 2.4 (near 2), 5 and 16.5 (within 7 of 10) are in; 20 is not -> 3/4.
    # Recall: 0, 1, 2, 3 are within 2.6 of 2.4; 10 is 5 from 5 and 6.5 from 16.5 -> 4/5.
    real = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    fake = np.array([[5.0], [20.0], [2.4], [16.5]])
    assert precision_recall(real, fake, k=1) == (pytest.approx(0.75), pytest.approx(0.8))


def test_precision_recall_identical_far_and_half_covering_sets():
    rng = np.random.default_rng(13)
    cluster_a, cluster_b = rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + 100.0
    real = np.concatenate([cluster_a, cluster_b])
    assert precision_recall(real, real.copy(), k=3) == (1.0, 1.0)
    assert precision_recall(real, real + 1000.0, k=3) == (0.0, 0.0)
    # The fake set is exactly cluster A: every fake point is a real one, and half of the real set is covered.
    assert precision_recall(real, cluster_a.copy(), k=3) == (1.0, 0.5)


@pytest.mark.parametrize("batch_size", [7, 1024])
def test_precision_recall_matches_brute_force(batch_size):
    rng = np.random.default_rng(14)
    real = rng.normal(size=(300, 8)) + 5.0
    fake = np.concatenate([rng.normal(size=(200, 8)) * 0.7 + 5.3, rng.normal(size=(50, 8)) + 9.0])
    real[10] = real[11]  # a duplicate: a neighbour at distance 0
    got = precision_recall(real, fake, k=3, batch_size=batch_size)
    expected = _precision_recall_reference(real, fake, k=3)
    assert 0.05 < expected[0] < 0.95 and 0.05 < expected[1] < 0.95  # a non-trivial case
    np.testing.assert_allclose(got, expected, atol=1.5 / 300)  # float32 may flip a boundary point


def test_precision_recall_rejects_bad_input():
    with pytest.raises(ValueError, match="feature dimension mismatch"):
        precision_recall(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(ValueError, match="feats_fake has 3 samples"):
        precision_recall(np.zeros((10, 3)), np.zeros((3, 3)), k=3)
    with pytest.raises(ValueError, match="k must be"):
        precision_recall(np.zeros((10, 3)), np.zeros((10, 3)), k=0)
