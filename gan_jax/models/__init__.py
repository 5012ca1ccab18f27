"""Flax models. ``build(config, axis_name)`` returns the (generator, discriminator) pair."""
from __future__ import annotations

import jax.numpy as jnp

from gan_jax.configs import MODELS
from gan_jax.models.dcgan import Discriminator, Generator
from gan_jax.models.resnet import ResNetDiscriminator, ResNetGenerator
from gan_jax.models.sngan_cnn import StandardCNNDiscriminator
from gan_jax.models.layers import ConvTranspose, conv_transpose_fast, conv_transpose_reference, pixel_shuffle
from gan_jax.models.patchgan import PatchGAN
from gan_jax.models.srgan import SRDiscriminator, SRGenerator, bicubic_upscale
from gan_jax.models.unet import UNet

_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def build(config, axis_name: str | None = None):
    """(generator, discriminator) for ``config.model``; BatchNorm syncs over ``axis_name``."""
    if config.model not in MODELS:
        raise ValueError(f"unknown model {config.model!r}; expected one of: {', '.join(MODELS)}")
    dtype = _DTYPES[config.compute_dtype]
    if config.model in ("unet", "srgan"):
        return _build_img2img(config, axis_name, dtype)
    if config.model == "resnet":
        return (ResNetGenerator(config.channels, config.g_width, config.num_classes, axis_name, dtype,
                                resolution=config.resolution),
                ResNetDiscriminator(config.d_width, config.num_classes, config.d_norm, dtype,
                                    conditioning=config.conditioning))
    g = Generator(config.resolution, config.channels, config.g_width, config.fast_conv, axis_name, dtype,
                  num_classes=config.num_classes)
    if config.model == "sngan_cnn":  # DCGAN's G, the SNGAN paper's standard CNN D
        return g, StandardCNNDiscriminator(config.d_width, config.fast_conv, dtype, config.num_classes, config.d_norm)
    d = Discriminator(config.resolution, config.channels, config.d_width, config.fast_conv, axis_name, dtype,
                      num_classes=config.num_classes, norm=config.d_norm, conditioning=config.conditioning)
    return g, d


def _build_img2img(config, axis_name, dtype):
    """The image-to-image pairs: U-Net + PatchGAN (pix2pix, inpaint, cyclegan), SRGAN."""
    if config.model == "srgan":
        return (SRGenerator(config.channels, config.scale, config.g_width, dtype=dtype),
                SRDiscriminator(config.d_width, axis_name, dtype))
    # G's input channels come from its input: C for pix2pix and cyclegan, C + 1 (the mask) for inpaint.
    g_norm = "instance" if config.task == "cyclegan" else "batch"
    n_layers = 2 if config.resolution <= 32 else 3
    # pix2pix from noise or greyscale: the source is the target degraded in place, so G predicts a correction.
    residual = config.task == "pix2pix" and config.degrade in ("noise", "grey")
    return (UNet(config.channels, config.g_width, norm=g_norm, residual=residual, axis_name=axis_name,
                 fast_conv=config.fast_conv, dtype=dtype),
            PatchGAN(config.d_width, n_layers, config.d_norm, axis_name, config.fast_conv, dtype))


__all__ = ["Generator", "Discriminator", "ResNetGenerator", "ResNetDiscriminator", "StandardCNNDiscriminator",
           "ConvTranspose", "build", "conv_transpose_fast", "conv_transpose_reference", "UNet", "PatchGAN",
           "SRGenerator", "SRDiscriminator", "bicubic_upscale", "pixel_shuffle"]
