"""GAN inversion: the latent whose generated image best matches a target image.

Adam (optax, cosine-decayed learning rate) on the latent inside one ``lax.scan``;
several random restarts per target optimised side by side with ``jax.vmap``, the
one with the lowest final loss kept. The loss is a (weighted) pixel MSE plus,
optionally, a feature loss (distance of channel-normalised feature maps, e.g. the
discriminator's, :func:`discriminator_features`) and a latent-norm penalty.
With pixel weights that are 0 on a hole, the same loop fits only the known
pixels (inpainting, :mod:`gan_jax.edit.inpaint`).
"""
from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax


class Inversion(NamedTuple):
    """What :func:`invert` found for a batch of B targets (R restarts, S steps)."""

    latents: jax.Array  # [B, Z] the best restart's latent
    images: jax.Array  # [B, H, W, C] in [-1, 1]: G(latents)
    loss: jax.Array  # [B] its final loss
    curves: jax.Array  # [B, S] its loss before each step
    restart_losses: jax.Array  # [B, R] final loss of every restart


def mean_error(x: jax.Array, y: jax.Array, mask: jax.Array | None = None, power: int = 2) -> jax.Array:
    """Mean of |x - y|^power between images [B, H, W, C] in [-1, 1], measured on the [0, 1]
    images (x + 1) / 2; with ``mask`` [B, H, W, 1] only where mask = 1. -> [B]."""
    err = jnp.abs((x - y) / 2) ** power
    w = jnp.ones_like(err) if mask is None else jnp.broadcast_to(mask, err.shape)
    return jnp.sum(err * w, axis=(1, 2, 3)) / jnp.maximum(jnp.sum(w, axis=(1, 2, 3)), 1.0)


def psnr(x: jax.Array, y: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """PSNR in dB, 10 log10(1 / MSE), of images [B, H, W, C] in [-1, 1], computed on the [0, 1]
    images (x + 1) / 2; with ``mask`` [B, H, W, 1] only where mask = 1. -> [B]."""
    return 10.0 * jnp.log10(1.0 / jnp.maximum(mean_error(x, y, mask), 1e-12))


def discriminator_features(d_net) -> Callable:
    """``features(d_variables, images [N, H, W, C]) -> tuple of [N, h, w, c]``: the hidden
    feature maps of a Flax discriminator (conditional ones get label 0: the projection
    term does not touch the feature maps)."""

    def features(variables, images):
        labels = jnp.zeros(images.shape[:1], jnp.int32) if getattr(d_net, "num_classes", 0) else None
        _, captured = d_net.apply(variables, images, labels, train=False,
                                  capture_intermediates=True, mutable=["intermediates"])
        maps = jax.tree_util.tree_leaves(captured["intermediates"])
        return tuple(f for f in maps if f.ndim == 4 and f.shape[-1] > 1)

    return features


def feature_distance(fx, fy) -> jax.Array:
    """Mean squared distance of channel-normalised features, averaged over the maps of two
    feature pytrees with leaves [N, ..., C] -> [N]."""
    def one(a, b):  # rsqrt(|a|^2 + eps): a finite gradient where a feature vector is 0
        a = a * jax.lax.rsqrt(jnp.sum(jnp.square(a), -1, keepdims=True) + 1e-12)
        b = b * jax.lax.rsqrt(jnp.sum(jnp.square(b), -1, keepdims=True) + 1e-12)
        return jnp.mean(jnp.sum(jnp.square(a - b), -1).reshape(a.shape[0], -1), axis=-1)

    dists = jax.tree_util.tree_leaves(jax.tree_util.tree_map(one, fx, fy))
    return sum(dists) / max(len(dists), 1)


@functools.partial(jax.jit, static_argnames=("g", "z_dim", "features", "steps", "restarts"))
def invert(g: Callable, variables, targets: jax.Array, key: jax.Array, *, z_dim: int,
           weights: jax.Array | None = None, features: Callable | None = None, feature_variables=None,
           feature_weight: float = 0.1, latent_weight: float = 0.0, steps: int = 1000, restarts: int = 8,
           lr: float = 0.1) -> Inversion:
    """Invert ``g(variables, z [N, Z]) -> images [N, H, W, C]`` on ``targets`` [B, H, W, C] in [-1, 1].

    ``weights`` [B, H, W, 1]: per-pixel weight of the MSE (default 1; 0 = ignore the pixel).
    ``features(feature_variables, images)``: a pytree of [N, ..., C] feature maps for the
    feature loss (weight ``feature_weight``), or None for pixels only. ``latent_weight``
    adds latent_weight * (mean(z^2) - 1)^2, keeping z near the prior's shell. Restarts start
    from z ~ N(0, I) drawn with ``key``.
    """
    b = targets.shape[0]
    if weights is None:
        weights = jnp.ones((*targets.shape[:-1], 1), targets.dtype)
    target_feats = features(feature_variables, targets) if features is not None else None
    tx = optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=0.01))

    def loss_fn(z, target, weight, target_feat):  # one latent [Z], one target [H, W, C]
        x = g(variables, z[None])
        w = jnp.broadcast_to(weight, target.shape)
        loss = jnp.sum(w * jnp.square(x[0] - target)) / jnp.maximum(jnp.sum(w), 1.0)
        if features is not None:
            tf = jax.tree_util.tree_map(lambda f: f[None], target_feat)
            loss = loss + feature_weight * feature_distance(features(feature_variables, x), tf)[0]
        return loss + latent_weight * jnp.square(jnp.mean(jnp.square(z)) - 1.0)

    def optimise(z, target, weight, target_feat):  # one restart
        def step(carry, _):
            z, opt = carry
            loss, grad = jax.value_and_grad(loss_fn)(z, target, weight, target_feat)
            updates, opt = tx.update(grad, opt, z)
            return (optax.apply_updates(z, updates), opt), loss

        (z, _), curve = jax.lax.scan(step, (z, tx.init(z)), None, length=steps)
        return z, loss_fn(z, target, weight, target_feat), curve

    restarts_of = jax.vmap(optimise, in_axes=(0, None, None, None))  # restarts of one target
    z0 = jax.random.normal(key, (b, restarts, z_dim), targets.dtype)
    z, final, curves = jax.vmap(restarts_of)(z0, targets, weights, target_feats)  # [B, R, ...]
    best = jnp.argmin(final, axis=1)
    pick = jax.vmap(lambda a, i: a[i])
    z_best = pick(z, best)
    return Inversion(z_best, g(variables, z_best), pick(final, best), pick(curves, best), final)
