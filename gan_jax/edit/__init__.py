"""Image editing with a trained generator: interpolation, inversion, latent directions, inpainting.

Every function is pure and jitted; it takes the generator as a function
``g(variables, z [N, Z]) -> images [N, H, W, C]`` in [-1, 1] (for a run:
``gan_jax.sampling.latent_generator(config)``) with its variables pytree, and draws
randomness from an explicit key. Masks are [H, W, 1] / [B, H, W, 1], 1 = missing.
What a command line names (``--direction``, ``--strength``, ``--mask``) is parsed and
checked here too (:func:`directions.parse_spec`, :func:`masks.from_spec`), so the CLI only
parses its arguments and prints.

Style-based generators (StyleGAN2) are edited in W and W+ as well as z: :mod:`latent_space`
gives a run's spaces (:func:`latent_space.get`) and the editing operations that take a space;
:mod:`projector` is the StyleGAN2 projector (inversion in W / W+ with noise regularisation).
"""
from gan_jax.edit import directions, latent_space, masks, projector
from gan_jax.edit.directions import (DirectionSpec, attribute_direction, class_mix, class_morph,
                                     first_block_features, first_layer_weight, fit_boundary, ganspace, move,
                                     parse_spec, parse_strengths, pca, sefa, within_class_direction)
from gan_jax.edit.inpaint import composite, diffusion_fill, latent_fill, make_inpainter, mean_fill
from gan_jax.edit.interpolate import interpolate, interpolation_images, lerp, slerp
from gan_jax.edit.invert import (Inversion, discriminator_features, feature_distance, invert, invert_with_progress,
                                 mean_error, psnr)
from gan_jax.edit.latent_space import LatentSpace
from gan_jax.edit.projector import Projection, noise_regulariser, project, project_with_progress

__all__ = ["DirectionSpec", "Inversion", "LatentSpace", "Projection", "attribute_direction", "class_mix",
           "class_morph", "composite", "diffusion_fill", "directions", "discriminator_features", "feature_distance",
           "first_block_features", "first_layer_weight", "fit_boundary", "ganspace", "interpolate",
           "interpolation_images", "invert", "invert_with_progress", "latent_fill", "latent_space", "lerp",
           "make_inpainter", "masks", "mean_error", "mean_fill", "move", "noise_regulariser", "parse_spec",
           "parse_strengths", "pca", "project", "project_with_progress", "projector", "psnr", "sefa", "slerp",
           "within_class_direction"]
