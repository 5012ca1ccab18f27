"""Interpolation between latents: linear (``lerp``) and spherical (``slerp``).

Latents are [..., Z]; the fraction ``t`` broadcasts against their leading axes.
Spherical interpolation follows the great circle between the two directions,
scaling the norm as the Gaussian prior would expect (White 2016, "Sampling
generative networks"); between unit vectors it stays on the unit sphere.
"""
from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

METHODS = ("slerp", "lerp")


def lerp(a: jax.Array, b: jax.Array, t) -> jax.Array:
    """(1 - t) a + t b for latents a, b [..., Z] and t broadcastable to [...]."""
    t = jnp.asarray(t, a.dtype)[..., None]
    return a + t * (b - a)


def slerp(a: jax.Array, b: jax.Array, t, eps: float = 1e-6) -> jax.Array:
    """sin((1 - t) w) / sin w * a + sin(t w) / sin w * b, w the angle between a and b [..., Z].

    Falls back to :func:`lerp` where a and b are (anti)parallel (sin w < eps)."""
    t = jnp.asarray(t, a.dtype)[..., None]
    a_unit = a / jnp.maximum(jnp.linalg.norm(a, axis=-1, keepdims=True), eps)
    b_unit = b / jnp.maximum(jnp.linalg.norm(b, axis=-1, keepdims=True), eps)
    omega = jnp.arccos(jnp.clip(jnp.sum(a_unit * b_unit, -1, keepdims=True), -1.0, 1.0))
    sin = jnp.sin(omega)
    safe = jnp.where(sin < eps, 1.0, sin)
    spherical = (jnp.sin((1 - t) * omega) * a + jnp.sin(t * omega) * b) / safe
    return jnp.where(sin < eps, a + t * (b - a), spherical)


@functools.partial(jax.jit, static_argnames=("frames", "method"))
def interpolate(a: jax.Array, b: jax.Array, frames: int, method: str = "slerp") -> jax.Array:
    """``frames`` evenly spaced latents from a to b, both ends included: a, b [P, Z] -> [P, frames, Z].

    Latents of any shape [P, *shape] (a w+ [P, L, W]) are interpolated as flat vectors -> [P, frames, *shape]."""
    if method not in METHODS:
        raise ValueError(f"unknown interpolation {method!r}; expected one of {METHODS}")
    t = jnp.linspace(0.0, 1.0, frames)[None, :]  # [1, T]
    fn = slerp if method == "slerp" else lerp
    flat_a, flat_b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    return fn(flat_a[:, None, :], flat_b[:, None, :], t).reshape(a.shape[0], frames, *a.shape[1:])


def interpolation_images(g: Callable, variables, key: jax.Array, *, z_dim: int, pairs: int, frames: int,
                         method: str = "slerp") -> np.ndarray:
    """Images [pairs, frames, H, W, C] in [-1, 1] of ``g(variables, z)`` along :func:`interpolate`
    paths between ``pairs`` pairs of latents z ~ N(0, I) drawn with ``key`` (both ends included)."""
    ends = jax.random.normal(key, (2, pairs, z_dim))
    z = interpolate(ends[0], ends[1], frames, method)  # [P, T, Z]
    images = np.asarray(jax.jit(g)(variables, z.reshape(-1, z_dim)))
    return images.reshape(pairs, frames, *images.shape[1:])
