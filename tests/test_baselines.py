"""The image-to-image baselines (gan_jax/metrics/baselines.py) against reference behaviour, and
the rule that their parameters are chosen on validation images, never on test images."""
import os
import sys

import numpy as np
import pytest

from gan_jax.metrics import baselines as bl

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- super-resolution

@pytest.mark.parametrize("upscale", [bl.bicubic_upscale, bl.lanczos_upscale])
def test_upscale_of_a_constant_is_that_constant(upscale):
    lr = np.full((6, 5, 3), 0.3, np.float32)
    out = upscale(lr, 4)
    assert out.shape == (24, 20, 3)
    np.testing.assert_allclose(out, 0.3, atol=1e-5)


def test_bicubic_matches_the_sr_generators_skip():
    from gan_jax.models import bicubic_upscale as model_bicubic

    lr = _rng().uniform(-1, 1, (8, 8, 3)).astype(np.float32)
    ref = np.clip(np.asarray(model_bicubic(lr[None], 4))[0], -1, 1)
    np.testing.assert_allclose(bl.bicubic_upscale(lr, 4), ref, atol=1e-6)


def test_unsharp_mask_keeps_constants_amount_zero_and_sharpens_an_edge():
    flat = np.full((16, 16, 3), -0.2, np.float32)
    np.testing.assert_allclose(bl.unsharp_mask(flat, 1.0, 1.5), flat, atol=1e-5)
    img = _rng().uniform(-0.5, 0.5, (16, 16, 3)).astype(np.float32)
    np.testing.assert_allclose(bl.unsharp_mask(img, 2.0, 0.0), img, atol=1e-5)
    edge = np.where(np.arange(16) < 8, -0.5, 0.5).astype(np.float32)[None, :, None].repeat(16, 0).repeat(3, 2)
    sharp = bl.unsharp_mask(edge, 1.0, 1.0)
    assert sharp[:, 7].max() < -0.5 and sharp[:, 8].min() > 0.5  # overshoot on both sides of the step
    np.testing.assert_allclose(bl.bicubic_unsharp(flat[:4, :4], 4, 1.0, 1.0), -0.2, atol=1e-5)


# ---------------------------------------------------------------- denoising

@pytest.mark.parametrize("denoise,params", [(bl.gaussian_denoise, {"sigma": 1.5}), (bl.median_denoise, {"size": 3}),
                                            (bl.nl_means_denoise, {"h": 0.08, "noise_sigma": 0.1}),
                                            (bl.tv_denoise, {"weight": 0.1})])
def test_denoisers_keep_a_constant_and_reduce_noise(denoise, params):
    clean = np.full((32, 32, 3), 0.25, np.float32)
    np.testing.assert_allclose(denoise(clean, **params), clean, atol=1e-4)
    noisy = np.clip(clean + _rng().normal(0, 0.2, clean.shape), -1, 1).astype(np.float32)
    out = denoise(noisy, **params)
    assert out.shape == clean.shape and out.dtype == np.float32
    assert np.mean((out - clean) ** 2) < 0.5 * np.mean((noisy - clean) ** 2)


def test_median_removes_an_impulse_exactly():
    img = np.zeros((9, 9, 1), np.float32)
    img[4, 4] = 1.0
    np.testing.assert_array_equal(bl.median_denoise(img, 3), np.zeros_like(img))


# ---------------------------------------------------------------- inpainting

def _centre_mask(n, size=12, lo=4, hi=8):
    m = np.zeros((n, size, size, 1), np.float32)
    m[:, lo:hi, lo:hi] = 1.0
    return m


def test_biharmonic_fill_recovers_a_linear_ramp():
    yy, xx = np.mgrid[0:12, 0:12].astype(np.float32)
    ramp = (0.08 * xx - 0.05 * yy - 0.2)[None, ..., None]
    ramp = np.concatenate([ramp, -ramp], axis=-1)  # two channels
    m = _centre_mask(1)
    holed = np.where(m > 0.5, 0.9, ramp)
    np.testing.assert_allclose(bl.biharmonic_fill(holed, m), ramp, atol=1e-4)


def test_mean_fill_matches_edit_mean_fill_and_keeps_known_pixels():
    import jax.numpy as jnp

    from gan_jax.edit import mean_fill as edit_mean_fill

    x = _rng().uniform(-1, 1, (3, 12, 12, 2)).astype(np.float32)
    m = _centre_mask(3)
    out = bl.mean_fill(x, m)
    np.testing.assert_allclose(out, np.asarray(edit_mean_fill(jnp.asarray(x), jnp.asarray(m))), atol=1e-6)
    np.testing.assert_array_equal(out[m[..., 0] < 0.5], x[m[..., 0] < 0.5])


def test_nearest_image_fill_returns_the_training_image_when_the_query_is_one():
    train = _rng().uniform(-1, 1, (40, 12, 12, 1)).astype(np.float32)
    queries = train[[7, 3, 31]]
    m = np.stack([_centre_mask(1)[0], _centre_mask(1, lo=0, hi=6)[0], _centre_mask(1, lo=6, hi=12)[0]])
    filled, idx = bl.nearest_image_fill(np.where(m > 0.5, 0.0, queries), m, train)
    np.testing.assert_array_equal(idx[:, 0], [7, 3, 31])
    np.testing.assert_array_equal(filled, queries)


def test_nearest_images_is_the_brute_force_ranking_on_known_pixels_only():
    train = _rng(1).uniform(-1, 1, (30, 6, 6, 2)).astype(np.float32)
    x = _rng(2).uniform(-1, 1, (5, 6, 6, 2)).astype(np.float32)
    m = (_rng(3).random((5, 6, 6, 1)) < 0.4).astype(np.float32)
    idx = bl.nearest_images(x, m, train, k=4, chunk=2)
    known = 1 - m
    d = ((x[:, None] - train[None]) ** 2 * known[:, None]).sum((2, 3, 4))
    np.testing.assert_array_equal(idx, np.argsort(d, axis=1)[:, :4])
    # the k-average is the mean of those images, and the precomputed indices give the same fill
    out4, _ = bl.nearest_image_fill(x, m, train, 4)
    np.testing.assert_allclose(out4, np.where(m > 0.5, train[idx].mean(1), x), atol=1e-6)
    np.testing.assert_array_equal(bl.nearest_image_fill(x, m, train, 2, indices=idx)[0],
                                  bl.nearest_image_fill(x, m, train, 2)[0])


# ---------------------------------------------------------------- tuning on validation images only

def _pair(seed, noise):
    clean = np.clip(_rng(seed).normal(0, 0.3, (16, 16, 1)), -1, 1).astype(np.float32)
    return clean + noise, clean


def test_grid_search_picks_the_best_mean_score_first_on_ties():
    pairs = [(np.zeros(3), np.zeros(3))]
    best, table = bl.grid_search(lambda x, a, b: x + a - b, {"a": (0, 1, 2), "b": (1, 0)}, pairs,
                                 lambda out, y: -float(np.abs(out - y).sum()))
    # grid order (0,1) (0,0) (1,1) (1,0) (2,1) (2,0): (0,0), (1,1) tie at 0; the first is kept
    assert best == {"a": 0, "b": 0} and len(table) == 6 and table[1] == ({"a": 0, "b": 0}, 0.0)


def test_tuning_never_sees_the_test_images():
    validation = {"v0": _pair(0, 0.2), "v1": _pair(1, 0.2)}  # an offset of +0.2: best shift -0.2
    test = {"t0": _pair(2, -0.4), "t1": _pair(3, -0.4)}      # a different offset: best shift +0.4
    test_ids = {id(x) for x, _ in test.values()}
    calls = []

    def shift(x, delta):
        calls.append((id(x), delta))
        return x + delta

    score = lambda out, y: -float(np.mean((out - y) ** 2))  # noqa: E731
    grid = {"delta": (-0.4, -0.2, 0.0, 0.2, 0.4)}
    chosen, outs, table = bl.tune_then_test(shift, grid, validation, test, score)
    assert [p for p, _ in table] == [{"delta": d} for d in grid["delta"]]
    assert chosen == {"delta": -0.2}  # the validation optimum, not the test one (+0.4)
    tuning, applying = calls[:-len(test)], calls[-len(test):]
    assert len(tuning) == len(grid["delta"]) * len(validation)
    assert not {i for i, _ in tuning} & test_ids, "the grid search was run on a test image"
    assert {i for i, _ in applying} == test_ids and {d for _, d in applying} == {-0.2}
    assert set(outs) == set(test)
    # the choice is the same whatever the test images are
    other = {"t0": _pair(4, 0.4), "t1": _pair(5, 0.0)}
    assert bl.tune_then_test(shift, grid, validation, other, score)[0] == chosen


def test_a_test_image_in_the_validation_set_is_refused():
    v, t = _pair(0, 0.1), _pair(1, 0.1)
    method, grid, score = (lambda x, a: x * a), {"a": (1.0,)}, (lambda out, y: 0.0)
    with pytest.raises(ValueError, match="is test image"):  # same pixels under another name
        bl.tune_then_test(method, grid, {"v": v, "copy": (t[0].copy(), t[1].copy())}, {"t": t}, score)
    with pytest.raises(ValueError, match="share"):
        bl.tune_then_test(method, grid, {"t": v}, {"t": t}, score)
    bl.check_disjoint({"v": v[1]}, {"t": t[1]})  # disjoint: no error


def test_the_experiments_validation_photos_are_not_its_test_photos():
    sys.path.insert(0, os.path.join(ROOT, "experiments", "img2img"))
    try:
        import baselines as exp
    finally:
        sys.path.pop(0)
    assert len(exp.TEST_PHOTOS) >= 5
    assert not set(exp.VALIDATION_PHOTOS) & set(exp.TEST_PHOTOS)
    from gan_jax.data.photos import SPLITS

    assert set(exp.VALIDATION_PHOTOS) == set(SPLITS["train"]) and set(SPLITS["heldout"]) <= set(exp.TEST_PHOTOS)
    bl.check_disjoint({n: exp.load_photo(n) for n in exp.VALIDATION_PHOTOS},
                      {n: exp.load_photo(n) for n in exp.TEST_PHOTOS})
