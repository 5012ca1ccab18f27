"""R3GAN's modernised ConvNet G and D (Huang et al. 2024, "The GAN is dead; long live the GAN!
A Modern GAN Baseline"), sized for 28/32 px. Trained by the ``generate`` step with the RpGAN
loss and R1 + R2 (``loss=relativistic_pairing``, ``r1_gamma = r2_gamma``).

* Residual block (ConvNeXt-style, no normalisation): x + conv1x1(act(grouped conv3x3(act(
  conv1x1(x))))), the inner width ``expansion`` x the stage width, groups of
  ``group_channels`` channels, leaky ReLU(0.2). Fix-up initialisation: the branch's last
  conv starts at zero (every block is the identity at init) and the other two are scaled by
  L^(-1/4) (L blocks in the network) on top of He init.
* G: z [B, Z] -> a learned S x S basis modulated per channel by a linear map of z ->
  stages of blocks at S, 2S, ..., R with a transition between stages (1x1 conv, bilinear 2x
  upsampling) -> 1x1 conv to C channels. Output not squashed (clipped to [-1, 1] only in
  inference mode, ``train=False``).
* D: 1x1 conv from C channels -> stages of blocks at R, R/2, ..., S with a transition
  (2x2 average pooling, 1x1 conv) -> an S x S depthwise conv (the "discriminative basis")
  -> linear to one logit.

Widths: the stage at full resolution has ``width`` channels, doubling at each halving
(at most 4 x ``width``), ``blocks`` blocks per stage (2 as in the paper). R = S * 2**k,
3 <= S <= 7 (28 = 7 * 4, 32 = 4 * 8).
"""
from __future__ import annotations

import math

import flax.linen as nn
import jax.numpy as jnp

from gan_jax.models.registry import ModelFamily, register
from gan_jax.models.stylegan2 import check_style_layout, conv2d, downsample_2x, layout, upsample_2x

LEAK = 0.2
ACT_GAIN = math.sqrt(2.0 / (1.0 + LEAK ** 2))
"""He gain of leaky ReLU(0.2)."""


def act(x):
    return nn.leaky_relu(x, LEAK)


def he_init(gain: float = 1.0):
    """N(0, (gain / sqrt(fan in))^2) for a conv [k, k, I/groups, O] or dense [I, O] kernel; gain 0: zeros."""
    if gain == 0.0:
        return nn.initializers.zeros
    return nn.initializers.variance_scaling(gain ** 2, "fan_in", "normal")


class Conv(nn.Module):
    """'Same' k x k conv [B, H, W, I] -> [B, H, W, O] in ``groups`` groups (:func:`conv2d`), He init x ``gain``."""
    features: int
    kernel_size: int = 1
    groups: int = 1
    use_bias: bool = True
    gain: float = 1.0

    @nn.compact
    def __call__(self, x):
        k = self.kernel_size
        kernel = self.param("kernel", he_init(self.gain), (k, k, x.shape[-1] // self.groups, self.features))
        y = conv2d(x, kernel, self.groups)
        return y + self.param("bias", nn.initializers.zeros, (self.features,)) if self.use_bias else y


def stage_widths(width: int, stages: int) -> list[int]:
    """Channels of each stage, full resolution first: width, 2 width, 4 width, 4 width, ..."""
    return [width * min(2 ** i, 4) for i in range(stages)]


class ResidualBlock(nn.Module):
    """x [B, H, W, C] -> x + branch(x), branch: 1x1 expand, grouped 3x3, 1x1 back (zero init)."""
    expansion: int = 2
    group_channels: int = 16
    scale: float = 1.0
    """Fix-up: L^(-1/4) for L blocks in the network."""

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        inner = c * self.expansion
        groups = max(1, inner // self.group_channels)
        h = act(Conv(inner, gain=ACT_GAIN * self.scale)(x))
        h = act(Conv(inner, 3, groups, gain=ACT_GAIN * self.scale)(h))
        return x + Conv(c, gain=0.0)(h)


class R3GANGenerator(nn.Module):
    """z [B, Z] -> images [B, R, R, C] (clipped to [-1, 1] when ``train`` is False)."""
    resolution: int = 28
    channels: int = 1
    width: int = 32
    blocks: int = 2

    @nn.compact
    def __call__(self, z, labels=None, train: bool = True):
        if labels is not None:
            raise ValueError("the R3GAN generator is unconditional: pass no labels")
        start, k = layout(self.resolution)
        widths = stage_widths(self.width, k + 1)[::-1]  # lowest resolution first
        scale = (self.blocks * (k + 1)) ** -0.25
        basis = self.param("basis", nn.initializers.normal(1.0), (start, start, widths[0]))
        x = basis[None] * nn.Dense(widths[0], use_bias=False, kernel_init=he_init())(z)[:, None, None, :]
        for stage, c in enumerate(widths):
            if stage:  # transition: 1x1 conv to the stage's width, then 2x upsampling
                x = upsample_2x(Conv(c, use_bias=False)(x))
            for _ in range(self.blocks):
                x = ResidualBlock(scale=scale)(x)
        x = Conv(self.channels)(x)
        return x if train else jnp.clip(x, -1.0, 1.0)


class R3GANDiscriminator(nn.Module):
    """images [B, R, R, C] -> logits [B]."""
    resolution: int = 28
    width: int = 32
    blocks: int = 2

    @nn.compact
    def __call__(self, x, labels=None, train: bool = True):
        start, k = layout(self.resolution)
        widths = stage_widths(self.width, k + 1)  # full resolution first
        scale = (self.blocks * (k + 1)) ** -0.25
        x = Conv(widths[0])(x)
        for stage, c in enumerate(widths):
            if stage:  # transition: 2x downsampling, then 1x1 conv to the stage's width
                x = Conv(c, use_bias=False)(downsample_2x(x))
            for _ in range(self.blocks):
                x = ResidualBlock(scale=scale)(x)
        c = x.shape[-1]
        basis = self.param("basis", he_init(), (start, start, 1, c))  # a depthwise S x S conv, 'valid'
        x = jnp.einsum("bhwc,hwc->bc", x, basis[:, :, 0])  # [B, C]
        return nn.Dense(1, use_bias=False, kernel_init=he_init())(x)[:, 0]


def validate(config) -> None:
    """R3GAN takes S * 2**k px (3 <= S <= 7), d_norm=none (no normalisation anywhere), no classes."""
    check_style_layout(config, "r3gan", "R3GAN has no normalisation")


def build(config, axis_name: str | None = None):
    """R3GAN (generator, discriminator) for ``config`` (``g_width``/``d_width``: channels at full resolution)."""
    return (R3GANGenerator(config.resolution, config.channels, config.g_width),
            R3GANDiscriminator(config.resolution, config.d_width))


register("r3gan", ModelFamily(build, validate))
