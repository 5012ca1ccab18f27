"""U-Net generator for image-to-image translation (pix2pix, Isola et al. 2017).

Encoder: 4x4 stride-2 convs (LeakyReLU 0.2, norm after the first), halving the size
until it is odd or 4 px; a residual pair of 3x3 convs at the bottom widens the
receptive field when only a few halvings fit (28 px -> 7 px). Decoder: 4x4 stride-2
transposed convs (ReLU, norm), each concatenated with the encoder features of the same
size. The last stage also sees the input itself (a full-resolution skip, so fine detail
of the source such as the known pixels of an inpainting input needs no bottleneck),
then a 3x3 conv and tanh (or, with ``residual``, the input plus that conv's output). No
dropout: the output is a deterministic function of the input.

With ``skips=False`` (model ``unet_noskip``) neither the encoder features nor the input reach
the decoder: every output pixel passes through the bottleneck (7 px at 28 px), with ``blocks`` residual
pairs there. That is the layout of CycleGAN's ResNet generator (Zhu et al. 2017: two stride-2
downsamplings, residual blocks, two upsamplings, no long skips). For an unpaired *shape*
change the skips are harmful: they make copying the input the easiest output, which the
cycle and identity losses then reward (a boot -> sneaker generator that keeps the boot).
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from gan_jax.models.blocks import Conv, ConvTranspose, norm_layer
from gan_jax.ops import DEFAULT_POLICY, ConvPolicy, policy_for
from gan_jax.models.patchgan import PatchGAN
from gan_jax.models.registry import ModelFamily, compute_dtype, register


def unet_depth(size: int, max_depth: int) -> int:
    """Number of stride-2 halvings of a ``size`` px input: while even and >= 8 px."""
    depth = 0
    while depth < max_depth and size % 2 == 0 and size >= 8:
        size //= 2
        depth += 1
    return depth


class UNet(nn.Module):
    """source [B, H, W, C_in] -> image [B, H, W, out_channels] in [-1, 1] (H == W)."""

    out_channels: int
    width: int = 64
    max_depth: int = 5
    norm: str = "batch"
    """``batch`` (statistics synchronised over ``axis_name``) or ``instance``."""
    residual: bool = False
    """Predict a correction of the input (``input + residual``, no tanh) instead of the image:
    for sources that are their target degraded in place (noise, greyscale)."""
    skips: bool = True
    """Concatenate the encoder features and the input into the decoder (the U-Net); ``False``:
    a plain encoder-decoder whose output depends on the input only through the bottleneck."""
    blocks: int = 1
    """Residual pairs of 3x3 convs at the bottom."""
    axis_name: str | None = None
    conv_policy: ConvPolicy = DEFAULT_POLICY
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = True):
        depth = unet_depth(x.shape[1], self.max_depth)
        if depth == 0:
            raise ValueError(f"UNet: a {x.shape[1]} px input cannot be halved (needs an even size >= 8)")
        norm = lambda: norm_layer(self.norm, train, self.axis_name, self.dtype)  # noqa: E731
        feats = [self.width * 2 ** min(i, 3) for i in range(depth)]
        h, skips = x, []
        for i, f in enumerate(feats):
            h = Conv(f, 4, 2, 1, use_bias=i == 0, conv_policy=self.conv_policy, dtype=self.dtype)(h)
            if i > 0:
                h = norm()(h)
            skips.append(h)
            h = nn.leaky_relu(h, 0.2)
        for _ in range(self.blocks):
            r = nn.relu(norm()(Conv(feats[-1], 3, 1, 1, conv_policy=self.conv_policy, dtype=self.dtype)(h)))
            h = h + norm()(Conv(feats[-1], 3, 1, 1, conv_policy=self.conv_policy, dtype=self.dtype)(r))
        for i in reversed(range(depth)):
            if i < depth - 1 and self.skips:
                h = jnp.concatenate([h, skips[i]], axis=-1)
            h = nn.relu(h)
            f = feats[i - 1] if i > 0 else self.width
            h = norm()(ConvTranspose(f, 4, 2, 1, conv_policy=self.conv_policy, dtype=self.dtype)(h))
        h = nn.relu(h)
        if self.skips:
            h = jnp.concatenate([h, x.astype(h.dtype)], axis=-1)
        h = Conv(self.out_channels, 3, 1, 1, use_bias=True, conv_policy=self.conv_policy, dtype=self.dtype)(h)
        h = h.astype(jnp.float32)
        if self.residual:
            return x[..., :self.out_channels].astype(jnp.float32) + h
        return jnp.tanh(h)


def build(config, axis_name: str | None = None, norm: str = "batch", residual: bool = False):
    """U-Net generator and PatchGAN discriminator (pix2pix, inpainting, CycleGAN).

    G's input channels come from its input (C, or C + 1 with an inpainting mask); ``norm``
    is G's normalisation, ``residual`` makes G predict a correction of its input (the task's
    options). D has 2 layers up to 32 px, 3 above."""
    dtype = compute_dtype(config)
    n_layers = 2 if config.resolution <= 32 else 3
    policy = policy_for(config)
    return (UNet(config.channels, config.g_width, norm=norm, residual=residual, axis_name=axis_name,
                 conv_policy=policy, dtype=dtype),
            PatchGAN(config.d_width, n_layers, config.d_norm, axis_name=axis_name, conv_policy=policy, dtype=dtype))


NOSKIP_BLOCKS = 3
"""Residual pairs at the bottom of ``unet_noskip`` (CycleGAN's ResNet G has 6-9 at 1/4 size)."""


def build_noskip(config, axis_name: str | None = None, norm: str = "batch", residual: bool = False):
    """``unet``'s pair with a generator without long skips (``UNet(skips=False)``, and
    :data:`NOSKIP_BLOCKS` residual pairs at the bottom): CycleGAN's ResNet-generator layout."""
    if residual:
        raise ValueError("unet_noskip cannot predict a correction of its input (it has no input skip)")
    g, d = build(config, axis_name, norm=norm)
    return g.clone(skips=False, blocks=NOSKIP_BLOCKS), d


register("unet", ModelFamily(build, tasks=("pix2pix", "inpaint", "cyclegan")))
register("unet_noskip", ModelFamily(build_noskip, tasks=("cyclegan",)))
