"""Flax models, found by name: ``build(config, axis_name)`` returns the (generator, discriminator)
pair of ``config.model``.

Each model module registers itself (``register(name, ModelFamily(build, validate))``); adding
a model is one file plus that line. See :mod:`gan_jax.models.registry`.
"""
from __future__ import annotations

from gan_jax.models import dcgan, patchgan, resnet, sngan_cnn, srgan, unet  # noqa: F401  (they register)
from gan_jax.models import stylegan2  # noqa: F401  (registers)
from gan_jax.models import r3gan  # noqa: F401  (registers)
from gan_jax.models.dcgan import Discriminator, Generator
from gan_jax.models.blocks import ConvTranspose, pixel_shuffle
from gan_jax.ops import conv_transpose_fast, conv_transpose_reference
from gan_jax.models.patchgan import PatchGAN
from gan_jax.models.registry import MODELS, ModelFamily, build, compute_dtype, register, validate
from gan_jax.models.resnet import ResNetDiscriminator, ResNetGenerator
from gan_jax.models.sngan_cnn import StandardCNNDiscriminator
from gan_jax.models.srgan import SRDiscriminator, SRGenerator, bicubic_upscale
from gan_jax.models.unet import UNet

__all__ = ["MODELS", "ModelFamily", "Generator", "Discriminator", "ResNetGenerator", "ResNetDiscriminator",
           "StandardCNNDiscriminator", "ConvTranspose", "build", "compute_dtype", "conv_transpose_fast",
           "conv_transpose_reference", "register", "validate", "UNet", "PatchGAN", "SRGenerator",
           "SRDiscriminator", "bicubic_upscale", "pixel_shuffle"]
