"""ADA's augmentations (gan_jax/data/ada.py): identity at p = 0, differentiable, the paper's ops
and p controller; and the faces100 data source (the small-data regime ADA is for)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.data import ada
from gan_jax.data.load import load_source

BGC = ada.parse_pipeline("bgc")


def _images(c=3, b=16, size=12, seed=0):
    return jax.random.uniform(jax.random.PRNGKey(seed), (b, size, size, c), minval=-1, maxval=1)


def test_parse_pipeline():
    assert BGC == ada.GEOMETRIC + ada.COLOR
    assert ada.parse_pipeline("color,xflip") == ("xflip",) + ada.COLOR
    assert ada.parse_pipeline("") == ()
    with pytest.raises(ValueError, match="unknown ADA op 'cutout'"):
        ada.parse_pipeline("bg,cutout")


@pytest.mark.parametrize("channels", [1, 3])
def test_identity_at_p_0(channels):
    x = _images(channels)
    np.testing.assert_array_equal(ada.augment(x, jax.random.PRNGKey(1), 0.0, BGC), x)
    assert float(jnp.abs(ada.augment(x, jax.random.PRNGKey(1), 0.8, BGC) - x).max()) > 0.1


def test_augmentations_are_differentiable_and_linear_in_the_images():
    x, u = _images(seed=0), _images(seed=1)
    key = jax.random.PRNGKey(2)
    geometric = lambda v: ada.augment(v, key, 1.0, ada.GEOMETRIC)  # noqa: E731
    # A fixed warp is linear in the images: <J v, u> = <v, J^T u> (J^T from autodiff).
    _, pullback = jax.vjp(geometric, x)
    (jt_u,) = pullback(u)
    np.testing.assert_allclose(jnp.vdot(geometric(x), u), jnp.vdot(x, jt_u), rtol=1e-4)
    grads = jax.grad(lambda v: jnp.sum(ada.augment(v, key, 0.7, BGC) ** 2))(x)
    assert np.isfinite(grads).all() and float(jnp.abs(grads).sum()) > 0


def test_the_warp_is_skipped_only_where_it_is_the_identity():
    """apply's run-time skip (every geometry the identity) gives exactly the warp's values and
    gradients, whether it skips or not; one augmented image in the batch turns the warp on."""
    x = _images(1, b=8)
    params = ada.sample_params(jax.random.PRNGKey(7), 8, 0.0, ada.GEOMETRIC, (12, 12))
    moved = params._replace(geometry=params.geometry.at[3, 0, 2].set(1.5))  # image 3 shifted 1.5 px
    for p in (params, moved):
        got, always = ada.apply(x, p, ada.GEOMETRIC), ada.warp(x, p.geometry)
        np.testing.assert_array_equal(got, always)
        weights = _images(1, b=8, seed=9)
        np.testing.assert_array_equal(jax.grad(lambda v: jnp.vdot(ada.apply(v, p, ada.GEOMETRIC), weights))(x),
                                      jax.grad(lambda v: jnp.vdot(ada.warp(v, p.geometry), weights))(x))
    np.testing.assert_array_equal(ada.apply(x, params, ada.GEOMETRIC), x)
    changed = np.abs(np.asarray(ada.apply(x, moved, ada.GEOMETRIC) - x)).max(axis=(1, 2, 3)) > 0
    assert changed.tolist() == [n == 3 for n in range(8)]


def test_integer_geometry_is_exact():
    x = _images(1, b=32)
    out = np.asarray(ada.augment(x, jax.random.PRNGKey(3), 1.0, ("rotate90",)))
    xs = np.asarray(x)
    for n in range(32):  # every image one of its four quarter turns, and all four turns occur
        assert min(np.abs(out[n] - np.rot90(xs[n], k, axes=(0, 1))).max() for k in range(4)) < 1e-5
    flips = np.asarray(ada.augment(x, jax.random.PRNGKey(4), 1.0, ("xflip",)))
    assert all(np.allclose(flips[n], xs[n]) or np.allclose(flips[n], xs[n, :, ::-1]) for n in range(32))
    shifted = np.asarray(ada.augment(x, jax.random.PRNGKey(5), 1.0, ("xint",)))
    assert set(np.round(shifted.ravel(), 5)) <= set(np.round(xs.ravel(), 5))  # whole-pixel shifts: pixels of x


def test_each_op_applies_with_probability_p():
    x = _images(3, b=2000, size=4)
    out = ada.augment(x, jax.random.PRNGKey(6), 0.3, ("brightness",))
    changed = np.asarray(jnp.abs(out - x).max(axis=(1, 2, 3)) > 0)
    assert changed.mean() == pytest.approx(0.3, abs=0.04)
    offset = np.asarray(out - x)[changed]  # brightness: one constant per image
    np.testing.assert_allclose(offset, offset[:, :1, :1, :1] * np.ones_like(offset), atol=1e-5)
    assert np.std(offset[:, 0, 0, 0]) == pytest.approx(0.2, rel=0.15)  # N(0, 0.2)


def test_color_ops_keep_grey_grey_and_lumaflip_reflects_about_luma():
    grey = jnp.broadcast_to(_images(1, b=8), (8, 12, 12, 3))
    out = np.asarray(ada.augment(grey, jax.random.PRNGKey(7), 1.0, ("hue", "saturation")))
    np.testing.assert_allclose(out, np.asarray(grey), atol=1e-5)  # hue and saturation leave grey alone
    x = _images(3, b=64)
    flipped = np.asarray(ada.augment(x, jax.random.PRNGKey(8), 1.0, ("lumaflip",)))
    luma = np.asarray(x).mean(-1, keepdims=True)
    for n in range(64):  # either unchanged, or the luma component negated and the chroma kept
        reflected = np.asarray(x[n]) - 2 * luma[n]
        assert np.allclose(flipped[n], x[n], atol=1e-5) or np.allclose(flipped[n], reflected, atol=1e-5)


def test_p_controller_formula():
    # p + sign(r_t - target) * images / (kimg * 1000), clipped to [0, 1].
    assert float(ada.adjust_p(0.5, 0.8, 0.6, 256, 100.0)) == pytest.approx(0.5 + 256 / 100_000)
    assert float(ada.adjust_p(0.5, 0.4, 0.6, 256, 100.0)) == pytest.approx(0.5 - 256 / 100_000)
    assert float(ada.adjust_p(0.001, -1.0, 0.6, 256, 100.0)) == 0.0
    assert float(ada.adjust_p(0.999, 1.0, 0.6, 256, 100.0)) == 1.0


def test_faces100_has_100_faces():
    faces = load_source("faces100", resolution=32, channels=1)
    images, labels = faces.get(np.arange(len(faces)))
    assert len(faces) == 100 and images.shape == (100, 32, 32, 1) and images.dtype == np.uint8 and labels is None
    assert len({im.tobytes() for im in images}) == 100 and images.std() > 20
    assert load_source("faces100", resolution=28, channels=3).get([0])[0].shape == (1, 28, 28, 3)
