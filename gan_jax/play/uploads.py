"""Images that come from the page: uploads, and the brush masks of the image editor.

Whatever arrives is read with Pillow inside the process (never executed or written
anywhere but the server's temporary directory), then fitted to what the model takes; every
conversion is named in a note the page shows.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, UnidentifiedImageError

from gan_jax.data.convert import convert_channels, resize_square, to_float
from gan_jax.errors import UserError

CHANNEL_NAMES = {1: "greyscale", 2: "greyscale with alpha", 3: "RGB", 4: "RGBA"}
MAX_SIDE = 512
"""Image-to-image inputs are shrunk to at most this many pixels a side (a page should answer in seconds)."""


def read(upload, what: str = "upload") -> np.ndarray:
    """An uploaded file (a path), a numpy array or a PIL image -> uint8 [H, W, C], C in 1..4.

    UserError naming ``what`` when it is missing or not an image."""
    if upload is None:
        raise UserError(f"{what}: no image; expected an image file (PNG, JPEG, ...)")
    if isinstance(upload, dict) and "path" in upload:  # a FileData payload
        upload = upload["path"]
    if isinstance(upload, np.ndarray):
        pixels = upload
    elif isinstance(upload, Image.Image):
        pixels = _pixels(upload)
    else:
        try:
            with Image.open(upload) as img:
                pixels = _pixels(img)
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as e:
            name = str(upload).rsplit("/", 1)[-1]
            raise UserError(f"{what} {name}: not an image ({type(e).__name__}); expected an image file "
                            f"(PNG, JPEG, ...)") from None
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[-1] not in CHANNEL_NAMES or min(pixels.shape[:2]) < 1:
        raise UserError(f"{what}: an array of shape {list(pixels.shape)}; expected an image [H, W, 1..4]")
    if pixels.dtype != np.uint8:
        pixels = np.clip(np.rint(pixels.astype(np.float64)), 0, 255).astype(np.uint8)
    return pixels


def _pixels(img: Image.Image) -> np.ndarray:
    """A PIL image as uint8 [H, W] or [H, W, C]: L, LA, RGB and RGBA kept, other modes converted."""
    img.load()
    if img.mode not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in img.getbands() else "L" if img.mode in ("1", "I", "I;16", "F") else "RGB")
    return np.asarray(img)


def _plain(pixels: np.ndarray) -> np.ndarray:
    """Drop what carries nothing: an alpha channel that is opaque everywhere, and the copies of RGB
    whose three channels are equal (a greyscale image stored as colour, as the page shows grey ones)."""
    if pixels.shape[-1] in (2, 4) and (pixels[..., -1] == 255).all():
        pixels = pixels[..., :-1]
    if pixels.shape[-1] == 3 and (pixels[..., :1] == pixels[..., 1:]).all():
        pixels = pixels[..., :1]
    return pixels


def _channels(pixels: np.ndarray, channels: int, notes: list[str]) -> np.ndarray:
    pixels = _plain(pixels)
    c = pixels.shape[-1]
    if c != channels:
        notes.append(f"converted {CHANNEL_NAMES[c]} to {CHANNEL_NAMES[channels]}")
    return convert_channels(pixels, channels, "upload")


def fit(pixels: np.ndarray, resolution: int, channels: int) -> tuple[np.ndarray, list[str]]:
    """uint8 [H, W, C] -> (float32 [R, R, channels] in [-1, 1], notes): the model's input.

    Other channel counts are converted (luminance of RGB, grey repeated, alpha dropped);
    other sizes are centre-cropped to a square and resized (Lanczos). ``notes`` names each
    conversion (empty when the image already fits)."""
    notes: list[str] = []
    pixels = _channels(pixels, channels, notes)
    h, w = pixels.shape[:2]
    if (h, w) != (resolution, resolution):
        crop = " (centre-cropped to a square)" if h != w else ""
        notes.append(f"resized from {w}x{h} to {resolution}x{resolution}{crop}")
        pixels = resize_square(pixels, resolution)
    return to_float(pixels), notes


def fit_channels(pixels: np.ndarray, channels: int, max_side: int = MAX_SIDE) -> tuple[np.ndarray, list[str]]:
    """uint8 [H, W, C] -> (float32 [H', W', channels] in [-1, 1], notes) for image-to-image
    runs, which take any size: only the channels are converted, and images larger than
    ``max_side`` a side are shrunk to it (aspect kept)."""
    notes: list[str] = []
    pixels = _channels(pixels, channels, notes)
    h, w = pixels.shape[:2]
    if max(h, w) > max_side:
        scale = max_side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        img = Image.fromarray(pixels[..., 0] if channels == 1 else pixels).resize(size, Image.LANCZOS)
        notes.append(f"shrunk from {w}x{h} to {size[0]}x{size[1]}")
        pixels = np.asarray(img).reshape(size[1], size[0], channels)
    return to_float(pixels), notes


def brush_mask(layers, shape: tuple[int, int], coverage: float = 0.25) -> np.ndarray:
    """The image editor's brush layers (uint8 [h, w, 4] each, or [h, w] / [h, w, C] masks,
    white = painted) -> float32 [H, W, 1], 1 where a pixel is missing.

    A layer's pixel is painted where its alpha is nonzero (without alpha: where its mean is at
    least 128, white = missing, as in ``gan-jax inpaint --mask``);
    layers of another size are area-averaged to ``shape`` and a pixel is missing where at
    least ``coverage`` of it is painted."""
    height, width = shape
    painted = np.zeros((height, width), np.float32)
    for layer in layers or ():
        if layer is None:
            continue
        layer = read(layer, "mask").astype(np.float32)
        paint = layer[..., -1] > 0 if layer.shape[-1] in (2, 4) else layer.mean(-1) >= 128
        if paint.shape != (height, width):
            img = Image.fromarray(paint.astype(np.float32), "F").resize((width, height), Image.BOX)
            paint = np.asarray(img) >= coverage
        painted = np.maximum(painted, paint.astype(np.float32))
    return painted[..., None]
