"""gan_jax: pure-functional GANs for image synthesis and editing in JAX/Flax.

The public API::

    from gan_jax import Config, configs, init_state, make_train_step, make_parallel_step

Names are imported on first use (PEP 562), so ``import gan_jax`` and ``gan-jax --help``
stay fast and the command line can install its signal handlers before JAX loads.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Checkpoints": "gan_jax.checkpoint",
    "Config": "gan_jax.configs",
    "UserError": "gan_jax.errors",
    "Discriminator": "gan_jax.models",
    "interpolate": "gan_jax.edit",
    "invert": "gan_jax.edit",
    "latent_fill": "gan_jax.edit",
    "psnr": "gan_jax.edit",
    "Generator": "gan_jax.models",
    "make_parallel_step": "gan_jax.parallel",
    "generate": "gan_jax.sampling",
    "latent_generator": "gan_jax.sampling",
    "GANState": "gan_jax.state",
    "abstract_state": "gan_jax.tasks",
    "init_state": "gan_jax.tasks",
    "init_state_async": "gan_jax.tasks",
    "make_optimizers": "gan_jax.state",
    "make_sample_fn": "gan_jax.tasks.generate",
    "make_train_step": "gan_jax.tasks",
    "GANLoss": "gan_jax.losses",
    "ModelFamily": "gan_jax.models",
    "Task": "gan_jax.tasks",
    "train": "gan_jax.train",
    "train_in_memory": "gan_jax.train",
}
_SUBMODULES = ("configs", "data", "edit", "losses", "metrics", "models", "penalties", "registry", "tasks")

__all__ = sorted([*_EXPORTS, *_SUBMODULES])


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"gan_jax.{name}")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gan_jax' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
