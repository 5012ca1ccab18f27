"""Inpainting: fill the missing pixels of images [B, H, W, C] in [-1, 1] given masks
[B, H, W, 1] (1 = missing, :mod:`gan_jax.edit.masks`). Every method returns the input's
known pixels exactly and changes only the hole (:func:`composite`).

* :func:`latent_fill`: invert the generator on the known pixels only, then paste its
  image into the hole (latent optimisation, any unconditional or conditional G).
* :func:`mean_fill`: the mean colour of each image's known pixels (baseline).
* :func:`diffusion_fill`: the harmonic (Laplace) fill, by Jacobi iterations (baseline).
* :func:`make_inpainter`: the method that suits a run's ``task``.
"""
from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp

from gan_jax.edit.invert import Inversion, invert
from gan_jax.errors import UserError
from gan_jax.sampling import latent_generator


def composite(images: jax.Array, fill: jax.Array, masks: jax.Array) -> jax.Array:
    """``fill`` inside the hole (masks > 0.5), ``images`` elsewhere (bit for bit): [B, H, W, C]."""
    return jnp.where(masks > 0.5, fill, images)


@jax.jit
def mean_fill(images: jax.Array, masks: jax.Array) -> jax.Array:
    """The hole filled with the per-image, per-channel mean of the known pixels: [B, H, W, C]."""
    known = 1.0 - masks
    mean = jnp.sum(images * known, axis=(1, 2)) / jnp.maximum(jnp.sum(known, axis=(1, 2)), 1.0)  # [B, C]
    return composite(images, jnp.broadcast_to(mean[:, None, None, :], images.shape), masks)


@functools.partial(jax.jit, static_argnames="iterations")
def diffusion_fill(images: jax.Array, masks: jax.Array, iterations: int = 2000) -> jax.Array:
    """The harmonic fill: ``iterations`` Jacobi sweeps of the discrete Laplace equation in the
    hole, the known pixels as boundary values and a zero normal derivative at the image
    border; starts from :func:`mean_fill`. Reproduces any linear ramp exactly. [B, H, W, C]."""
    def sweep(_, x):
        p = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
        neighbours = (p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:]) / 4
        return composite(images, neighbours, masks)

    return jax.lax.fori_loop(0, iterations, sweep, mean_fill(images, masks))


@functools.partial(jax.jit, static_argnames=("g", "z_dim", "steps", "restarts"))
def latent_fill(g: Callable, variables, images: jax.Array, masks: jax.Array, key: jax.Array, *,
                z_dim: int, steps: int = 1000, restarts: int = 4, lr: float = 0.1,
                latent_weight: float = 0.0) -> tuple[jax.Array, Inversion]:
    """Fill the hole with ``g(variables, z)`` for the z that best fits the known pixels
    (:func:`~gan_jax.edit.invert.invert` with zero weight on the hole). Returns the
    composite [B, H, W, C] and the inversion."""
    found = invert(g, variables, images, key, z_dim=z_dim, weights=1.0 - masks, steps=steps,
                   restarts=restarts, lr=lr, latent_weight=latent_weight)
    return composite(images, found.images, masks), found


def make_inpainter(config, variables, label: int | None = None, **options) -> Callable:
    """``inpaint(images, masks, key) -> images`` for a run with generator ``variables``.

    The dispatch on the run's ``task``: a GAN that maps latents to images
    (``task=generate``) inpaints by latent optimisation (:func:`latent_fill` with
    ``options``; conditional models in class ``label``). A run trained for inpainting
    (``task=inpaint``) plugs in here; any other task is a UserError.
    """
    task = getattr(config, "task", "generate")
    if task == "generate":
        g = latent_generator(config, label)
        return lambda images, masks, key: latent_fill(g, variables, images, masks, key, z_dim=config.z_dim,
                                                      **options)[0]
    raise UserError(f"--workdir: a task={task} run cannot inpaint; expected a GAN run (task=generate)")
