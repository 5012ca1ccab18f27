"""Generating images from a trained state."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.errors import UserError
from gan_jax.step import make_sample_fn


@functools.lru_cache(maxsize=8)
def _jitted_sampler(config):
    return jax.jit(make_sample_fn(config))


@functools.lru_cache(maxsize=32)
def latent_generator(config, label: int | None = None):
    """``g(variables, z [N, Z]) -> images [N, R, R, C]`` in [-1, 1], BatchNorm in eval mode: the
    generator as the editing functions (:mod:`gan_jax.edit`) take it. Conditional models draw
    every image of class ``label`` (checked as in :func:`class_labels`). Cached, so that jitted
    editing functions that take ``g`` as a static argument compile once per (config, label)."""
    if config.num_classes and label is None:
        raise UserError(f"--class: this model is class-conditional; "
                        f"expected a class in 0..{config.num_classes - 1}")
    class_labels(config, 1, label)  # UserError for a bad class, or a class for an unconditional model
    sample = make_sample_fn(config)
    if not config.num_classes:
        return lambda variables, z: sample(variables, z)
    return lambda variables, z: sample(variables, z, jnp.full(z.shape[:1], label, jnp.int32))


def class_labels(config, num: int, labels=None) -> np.ndarray | None:
    """Labels [num] for a conditional model: ``labels`` (an int for one class, or [num]),
    or 0, 1, ..., K-1, 0, 1, ... (every class equally); None for an unconditional one."""
    if not config.num_classes:
        if labels is not None:
            raise UserError("--class: this model is unconditional (num_classes=0); expected no class")
        return None
    if labels is None:
        return np.arange(num, dtype=np.int32) % config.num_classes
    labels = np.broadcast_to(np.asarray(labels, np.int32), (num,))
    bad = labels[(labels < 0) | (labels >= config.num_classes)]
    if bad.size:
        raise UserError(f"--class {int(bad[0])}: expected a class in 0..{config.num_classes - 1}")
    return labels


def generate_from(config, state, z: jax.Array, use_ema: bool = True, labels=None) -> np.ndarray:
    """Images [N, R, R, C] in [-1, 1] for the latents ``z`` [N, Z] (one call); ``labels``
    as in :func:`class_labels` for conditional models."""
    y = class_labels(config, len(z), labels)
    return np.asarray(_jitted_sampler(config)(state.generator_variables(use_ema), z, y))


def generate(config, state, num: int, seed: int = 0, use_ema: bool = True,
             chunk: int = 500, labels=None) -> np.ndarray:
    """``num`` images [num, R, R, C] float32 in [-1, 1] from latents drawn with ``seed``.

    Uses the EMA generator when the run keeps one (``use_ema``), BatchNorm in
    eval mode; generates ``chunk`` images per call to bound memory. Conditional
    models draw every class equally unless ``labels`` (one class or [num]) is given.
    """
    variables = state.generator_variables(use_ema)
    z = jax.random.normal(jax.random.PRNGKey(seed), (num, config.z_dim))
    y = class_labels(config, num, labels)
    sample = _jitted_sampler(config)
    parts = [np.asarray(sample(variables, z[i:i + chunk], None if y is None else y[i:i + chunk]))
             for i in range(0, num, chunk)]
    return np.concatenate(parts, axis=0) if parts else np.zeros(
        (0, config.resolution, config.resolution, config.channels), np.float32)


def grid(config, state, z: jax.Array) -> tuple[np.ndarray, int | None]:
    """The images of a training sample grid and its column count (None: square): samples for
    the latents ``z``, or for image-to-image tasks rows of source | output | target."""
    if config.task == "generate":
        return generate_from(config, state, z), None
    from gan_jax.translate import sample_grid
    return sample_grid(config, state)
