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

from gan_jax.edit.progress import bar, chunk_length


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


def _loss_fn(g, variables, features, feature_variables, feature_weight, latent_weight) -> Callable:
    """``loss(z [Z], target [H, W, C], weight [H, W, 1], target_features) -> []`` of one latent."""
    def loss_fn(z, target, weight, target_feat):
        x = g(variables, z[None])
        w = jnp.broadcast_to(weight, target.shape)
        loss = jnp.sum(w * jnp.square(x[0] - target)) / jnp.maximum(jnp.sum(w), 1.0)
        if features is not None:
            tf = jax.tree_util.tree_map(lambda f: f[None], target_feat)
            loss = loss + feature_weight * feature_distance(features(feature_variables, x), tf)[0]
        return loss + latent_weight * jnp.square(jnp.mean(jnp.square(z)) - 1.0)

    return loss_fn


def _optimiser(lr, steps: int) -> optax.GradientTransformation:
    return optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=0.01))


def _code_starts(g, variables, targets, weights, z0, codes: int):
    """``z0`` [B, R, Z] with restart r of each target moved to the code ranked r (mod ``codes``)
    for it: the codes ranked by how well G's image of the bare code (z = its one-hot) fits the
    target (weighted MSE). A generator with a categorical code in z (``latent_code``,
    ``cluster_code``) is piecewise in it: Adam's gradient never changes the argmax that picks
    the code, so each restart stays with the code it starts in, and the starts must pick well."""
    probe = jnp.eye(codes, z0.shape[-1], dtype=z0.dtype)  # code c: z = e_c
    err = jnp.mean(weights[:, None] * (targets[:, None] - g(variables, probe)[None]) ** 2, axis=(2, 3, 4))
    chosen = jnp.argsort(err, axis=1)[:, jnp.arange(z0.shape[1]) % codes]  # [B, R]
    head = z0[..., :codes]
    head = jnp.where(jax.nn.one_hot(chosen, codes, dtype=bool), head.max(-1, keepdims=True) + 0.5, head)
    return z0.at[..., :codes].set(head)


def _start(targets, key, z_dim, weights, restarts, lr, steps, g=None, variables=None, codes: int = 0):
    """Where every restart starts: ((z0 [B, R, Z], optimiser state), pixel weights); with
    ``codes``, the restarts spread over the codes that fit best (:func:`_code_starts`)."""
    if weights is None:
        weights = jnp.ones((*targets.shape[:-1], 1), targets.dtype)
    z0 = jax.random.normal(key, (targets.shape[0], restarts, z_dim), targets.dtype)
    if codes:
        z0 = _code_starts(g, variables, targets, weights, z0, codes)
    opt = jax.vmap(jax.vmap(_optimiser(lr, steps).init))(z0)
    return (z0, opt), weights


def _target_features(features, feature_variables, targets):
    return features(feature_variables, targets) if features is not None else None


def _advance(carry, targets, weights, target_feats, loss_fn, lr, steps: int, length: int):
    """``length`` Adam steps of every restart of every target: (carry, loss curves [B, R, length])."""
    tx = _optimiser(lr, steps)

    def optimise(z, opt, target, weight, target_feat):  # one restart
        def step(carry, _):
            z, opt = carry
            loss, grad = jax.value_and_grad(loss_fn)(z, target, weight, target_feat)
            updates, opt = tx.update(grad, opt, z)
            return (optax.apply_updates(z, updates), opt), loss

        return jax.lax.scan(step, (z, opt), None, length=length)

    restarts_of = jax.vmap(optimise, in_axes=(0, 0, None, None, None))  # restarts of one target
    return jax.vmap(restarts_of)(*carry, targets, weights, target_feats)


def _finish(g, variables, z, curves, targets, weights, target_feats, loss_fn) -> Inversion:
    """The best restart of each target."""
    final = jax.vmap(jax.vmap(loss_fn, in_axes=(0, None, None, None)))(z, targets, weights, target_feats)
    best = jnp.argmin(final, axis=1)
    pick = jax.vmap(lambda a, i: a[i])
    z_best = pick(z, best)
    return Inversion(z_best, g(variables, z_best), pick(final, best), pick(curves, best), final)


@functools.partial(jax.jit, static_argnames=("g", "z_dim", "features", "steps", "restarts", "codes"))
def invert(g: Callable, variables, targets: jax.Array, key: jax.Array, *, z_dim: int,
           weights: jax.Array | None = None, features: Callable | None = None, feature_variables=None,
           feature_weight: float = 0.1, latent_weight: float = 0.0, steps: int = 1000, restarts: int = 8,
           lr: float = 0.1, codes: int = 0) -> Inversion:
    """Invert ``g(variables, z [N, Z]) -> images [N, H, W, C]`` on ``targets`` [B, H, W, C] in [-1, 1].

    ``weights`` [B, H, W, 1]: per-pixel weight of the MSE (default 1; 0 = ignore the pixel).
    ``features(feature_variables, images)``: a pytree of [N, ..., C] feature maps for the
    feature loss (weight ``feature_weight``), or None for pixels only. ``latent_weight``
    adds latent_weight * (mean(z^2) - 1)^2, keeping z near the prior's shell. Restarts start
    from z ~ N(0, I) drawn with ``key``; for a generator with a categorical code of ``codes``
    categories in z's first entries (:func:`gan_jax.models.dcgan.latent_codes`), each restart
    starts in one of the codes whose images fit the target best. One jitted program;
    :func:`invert_with_progress` computes the same in chunks of steps, with a progress bar.
    """
    loss_fn = _loss_fn(g, variables, features, feature_variables, feature_weight, latent_weight)
    carry, weights = _start(targets, key, z_dim, weights, restarts, lr, steps, g, variables, codes)
    target_feats = _target_features(features, feature_variables, targets)
    (z, _), curves = _advance(carry, targets, weights, target_feats, loss_fn, lr, steps, steps)
    return _finish(g, variables, z, curves, targets, weights, target_feats, loss_fn)


# The pieces of invert_with_progress. The targets' features are computed in each program that
# uses them, as in invert's one program: computed once in a program of their own, they come
# out rounded differently, and so would the latents.
_jit_start = jax.jit(_start, static_argnames=("z_dim", "restarts", "steps", "g", "codes"))


@functools.partial(jax.jit, static_argnames=("g", "features", "steps", "length"))
def _jit_advance(carry, targets, weights, *, g, variables, features, feature_variables, feature_weight,
                 latent_weight, lr, steps, length):
    loss_fn = _loss_fn(g, variables, features, feature_variables, feature_weight, latent_weight)
    target_feats = _target_features(features, feature_variables, targets)
    return _advance(carry, targets, weights, target_feats, loss_fn, lr, steps, length)


@functools.partial(jax.jit, static_argnames=("g", "features"))
def _jit_finish(z, curves, targets, weights, *, g, variables, features, feature_variables, feature_weight,
                latent_weight):
    loss_fn = _loss_fn(g, variables, features, feature_variables, feature_weight, latent_weight)
    target_feats = _target_features(features, feature_variables, targets)
    return _finish(g, variables, z, curves, targets, weights, target_feats, loss_fn)


def invert_with_progress(g: Callable, variables, targets: jax.Array, key: jax.Array, *, z_dim: int,
                         weights: jax.Array | None = None, features: Callable | None = None,
                         feature_variables=None, feature_weight: float = 0.1, latent_weight: float = 0.0,
                         steps: int = 1000, restarts: int = 8, lr: float = 0.1, progress: bool = False,
                         desc: str = "invert", max_chunks: int = 20, codes: int = 0,
                         on_progress: Callable[[int, int], None] | None = None) -> Inversion:
    """:func:`invert`, run as at most ``max_chunks`` jitted calls of equal numbers of steps, so
    that a tqdm bar (on stderr, shown when ``progress`` and stderr is a terminal) and
    ``on_progress(done, steps)`` (called once each chunk has been computed; the playground's
    progress bar) can follow it from Python, outside the jitted code. The same optimisation as
    :func:`invert`, equal to float rounding (tested; what ``gan-jax invert`` writes came out bit
    for bit the same on CPU). Call it from Python, not under ``jax.jit``."""
    losses = dict(g=g, variables=variables, features=features, feature_variables=feature_variables,
                  feature_weight=feature_weight, latent_weight=latent_weight)
    carry, weights = _jit_start(targets, key, z_dim, weights, restarts, lr, steps, g, variables, codes)
    length = chunk_length(steps, max_chunks)
    curves = []
    with bar(steps, desc, progress, unit="step") as pbar:
        for done in range(length, steps + 1, length):
            carry, curve = _jit_advance(carry, targets, weights, **losses, lr=lr, steps=steps, length=length)
            if not pbar.disable or on_progress is not None:
                curve.block_until_ready()
            curves.append(curve)
            pbar.update(length)
            if on_progress is not None:
                on_progress(done, steps)
    curves = curves[0] if len(curves) == 1 else jnp.concatenate(curves, axis=-1)
    return _jit_finish(carry[0], curves, targets, weights, **losses)
