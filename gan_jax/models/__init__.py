"""Flax models. ``build(config, axis_name)`` returns the (generator, discriminator) pair."""
from __future__ import annotations

import jax.numpy as jnp

from gan_jax.models.dcgan import Discriminator, Generator
from gan_jax.models.layers import ConvTranspose, conv_transpose_fast, conv_transpose_reference

_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def build(config, axis_name: str | None = None):
    """(generator, discriminator) for ``config.model``; BatchNorm syncs over ``axis_name``."""
    if config.model != "dcgan":
        raise ValueError(f"unknown model {config.model!r}; expected one of: dcgan")
    dtype = _DTYPES[config.compute_dtype]
    g = Generator(config.resolution, config.channels, config.g_width, config.fast_conv, axis_name, dtype,
                  num_classes=config.num_classes)
    d = Discriminator(config.resolution, config.channels, config.d_width, config.fast_conv, axis_name, dtype,
                      num_classes=config.num_classes, norm=config.d_norm)
    return g, d


__all__ = ["Generator", "Discriminator", "ConvTranspose", "build",
           "conv_transpose_fast", "conv_transpose_reference"]
