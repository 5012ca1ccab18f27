"""SRGAN-style super-resolution networks (Ledig et al. 2017).

Generator: a 3x3 conv, ``blocks`` residual blocks (conv-ReLU-conv, no BatchNorm, as in
EDSR: BatchNorm hurts pixel accuracy), a long skip, then one sub-pixel stage per factor
2 (a conv to 4 x half the channels, :func:`pixel_shuffle`, PReLU: the features halve as
the size doubles) and a 3x3 conv to the image channels. The network predicts the residual
over the bicubic upsampling of its input, and its last conv starts at zero, so an
untrained G *is* bicubic interpolation.

Discriminator: VGG-style 3x3 convs, stride 2 every other layer, BatchNorm (synchronised
over ``axis_name``) and LeakyReLU, global average pooling and two dense layers to one
logit per image. ``features=True`` also returns the activations of its first two stages
for the feature content loss.
"""
from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.models.blocks import Conv, batch_norm, pixel_shuffle
from gan_jax.ops import DEFAULT_POLICY, ConvPolicy, policy_for
from gan_jax.errors import UserError
from gan_jax.models.registry import ModelFamily, compute_dtype, register

_he = nn.initializers.variance_scaling(2.0, "fan_in", "truncated_normal")


def bicubic_upscale(x, scale: int):
    """[B, h, w, C] -> [B, scale*h, scale*w, C], bicubic (the baseline SR and G's skip)."""
    b, h, w, c = x.shape
    return jax.image.resize(x, (b, h * scale, w * scale, c), "bicubic")


class SRGenerator(nn.Module):
    """low-res [B, h, w, C] in [-1, 1] -> high-res [B, scale*h, scale*w, C] (about [-1, 1])."""

    channels: int = 3
    scale: int = 4
    width: int = 64
    blocks: int = 6
    dtype: Any = jnp.float32
    conv_policy: ConvPolicy = DEFAULT_POLICY

    def _conv(self, features, init=_he):
        return Conv(features, 3, 1, 1, use_bias=True, kernel_init=init, conv_policy=self.conv_policy,
                    dtype=self.dtype)

    @nn.compact
    def __call__(self, x, train: bool = True):
        if self.scale not in (2, 4):
            raise ValueError(f"SRGenerator: scale must be 2 or 4, got {self.scale}")
        base = bicubic_upscale(x.astype(jnp.float32), self.scale)
        h = head = self._conv(self.width)(x)
        for _ in range(self.blocks):
            h = h + self._conv(self.width)(nn.relu(self._conv(self.width)(h)))
        h = self._conv(self.width)(h) + head
        features = self.width
        for _ in range(int(math.log2(self.scale))):
            features //= 2  # half the features at twice the size: the upsampling costs less than the body
            h = nn.PReLU(negative_slope_init=0.25)(pixel_shuffle(self._conv(4 * features)(h), 2))
        residual = self._conv(self.channels, nn.initializers.zeros)(h)
        return base + residual.astype(jnp.float32)


class SRDiscriminator(nn.Module):
    """images [B, H, W, C] -> logits [B] (and with ``features=True`` a list of activations)."""

    width: int = 64
    axis_name: str | None = None
    dtype: Any = jnp.float32
    conv_policy: ConvPolicy = DEFAULT_POLICY

    @nn.compact
    def __call__(self, x, train: bool = True, features: bool = False):
        h = Conv(self.width, 3, 1, 1, use_bias=True, conv_policy=self.conv_policy, dtype=self.dtype)(x)
        h = nn.leaky_relu(h, 0.2)
        feats = []
        for i, (f, stride) in enumerate([(1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 2)]):
            h = Conv(self.width * f, 3, stride, 1, conv_policy=self.conv_policy, dtype=self.dtype)(h)
            h = nn.leaky_relu(batch_norm(train, self.axis_name, self.dtype)(h), 0.2)
            if i < 2:
                feats.append(h)
        h = jnp.mean(h.astype(jnp.float32), axis=(1, 2))
        h = nn.leaky_relu(nn.Dense(self.width * 8)(h), 0.2)
        logits = nn.Dense(1)(h)[:, 0]
        return (logits, feats) if features else logits


def validate(config) -> None:
    """SRGAN upscales to a multiple of 2 * scale px; its D has no instance norm."""
    if config.resolution % (2 * config.scale):
        raise UserError(f"resolution={config.resolution}: model=srgan needs a multiple of 2 * scale "
                        f"({2 * config.scale})")
    if config.d_norm == "instance":
        raise UserError(f"d_norm='instance': only for the PatchGAN D of model=unet (model={config.model!r})")


def build(config, axis_name: str | None = None):
    """SRGAN's residual pixel-shuffle generator (x ``config.scale``) and its discriminator."""
    dtype = compute_dtype(config)
    policy = policy_for(config)
    return (SRGenerator(config.channels, config.scale, config.g_width, dtype=dtype, conv_policy=policy),
            SRDiscriminator(config.d_width, axis_name, dtype, conv_policy=policy))


register("srgan", ModelFamily(build, validate, tasks=("srgan",)))
