"""Penalties on the discriminator's input gradient, as pure functions.

``d_fn`` is the discriminator with its parameters closed over:
``images [B, H, W, C] -> logits [B]`` (raw outputs, no sigmoid). Both penalties
return a scalar and are jit- and grad-compatible: the train step differentiates
them w.r.t. D's parameters (a gradient of a gradient, which JAX does exactly).

* ``gradient_penalty``: E[(||grad_x D(x_hat)||_2 - target)^2] on random
  interpolates x_hat of real and fake (WGAN-GP, Gulrajani et al. 2017).
* ``r1_penalty``: E[||grad_x D(x)||_2^2] on real data (Mescheder et al. 2018).

Norms are per sample, over the flattened gradient (H*W*C values), not per pixel
or per channel.

Per-sample gradients come from ``jax.grad`` of ``sum_i D(x)_i``: the i-th
logit depends only on the i-th image, so d(sum)/d(x_i) = dD(x)_i/d(x_i). This
holds only when D has no interaction between the samples of a batch (no
BatchNorm in training mode, no minibatch-stddev layer, ...); with such layers
the "per-sample" gradients are silently mixed across the batch. StyleGAN2's D has a
minibatch-stddev layer, and its step (``tasks/style.py``) takes R1 this way on purpose, as
the official StyleGAN2(-ADA) does: the penalty is then that of the batch's summed logits, a
small cross-sample term included, not the textbook per-sample norm.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

DiscriminatorFn = Callable[[jax.Array], jax.Array]
"""images [B, H, W, C] -> logits [B]; D with its parameters closed over."""


def input_gradients(d_fn: DiscriminatorFn, images: jax.Array) -> jax.Array:
    """Per-sample dD(x)_i/dx_i, [B, H, W, C], as the gradient of sum_i D(x)_i.

    Valid only for a D without cross-sample interaction (see the module docstring).
    """
    return jax.grad(lambda x: jnp.sum(d_fn(x)))(images)


def _per_sample_squared_norm(gradients: jax.Array) -> jax.Array:
    """[B, ...] -> [B]: squared L2 norm of each sample's flattened gradient."""
    return jnp.sum(jnp.square(gradients.reshape(gradients.shape[0], -1)), axis=1)


def _safe_sqrt(x: jax.Array) -> jax.Array:
    """sqrt with a zero (not NaN) derivative at 0, so a zero gradient cannot poison the step."""
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


def random_interpolates(real: jax.Array, fake: jax.Array, key: jax.Array) -> jax.Array:
    """eps * real + (1 - eps) * fake with one eps ~ U[0, 1) per sample; [B, H, W, C] -> same."""
    eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), dtype=real.dtype)
    return eps * real + (1.0 - eps) * fake


def gradient_penalty(d_fn: DiscriminatorFn, real: jax.Array, fake: jax.Array, key: jax.Array,
                     target: float = 1.0) -> jax.Array:
    """WGAN-GP: E[(||grad_x D(x_hat)||_2 - target)^2], x_hat = ``random_interpolates(real, fake, key)``.

    real, fake: [B, H, W, C] (same shape); key: PRNG key for eps; -> scalar.
    The norm is per sample over the flattened H*W*C gradient. The caller
    scales it (lambda = 10 in the paper) and adds it to the critic's loss;
    ``fake`` is used as given (stop its gradient to G, if needed, before the call).
    """
    x_hat = random_interpolates(real, fake, key)
    norms = _safe_sqrt(_per_sample_squared_norm(input_gradients(d_fn, x_hat)))
    return jnp.mean(jnp.square(norms - target))


def r1_penalty(d_fn: DiscriminatorFn, real: jax.Array) -> jax.Array:
    """R1: E[||grad_x D(x)||_2^2] on real images [B, H, W, C]; -> scalar.

    Intended use: add (gamma / 2) * r1_penalty to D's loss. For lazy
    regularisation (StyleGAN2) apply it only every k-th D step, multiplied
    by k, so its average weight is unchanged.
    """
    return jnp.mean(_per_sample_squared_norm(input_gradients(d_fn, real)))
