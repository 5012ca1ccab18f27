"""PatchGAN discriminator (pix2pix, Isola et al. 2017; CycleGAN's D).

4x4 convs: ``n_layers`` stride-2 convs doubling the width from ``width``, one stride-1
conv, then a stride-1 conv to one logit per patch. With ``n_layers=3`` each logit sees a
70x70 patch (the paper's D for 256 px); ``n_layers=2`` (34x34) suits 28-64 px inputs.
Conditional use (pix2pix) concatenates the source with the image before calling it.
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from gan_jax.models.blocks import Conv, norm_layer, spectral_normed
from gan_jax.ops import DEFAULT_POLICY, ConvPolicy


class PatchGAN(nn.Module):
    """images [B, H, W, C] -> logits [B, H', W'] (one per patch, no sigmoid)."""

    width: int = 64
    n_layers: int = 3
    norm: str = "batch"
    """``batch`` (synchronised over ``axis_name``), ``instance``, ``spectral`` or ``none``."""
    axis_name: str | None = None
    conv_policy: ConvPolicy = DEFAULT_POLICY
    dtype: Any = jnp.float32

    def _conv(self, train: bool, features: int, stride: int, bias: bool):
        conv = Conv(features, 4, stride, 1, use_bias=bias, conv_policy=self.conv_policy, dtype=self.dtype)
        return spectral_normed(conv, self.norm == "spectral", train)

    @nn.compact
    def __call__(self, x, train: bool = True):
        inner = "none" if self.norm == "spectral" else self.norm
        h = nn.leaky_relu(self._conv(train, self.width, 2, True)(x), 0.2)
        for i in range(1, self.n_layers + 1):
            stride = 2 if i < self.n_layers else 1
            h = self._conv(train, self.width * 2 ** min(i, 3), stride, inner == "none")(h)
            h = nn.leaky_relu(norm_layer(inner, train, self.axis_name, self.dtype)(h), 0.2)
        logits = self._conv(train, 1, 1, True)(h)
        return logits[..., 0].astype(jnp.float32)
