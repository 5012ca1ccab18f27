"""Flax models. ``build(config, axis_name)`` returns the (generator, discriminator) pair."""
from __future__ import annotations

import jax.numpy as jnp

from gan_jax.models.dcgan import Discriminator, Generator
from gan_jax.models.resnet import ResNetDiscriminator, ResNetGenerator
from gan_jax.models.layers import ConvTranspose, conv_transpose_fast, conv_transpose_reference

_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def build(config, axis_name: str | None = None):
    """(generator, discriminator) for ``config.model``; BatchNorm syncs over ``axis_name``."""
    if config.model not in ("dcgan", "resnet"):
        raise ValueError(f"unknown model {config.model!r}; expected one of: dcgan, resnet")
    dtype = _DTYPES[config.compute_dtype]
    if config.model == "resnet":
        if config.resolution != 32:
            raise ValueError(f"the resnet model is for 32 px images, got resolution {config.resolution}")
        return (ResNetGenerator(config.channels, config.g_width, config.num_classes, axis_name, dtype),
                ResNetDiscriminator(config.d_width, config.num_classes, config.d_norm, dtype))
    g = Generator(config.resolution, config.channels, config.g_width, config.fast_conv, axis_name, dtype,
                  num_classes=config.num_classes)
    d = Discriminator(config.resolution, config.channels, config.d_width, config.fast_conv, axis_name, dtype,
                      num_classes=config.num_classes, norm=config.d_norm)
    return g, d


__all__ = ["Generator", "Discriminator", "ResNetGenerator", "ResNetDiscriminator", "ConvTranspose", "build",
           "conv_transpose_fast", "conv_transpose_reference"]
