"""Inpainting masks: float32 [H, W, 1], 1 where a pixel is missing (the hole), 0 where known.

The shapes (:func:`center_box`, :func:`random_boxes`, :func:`free_form`) are pure JAX
functions of an explicit key, from :mod:`gan_jax.data.masks`. A mask given as an image
(white = missing) is read with :func:`from_image`; :func:`from_spec` turns a command line's
``--mask`` (a name or a file) into a mask.
"""
from __future__ import annotations

import os

import jax
import numpy as np

from gan_jax.data.masks import center_box, free_form, random_boxes
from gan_jax.errors import UserError


def from_image(image: np.ndarray) -> np.ndarray:
    """A mask image (uint8 [H, W] or [H, W, C], white = missing) -> float32 [H, W, 1].

    A pixel is missing where its mean over channels is at least 128 (mid-grey)."""
    image = np.asarray(image, np.float32)
    gray = image.mean(-1) if image.ndim == 3 else image
    return (gray >= 128)[..., None].astype(np.float32)


def to_image(mask: np.ndarray) -> np.ndarray:
    """float32 [H, W, 1] mask -> uint8 [H, W, 1] image (white = missing), the inverse of :func:`from_image`."""
    return (np.asarray(mask) > 0.5).astype(np.uint8) * 255


GENERATED = ("center", "boxes", "strokes")
"""The masks :func:`from_spec` generates by name."""


def from_spec(spec: str, shape: tuple[int, int], option: str = "--mask") -> np.ndarray:
    """The float32 [H, W, 1] mask (1 = missing) that ``spec`` names, for images of ``shape`` (H, W).

    ``spec``: ``center`` (:func:`center_box`), ``boxes[:SEED]`` (:func:`random_boxes`),
    ``strokes[:SEED]`` (:func:`free_form`; SEED default 0), or a mask image file of size
    H x W, white (>= 128) = missing (:func:`from_image`); an existing file of a generated
    mask's name is read as a file. UserError naming ``option`` for anything else, a file of
    another size, or a mask with no missing or no known pixel."""
    kind, _, seed = spec.partition(":")
    height, width = shape
    if kind in GENERATED and not os.path.exists(spec):
        if not (seed or "0").isdigit() or (kind == "center" and seed):
            raise UserError(f"{option} {spec}: expected center, boxes[:SEED], strokes[:SEED] or an image file")
        key = jax.random.PRNGKey(int(seed or 0))
        make = {"center": lambda: center_box(height, width), "boxes": lambda: random_boxes(key, height, width),
                "strokes": lambda: free_form(key, height, width)}[kind]
        mask = np.asarray(make())
    elif not os.path.isfile(spec):
        raise UserError(f"{option} {spec}: no such file; expected a mask image (white = missing), "
                        f"center, boxes[:SEED] or strokes[:SEED]")
    else:
        from gan_jax.images import read_image  # masks stays a leaf module until a file is read

        pixels = read_image(spec, option)
        if pixels.shape[:2] != (height, width):
            raise UserError(f"{option} {spec}: {pixels.shape[0]}x{pixels.shape[1]}; expected {height}x{width}, "
                            f"the size of the image (white = missing)")
        mask = from_image(pixels)
    if not 0 < mask.sum() < mask.size:
        raise UserError(f"{option} {spec}: {'no' if mask.sum() == 0 else 'every'} pixel is missing; "
                        f"expected a hole (white = missing) and some known pixels")
    return mask
