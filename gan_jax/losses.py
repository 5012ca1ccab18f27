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

``LOSSES[name]`` maps a loss name to its ``(d_loss, g_loss)`` pair; a new loss
is two functions and one line there.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp


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


class GANLoss(NamedTuple):
    d_loss: Callable[[jax.Array, jax.Array], jax.Array]
    """(real_logits [B], fake_logits [B]) -> scalar, minimised by D."""
    g_loss: Callable[[jax.Array], jax.Array]
    """fake_logits [B] -> scalar, minimised by G."""


LOSSES: dict[str, GANLoss] = {
    "minimax": GANLoss(minimax_d_loss, minimax_g_loss_non_saturating),
    "minimax_saturating": GANLoss(minimax_d_loss, minimax_g_loss_saturating),
    "wasserstein": GANLoss(wasserstein_d_loss, wasserstein_g_loss),
    "hinge": GANLoss(hinge_d_loss, hinge_g_loss),
    "least_squares": GANLoss(least_squares_d_loss, least_squares_g_loss),
}


def get(name: str) -> GANLoss:
    """The ``(d_loss, g_loss)`` pair registered as ``name``."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected one of: {', '.join(sorted(LOSSES))}")
    return LOSSES[name]
