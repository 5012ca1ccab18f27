"""ResNet generator and discriminator for 32 px in the SNGAN layout (Miyato et al. 2018, CIFAR-10).

G: z -> dense 4x4xW -> 3 up-blocks (BN, ReLU, 2x nearest upsample, 3x3 conv, BN, ReLU,
3x3 conv; 1x1-conv shortcut) -> BN, ReLU, 3x3 conv to C channels, tanh.
D: an optimised first down-block, a down-block, two plain blocks (ReLU, 3x3 conv, ReLU,
3x3 conv, 2x2 average pool when down-sampling; 1x1-conv shortcut when the shape
changes), ReLU, global sum pool, dense to one logit. With ``norm="spectral"`` every D
layer is spectrally normalised (power-iteration state in ``batch_stats``). With
``num_classes`` > 0, G's BatchNorms are class-conditional and D adds a projection term.
The paper's widths are ``width=256`` for G and ``width=128`` for D.
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from gan_jax.models.layers import ConditionalBatchNorm, projection_term, spectral_normed

_INIT = nn.initializers.xavier_uniform()


def _upsample(x):
    b, h, w, c = x.shape
    return jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c)).reshape(b, 2 * h, 2 * w, c)


def _downsample(x):
    return nn.avg_pool(x, (2, 2), (2, 2))


class ResNetGenerator(nn.Module):
    """z [B, Z] (and labels [B] when ``num_classes``) -> images [B, 32, 32, C] in [-1, 1]."""

    channels: int = 3
    width: int = 256
    num_classes: int = 0
    axis_name: str | None = None
    dtype: Any = jnp.float32

    def _norm(self, x, labels, train):
        if self.num_classes:
            return ConditionalBatchNorm(self.num_classes, self.axis_name, self.dtype)(x, labels, train)
        return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                            axis_name=self.axis_name if train else None, dtype=self.dtype)(x)

    @nn.compact
    def __call__(self, z, labels=None, train: bool = True):
        if self.num_classes and labels is None:
            raise ValueError(f"this Generator is conditional ({self.num_classes} classes): pass labels [B]")
        w = self.width
        x = nn.Dense(4 * 4 * w, kernel_init=_INIT, dtype=self.dtype)(z).reshape(z.shape[0], 4, 4, w)
        for _ in range(3):
            h = _upsample(nn.relu(self._norm(x, labels, train)))
            h = nn.Conv(w, (3, 3), padding=1, kernel_init=_INIT, dtype=self.dtype)(h)
            h = nn.relu(self._norm(h, labels, train))
            h = nn.Conv(w, (3, 3), padding=1, kernel_init=_INIT, dtype=self.dtype)(h)
            x = h + nn.Conv(w, (1, 1), kernel_init=_INIT, dtype=self.dtype)(_upsample(x))
        x = nn.relu(self._norm(x, labels, train))
        x = nn.Conv(self.channels, (3, 3), padding=1, kernel_init=_INIT, dtype=self.dtype)(x)
        return jnp.tanh(x.astype(jnp.float32))


class ResNetDiscriminator(nn.Module):
    """images [B, 32, 32, C] in [-1, 1] (and labels [B] when ``num_classes``) -> logits [B];
    with ``conditioning="acgan"`` no labels, and ``(logits [B], class_logits [B, num_classes])``."""

    width: int = 128
    num_classes: int = 0
    norm: str = "spectral"
    dtype: Any = jnp.float32
    conditioning: str = "projection"

    def _layer(self, layer, train):
        return spectral_normed(layer, self.norm == "spectral", train)

    def _conv(self, k, train):
        return self._layer(nn.Conv(self.width, (k, k), padding=k // 2, kernel_init=_INIT, dtype=self.dtype), train)

    @nn.compact
    def __call__(self, x, labels=None, train: bool = True):
        acgan = self.num_classes and self.conditioning == "acgan"
        if self.num_classes and labels is None and not acgan:
            raise ValueError(f"this Discriminator is conditional ({self.num_classes} classes): pass labels [B]")
        if self.norm not in ("spectral", "none"):
            raise ValueError(f"ResNet discriminator norm must be 'spectral' or 'none', got {self.norm!r}")
        # Optimised first block: conv, ReLU, conv, pool; shortcut pool, 1x1 conv.
        h = _downsample(self._conv(3, train)(nn.relu(self._conv(3, train)(x))))
        x = h + self._conv(1, train)(_downsample(x))
        for down in (True, False, False):
            h = self._conv(3, train)(nn.relu(self._conv(3, train)(nn.relu(x))))
            if down:  # residual and shortcut (1x1 conv) both pooled
                h, x = _downsample(h), _downsample(self._conv(1, train)(x))
            x = x + h
        h = jnp.sum(nn.relu(x), axis=(1, 2)).astype(jnp.float32)  # [B, W]
        logits = self._layer(nn.Dense(1, kernel_init=_INIT), train)(h)[:, 0]
        if acgan:
            return logits, self._layer(nn.Dense(self.num_classes, kernel_init=_INIT), train)(h)
        if self.num_classes:
            logits = logits + projection_term(h, labels, self.num_classes, _INIT)
        return logits
