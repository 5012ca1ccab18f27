"""The model registry: ``config.model`` -> how to build its (generator, discriminator) pair.

Each model module registers its own entry, ``register("dcgan", ModelFamily(build, validate))``:
``build(config, axis_name=None, **options) -> (generator, discriminator)`` makes the Flax
modules (BatchNorm syncs over ``axis_name``; ``options`` are the task's, e.g. the U-Net's
norm), and ``validate(config)`` raises UserError for fields this model cannot take. A plain
``build`` function may be registered too (no checks of its own). ``config.model`` may also
name a build function or a :class:`ModelFamily` by import path, ``"my_pkg.models:mlp"``.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax.numpy as jnp

from gan_jax.registry import Registry


def _no_checks(config) -> None:
    return None


class ModelFamily(NamedTuple):
    """A registered model: its builder and its config checks."""
    build: Callable
    """``build(config, axis_name=None, **options) -> (generator, discriminator)`` Flax modules."""
    validate: Callable = _no_checks
    """``validate(config)``: UserError naming a field this model cannot take."""
    tasks: tuple[str, ...] = ("generate",)
    """The tasks whose steps this model's (G, D) pair fits (``config.task``)."""


def _as_family(obj) -> ModelFamily:
    if isinstance(obj, ModelFamily):
        return obj
    if callable(obj):
        return ModelFamily(obj)
    raise TypeError(f"expected a build function or a gan_jax.models.ModelFamily, got {type(obj).__name__}")


MODELS: Registry[ModelFamily] = Registry("model", _as_family)
register = MODELS.register

_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def compute_dtype(config):
    """The jnp dtype of ``config.compute_dtype`` (parameters stay float32)."""
    return _DTYPES[config.compute_dtype]


def build(config, axis_name: str | None = None, **options):
    """(generator, discriminator) Flax modules for ``config.model``; BatchNorm syncs over
    ``axis_name``. ``options`` are passed to the model's builder (the task's choices)."""
    return MODELS.get(config.model).build(config, axis_name, **options)


def validate(config) -> None:
    """UserError unless ``config.model`` is registered (or importable) and accepts ``config``."""
    MODELS.get(config.model).validate(config)
