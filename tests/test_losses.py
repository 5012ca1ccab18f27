import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import losses, registry
from gan_jax.errors import UserError

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
    f = jnp.asarray(LOGITS_FAKE)
    assert float(losses.get("minimax").g_loss(None, f)) == float(losses.minimax_g_loss_non_saturating(f))
    assert float(losses.get("minimax_saturating").g_loss(None, f)) == float(losses.minimax_g_loss_saturating(f))
    assert losses.get("minimax").d_loss is losses.minimax_d_loss
    assert not losses.get("minimax").relativistic
    with pytest.raises(UserError, match="unknown loss"):
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
    g_value, g_grad = jax.value_and_grad(loss.g_loss, argnums=1)(None, f)
    assert np.isfinite(float(d_value)) and np.isfinite(float(g_value))
    assert all(np.all(np.isfinite(np.asarray(g))) for g in (*d_grads, g_grad))


@pytest.mark.parametrize("name, d_loss, g_loss", [
    ("wasserstein", losses.wasserstein_d_loss, losses.wasserstein_g_loss),
    ("hinge", losses.hinge_d_loss, losses.hinge_g_loss),
    ("least_squares", losses.least_squares_d_loss, losses.least_squares_g_loss),
])
def test_new_losses_registered(name, d_loss, g_loss):
    loss = losses.get(name)
    assert loss.d_loss is d_loss and not loss.relativistic
    f = jnp.asarray(LOGITS_FAKE)
    assert float(loss.g_loss(jnp.asarray(LOGITS_REAL), f)) == float(g_loss(f))  # reads the fakes only


def test_unknown_loss_lists_new_names():
    with pytest.raises(UserError, match="hinge.*least_squares.*relativistic_average.*wasserstein"):
        losses.get("wgan")


# --- relativistic losses: closed forms in float64 ---------------------------------------------

def _softplus(x):
    x = np.asarray(x, np.float64)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def test_relativistic_average_closed_form():
    """RaGAN (Jolicoeur-Martineau 2018): D(x_r, x_f) = sigmoid(C(x_r) - E[C(x_f)]), and back."""
    r, f = _f64(LOGITS_REAL), _f64(LOGITS_FAKE)
    # log D_ra(real) and log(1 - D_ra(fake)), with 1 - sigmoid(x) = sigmoid(-x)
    log_d_real, log_1m_d_fake = _log_sigmoid(r - f.mean()), _log_sigmoid(-(f - r.mean()))
    log_d_fake, log_1m_d_real = _log_sigmoid(f - r.mean()), _log_sigmoid(-(r - f.mean()))
    expected_d = -np.mean(log_d_real) - np.mean(log_1m_d_fake)
    expected_g = -np.mean(log_d_fake) - np.mean(log_1m_d_real)
    loss = losses.get("relativistic_average")
    assert loss.relativistic
    np.testing.assert_allclose(float(loss.d_loss(LOGITS_REAL, LOGITS_FAKE)), expected_d, rtol=1e-5)
    np.testing.assert_allclose(float(loss.g_loss(LOGITS_REAL, LOGITS_FAKE)), expected_g, rtol=1e-5)


def test_relativistic_pairing_closed_form():
    """RpGAN (R3GAN's loss): D minimises E[softplus(f_i - r_i)], G E[softplus(r_i - f_i)], pair by pair."""
    r, f = _f64(LOGITS_REAL), _f64(LOGITS_FAKE)
    loss = losses.get("relativistic_pairing")
    assert loss.relativistic
    np.testing.assert_allclose(float(loss.d_loss(LOGITS_REAL, LOGITS_FAKE)), np.mean(_softplus(f - r)), rtol=1e-6)
    np.testing.assert_allclose(float(loss.g_loss(LOGITS_REAL, LOGITS_FAKE)), np.mean(_softplus(r - f)), rtol=1e-6)
    # Pairing, not averaging: shuffling the fakes changes the loss.
    shuffled = LOGITS_FAKE[::-1].copy()
    assert float(loss.d_loss(LOGITS_REAL, shuffled)) != pytest.approx(float(loss.d_loss(LOGITS_REAL, LOGITS_FAKE)))
    # log 2 when D cannot tell them apart.
    assert float(loss.d_loss(jnp.ones(4), jnp.ones(4))) == pytest.approx(np.log(2.0))


@pytest.mark.parametrize("name", ["relativistic_average", "relativistic_pairing"])
def test_relativistic_extreme_logits_are_finite_with_finite_gradients(name):
    loss = losses.get(name)
    r, f = jnp.asarray(LOGITS_REAL), jnp.asarray(LOGITS_FAKE)
    for fn in (loss.d_loss, loss.g_loss):
        value, grads = jax.value_and_grad(fn, argnums=(0, 1))(r * 10, f * 10)
        assert np.isfinite(float(value)) and all(np.all(np.isfinite(np.asarray(g))) for g in grads)


# --- registering losses from outside the package ----------------------------------------------

def test_register_decorator_and_call_bump_the_version():
    before = registry.version()

    @losses.register("test_only_shifted_hinge")
    def shifted():
        return losses.GANLoss(lambda r, f: losses.hinge_d_loss(r - 1, f), losses.fake_only(losses.hinge_g_loss))

    try:
        assert registry.version() > before
        assert callable(shifted)  # the decorator returns what it decorates
        got = losses.get("test_only_shifted_hinge")
        assert float(got.d_loss(jnp.array([1.0]), jnp.array([-1.0]))) == pytest.approx(1.0)
        with pytest.raises(ValueError, match="already registered"):
            losses.register("test_only_shifted_hinge", losses.get("hinge"))
        losses.register("test_only_shifted_hinge", losses.get("hinge"), replace=True)
        assert losses.get("test_only_shifted_hinge") == losses.get("hinge")
    finally:
        losses.LOSSES.unregister("test_only_shifted_hinge")
    assert "test_only_shifted_hinge" not in losses.LOSSES.names()


def test_loss_by_import_path(tmp_path, monkeypatch):
    (tmp_path / "my_losses_for_test.py").write_text(
        "from gan_jax import losses\n"
        "def doubled():\n"
        "    return losses.GANLoss(lambda r, f: 2 * losses.hinge_d_loss(r, f), losses.fake_only(losses.hinge_g_loss))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    loss = losses.get("my_losses_for_test:doubled")
    assert float(loss.d_loss(jnp.array([0.0]), jnp.array([0.0]))) == pytest.approx(4.0)
    with pytest.raises(UserError, match="cannot import module 'no_such_module_xyz'"):
        losses.get("no_such_module_xyz:loss")
    with pytest.raises(UserError, match="has no attribute 'missing'"):
        losses.get("my_losses_for_test:missing")
    with pytest.raises(TypeError, match="GANLoss"):
        losses.get("jax.numpy:pi")
