"""GAN objectives as pure functions of discriminator logits.

Every loss is written with ``softplus``/``log_sigmoid`` so it is finite for any
logit (no ``log(sigmoid(x))``). With D(x) = sigmoid(logit):

* ``minimax_d_loss``:  -E[log D(x)] - E[log(1 - D(G(z)))]
* ``minimax_g_loss_saturating``:  E[log(1 - D(G(z)))]   (the original minimax G objective)
* ``minimax_g_loss_non_saturating``: -E[log D(G(z))]     (the usual default)

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


class GANLoss(NamedTuple):
    d_loss: Callable[[jax.Array, jax.Array], jax.Array]
    """(real_logits [B], fake_logits [B]) -> scalar, minimised by D."""
    g_loss: Callable[[jax.Array], jax.Array]
    """fake_logits [B] -> scalar, minimised by G."""


LOSSES: dict[str, GANLoss] = {
    "minimax": GANLoss(minimax_d_loss, minimax_g_loss_non_saturating),
    "minimax_saturating": GANLoss(minimax_d_loss, minimax_g_loss_saturating),
}


def get(name: str) -> GANLoss:
    """The ``(d_loss, g_loss)`` pair registered as ``name``."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected one of: {', '.join(sorted(LOSSES))}")
    return LOSSES[name]
