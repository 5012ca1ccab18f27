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

from gan_jax.models.blocks import (ConditionalBatchNorm, Conv, ConvTranspose, batch_norm, projection_term,
                                   spectral_normed)
from gan_jax.ops import DEFAULT_POLICY, ConvPolicy, policy_for
from gan_jax.errors import UserError
from gan_jax.models.registry import ModelFamily, compute_dtype, register

NORMS = ("batch", "spectral", "none")
"""Discriminator normalisations (``Config.d_norm``)."""
RESOLUTIONS = {28: (7, 2), 32: (4, 3), 64: (4, 4)}
"""resolution -> (base feature-map size, number of stride-2 stages)."""


def base_and_stages(resolution: int) -> tuple[int, int]:
    if resolution not in RESOLUTIONS:
        raise ValueError(f"DCGAN resolution must be one of {sorted(RESOLUTIONS)}, got {resolution}")
    return RESOLUTIONS[resolution]


def latent_code(z, categories: int):
    """InfoGAN's category of each latent: int [B], the argmax of ``z[:, :categories]`` (uniform
    for z ~ N(0, I), a function of z alone, so every sampler and editor of z keeps working)."""
    return jnp.argmax(z[:, :categories], axis=-1).astype(jnp.int32)


class Generator(nn.Module):
    """z [B, Z] (and labels int [B] when ``num_classes``) -> images [B, R, R, C] in [-1, 1].

    Feature maps: base x base x (width * 2^(stages-1)), halving the channels at
    each 2x upsampling, then a final transposed conv to ``channels`` and tanh.
    With ``num_classes`` > 0 every BatchNorm is class-conditional.
    """

    resolution: int = 28
    channels: int = 1
    width: int = 64
    conv_policy: ConvPolicy = DEFAULT_POLICY
    axis_name: str | None = None
    dtype: Any = jnp.float32
    num_classes: int = 0
    label_input: bool = False
    """With ``num_classes``: the one-hot label also enters beside z, at the first transposed conv
    (ACGAN, Odena et al. 2017). Conditional BatchNorm alone starts with almost no class effect
    (per-class scales N(1, 0.02)) and Adam moves its unit-scale parameters too slowly for the
    auxiliary classifier to pull the classes apart (``experiments/acgan/results.md``)."""

    code: int = 0
    """InfoGAN's categorical code (Chen et al. 2016) with this many categories (0: none): the
    category is the argmax of z's first ``code`` entries, so it is uniform and a function of z
    alone; its one-hot enters beside z. The discriminator's head Q learns to read it back."""

    def _norm(self, x, labels, train: bool):
        if self.num_classes:
            return ConditionalBatchNorm(self.num_classes, self.axis_name, self.dtype)(x, labels, train)
        return batch_norm(train, self.axis_name, self.dtype)(x)

    @nn.compact
    def __call__(self, z, labels=None, train: bool = True):
        if self.num_classes and labels is None:
            raise ValueError(f"this Generator is conditional ({self.num_classes} classes): pass labels [B]")
        base, stages = base_and_stages(self.resolution)
        features = self.width * 2 ** (stages - 1)
        if self.num_classes and self.label_input:
            z = jnp.concatenate([z, nn.one_hot(labels, self.num_classes, dtype=z.dtype)], axis=-1)
        if self.code:
            z = jnp.concatenate([z, nn.one_hot(latent_code(z, self.code), self.code, dtype=z.dtype)], axis=-1)
        x = z.reshape(z.shape[0], 1, 1, z.shape[-1])
        x = ConvTranspose(features, base, conv_policy=self.conv_policy, dtype=self.dtype)(x)
        x = nn.relu(self._norm(x, labels, train))
        for _ in range(stages - 1):
            features //= 2
            x = ConvTranspose(features, 4, 2, 1, conv_policy=self.conv_policy, dtype=self.dtype)(x)
            x = nn.relu(self._norm(x, labels, train))
        x = ConvTranspose(self.channels, 4, 2, 1, conv_policy=self.conv_policy, dtype=self.dtype)(x)
        return jnp.tanh(x.astype(jnp.float32))


class Discriminator(nn.Module):
    """images [B, R, R, C] in [-1, 1] (and labels int [B] when ``num_classes``) -> logits [B].

    Strided 4x4 convs double the channels from ``width`` down to the base
    feature map; a final base x base valid conv gives one logit per image (no
    sigmoid). With ``num_classes`` > 0 it is a projection discriminator (Miyato &
    Koyama 2018): the logit gains <embed(y), h>, h the spatially summed last features;
    or, with ``conditioning="acgan"``, an auxiliary classifier (Odena et al. 2017): no
    labels in, and it returns ``(logits [B], class_logits [B, num_classes])`` from a second
    base x base valid conv on the same features.
    """

    resolution: int = 28
    channels: int = 1
    width: int = 64
    conv_policy: ConvPolicy = DEFAULT_POLICY
    axis_name: str | None = None
    dtype: Any = jnp.float32
    num_classes: int = 0
    norm: str = "batch"
    """``batch`` (DCGAN), ``spectral`` (SNGAN: every conv spectrally normalised, power-iteration
    vectors in the ``batch_stats`` collection) or ``none``. Only ``batch`` mixes the samples of
    a batch, so gradient penalties need one of the others."""
    conditioning: str = "projection"
    """With ``num_classes``: ``projection`` or ``acgan`` (a class-logit head, labels unused)."""
    code: int = 0
    """InfoGAN: with ``code`` categories, a head Q that returns ``(logits, code_logits [B, code])``."""

    def _conv(self, train: bool, *args):
        conv = Conv(*args, conv_policy=self.conv_policy, dtype=self.dtype)
        return spectral_normed(conv, self.norm == "spectral", train)

    @nn.compact
    def __call__(self, x, labels=None, train: bool = True):
        acgan = self.num_classes and self.conditioning == "acgan"
        if self.num_classes and labels is None and not acgan:
            raise ValueError(f"this Discriminator is conditional ({self.num_classes} classes): pass labels [B]")
        if self.norm not in NORMS:
            raise ValueError(f"Discriminator norm must be one of {NORMS}, got {self.norm!r}")
        base, stages = base_and_stages(self.resolution)
        features = self.width
        x = nn.leaky_relu(self._conv(train, features, 4, 2, 1)(x), 0.2)
        for _ in range(stages - 1):
            features *= 2
            x = self._conv(train, features, 4, 2, 1)(x)
            if self.norm == "batch":
                x = batch_norm(train, self.axis_name, self.dtype)(x)
            x = nn.leaky_relu(x, 0.2)
        logits = self._conv(train, 1, base)(x).reshape(x.shape[0]).astype(jnp.float32)
        if acgan or self.code:
            heads = self.code or self.num_classes
            class_logits = self._conv(train, heads, base)(x).reshape(x.shape[0], -1)
            return logits, class_logits.astype(jnp.float32)
        if self.num_classes:
            h = jnp.sum(x, axis=(1, 2)).astype(jnp.float32)  # [B, C]
            logits = logits + projection_term(h, labels, self.num_classes, nn.initializers.normal(0.02))
        return logits


def _no_instance_norm(config) -> None:
    if config.d_norm == "instance":
        raise UserError(f"d_norm='instance': only for the PatchGAN D of model=unet (model={config.model!r})")


def validate(config) -> None:
    """DCGAN takes 28, 32 or 64 px and d_norm batch, spectral or none."""
    _no_instance_norm(config)


def takes_label_input(config) -> bool:
    """Whether ``config``'s generator takes the one-hot label beside z (``label_input``, ACGAN)."""
    return config.model == "dcgan" and config.num_classes > 0 and (config.label_input or config.conditioning == "acgan")


def inputs_beside_z(config) -> int:
    """How many inputs enter G's first layer after z's ``z_dim``: the one-hot label
    (:func:`takes_label_input`), then the one-hot code (InfoGAN's ``latent_code`` or the
    cluster code ``cluster_code``)."""
    return (config.num_classes if takes_label_input(config) else 0) + config.latent_code + config.cluster_code


def latent_codes(config) -> int:
    """How many categories the code in z's first entries has (InfoGAN's ``latent_code`` or the
    self-conditioning ``cluster_code``; 0: none). G is piecewise in z across its argmax."""
    return config.latent_code or config.cluster_code


def build(config, axis_name: str | None = None):
    """DCGAN's (Generator, Discriminator) for ``config``. Self-conditioned (``cluster_code``):
    G takes the cluster code from z like InfoGAN's, D projects on the cluster as on a class."""
    common = dict(resolution=config.resolution, channels=config.channels, conv_policy=policy_for(config),
                  axis_name=axis_name, dtype=compute_dtype(config))
    return (Generator(width=config.g_width, label_input=takes_label_input(config),
                      code=latent_codes(config), num_classes=config.num_classes, **common),
            Discriminator(width=config.d_width, norm=config.d_norm, conditioning=config.conditioning,
                          code=config.latent_code, num_classes=config.num_classes or config.cluster_code, **common))


register("dcgan", ModelFamily(build, validate))
