"""Generating images from a trained GAN (task ``generate``): the sampling half of
:mod:`gan_jax.tasks.generate`, under its short public name."""
from __future__ import annotations

from gan_jax.tasks.generate import class_labels, generate, generate_from, jitted_sampler, latent_generator, make_sample_fn

__all__ = ["class_labels", "generate", "generate_from", "jitted_sampler", "latent_generator", "make_sample_fn"]
