"""Image editing with a trained generator: interpolation, inversion, latent directions, inpainting.

Every function is pure and jitted; it takes the generator as a function
``g(variables, z [N, Z]) -> images [N, H, W, C]`` in [-1, 1] (for a run:
``gan_jax.sampling.latent_generator(config)``) with its variables pytree, and draws
randomness from an explicit key. Masks are [H, W, 1] / [B, H, W, 1], 1 = missing.
"""
from gan_jax.edit import masks
from gan_jax.edit.directions import (attribute_direction, class_mix, class_morph, first_block_features,
                                     first_layer_weight, fit_boundary, ganspace, move, sefa)
from gan_jax.edit.inpaint import composite, diffusion_fill, latent_fill, make_inpainter, mean_fill
from gan_jax.edit.interpolate import interpolate, lerp, slerp
from gan_jax.edit.invert import Inversion, discriminator_features, feature_distance, invert, mean_error, psnr

__all__ = ["Inversion", "attribute_direction", "class_mix", "class_morph", "composite", "diffusion_fill",
           "discriminator_features", "feature_distance", "first_block_features", "first_layer_weight",
           "fit_boundary", "ganspace", "interpolate", "invert", "latent_fill", "lerp", "make_inpainter", "masks",
           "mean_error", "mean_fill", "move", "psnr", "sefa", "slerp"]
