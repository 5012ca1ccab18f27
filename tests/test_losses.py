import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import losses

LOGITS_REAL = np.array([-100.0, -3.0, -0.5, 0.0, 0.7, 2.0, 100.0], np.float32)
LOGITS_FAKE = np.array([100.0, 4.0, 0.3, 0.0, -1.2, -5.0, -100.0], np.float32)


def _log_sigmoid(x):
    # Reference in float64 with the closed form log D = -log(1 + e^-x), written stably by hand.
    x = np.asarray(x, np.float64)
    return np.where(x >= 0, -np.log1p(np.exp(-x)), x - np.log1p(np.exp(x)))


def test_minimax_d_loss_closed_form():
    expected = -np.mean(_log_sigmoid(LOGITS_REAL)) - np.mean(_log_sigmoid(-LOGITS_FAKE))
    got = losses.minimax_d_loss(jnp.asarray(LOGITS_REAL), jnp.asarray(LOGITS_FAKE))
    np.testing.assert_allclose(float(got), expected, rtol=1e-6)


def test_generator_losses_closed_form():
    log_d = _log_sigmoid(LOGITS_FAKE)          # log D(G(z))
    log_1m_d = _log_sigmoid(-LOGITS_FAKE)      # log(1 - D(G(z)))
    np.testing.assert_allclose(float(losses.minimax_g_loss_saturating(LOGITS_FAKE)),
                               np.mean(log_1m_d), rtol=1e-6)
    np.testing.assert_allclose(float(losses.minimax_g_loss_non_saturating(LOGITS_FAKE)),
                               -np.mean(log_d), rtol=1e-6)


def test_small_logits_match_naive_formula():
    # Where the naive log(sigmoid) is accurate, the stable forms agree with it.
    r = np.array([-2.0, 0.1, 1.5], np.float32)
    f = np.array([0.4, -1.0, 2.5], np.float32)
    sig = lambda x: 1 / (1 + np.exp(-x.astype(np.float64)))  # noqa: E731
    naive_d = -np.mean(np.log(sig(r))) - np.mean(np.log(1 - sig(f)))
    np.testing.assert_allclose(float(losses.minimax_d_loss(r, f)), naive_d, rtol=1e-6)
    np.testing.assert_allclose(float(losses.minimax_g_loss_saturating(f)), np.mean(np.log(1 - sig(f))), rtol=1e-6)


@pytest.mark.parametrize("fn", [lambda r, f: losses.minimax_d_loss(r, f),
                                lambda r, f: losses.minimax_g_loss_saturating(f),
                                lambda r, f: losses.minimax_g_loss_non_saturating(f)])
def test_extreme_logits_are_finite_with_finite_gradients(fn):
    r, f = jnp.asarray(LOGITS_REAL), jnp.asarray(LOGITS_FAKE)
    value, grads = jax.value_and_grad(fn, argnums=(0, 1))(r, f)
    assert np.isfinite(float(value))
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)


def test_extreme_values():
    # A perfectly fooled / perfectly sure discriminator: losses are ~100/n, not inf.
    big = jnp.array([100.0])
    assert float(losses.minimax_d_loss(-big, big)) == pytest.approx(200.0, rel=1e-6)
    assert float(losses.minimax_g_loss_non_saturating(-big)) == pytest.approx(100.0, rel=1e-6)
    assert float(losses.minimax_g_loss_saturating(big)) == pytest.approx(-100.0, rel=1e-6)


def test_registry():
    assert losses.get("minimax").g_loss is losses.minimax_g_loss_non_saturating
    assert losses.get("minimax_saturating").g_loss is losses.minimax_g_loss_saturating
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get("nope")


# --- Wasserstein, hinge, least squares: raw logits, closed forms in float64 --------------------

def _f64(x):
    return np.asarray(x, np.float64)


def test_wasserstein_closed_form():
    r, f = _f64(LOGITS_REAL), _f64(LOGITS_FAKE)
    np.testing.assert_allclose(float(losses.wasserstein_d_loss(LOGITS_REAL, LOGITS_FAKE)),
                               np.mean(f) - np.mean(r), atol=1e-5)
    np.testing.assert_allclose(float(losses.wasserstein_g_loss(LOGITS_FAKE)), -np.mean(f), atol=1e-5)


def test_hinge_closed_form():
    r, f = _f64(LOGITS_REAL), _f64(LOGITS_FAKE)
    expected_d = np.mean(np.maximum(0.0, 1.0 - r)) + np.mean(np.maximum(0.0, 1.0 + f))
    np.testing.assert_allclose(float(losses.hinge_d_loss(LOGITS_REAL, LOGITS_FAKE)), expected_d, rtol=1e-6)
    np.testing.assert_allclose(float(losses.hinge_g_loss(LOGITS_FAKE)), -np.mean(f), atol=1e-5)


def test_hinge_is_zero_beyond_the_margin():
    # D sure and right by more than the margin: no D loss; inside the margin: linear.
    assert float(losses.hinge_d_loss(jnp.array([1.0, 5.0]), jnp.array([-1.0, -7.0]))) == 0.0
    assert float(losses.hinge_d_loss(jnp.array([0.5]), jnp.array([0.25]))) == pytest.approx(0.5 + 1.25)


def test_least_squares_closed_form():
    r, f = _f64(LOGITS_REAL), _f64(LOGITS_FAKE)
    expected_d = 0.5 * np.mean((r - 1.0) ** 2) + 0.5 * np.mean(f ** 2)
    np.testing.assert_allclose(float(losses.least_squares_d_loss(LOGITS_REAL, LOGITS_FAKE)), expected_d,
                               rtol=1e-6)
    np.testing.assert_allclose(float(losses.least_squares_g_loss(LOGITS_FAKE)), 0.5 * np.mean((f - 1.0) ** 2),
                               rtol=1e-6)
    # Optimum: D outputs b=1 on real, a=0 on fake; G wants c=1.
    assert float(losses.least_squares_d_loss(jnp.ones(3), jnp.zeros(3))) == 0.0
    assert float(losses.least_squares_g_loss(jnp.ones(3))) == 0.0


def test_new_losses_extreme_values():
    big = jnp.array([100.0])
    assert float(losses.wasserstein_d_loss(-big, big)) == pytest.approx(200.0)
    assert float(losses.wasserstein_g_loss(big)) == pytest.approx(-100.0)
    assert float(losses.hinge_d_loss(-big, big)) == pytest.approx(202.0)
    assert float(losses.hinge_d_loss(big, -big)) == 0.0
    assert float(losses.least_squares_d_loss(-big, big)) == pytest.approx(0.5 * 101.0 ** 2 + 0.5 * 100.0 ** 2)
    assert float(losses.least_squares_g_loss(-big)) == pytest.approx(0.5 * 101.0 ** 2)


@pytest.mark.parametrize("name", ["wasserstein", "hinge", "least_squares"])
def test_new_losses_extreme_logits_are_finite_with_finite_gradients(name):
    loss = losses.get(name)
    r, f = jnp.asarray(LOGITS_REAL), jnp.asarray(LOGITS_FAKE)
    d_value, d_grads = jax.value_and_grad(loss.d_loss, argnums=(0, 1))(r, f)
    g_value, g_grad = jax.value_and_grad(loss.g_loss)(f)
    assert np.isfinite(float(d_value)) and np.isfinite(float(g_value))
    assert all(np.all(np.isfinite(np.asarray(g))) for g in (*d_grads, g_grad))


@pytest.mark.parametrize("name, d_loss, g_loss", [
    ("wasserstein", losses.wasserstein_d_loss, losses.wasserstein_g_loss),
    ("hinge", losses.hinge_d_loss, losses.hinge_g_loss),
    ("least_squares", losses.least_squares_d_loss, losses.least_squares_g_loss),
])
def test_new_losses_registered(name, d_loss, g_loss):
    assert losses.get(name) == losses.GANLoss(d_loss, g_loss)
    assert losses.LOSSES[name].d_loss is d_loss and losses.LOSSES[name].g_loss is g_loss


def test_unknown_loss_lists_new_names():
    with pytest.raises(ValueError, match="hinge.*least_squares.*wasserstein"):
        losses.get("wgan")
