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
