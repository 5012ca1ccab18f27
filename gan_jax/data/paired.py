"""Paired and unpaired data for the image-to-image tasks.

Degradations are pure functions of float32 images ``[N, H, W, C]`` in [-1, 1] (and, for
random ones, a numpy ``Generator``): they turn a target image into the source a model
learns to invert.

* :func:`add_noise` (denoising), :func:`greyscale` (colourisation), :func:`sobel_edges`
  (edges -> image), :func:`downscale` (super-resolution, antialiased bicubic),
  :func:`inpaint_source` with :func:`masks` (inpainting; masks from :mod:`gan_jax.data.masks`).

A :class:`PairedSource` wraps an image source and yields ``{"source", "target"}``
batches; an :class:`UnpairedSource` yields ``{"a", "b"}`` batches of two unrelated
sources (CycleGAN). Both have ``make_batch(indices, rng)``, which :class:`~gan_jax.data.Batches`
calls with a generator seeded by (seed, step), so a resumed run sees the same batches.
The task modules (:mod:`gan_jax.tasks`) build a config's training (or held-out) source from these.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.data.convert import to_float
from gan_jax.data.load import load_source
from gan_jax.data.source import ImageSource
from gan_jax.errors import UserError

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def add_noise(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise of std ``sigma`` in [0, 1] pixel units, clipped to [-1, 1]."""
    noise = rng.standard_normal(x.shape, dtype=np.float32) * np.float32(2 * sigma)
    return np.clip(x + noise, -1.0, 1.0)


def luminance(x: np.ndarray) -> np.ndarray:
    """[..., C] -> [..., 1]: ITU-R 601 luma of RGB, the image itself if grey."""
    return x if x.shape[-1] == 1 else (x[..., :3] @ _LUMA)[..., None]


def greyscale(x: np.ndarray) -> np.ndarray:
    """The luminance, repeated over the channels (the source of colourisation)."""
    return np.repeat(luminance(x), x.shape[-1], axis=-1)


def sobel_edges(x: np.ndarray, threshold: float = 0.25) -> np.ndarray:
    """Edge maps: dark lines (-1) where the Sobel gradient magnitude of the luminance (in
    [0, 1] pixel units) exceeds ``threshold``, white (1) elsewhere; [N, H, W, C]."""
    lum = np.pad(luminance(x)[..., 0] * 0.5 + 0.5, ((0, 0), (1, 1), (1, 1)), mode="edge")
    window = lambda dy, dx: lum[:, 1 + dy:lum.shape[1] - 1 + dy, 1 + dx:lum.shape[2] - 1 + dx]  # noqa: E731
    gx = (window(-1, 1) + 2 * window(0, 1) + window(1, 1)) - (window(-1, -1) + 2 * window(0, -1) + window(1, -1))
    gy = (window(1, -1) + 2 * window(1, 0) + window(1, 1)) - (window(-1, -1) + 2 * window(-1, 0) + window(-1, 1))
    edges = np.hypot(gx, gy) > threshold * 4  # a unit step gives magnitude 4
    return np.repeat(np.where(edges, -1.0, 1.0).astype(np.float32)[..., None], x.shape[-1], axis=-1)


@functools.partial(jax.jit, static_argnames="factor")
def _downscale(x, factor: int):
    n, h, w, c = x.shape
    return jax.image.resize(x, (n, h // factor, w // factor, c), "bicubic", antialias=True)


def downscale(x: np.ndarray, factor: int) -> np.ndarray:
    """[N, H, W, C] -> [N, H / factor, W / factor, C]: bicubic with antialiasing (the kernel
    widened by ``factor``, as MATLAB's ``imresize``), the usual SR degradation."""
    if x.shape[1] % factor or x.shape[2] % factor:
        raise ValueError(f"downscale: {x.shape[1]}x{x.shape[2]} is not divisible by {factor}")
    return np.asarray(_downscale(jnp.asarray(x, jnp.float32), factor))


def masks(kind: str, num: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``num`` inpainting masks float32 [num, size, size, 1], 1 = missing: ``mask_center`` (the
    centre half square, :func:`gan_jax.data.masks.center_box`) or ``mask_box`` (random boxes,
    :func:`gan_jax.data.masks.random_boxes`)."""
    from gan_jax.data import masks as m

    if kind == "mask_center":
        return np.broadcast_to(np.asarray(m.center_box(size, size)), (num, size, size, 1)).copy()
    if kind == "mask_box":
        keys = jax.random.split(jax.random.PRNGKey(int(rng.integers(2 ** 31))), num)
        return np.asarray(jax.vmap(lambda k: m.random_boxes(k, size, size))(keys))
    raise ValueError(f"unknown mask kind {kind!r}; expected mask_center or mask_box")


def inpaint_source(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The inpainting model's input: the image with its hole set to 0 (mid-grey) and the mask
    (1 = missing) as one more channel: [..., C + 1]."""
    image, mask = np.asarray(image, np.float32), np.asarray(mask, np.float32)
    return np.concatenate([image * (1.0 - mask), mask], axis=-1)


def degrade(x: np.ndarray, kind: str, rng: np.random.Generator, *, noise_sigma: float = 0.1,
            scale: int = 4) -> np.ndarray:
    """The source made from targets ``x`` by ``kind``: noise, grey, edges, downscale,
    mask_center or mask_box."""
    if kind == "noise":
        return add_noise(x, noise_sigma, rng)
    if kind == "grey":
        return greyscale(x)
    if kind == "edges":
        return sobel_edges(x)
    if kind == "downscale":
        return downscale(x, scale)
    if kind in ("mask_center", "mask_box"):
        return inpaint_source(x, masks(kind, len(x), x.shape[1], rng))
    raise ValueError(f"unknown degradation {kind!r}")


class PairedSource:
    """``{"source": degrade(target), "target"}`` batches from the images of ``base``."""

    def __init__(self, base: ImageSource, kind: str, *, noise_sigma: float = 0.1, scale: int = 4):
        self.base, self.kind = base, kind
        self.noise_sigma, self.scale = noise_sigma, scale
        self.name = f"{base.name} ({kind})"
        self.resolution, self.channels = base.resolution, base.channels
        self.labels, self.num_classes = None, None

    def __len__(self) -> int:
        return len(self.base)

    def make_batch(self, indices, rng: np.random.Generator) -> dict:
        target = to_float(self.base.get(indices)[0])
        return {"source": degrade(target, self.kind, rng, noise_sigma=self.noise_sigma, scale=self.scale),
                "target": target}


class UnpairedSource:
    """``{"a", "b"}`` batches: the indexed images of ``a`` and as many random images of ``b``."""

    def __init__(self, a: ImageSource, b: ImageSource):
        if (a.resolution, a.channels) != (b.resolution, b.channels):
            raise ValueError("UnpairedSource: both domains must have the same resolution and channels")
        self.a, self.b = a, b
        self.name = f"{a.name} <-> {b.name}"
        self.resolution, self.channels = a.resolution, a.channels
        self.labels, self.num_classes = None, None

    def __len__(self) -> int:
        return len(self.a)

    def make_batch(self, indices, rng: np.random.Generator) -> dict:
        b_indices = rng.integers(len(self.b), size=len(np.asarray(indices).reshape(-1)))
        return {"a": to_float(self.a.get(indices)[0]), "b": to_float(self.b.get(b_indices)[0])}


def load_domain(spec: str, *, resolution: int, channels: int, tfds_data_dir: str | None = None) -> ImageSource:
    """A dataset spec, or ``SPEC#K``: only the images of class K of a labelled dataset."""
    base, sep, label = spec.rpartition("#")
    if not sep:
        return load_source(spec, resolution=resolution, channels=channels, tfds_data_dir=tfds_data_dir)
    source = load_source(base, resolution=resolution, channels=channels, tfds_data_dir=tfds_data_dir)
    if source.labels is None or not hasattr(source, "images"):
        raise UserError(f"dataset {spec}: #K selects a class of an in-memory labelled dataset; "
                        f"{base} has no labels in memory")
    if not label.isdigit() or not np.any(source.labels == int(label)):
        raise UserError(f"dataset {spec}: no images of class {label!r}; expected #K with K in "
                        f"0..{int(source.labels.max())}")
    keep = source.labels == int(label)
    return ImageSource(spec, source.images[keep], source.labels[keep])
