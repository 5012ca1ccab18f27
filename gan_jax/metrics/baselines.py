"""Model-free baselines for the image-to-image tasks, and the validation protocol that tunes them.

Every baseline is a pure function of float32 images in [-1, 1] (the project's convention),
``[H, W, C]`` for the photo tasks and ``[N, H, W, C]`` with masks ``[N, H, W, 1]`` (1 = missing)
for inpainting. Free parameters are in pixels, or in [0, 1] intensity units (the units of the
degradations' ``noise_sigma``), whatever the images' range.

* Super-resolution: :func:`bicubic_upscale`, :func:`lanczos_upscale`, :func:`bicubic_unsharp`
  (bicubic, then :func:`unsharp_mask`).
* Denoising: :func:`gaussian_denoise`, :func:`median_denoise`, :func:`nl_means_denoise`,
  :func:`tv_denoise` (scikit-image / SciPy).
* Inpainting: :func:`mean_fill`, :func:`biharmonic_fill`
  (``skimage.restoration.inpaint_biharmonic``), :func:`nearest_image_fill` (the hole copied from
  the training image nearest on the known pixels, or the mean of the ``k`` nearest).

Tuning: :func:`grid_search` picks a baseline's parameters on validation pairs alone (it is never
given the test images); :func:`check_disjoint` refuses a validation set that shares a name or an
image with the test set; :func:`tune_then_test` does both, then runs the chosen parameters on the
test pairs. ``SR_GRIDS`` and ``DENOISE_GRIDS`` are the grids ``experiments/img2img`` searches.
"""
from __future__ import annotations

import hashlib
import itertools
from typing import Callable, Mapping, Sequence

import numpy as np

# ---------------------------------------------------------------- helpers


def _to01(image) -> np.ndarray:
    return (np.asarray(image, np.float32) + 1.0) * 0.5


def _from01(image) -> np.ndarray:
    return np.clip(np.asarray(image, np.float32) * 2.0 - 1.0, -1.0, 1.0)


def _per_channel(fn: Callable, image: np.ndarray) -> np.ndarray:
    return np.stack([fn(image[..., c]) for c in range(image.shape[-1])], axis=-1)


# ---------------------------------------------------------------- super-resolution


def _resize(lr, scale: int, method: str) -> np.ndarray:
    import jax.numpy as jnp
    from jax import image as jimage

    h, w, c = np.shape(lr)
    out = jimage.resize(jnp.asarray(lr, jnp.float32), (h * scale, w * scale, c), method)
    return np.clip(np.asarray(out), -1.0, 1.0)


def bicubic_upscale(lr, scale: int) -> np.ndarray:
    """[h, w, C] -> [scale*h, scale*w, C]: bicubic (Keys, a = -0.5; ``jax.image.resize``, the
    same kernel as the SR generator's skip), clipped to [-1, 1]."""
    return _resize(lr, scale, "bicubic")


def lanczos_upscale(lr, scale: int) -> np.ndarray:
    """[h, w, C] -> [scale*h, scale*w, C]: Lanczos-3 (``jax.image.resize``), clipped to [-1, 1]."""
    return _resize(lr, scale, "lanczos3")


def unsharp_mask(image, radius: float, amount: float) -> np.ndarray:
    """``image + amount * (image - gaussian(image, radius))``, each channel on its own (the blur's
    sigma ``radius`` px, border: nearest), clipped to [-1, 1]; ``amount = 0`` returns the image."""
    from scipy import ndimage

    x = np.asarray(image, np.float32)
    blurred = _per_channel(lambda ch: ndimage.gaussian_filter(ch, radius, mode="nearest"), x)
    return np.clip(x + np.float32(amount) * (x - blurred), -1.0, 1.0)


def bicubic_unsharp(lr, scale: int, radius: float, amount: float) -> np.ndarray:
    """:func:`bicubic_upscale`, then :func:`unsharp_mask` of ``radius`` px and ``amount``."""
    return unsharp_mask(bicubic_upscale(lr, scale), radius, amount)


# ---------------------------------------------------------------- denoising


def gaussian_denoise(noisy, sigma: float) -> np.ndarray:
    """A Gaussian blur of std ``sigma`` px, each channel on its own (border: reflect)."""
    from scipy import ndimage

    x = np.asarray(noisy, np.float32)
    return np.clip(_per_channel(lambda ch: ndimage.gaussian_filter(ch, sigma), x), -1.0, 1.0)


def median_denoise(noisy, size: int) -> np.ndarray:
    """The median over a ``size`` x ``size`` window, each channel on its own (border: reflect)."""
    from scipy import ndimage

    x = np.asarray(noisy, np.float32)
    return _per_channel(lambda ch: ndimage.median_filter(ch, size=size), x)


def nl_means_denoise(noisy, h: float, noise_sigma: float, patch_size: int = 5,
                     patch_distance: int = 6) -> np.ndarray:
    """Non-local means (``skimage.restoration.denoise_nl_means``, fast mode, colour patches):
    ``h`` the filtering strength and ``noise_sigma`` the noise std, both in [0, 1] units."""
    from skimage.restoration import denoise_nl_means

    out = denoise_nl_means(_to01(noisy), h=h, sigma=noise_sigma, patch_size=patch_size,
                           patch_distance=patch_distance, fast_mode=True, channel_axis=-1)
    return _from01(out)


def tv_denoise(noisy, weight: float) -> np.ndarray:
    """Total-variation denoising (``skimage.restoration.denoise_tv_chambolle``, the channels
    denoised separately); ``weight`` on [0, 1] images (larger = smoother)."""
    from skimage.restoration import denoise_tv_chambolle

    return _from01(denoise_tv_chambolle(_to01(noisy), weight=weight, channel_axis=-1))


# ---------------------------------------------------------------- inpainting


def composite(images, fill, masks) -> np.ndarray:
    """``fill`` where ``masks`` > 0.5 (the hole), ``images`` elsewhere: float32 [N, H, W, C]."""
    return np.where(np.asarray(masks) > 0.5, fill, images).astype(np.float32)


def mean_fill(images, masks) -> np.ndarray:
    """The hole filled with each image's per-channel mean of its known pixels: [N, H, W, C]
    (as :func:`gan_jax.edit.mean_fill`); known pixels unchanged."""
    x, m = np.asarray(images, np.float32), np.asarray(masks, np.float32)
    known = 1.0 - m
    mean = (x * known).sum((1, 2)) / np.maximum(known.sum((1, 2)), 1.0)  # [N, C]
    return composite(x, np.broadcast_to(mean[:, None, None, :], x.shape), m)


def biharmonic_fill(images, masks) -> np.ndarray:
    """The hole filled by ``skimage.restoration.inpaint_biharmonic`` (the smooth fill whose
    bilaplacian vanishes in the hole), image by image: [N, H, W, C]; known pixels unchanged.
    Reproduces any linear ramp."""
    x, m = np.asarray(images, np.float32), np.asarray(masks) > 0.5
    from skimage.restoration import inpaint_biharmonic

    out = np.empty_like(x)
    for i in range(len(x)):
        if not m[i].any():
            out[i] = x[i]
            continue
        filled = inpaint_biharmonic(x[i], m[i, ..., 0], channel_axis=-1)
        out[i] = np.clip(filled, -1.0, 1.0)
    return composite(x, out, m)


def nearest_images(images, masks, train, k: int = 1, chunk: int = 256) -> np.ndarray:
    """Indices ``[N, k]`` of the ``k`` images of ``train`` [M, H, W, C] nearest each image on its
    known pixels (squared distance where the mask is 0), nearest first."""
    x = np.asarray(images, np.float32).reshape(len(images), -1)
    c = np.asarray(images).shape[-1]
    known = np.repeat(1.0 - np.asarray(masks, np.float32), c, axis=-1).reshape(len(images), -1)
    t = np.asarray(train, np.float32).reshape(len(train), -1)
    if t.shape[1] != x.shape[1]:
        raise ValueError(f"nearest_images: train images {np.shape(train)[1:]} differ from {np.shape(images)[1:]}")
    if not 1 <= k <= len(t):
        raise ValueError(f"nearest_images: k={k} must be in 1..{len(t)}")
    tt = t * t
    out = np.empty((len(x), k), np.int64)
    for s in range(0, len(x), chunk):
        xk, kn = x[s:s + chunk] * known[s:s + chunk], known[s:s + chunk]
        # sum_known (x - t)^2 = sum known x^2 - 2 (known x) . t + known . t^2  (float32 products)
        d = (xk * x[s:s + chunk]).sum(1)[:, None] - 2.0 * (xk @ t.T) + kn @ tt.T
        part = np.argpartition(d, k - 1, axis=1)[:, :k] if k < len(t) else np.tile(np.arange(len(t)), (len(d), 1))
        order = np.argsort(np.take_along_axis(d, part, 1), axis=1, kind="stable")
        out[s:s + chunk] = np.take_along_axis(part, order, 1)
    return out


def nearest_image_fill(images, masks, train, k: int = 1, indices=None) -> tuple[np.ndarray, np.ndarray]:
    """The hole copied from the training image nearest on the known pixels (``k = 1``), or the
    pixel mean of the ``k`` nearest: ``(filled [N, H, W, C], indices [N, k])``. ``indices``: the
    :func:`nearest_images` of these images, if already known (their first ``k`` columns are used).
    ``train`` must not hold the images being filled (else the fill is the answer itself)."""
    x, t = np.asarray(images, np.float32), np.asarray(train, np.float32)
    idx = nearest_images(x, masks, t, k) if indices is None else np.asarray(indices)[:, :k]
    if idx.shape[1] != k:
        raise ValueError(f"nearest_image_fill: {idx.shape[1]} indices per image, k={k}")
    return composite(x, t[idx].mean(1), masks), idx


# ---------------------------------------------------------------- tuning on validation data


def fingerprint(image) -> str:
    """A digest of an image's shape and pixels (float32), to catch the same image under two names."""
    a = np.ascontiguousarray(np.asarray(image, np.float32))
    return hashlib.sha1(repr(a.shape).encode() + a.tobytes()).hexdigest()


def check_disjoint(validation: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray]) -> None:
    """Raise ValueError if a validation image is a test image, by name or by pixels."""
    shared = sorted(set(validation) & set(test))
    if shared:
        raise ValueError(f"validation and test share {shared}")
    test_prints = {fingerprint(v): n for n, v in test.items()}
    for name, image in validation.items():
        if fingerprint(image) in test_prints:
            raise ValueError(f"validation image {name!r} is test image {test_prints[fingerprint(image)]!r}")


def parameter_grid(grid: Mapping[str, Sequence]) -> list[dict]:
    """Every combination of a grid ``{name: values}``, in order (the last name varies fastest)."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def grid_search(method: Callable, grid: Mapping[str, Sequence], validation: Sequence[tuple],
                score: Callable) -> tuple[dict, list[tuple[dict, float]]]:
    """The parameters of ``grid`` with the best mean ``score(method(input, **params), target)``
    (higher is better; the first of equal scores) over the ``(input, target)`` pairs of
    ``validation``: ``(best params, [(params, mean score), ...])``. Sees nothing but those pairs."""
    if not validation:
        raise ValueError("grid_search: no validation pairs")
    table = [(params, float(np.mean([score(method(x, **params), y) for x, y in validation])))
             for params in parameter_grid(grid)]
    best = max(range(len(table)), key=lambda i: (table[i][1], -i))
    return dict(table[best][0]), table


def tune_then_test(method: Callable, grid: Mapping[str, Sequence], validation: Mapping[str, tuple],
                   test: Mapping[str, tuple], score: Callable) -> tuple[dict, dict[str, np.ndarray], list]:
    """Choose ``method``'s parameters on ``validation`` (``{name: (input, target)}``) by
    :func:`grid_search`, after :func:`check_disjoint` on the inputs and on the targets, then apply
    them to each input of ``test``: ``(chosen params, {test name: output}, grid_search's table of
    validation scores)``."""
    check_disjoint({n: y for n, (_, y) in validation.items()}, {n: y for n, (_, y) in test.items()})
    check_disjoint({n: x for n, (x, _) in validation.items()}, {n: x for n, (x, _) in test.items()})
    chosen, table = grid_search(method, grid, list(validation.values()), score)
    return chosen, {n: method(x, **chosen) for n, (x, _) in test.items()}, table


SR_GRIDS = {"bicubic + unsharp mask": {"radius": (0.5, 1.0, 1.5, 2.0, 3.0),
                                       "amount": (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)}}
"""Grids of the SR baselines with free parameters (bicubic and Lanczos have none)."""

DENOISE_GRIDS = {"Gaussian blur": {"sigma": (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5)},
                 "median": {"size": (3, 5, 7)},
                 "non-local means": {"h": (0.04, 0.06, 0.08, 0.10, 0.12, 0.14)},
                 "total variation": {"weight": (0.02, 0.04, 0.06, 0.08, 0.10, 0.12, 0.15)}}
"""Grids of the denoising baselines (``non-local means`` also gets the known noise sigma)."""
