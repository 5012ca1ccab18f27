"""DCGAN generator and discriminator (Radford et al., 2016) for 28, 32 and 64 px.

The layout follows the PyTorch reference (pytorch/examples ``dcgan/main.py``):
transposed convs 4x4 / stride 2 / padding 1 with BatchNorm + ReLU in G, strided
convs with BatchNorm + LeakyReLU(0.2) in D, no biases, N(0, 0.02) weights.
At 64 px and width 64 the networks are exactly the reference's.
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from gan_jax.models.layers import Conv, ConvTranspose, batch_norm

RESOLUTIONS = {28: (7, 2), 32: (4, 3), 64: (4, 4)}
"""resolution -> (base feature-map size, number of stride-2 stages)."""


def base_and_stages(resolution: int) -> tuple[int, int]:
    if resolution not in RESOLUTIONS:
        raise ValueError(f"DCGAN resolution must be one of {sorted(RESOLUTIONS)}, got {resolution}")
    return RESOLUTIONS[resolution]


class Generator(nn.Module):
    """z [B, Z] -> images [B, R, R, C] in [-1, 1].

    Feature maps: base x base x (width * 2^(stages-1)), halving the channels at
    each 2x upsampling, then a final transposed conv to ``channels`` and tanh.
    """

    resolution: int = 28
    channels: int = 1
    width: int = 64
    fast_conv: bool = True
    axis_name: str | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, z, train: bool = True):
        base, stages = base_and_stages(self.resolution)
        features = self.width * 2 ** (stages - 1)
        x = z.reshape(z.shape[0], 1, 1, z.shape[-1])
        x = ConvTranspose(features, base, fast=self.fast_conv, dtype=self.dtype)(x)
        x = nn.relu(batch_norm(train, self.axis_name, self.dtype)(x))
        for _ in range(stages - 1):
            features //= 2
            x = ConvTranspose(features, 4, 2, 1, fast=self.fast_conv, dtype=self.dtype)(x)
            x = nn.relu(batch_norm(train, self.axis_name, self.dtype)(x))
        x = ConvTranspose(self.channels, 4, 2, 1, fast=self.fast_conv, dtype=self.dtype)(x)
        return jnp.tanh(x.astype(jnp.float32))


class Discriminator(nn.Module):
    """images [B, R, R, C] in [-1, 1] -> logits [B] (no sigmoid).

    Strided 4x4 convs double the channels from ``width`` down to the base
    feature map; a final base x base valid conv gives one logit per image.
    """

    resolution: int = 28
    channels: int = 1
    width: int = 64
    fast_conv: bool = True
    axis_name: str | None = None
    dtype: Any = jnp.float32
    norm: str = "batch"
    """``batch`` (DCGAN) or ``none`` (for gradient penalties: no cross-sample mixing)."""

    @nn.compact
    def __call__(self, x, train: bool = True):
        if self.norm not in ("batch", "none"):
            raise ValueError(f"Discriminator norm must be 'batch' or 'none', got {self.norm!r}")
        base, stages = base_and_stages(self.resolution)
        features = self.width
        x = nn.leaky_relu(Conv(features, 4, 2, 1, fast=self.fast_conv, dtype=self.dtype)(x), 0.2)
        for _ in range(stages - 1):
            features *= 2
            x = Conv(features, 4, 2, 1, fast=self.fast_conv, dtype=self.dtype)(x)
            if self.norm == "batch":
                x = batch_norm(train, self.axis_name, self.dtype)(x)
            x = nn.leaky_relu(x, 0.2)
        x = Conv(1, base, fast=self.fast_conv, dtype=self.dtype)(x)
        return x.reshape(x.shape[0]).astype(jnp.float32)
