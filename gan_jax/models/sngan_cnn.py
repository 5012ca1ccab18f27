"""The SNGAN paper's "standard CNN" discriminator (Miyato et al. 2018, Table 3b).

Seven convolutions in three stages, each a 3x3 stride-1 conv followed by a 4x4
stride-2 conv (widths W, W, 2W, 2W, 4W, 4W), then a 3x3 conv to 8W channels,
LeakyReLU(0.1) after every conv, and a dense layer from the flattened features to
one logit. With ``W = 64`` and 32 px inputs it is the paper's network (final
features 4x4x512); 28 px inputs end at 3x3x512. It is deeper and wider than the
DCGAN discriminator (3 convs), about 8x its cost per step at 28 px and width 64. On
Fashion-MNIST at 1,000 steps it did not beat the spectrally normalised DCGAN D
(``experiments/family/results.md``, "Probes").
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from gan_jax.models.blocks import Conv, dcgan_kernel_init, projection_term, spectral_normed
from gan_jax.ops import DEFAULT_POLICY, ConvPolicy, policy_for
from gan_jax.errors import UserError
from gan_jax.models.registry import ModelFamily, compute_dtype, register
from gan_jax.models import dcgan

NORMS = ("spectral", "none")


class StandardCNNDiscriminator(nn.Module):
    """images [B, R, R, C] in [-1, 1] (and labels int [B] when ``num_classes``) -> logits [B].

    ``norm="spectral"`` normalises every conv and the dense layer (power-iteration
    vectors in the ``batch_stats`` collection); ``none`` leaves them plain (for a
    gradient penalty). With ``num_classes`` > 0 it is a projection discriminator:
    the logit gains <embed(y), h>, h the spatially summed last features [B, 8W].
    """

    width: int = 64
    conv_policy: ConvPolicy = DEFAULT_POLICY
    dtype: Any = jnp.float32
    num_classes: int = 0
    norm: str = "spectral"

    def _layer(self, layer, train: bool):
        return spectral_normed(layer, self.norm == "spectral", train)

    def _conv(self, features: int, k: int, stride: int, train: bool):
        conv = Conv(features, k, stride, 1, use_bias=True, conv_policy=self.conv_policy, dtype=self.dtype)
        return self._layer(conv, train)

    @nn.compact
    def __call__(self, x, labels=None, train: bool = True):
        if self.norm not in NORMS:
            raise ValueError(f"StandardCNNDiscriminator norm must be one of {NORMS}, got {self.norm!r}")
        if self.num_classes and labels is None:
            raise ValueError(f"this Discriminator is conditional ({self.num_classes} classes): pass labels [B]")
        w = self.width
        for features in (w, 2 * w, 4 * w):
            x = nn.leaky_relu(self._conv(features, 3, 1, train)(x), 0.1)
            x = nn.leaky_relu(self._conv(features, 4, 2, train)(x), 0.1)
        x = nn.leaky_relu(self._conv(8 * w, 3, 1, train)(x), 0.1)
        dense = nn.Dense(1, kernel_init=dcgan_kernel_init, dtype=self.dtype)
        logits = self._layer(dense, train)(x.reshape(x.shape[0], -1))[:, 0].astype(jnp.float32)
        if self.num_classes:
            h = jnp.sum(x, axis=(1, 2)).astype(jnp.float32)  # [B, 8W]
            logits = logits + projection_term(h, labels, self.num_classes, nn.initializers.normal(0.02))
        return logits


def validate(config) -> None:
    """The standard CNN D takes d_norm spectral or none and projection conditioning."""
    if config.d_norm not in NORMS or config.conditioning == "acgan":
        raise UserError(f"model=sngan_cnn: expected d_norm=spectral or none (got {config.d_norm!r}) and "
                        f"conditioning=projection (got {config.conditioning!r})")


def build(config, axis_name: str | None = None):
    """DCGAN's generator with the SNGAN paper's standard CNN discriminator."""
    g, _ = dcgan.build(config, axis_name)
    return g, StandardCNNDiscriminator(width=config.d_width, conv_policy=policy_for(config),
                                       dtype=compute_dtype(config), num_classes=config.num_classes,
                                       norm=config.d_norm)


register("sngan_cnn", ModelFamily(build, validate))
