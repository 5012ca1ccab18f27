"""Inpainting: fill the missing pixels of images [B, H, W, C] in [-1, 1] given masks
[B, H, W, 1] (1 = missing, :mod:`gan_jax.edit.masks`). Every method returns the input's
known pixels exactly and changes only the hole (:func:`composite`).

* :func:`latent_fill`: invert the generator on the known pixels only, then paste its
  image into the hole (latent optimisation, any unconditional or conditional G).
* :func:`mean_fill`: the mean colour of each image's known pixels (baseline).
* :func:`diffusion_fill`: the harmonic (Laplace) fill, by Jacobi iterations (baseline).
* :func:`make_inpainter`: a method by name, ``latent`` asking the run's task how.
"""
from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.edit.invert import Inversion, invert, invert_with_progress
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


@functools.partial(jax.jit, static_argnames=("g", "z_dim", "steps", "restarts", "codes"))
def latent_fill(g: Callable, variables, images: jax.Array, masks: jax.Array, key: jax.Array, *,
                z_dim: int, steps: int = 1000, restarts: int = 4, lr: float = 0.1,
                latent_weight: float = 0.0, codes: int = 0) -> tuple[jax.Array, Inversion]:
    """Fill the hole with ``g(variables, z)`` for the z that best fits the known pixels
    (:func:`~gan_jax.edit.invert.invert` with zero weight on the hole; ``codes`` as there).
    Returns the composite [B, H, W, C] and the inversion."""
    found = invert(g, variables, images, key, z_dim=z_dim, weights=1.0 - masks, steps=steps,
                   restarts=restarts, lr=lr, latent_weight=latent_weight, codes=codes)
    return composite(images, found.images, masks), found


METHODS = ("latent", "mean", "diffusion")


def make_inpainter(config, state, method: str = "latent", *, label: int | None = None, use_ema: bool = True,
                   option: str = "--workdir", progress: bool = False, **options) -> Callable:
    """``inpaint(images [B, H, W, C], masks [B, H, W, 1], key) -> images`` with ``method`` for a run.

    ``mean`` and ``diffusion`` are the baselines (:func:`mean_fill`, :func:`diffusion_fill`;
    the run's weights are not used). ``latent`` asks the run's task (:mod:`gan_jax.tasks`):
    a run trained for inpainting (its task offers ``inpaint``, e.g. ``task=inpaint``) fills
    with its model, image by image (``key`` unused); a GAN with a latent space (its task
    offers ``sample``, ``task=generate``) inpaints by latent optimisation (what
    :func:`latent_fill` computes, with ``options`` steps, restarts, lr, latent_weight, a
    progress bar when ``progress``; conditional models in class ``label``); any other run is
    a UserError naming ``option`` at once. ``state``: the run's GANState, or a function
    returning it, called once, when ``latent`` first needs the weights (so that a command
    can check everything before it restores a checkpoint).
    """
    if method in ("mean", "diffusion"):
        fill = mean_fill if method == "mean" else diffusion_fill
        return lambda images, masks, key: fill(images, masks)
    if method != "latent":
        raise ValueError(f"unknown inpainting method {method!r}; expected one of {METHODS}")
    from gan_jax import tasks  # not at import time: the tasks import the data, which import edit.masks

    restored = []

    def run_state():
        if not restored:
            restored.append(state() if callable(state) else state)
        return restored[0]

    if tasks.supports(config, "inpaint"):
        model = tasks.operation(config, "inpaint", option)

        def fill_with_model(images, masks, key):
            return np.stack([np.asarray(model(config, run_state(), x, m, use_ema=use_ema))
                             for x, m in zip(np.asarray(images), np.asarray(masks))])

        return fill_with_model
    if tasks.supports(config, "sample"):
        from gan_jax.models.dcgan import latent_codes

        g = latent_generator(config, label)
        options = {"restarts": 4, "codes": latent_codes(config), **options}  # latent_fill's defaults

        def fill_latent(images, masks, key):
            images, masks = jnp.asarray(images), jnp.asarray(masks)
            found = invert_with_progress(g, run_state().generator_variables(use_ema), images, key,
                                         z_dim=config.z_dim, weights=1.0 - masks, progress=progress,
                                         desc="inpaint", **options)
            return composite(images, found.images, masks)

        return fill_latent
    offering = [name for name in tasks.TASKS.names() if {"inpaint", "sample"} & set(tasks.get(name).operations)]
    raise UserError(f"{option}: a task={config.task} run cannot inpaint; expected a "
                    f"{' or '.join(offering)} run")
