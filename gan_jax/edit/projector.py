"""The StyleGAN2 projector (Karras et al. 2020, section 5): inversion in W or W+.

What it optimises, for each target image: a latent in W (one w for every layer) or W+ (one
row per layer), started at the mean w (``start``), **and** the per-layer noise maps of the
synthesis network, started at N(0, I). Per step, with t = step / steps:

* the image distance: pixel MSE of the images in [-1, 1] (the synthesis output clipped to
  that range, the gradient passed straight through the clipping) plus ``feature_weight`` x the
  distance of channel-normalised discriminator features (:func:`gan_jax.edit.invert.feature_distance`;
  the paper uses LPIPS, which needs an ImageNet network this project does not ship);
* the latent is perturbed by Gaussian noise of standard deviation
  sigma_w x 0.05 x max(0, 1 - t / 0.75)^2, sigma_w = sqrt(E |w - E w|^2) over sampled w's
  (exploration early on, none in the last quarter);
* the noise regulariser (:func:`noise_regulariser`) x ``noise_weight`` (1e5), which keeps the
  noise maps from carrying the image: the squared one-pixel autocorrelations of every map,
  and of its 2x2-mean-pooled pyramid down to 8 x 8;
* Adam (0.9, 0.999) with learning rate lr x ramp(t): a cosine ramp down over the last 25 %
  of the steps and a linear ramp up over the first 5 % (:func:`learning_rate`);
* after every step each noise map is normalised to zero mean and unit variance
  (:func:`normalise_noise`).

Several restarts per target (different noise maps and latent perturbations) run side by
side with ``jax.vmap``, the one with the lowest final distance kept, as in
:func:`gan_jax.edit.invert.invert`. Everything is one jitted program
(:func:`project`) or, with a progress bar, chunks of steps (:func:`project_with_progress`).
"""
from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from gan_jax.edit.invert import feature_distance
from gan_jax.edit.progress import bar, chunk_length

NOISE_WEIGHT = 1e5
"""Weight of the noise regulariser (the reference projector's)."""
W_NOISE = 0.05
"""Initial latent perturbation, in units of sigma_w."""
W_NOISE_RAMP = 0.75
"""Fraction of the steps over which the latent perturbation decays (quadratically) to zero."""
LR_RAMPDOWN = 0.25
"""Final fraction of the steps over which the learning rate ramps down (cosine) to zero."""
LR_RAMPUP = 0.05
"""First fraction of the steps over which the learning rate ramps up (linearly) from zero."""
PYRAMID_FLOOR = 8
"""The noise regulariser's pyramid stops at maps this size or smaller."""


class Projection(NamedTuple):
    """What :func:`project` found for a batch of B targets (R restarts, S steps)."""

    latents: jax.Array  # [B, *shape] the best restart's w [W] or w+ [L, W]
    noise: tuple  # one [B, H, W] per synthesis conv: its noise maps (zero mean, unit variance)
    images: jax.Array  # [B, H, W, C] in [-1, 1]: synthesis(latents, noise), clipped
    loss: jax.Array  # [B] its final image distance (no perturbation, no regulariser)
    curves: jax.Array  # [B, S] its objective before each step
    restart_losses: jax.Array  # [B, R] final image distance of every restart


def _pool(x: jax.Array) -> jax.Array:
    """2x2 mean pooling of maps [..., H, W] (H, W even) -> [..., H/2, W/2]."""
    *lead, h, w = x.shape
    return x.reshape(*lead, h // 2, 2, w // 2, 2).mean(axis=(-3, -1))


def noise_regulariser(maps) -> jax.Array:
    """StyleGAN2's noise regularisation of noise maps, each [..., H, W] -> [...].

    For every map and every level of its pyramid (the map, then 2x2-mean-pooled while it is
    larger than 8 x 8): (mean n(x, y) n(x - 1, y))^2 + (mean n(x, y) n(x, y - 1))^2, the shifts
    wrapping around. For white noise of unit variance each term is about 1 / (H W); for a
    smooth map (signal) it is about 1."""
    total = 0.0
    for n in maps:
        while True:
            for axis in (-1, -2):
                total = total + jnp.square(jnp.mean(n * jnp.roll(n, 1, axis=axis), axis=(-2, -1)))
            if n.shape[-1] <= PYRAMID_FLOOR or n.shape[-1] % 2 or n.shape[-2] % 2:
                break
            n = _pool(n)
    return total


def normalise_noise(maps) -> tuple:
    """Each noise map [..., H, W] shifted and scaled to zero mean and unit variance."""
    out = []
    for n in maps:
        n = n - n.mean(axis=(-2, -1), keepdims=True)
        out.append(n * jax.lax.rsqrt(jnp.mean(jnp.square(n), axis=(-2, -1), keepdims=True) + 1e-12))
    return tuple(out)


def learning_rate(step, steps: int, lr, rampdown: float = LR_RAMPDOWN, rampup: float = LR_RAMPUP):
    """lr x ramp(t), t = step / steps: ramp = (1 - cos(pi min(1, (1 - t) / rampdown))) / 2 x min(1, t / rampup)."""
    t = step / steps
    ramp = jnp.minimum(1.0, (1.0 - t) / rampdown)
    ramp = 0.5 - 0.5 * jnp.cos(ramp * math.pi)
    return lr * ramp * jnp.minimum(1.0, t / rampup)


def latent_noise_scale(step, steps: int, w_std, factor: float = W_NOISE, ramp: float = W_NOISE_RAMP):
    """Standard deviation of the latent perturbation at ``step``: w_std x factor x max(0, 1 - t / ramp)^2."""
    t = step / steps
    return w_std * factor * jnp.square(jnp.maximum(0.0, 1.0 - t / ramp))


def latent_spread(w: jax.Array) -> jax.Array:
    """sigma_w of sampled latents w [N, W]: sqrt(mean_n |w_n - mean w|^2) (the RMS distance to their mean)."""
    return jnp.sqrt(jnp.mean(jnp.sum(jnp.square(w - w.mean(0)), axis=-1)))


def _optimiser(lr, steps: int) -> optax.GradientTransformation:
    return optax.adam(lambda count: learning_rate(count, steps, lr))


def clip_straight_through(x: jax.Array) -> jax.Array:
    """x clipped to [-1, 1], with the gradient of the identity: a pixel beyond the range on the
    target's side costs nothing, one on the wrong side still gets a gradient (a plain clip
    would stop it; the synthesis network is not bounded by a tanh)."""
    return x + jax.lax.stop_gradient(jnp.clip(x, -1.0, 1.0) - x)


def _distance_fn(synthesis, variables, features, feature_variables, feature_weight) -> Callable:
    """``distance(latent [*shape], noise maps ([H, W], ...), target [H, W, C], target_features) -> []``
    between the target and the image as it is shown (:func:`clip_straight_through`)."""
    def distance(latent, noise, target, target_feat):
        x = clip_straight_through(synthesis(variables, latent[None], tuple(n[None, :, :, None] for n in noise)))
        loss = jnp.mean(jnp.square(x[0] - target))
        if features is not None:
            tf = jax.tree_util.tree_map(lambda f: f[None], target_feat)
            loss = loss + feature_weight * feature_distance(features(feature_variables, x), tf)[0]
        return loss

    return distance


def _start(targets, key, start, noise_shapes, restarts: int, lr, steps: int):
    """Every restart's (latent, noise maps), optimiser state and perturbation key."""
    b = targets.shape[0]
    k_noise, k_latent = jax.random.split(key)
    latent = jnp.broadcast_to(start, (b, restarts, *start.shape)).astype(targets.dtype)
    noise = normalise_noise(tuple(jax.random.normal(jax.random.fold_in(k_noise, i), (b, restarts, h, w))
                                  for i, (h, w) in enumerate(noise_shapes)))
    params = {"latent": latent, "noise": noise}
    opt = jax.vmap(jax.vmap(_optimiser(lr, steps).init))(params)
    keys = jax.random.split(k_latent, b * restarts).reshape(b, restarts, -1)
    return params, opt, keys


def _target_features(features, feature_variables, targets):
    return features(feature_variables, targets) if features is not None else None


def _advance(carry, first, targets, target_feats, distance, *, lr, steps: int, length: int, w_std, noise_weight):
    """``length`` steps, from step ``first``, of every restart of every target: (carry, curves [B, R, length])."""
    tx = _optimiser(lr, steps)

    def optimise(params, opt, key, target, target_feat):  # one restart
        def objective(p, step):
            scale = latent_noise_scale(step, steps, w_std)
            latent = p["latent"] + scale * jax.random.normal(jax.random.fold_in(key, step), p["latent"].shape)
            return distance(latent, p["noise"], target, target_feat) + noise_weight * noise_regulariser(p["noise"])

        def step_fn(carry, i):
            p, opt = carry
            loss, grad = jax.value_and_grad(objective)(p, first + i)
            updates, opt = tx.update(grad, opt, p)
            p = optax.apply_updates(p, updates)
            return ({"latent": p["latent"], "noise": normalise_noise(p["noise"])}, opt), loss

        return jax.lax.scan(step_fn, (params, opt), jnp.arange(length))

    params, opt, keys = carry
    restarts_of = jax.vmap(optimise, in_axes=(0, 0, 0, None, None))
    (params, opt), curves = jax.vmap(restarts_of)(params, opt, keys, targets, target_feats)
    return (params, opt, keys), curves


def _finish(synthesis, variables, params, curves, targets, target_feats, distance) -> Projection:
    """The best restart of each target (final distance without perturbation)."""
    final = jax.vmap(jax.vmap(distance, in_axes=(0, 0, None, None)))(params["latent"], params["noise"], targets,
                                                                       target_feats)
    best = jnp.argmin(final, axis=1)
    pick = jax.vmap(lambda a, i: a[i])
    latents = pick(params["latent"], best)
    noise = tuple(pick(n, best) for n in params["noise"])
    images = jnp.clip(synthesis(variables, latents, tuple(n[..., None] for n in noise)), -1.0, 1.0)
    return Projection(latents, noise, images, pick(final, best), pick(curves, best), final)


@functools.partial(jax.jit, static_argnames=("synthesis", "noise_shapes", "features", "steps", "restarts"))
def project(synthesis: Callable, variables, targets: jax.Array, key: jax.Array, *, start: jax.Array, w_std,
            noise_shapes: tuple, features: Callable | None = None, feature_variables=None,
            feature_weight: float = 0.1, noise_weight: float = NOISE_WEIGHT, steps: int = 1000,
            restarts: int = 1, lr: float = 0.1) -> Projection:
    """Project ``targets`` [B, H, W, C] in [-1, 1] into ``synthesis(variables, latents [N, *shape],
    noise) -> images`` (not clipped; ``noise`` one [N, H, W, 1] per ``noise_shapes`` entry).

    ``start`` [*shape]: where every latent starts (the mean w, repeated per row for W+);
    ``w_std``: sigma_w of the perturbation (:func:`latent_spread`); ``features`` and
    ``feature_weight`` as in :func:`gan_jax.edit.invert.invert`; ``noise_weight``: the
    regulariser's weight. ``key`` draws the restarts' noise maps and perturbations.
    """
    distance = _distance_fn(synthesis, variables, features, feature_variables, feature_weight)
    carry = _start(targets, key, start, noise_shapes, restarts, lr, steps)
    target_feats = _target_features(features, feature_variables, targets)
    (params, _, _), curves = _advance(carry, 0, targets, target_feats, distance, lr=lr, steps=steps, length=steps,
                                      w_std=w_std, noise_weight=noise_weight)
    return _finish(synthesis, variables, params, curves, targets, target_feats, distance)


_jit_start = jax.jit(_start, static_argnames=("noise_shapes", "restarts", "steps"))


@functools.partial(jax.jit, static_argnames=("synthesis", "features", "steps", "length"))
def _jit_advance(carry, first, targets, *, synthesis, variables, features, feature_variables, feature_weight, lr,
                 steps, length, w_std, noise_weight):
    distance = _distance_fn(synthesis, variables, features, feature_variables, feature_weight)
    target_feats = _target_features(features, feature_variables, targets)
    return _advance(carry, first, targets, target_feats, distance, lr=lr, steps=steps, length=length, w_std=w_std,
                    noise_weight=noise_weight)


@functools.partial(jax.jit, static_argnames=("synthesis", "features"))
def _jit_finish(params, curves, targets, *, synthesis, variables, features, feature_variables, feature_weight):
    distance = _distance_fn(synthesis, variables, features, feature_variables, feature_weight)
    target_feats = _target_features(features, feature_variables, targets)
    return _finish(synthesis, variables, params, curves, targets, target_feats, distance)


def project_with_progress(synthesis: Callable, variables, targets: jax.Array, key: jax.Array, *, start: jax.Array,
                          w_std, noise_shapes: tuple, features: Callable | None = None, feature_variables=None,
                          feature_weight: float = 0.1, noise_weight: float = NOISE_WEIGHT, steps: int = 1000,
                          restarts: int = 1, lr: float = 0.1, progress: bool = False, desc: str = "project",
                          max_chunks: int = 20) -> Projection:
    """:func:`project` as at most ``max_chunks`` jitted calls of equal numbers of steps, with a tqdm
    bar (``progress``: when stderr is a terminal); the same optimisation up to float rounding."""
    common = dict(synthesis=synthesis, variables=variables, features=features, feature_variables=feature_variables,
                  feature_weight=feature_weight)
    carry = _jit_start(targets, key, jnp.asarray(start), noise_shapes, restarts, lr, steps)
    length = chunk_length(steps, max_chunks)
    curves = []
    with bar(steps, desc, progress, unit="step") as pbar:
        for first in range(0, steps, length):
            carry, curve = _jit_advance(carry, first, targets, **common, lr=lr, steps=steps, length=length,
                                        w_std=w_std, noise_weight=noise_weight)
            if not pbar.disable:
                curve.block_until_ready()
            curves.append(curve)
            pbar.update(length)
    curves = curves[0] if len(curves) == 1 else jnp.concatenate(curves, axis=-1)
    return _jit_finish(carry[0], curves, targets, **common)
