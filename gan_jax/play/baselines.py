"""The plain, model-free result an image-to-image run is shown against on the page.

* super-resolution (a run that offers ``upscale``, SRGAN): bicubic upscaling by the run's factor;
* denoising (``degrade=noise``, pix2pix): a Gaussian blur;
* every other translation (colourisation, edges, CycleGAN): the input as it is.
(Inpainting is shown against the harmonic fill, :func:`gan_jax.edit.diffusion_fill`.)
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from gan_jax.data.convert import to_float
from gan_jax.images import to_uint8

BLUR_RADIUS = 1.0
"""The Gaussian blur's standard deviation in pixels (denoising baseline)."""


def _pil(image: np.ndarray) -> Image.Image:
    pixels = to_uint8(image)
    return Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)


def _array(img: Image.Image, channels: int) -> np.ndarray:
    return to_float(np.asarray(img).reshape(img.height, img.width, channels))


def bicubic(image: np.ndarray, scale: int) -> np.ndarray:
    """float32 [H, W, C] in [-1, 1] -> [scale*H, scale*W, C], bicubic."""
    h, w, c = image.shape
    return _array(_pil(image).resize((w * scale, h * scale), Image.BICUBIC), c)


def blur(image: np.ndarray, radius: float = BLUR_RADIUS) -> np.ndarray:
    """float32 [H, W, C] in [-1, 1], Gaussian-blurred (std ``radius`` pixels)."""
    return _array(_pil(image).filter(ImageFilter.GaussianBlur(radius)), image.shape[-1])


def baseline(config, image: np.ndarray) -> tuple[np.ndarray, str]:
    """``(baseline image, its name)`` for the input ``image`` [H, W, C] of an image-to-image run."""
    from gan_jax import tasks

    if tasks.supports(config, "upscale"):
        return bicubic(image, config.scale), f"bicubic x{config.scale}"
    if config.degrade == "noise":
        return blur(image), f"Gaussian blur (sigma {BLUR_RADIUS:g} px)"
    return image, "the input"
