import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import penalties

B, H, W, C = 4, 4, 4, 3
KEY = jax.random.PRNGKey(0)


def _images(seed, shape=(B, H, W, C)):
    return jax.random.uniform(jax.random.PRNGKey(seed), shape, minval=-1.0, maxval=1.0)


def linear_d(w, b, x):
    """D(x) = <w, x> + b per sample; its input gradient is w everywhere."""
    return jnp.sum(x * w, axis=(1, 2, 3)) + b


def quadratic_d(x):
    """D(x) = 1/2 ||x||^2 per sample; its input gradient is x."""
    return 0.5 * jnp.sum(jnp.square(x), axis=(1, 2, 3))


def conv_d(params, x):
    """A small nonlinear per-sample D: conv 3x3 -> tanh -> linear."""
    h = jax.lax.conv_general_dilated(x, params["kernel"], (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jnp.sum(jnp.tanh(h) * params["head"], axis=(1, 2, 3))


def _conv_params(seed=1):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    return {"kernel": 0.5 * jax.random.normal(k1, (3, 3, C, 2)),
            "head": 0.5 * jax.random.normal(k2, (H, W, 2))}


# Per-pixel magnitudes differ a lot, so per-pixel/per-channel norms disagree with the flattened one.
W_UNEVEN = (jnp.arange(H * W * C, dtype=jnp.float32).reshape(H, W, C) % 7 - 3.0) * 0.05


def test_gradient_penalty_linear_d_is_exact():
    w = W_UNEVEN
    gp = penalties.gradient_penalty(lambda x: linear_d(w, 0.3, x), _images(1), _images(2), KEY)
    expected = (np.linalg.norm(np.asarray(w, np.float64)) - 1.0) ** 2
    np.testing.assert_allclose(float(gp), expected, rtol=1e-5)


def test_gradient_penalty_uses_flattened_norm_not_per_pixel_or_per_channel():
    w = np.asarray(W_UNEVEN, np.float64)
    flattened = (np.linalg.norm(w) - 1.0) ** 2
    per_pixel = np.mean((np.sqrt(np.sum(w ** 2, axis=-1)) - 1.0) ** 2)             # norm over C
    per_channel = np.mean((np.sqrt(np.sum(w ** 2, axis=(0, 1))) - 1.0) ** 2)       # norm over H, W
    per_value = np.mean((np.abs(w) - 1.0) ** 2)
    for wrong in (per_pixel, per_channel, per_value):
        assert abs(wrong - flattened) > 0.1  # the test below can tell them apart
    gp = float(penalties.gradient_penalty(lambda x: linear_d(W_UNEVEN, 0.0, x), _images(1), _images(2), KEY))
    np.testing.assert_allclose(gp, flattened, rtol=1e-5)
    for wrong in (per_pixel, per_channel, per_value):
        assert abs(gp - wrong) > 0.1


def test_gradient_penalty_target():
    w = W_UNEVEN
    gp = penalties.gradient_penalty(lambda x: linear_d(w, 0.0, x), _images(1), _images(2), KEY, target=0.0)
    np.testing.assert_allclose(float(gp), float(jnp.sum(w ** 2)), rtol=1e-5)


def test_random_interpolates_one_eps_per_sample():
    real, fake = _images(1), _images(2)
    x_hat = penalties.random_interpolates(real, fake, KEY)
    assert x_hat.shape == real.shape and x_hat.dtype == real.dtype
    eps = np.asarray((x_hat - fake) / (real - fake)).reshape(B, -1)
    np.testing.assert_allclose(eps, np.repeat(eps[:, :1], eps.shape[1], axis=1), atol=1e-4)
    assert np.all((eps[:, 0] >= 0) & (eps[:, 0] <= 1))
    assert len(np.unique(np.round(eps[:, 0], 4))) == B  # a different eps per sample
    np.testing.assert_array_equal(x_hat, penalties.random_interpolates(real, fake, KEY))


def test_gradient_penalty_quadratic_d_on_interpolates():
    real, fake = _images(1), _images(2)
    x_hat = np.asarray(penalties.random_interpolates(real, fake, KEY), np.float64).reshape(B, -1)
    expected = np.mean((np.linalg.norm(x_hat, axis=1) - 1.0) ** 2)  # grad D(x_hat) = x_hat
    gp = penalties.gradient_penalty(quadratic_d, real, fake, KEY)
    np.testing.assert_allclose(float(gp), expected, rtol=1e-5)


def test_r1_linear_and_quadratic_d():
    w = W_UNEVEN
    real = _images(3)
    np.testing.assert_allclose(float(penalties.r1_penalty(lambda x: linear_d(w, 1.0, x), real)),
                               float(jnp.sum(w ** 2)), rtol=1e-5)
    expected = np.mean(np.sum(np.asarray(real, np.float64) ** 2, axis=(1, 2, 3)))
    np.testing.assert_allclose(float(penalties.r1_penalty(quadratic_d, real)), expected, rtol=1e-5)


def test_penalties_are_per_sample():
    # With real == fake every interpolate is the real image, whatever eps is, so the batch
    # penalty must be the mean of single-sample penalties for a D without cross-sample terms.
    params, real = _conv_params(), _images(4)
    d_fn = lambda x: conv_d(params, x)  # noqa: E731
    for penalty in (lambda x: penalties.gradient_penalty(d_fn, x, x, KEY),
                    lambda x: penalties.r1_penalty(d_fn, x)):
        batch = float(penalty(real))
        singles = [float(penalty(real[i:i + 1])) for i in range(B)]
        np.testing.assert_allclose(batch, np.mean(singles), rtol=1e-5)
        assert np.std(singles) > 1e-3  # the samples really differ


def test_second_order_gradient_linear_d_is_analytic():
    real, fake = _images(1), _images(2)

    def gp_of(w, b):
        return penalties.gradient_penalty(lambda x: linear_d(w, b, x), real, fake, KEY)

    def r1_of(w, b):
        return penalties.r1_penalty(lambda x: linear_d(w, b, x), real)

    w = W_UNEVEN
    norm = jnp.linalg.norm(w)
    grad_w, grad_b = jax.jit(jax.grad(gp_of, argnums=(0, 1)))(w, 0.5)
    np.testing.assert_allclose(grad_w, 2.0 * (norm - 1.0) * w / norm, rtol=1e-5, atol=1e-7)
    assert float(grad_b) == 0.0
    np.testing.assert_allclose(jax.grad(r1_of)(w, 0.5), 2.0 * w, rtol=1e-6)


def test_second_order_gradient_nonlinear_d_matches_finite_difference():
    params, real, fake = _conv_params(), _images(5), _images(6)

    def gp_of(p):
        return penalties.gradient_penalty(lambda x: conv_d(p, x), real, fake, KEY)

    def r1_of(p):
        return penalties.r1_penalty(lambda x: conv_d(p, x), real)

    direction = jax.tree_util.tree_map(lambda p: jax.random.normal(jax.random.PRNGKey(7), p.shape), params)
    h = 1e-2
    for fn in (gp_of, r1_of):
        grads = jax.jit(jax.grad(fn))(params)
        assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(grads))
        directional = sum(float(jnp.vdot(g, d)) for g, d in
                          zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(direction)))
        plus = jax.tree_util.tree_map(lambda p, d: p + h * d, params, direction)
        minus = jax.tree_util.tree_map(lambda p, d: p - h * d, params, direction)
        finite_difference = (float(fn(plus)) - float(fn(minus))) / (2 * h)
        np.testing.assert_allclose(directional, finite_difference, rtol=2e-2)
        assert abs(directional) > 1e-3


def test_zero_input_gradient_has_finite_parameter_gradient():
    # A D that ignores its input: ||grad|| = 0, where a plain sqrt would give NaN gradients.
    def gp_of(w):
        return penalties.gradient_penalty(lambda x: linear_d(w, 0.0, x), _images(1), _images(2), KEY)

    zeros = jnp.zeros((H, W, C))
    assert float(gp_of(zeros)) == pytest.approx(1.0)
    assert np.all(np.isfinite(jax.grad(gp_of)(zeros)))


def test_jit_and_scalar_outputs():
    params, real, fake = _conv_params(), _images(1), _images(2)
    gp = jax.jit(lambda p, r, f, k: penalties.gradient_penalty(lambda x: conv_d(p, x), r, f, k))(
        params, real, fake, KEY)
    r1 = jax.jit(lambda p, r: penalties.r1_penalty(lambda x: conv_d(p, x), r))(params, real)
    assert gp.shape == () and r1.shape == ()
    assert np.isfinite(float(gp)) and np.isfinite(float(r1))
    # The key matters for GP (different interpolates), but GP is deterministic given it.
    assert float(penalties.gradient_penalty(lambda x: conv_d(params, x), real, fake, KEY)) == pytest.approx(
        float(gp), rel=1e-5)
    other = penalties.gradient_penalty(lambda x: conv_d(params, x), real, fake, jax.random.PRNGKey(9))
    assert float(other) != pytest.approx(float(gp), rel=1e-6)
