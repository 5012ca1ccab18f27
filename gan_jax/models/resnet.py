"""ResNet generator and discriminator in the SNGAN layout (Miyato et al. 2018, CIFAR-10).

G: z -> dense 4x4xW -> 3 up-blocks (BN, ReLU, 2x nearest upsample, 3x3 conv, BN, ReLU,
3x3 conv; 1x1-conv shortcut) -> BN, ReLU, 3x3 conv to C channels, tanh.
D: an optimised first down-block, a down-block, two plain blocks (ReLU, 3x3 conv, ReLU,
3x3 conv, 2x2 average pool when down-sampling; 1x1-conv shortcut when the shape
changes), ReLU, global sum pool, dense to one logit. With ``norm="spectral"`` every D
layer is spectrally normalised (power-iteration state in ``batch_stats``). With
``num_classes`` > 0, G's BatchNorms are class-conditional and D adds a projection term.
The paper's widths are ``width=256`` for G and ``width=128`` for D.

That is the 32 px layout. Other sizes keep the blocks and change where G starts
(:func:`generator_layout`): 28 px starts at 7x7 with 2 up-blocks (as DCGAN's 28 px G),
48 px at 6x6 with 3 (the paper's STL-10 layout), 64 px at 4x4 with 4. D needs no change:
its global sum pool takes any size (28 px ends at 7x7, 32 px at 8x8).
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from gan_jax.models.blocks import ConditionalBatchNorm, projection_term, spectral_normed
from gan_jax.errors import UserError
from gan_jax.models.registry import ModelFamily, compute_dtype, register

_INIT = nn.initializers.xavier_uniform()


def generator_layout(resolution: int) -> tuple[int, int]:
    """(start size, up-blocks) of the ResNet G for ``resolution`` px: the fewest 2x up-blocks
    that bring the start size down to at most 7 (32 -> (4, 3), 28 -> (7, 2), 48 -> (6, 3)).
    ValueError when none does (an odd size above 7)."""
    start, blocks = resolution, 0
    while start > 7 and start % 2 == 0:
        start, blocks = start // 2, blocks + 1
    if start > 7 or start < 3 or blocks == 0:
        raise ValueError(f"the ResNet generator needs resolution = S * 2**k with 3 <= S <= 7 and k >= 1, "
                         f"got {resolution}")
    return start, blocks


def _upsample(x):
    b, h, w, c = x.shape
    return jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c)).reshape(b, 2 * h, 2 * w, c)


def _downsample(x):
    return nn.avg_pool(x, (2, 2), (2, 2))


class ResNetGenerator(nn.Module):
    """z [B, Z] (and labels [B] when ``num_classes``) -> images [B, R, R, C] in [-1, 1],
    R = ``resolution`` (32 by default; see :func:`generator_layout`)."""

    channels: int = 3
    width: int = 256
    num_classes: int = 0
    axis_name: str | None = None
    dtype: Any = jnp.float32
    resolution: int = 32

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
        start, blocks = generator_layout(self.resolution)
        x = nn.Dense(start * start * w, kernel_init=_INIT, dtype=self.dtype)(z).reshape(z.shape[0], start, start, w)
        for _ in range(blocks):
            h = _upsample(nn.relu(self._norm(x, labels, train)))
            h = nn.Conv(w, (3, 3), padding=1, kernel_init=_INIT, dtype=self.dtype)(h)
            h = nn.relu(self._norm(h, labels, train))
            h = nn.Conv(w, (3, 3), padding=1, kernel_init=_INIT, dtype=self.dtype)(h)
            x = h + nn.Conv(w, (1, 1), kernel_init=_INIT, dtype=self.dtype)(_upsample(x))
        x = nn.relu(self._norm(x, labels, train))
        x = nn.Conv(self.channels, (3, 3), padding=1, kernel_init=_INIT, dtype=self.dtype)(x)
        return jnp.tanh(x.astype(jnp.float32))


class ResNetDiscriminator(nn.Module):
    """images [B, H, W, C] in [-1, 1], H, W >= 8 (and labels [B] when ``num_classes``) -> logits [B];
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


def validate(config) -> None:
    """The ResNets take S * 2**k px (3 <= S <= 7) and d_norm spectral or none."""
    try:
        generator_layout(config.resolution)
    except ValueError as e:
        raise UserError(f"model=resnet, resolution={config.resolution}: {e}") from None
    if config.d_norm in ("batch", "instance"):
        raise UserError(f"model=resnet: expected d_norm=spectral or none (got {config.d_norm!r})")


def build(config, axis_name: str | None = None):
    """SNGAN's ResNet (generator, discriminator) for ``config``."""
    dtype = compute_dtype(config)
    return (ResNetGenerator(config.channels, config.g_width, config.num_classes, axis_name, dtype,
                            resolution=config.resolution),
            ResNetDiscriminator(config.d_width, config.num_classes, config.d_norm, dtype,
                                conditioning=config.conditioning))


register("resnet", ModelFamily(build, validate))
