"""GAN objectives as pure functions of discriminator logits.

The minimax losses are written with ``softplus``/``log_sigmoid`` so they are
finite for any logit (no ``log(sigmoid(x))``). With D(x) = sigmoid(logit):

* ``minimax_d_loss``:  -E[log D(x)] - E[log(1 - D(G(z)))]
* ``minimax_g_loss_saturating``:  E[log(1 - D(G(z)))]   (the original minimax G objective)
* ``minimax_g_loss_non_saturating``: -E[log D(G(z))]     (the usual default)

The others use the raw logits D(.) (no sigmoid); they are linear, piecewise
linear or quadratic in the logits, so finite for any finite logit:

* ``wasserstein_d_loss``: E[D(G(z))] - E[D(x)];  ``wasserstein_g_loss``: -E[D(G(z))]
  (WGAN; only meaningful with a Lipschitz constraint on D, e.g. a gradient penalty)
* ``hinge_d_loss``: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))];  ``hinge_g_loss``: -E[D(G(z))]
  (SNGAN / BigGAN)
* ``least_squares_d_loss``: 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2];
  ``least_squares_g_loss``: 1/2 E[(D(G(z)) - 1)^2]   (LSGAN with a=0, b=c=1)

The relativistic losses compare each real logit with the fakes (so their generator loss
reads the real logits too):

* ``relativistic_average`` (RaGAN, Jolicoeur-Martineau 2018), with r = D(x), f = D(G(z)):
  D: E[softplus(-(r - E[f]))] + E[softplus(f - E[r])];
  G: E[softplus(-(f - E[r]))] + E[softplus(r - E[f])]
* ``relativistic_pairing`` (RpGAN; the loss of R3GAN, Huang et al. 2024, used with R1 + R2):
  D: E[softplus(f - r)];  G: E[softplus(r - f)]  over pairs (real i, fake i)

A loss is a :class:`GANLoss` registered by name in :data:`LOSSES`: a new loss is its
functions and one ``register`` line, inside the package or in user code::

    @losses.register("my_loss")
    def my_loss() -> losses.GANLoss: ...   # or losses.register("my_loss", GANLoss(...))

``config.loss`` may also name a loss by import path, ``"my_pkg.losses:my_loss"``.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from gan_jax.registry import Registry


def minimax_d_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """-E[log sigmoid(real)] - E[log(1 - sigmoid(fake))]; logits [B] -> scalar."""
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def minimax_g_loss_saturating(fake_logits: jax.Array) -> jax.Array:
    """E[log(1 - sigmoid(fake))] = -E[softplus(fake)]; minimised by G."""
    return -jnp.mean(jax.nn.softplus(fake_logits))


def minimax_g_loss_non_saturating(fake_logits: jax.Array) -> jax.Array:
    """-E[log sigmoid(fake)] = E[softplus(-fake)]; minimised by G."""
    return jnp.mean(jax.nn.softplus(-fake_logits))


def wasserstein_d_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """E[D(G(z))] - E[D(x)] on raw critic outputs; logits [B] -> scalar."""
    return jnp.mean(fake_logits) - jnp.mean(real_logits)


def wasserstein_g_loss(fake_logits: jax.Array) -> jax.Array:
    """-E[D(G(z))] on raw critic outputs; minimised by G."""
    return -jnp.mean(fake_logits)


def hinge_d_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]; logits [B] -> scalar."""
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def hinge_g_loss(fake_logits: jax.Array) -> jax.Array:
    """-E[D(G(z))] (the same as ``wasserstein_g_loss``); minimised by G."""
    return -jnp.mean(fake_logits)


def least_squares_d_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2] (LSGAN, a=0, b=1); logits [B] -> scalar."""
    return 0.5 * jnp.mean(jnp.square(real_logits - 1.0)) + 0.5 * jnp.mean(jnp.square(fake_logits))


def least_squares_g_loss(fake_logits: jax.Array) -> jax.Array:
    """1/2 E[(D(G(z)) - 1)^2] (LSGAN, c=1); minimised by G."""
    return 0.5 * jnp.mean(jnp.square(fake_logits - 1.0))


def class_cross_entropy(class_logits: jax.Array, labels: jax.Array) -> jax.Array:
    """-E[log softmax(class_logits)[label]]: class logits [B, K], int labels [B] -> scalar.

    The auxiliary classifier loss of ACGAN (Odena et al. 2017); not a ``GANLoss``: it is
    added to D's and G's objectives with ``Config.aux_weight``.
    """
    log_p = jax.nn.log_softmax(class_logits.astype(jnp.float32), axis=-1)
    return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None].astype(jnp.int32), axis=-1))


def relativistic_average_d_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """RaGAN's D loss: E[softplus(-(r - E[f]))] + E[softplus(f - E[r])]; logits [B] -> scalar."""
    mean_real, mean_fake = jnp.mean(real_logits), jnp.mean(fake_logits)
    return jnp.mean(jax.nn.softplus(mean_fake - real_logits)) + jnp.mean(jax.nn.softplus(fake_logits - mean_real))


def relativistic_average_g_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """RaGAN's G loss, D's with real and fake swapped; minimised by G."""
    return relativistic_average_d_loss(fake_logits, real_logits)


def relativistic_pairing_d_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """RpGAN's D loss: E[softplus(f_i - r_i)] over pairs; logits [B] -> scalar."""
    return jnp.mean(jax.nn.softplus(fake_logits - real_logits))


def relativistic_pairing_g_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """RpGAN's G loss: E[softplus(r_i - f_i)]; minimised by G."""
    return jnp.mean(jax.nn.softplus(real_logits - fake_logits))


class GANLoss(NamedTuple):
    """A GAN objective: D's and G's losses as pure functions of D's logits."""
    d_loss: Callable[[jax.Array, jax.Array], jax.Array]
    """(real_logits [B], fake_logits [B]) -> scalar, minimised by D."""
    g_loss: Callable[[jax.Array | None, jax.Array], jax.Array]
    """(real_logits [B] or None, fake_logits [B]) -> scalar, minimised by G. ``real_logits``
    (D's logits on the step's real batch, no gradient) is given only when ``relativistic``."""
    relativistic: bool = False
    """Whether ``g_loss`` reads the real logits: the step then runs D on the reals for G too."""


def fake_only(g_loss: Callable[[jax.Array], jax.Array]) -> Callable[[jax.Array | None, jax.Array], jax.Array]:
    """A generator loss of the fake logits alone, in :attr:`GANLoss.g_loss`'s signature."""
    def loss(real_logits, fake_logits):
        return g_loss(fake_logits)
    loss.__name__ = loss.__qualname__ = g_loss.__name__
    loss.__doc__ = g_loss.__doc__
    return loss


def _as_loss(obj) -> GANLoss:
    """A GANLoss, or a zero-argument function returning one (the decorator form)."""
    loss = obj if isinstance(obj, GANLoss) else obj() if callable(obj) else obj
    if not isinstance(loss, GANLoss):
        raise TypeError(f"expected a gan_jax.losses.GANLoss or a function returning one, got {type(obj).__name__}")
    return loss


LOSSES: Registry[GANLoss] = Registry("loss", _as_loss)
register = LOSSES.register
register("minimax", GANLoss(minimax_d_loss, fake_only(minimax_g_loss_non_saturating)))
register("minimax_saturating", GANLoss(minimax_d_loss, fake_only(minimax_g_loss_saturating)))
register("wasserstein", GANLoss(wasserstein_d_loss, fake_only(wasserstein_g_loss)))
register("hinge", GANLoss(hinge_d_loss, fake_only(hinge_g_loss)))
register("least_squares", GANLoss(least_squares_d_loss, fake_only(least_squares_g_loss)))
register("relativistic_average", GANLoss(relativistic_average_d_loss, relativistic_average_g_loss, True))
register("relativistic_pairing", GANLoss(relativistic_pairing_d_loss, relativistic_pairing_g_loss, True))


def get(name: str) -> GANLoss:
    """The loss registered as ``name``, or at the import path ``"module:attr"`` (a GANLoss or a
    function returning one); UserError naming the choices otherwise."""
    return LOSSES.get(name)
