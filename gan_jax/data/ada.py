"""Adaptive discriminator augmentation's augmentations (Karras et al. 2020, "Training Generative
Adversarial Networks with Limited Data"), pure JAX and differentiable w.r.t. the images.

Each op of the pipeline is applied to each image independently with probability ``p``;
its parameters are drawn with the paper's distributions:

* geometric ("blit" and "geom"), composed into one affine map per image and applied by
  bilinear sampling with mirrored borders: ``xflip`` (x -> -x), ``rotate90`` (k * 90 degrees),
  ``xint`` (integer translation, U(-0.125, 0.125) of the size), ``scale`` (isotropic,
  2^N(0, 0.2)), ``rotate`` (U(-180, 180) degrees, twice, each with probability
  1 - sqrt(1 - p)), ``aniso`` (2^N(0, 0.2) in x, its inverse in y), ``xfrac`` (fractional
  translation, N(0, 0.125) of the size);
* colour, composed into one affine map of (R, G, B, 1) per image: ``brightness`` (+N(0, 0.2)),
  ``contrast`` (x 2^N(0, 0.5)), ``lumaflip`` (reflect about the luma axis v = (1, 1, 1)/sqrt 3),
  ``hue`` (rotate about v by U(-180, 180) degrees), ``saturation`` (scale the part
  orthogonal to v by 2^N(0, 1)). Greyscale images are treated as (g, g, g) and the mean of
  the three output channels is kept.

At p = 0 every map is the identity and :func:`augment` returns the images unchanged.
The parameters (:func:`sample_params`) and their application (:func:`apply`) are separate
so that a data-parallel step can draw them for the global batch and apply its rows.
Images [B, H, W, C] float in [-1, 1] (C 1 or 3); the pipeline is a static tuple of names.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
PRESETS = {"blit": GEOMETRIC[:3], "geom": GEOMETRIC[3:], "color": COLOR,
           "bg": GEOMETRIC, "bgc": GEOMETRIC + COLOR}
"""Named pipelines: ``bgc`` is the paper's default."""

_LUMA = np.array([1.0, 1.0, 1.0, 0.0], np.float32) / np.float32(math.sqrt(3.0))  # numpy: no JAX at import
_DRAWS = 24  # uniforms (and normals) per image: enough for every op
_GEOMETRIC_ORDER = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "rotate_post", "xfrac")


def parse_pipeline(spec: str) -> tuple[str, ...]:
    """``bgc``/``bg``/``blit``/``geom``/``color`` or comma-separated op names -> the ops in
    the paper's order; ValueError naming an unknown op. '' -> ()."""
    names: list[str] = []
    for part in (s.strip() for s in spec.split(",") if s.strip()):
        if part in PRESETS:
            names.extend(PRESETS[part])
        elif part in GEOMETRIC + COLOR:
            names.append(part)
        else:
            raise ValueError(f"unknown ADA op {part!r}; expected a preset ({', '.join(PRESETS)}) or ops from "
                             f"{', '.join(GEOMETRIC + COLOR)}")
    return tuple(op for op in GEOMETRIC + COLOR if op in names)


class AugmentParams(NamedTuple):
    """One batch's augmentation: per-image affine maps."""
    geometry: jax.Array
    """[B, 3, 3]: output pixel (x, y, 1) -> input pixel, both centred on the image centre."""
    color: jax.Array
    """[B, 4, 4]: (r, g, b, 1) -> augmented (r, g, b, 1)."""


# --------------------------------------------------------------------------- 3x3 and 4x4 matrices

def _matrix(*rows):
    """Stack [B] (or scalar) entries into [B, n, n]."""
    rows = [jnp.stack(jnp.broadcast_arrays(*r), axis=-1) for r in rows]
    return jnp.stack(rows, axis=-2)


def _translate2d(tx, ty):
    o, z = jnp.ones_like(tx), jnp.zeros_like(tx)
    return _matrix((o, z, tx), (z, o, ty), (z, z, o))


def _scale2d(sx, sy):
    o, z = jnp.ones_like(sx), jnp.zeros_like(sx)
    return _matrix((sx, z, z), (z, sy, z), (z, z, o))


def _rotate2d(theta):
    c, s = jnp.cos(theta), jnp.sin(theta)
    o, z = jnp.ones_like(theta), jnp.zeros_like(theta)
    return _matrix((c, -s, z), (s, c, z), (z, z, o))


def _translate3d(t):
    o, z = jnp.ones_like(t), jnp.zeros_like(t)
    return _matrix((o, z, z, t), (z, o, z, t), (z, z, o, t), (z, z, z, o))


def _scale3d(s):
    o, z = jnp.ones_like(s), jnp.zeros_like(s)
    return _matrix((s, z, z, z), (z, s, z, z), (z, z, s, z), (z, z, z, o))


def _rotate_about_luma(theta):
    """Rodrigues' rotation by theta [B] about v = (1, 1, 1)/sqrt 3, in homogeneous 4x4."""
    v = _LUMA[:3]
    k = jnp.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    c, s = jnp.cos(theta)[:, None, None], jnp.sin(theta)[:, None, None]
    r = c * jnp.eye(3) + s * k + (1 - c) * jnp.outer(v, v)
    out = jnp.zeros(theta.shape + (4, 4)).at[:, :3, :3].set(r)
    return out.at[:, 3, 3].set(1.0)


def _where(apply, matrix, identity_size):
    """Per image: ``matrix`` where ``apply`` [B] else the identity."""
    return jnp.where(apply[:, None, None], matrix, jnp.eye(identity_size))


# --------------------------------------------------------------------------- drawing the parameters

def sample_params(key, batch: int, p, ops: tuple[str, ...], size: tuple[int, int]) -> AugmentParams:
    """Draw ``batch`` images' maps: each op of ``ops`` with probability ``p`` (a float or
    float []); ``size`` = (H, W) in pixels."""
    h, w = size
    # Two draws for everything (fewer random-number kernels to compile): uniforms and normals,
    # one column per use.
    k_uniform, k_normal = jax.random.split(key)
    uniforms = iter(jnp.moveaxis(jax.random.uniform(k_uniform, (batch, _DRAWS)), 1, 0))
    normals = iter(jnp.moveaxis(jax.random.normal(k_normal, (batch, _DRAWS)), 1, 0))
    p = jnp.asarray(p, jnp.float32)

    def chance(prob=None):
        return next(uniforms) < (p if prob is None else prob)

    def normal():
        return next(normals)

    def uniform(low, high):
        return low + (high - low) * next(uniforms)

    def integer(n):  # uniform in 0 .. n - 1
        return jnp.minimum(jnp.floor(n * next(uniforms)), n - 1)

    geometry = jnp.broadcast_to(jnp.eye(3), (batch, 3, 3))
    color = jnp.broadcast_to(jnp.eye(4), (batch, 4, 4))
    p_rot = 1.0 - jnp.sqrt(jnp.clip(1.0 - p, 0.0, 1.0))  # two rotations: P(rotated at all) = p
    order = [op for op in _GEOMETRIC_ORDER if op in ops or (op == "rotate_post" and "rotate" in ops)]
    for op in order:  # each map is composed after the ones before it (output -> input pixel)
        if op == "xflip":
            m = _scale2d(1.0 - 2.0 * integer(2), jnp.ones((batch,))), chance()
        elif op == "rotate90":
            m = _rotate2d(-jnp.pi / 2 * integer(4)), chance()
        elif op == "xint":
            tx, ty = uniform(-0.125, 0.125), uniform(-0.125, 0.125)
            m = _translate2d(jnp.round(tx * w), jnp.round(ty * h)), chance()
        elif op == "scale":
            s = jnp.exp2(0.2 * normal())
            m = _scale2d(s, s), chance()
        elif op in ("rotate", "rotate_post"):
            m = _rotate2d(uniform(-jnp.pi, jnp.pi)), chance(p_rot)
        elif op == "aniso":
            s = jnp.exp2(0.2 * normal())
            m = _scale2d(s, 1.0 / s), chance()
        else:  # xfrac
            m = _translate2d(0.125 * normal() * w, 0.125 * normal() * h), chance()
        geometry = geometry @ _where(m[1], m[0], 3)
    for op in (op for op in COLOR if op in ops):  # each map is applied after the ones before it
        if op == "brightness":
            m = _translate3d(0.2 * normal())
        elif op == "contrast":
            m = _scale3d(jnp.exp2(0.5 * normal()))
        elif op == "lumaflip":
            m = jnp.eye(4) - 2.0 * jnp.outer(_LUMA, _LUMA) * integer(2)[:, None, None]
        elif op == "hue":
            m = _rotate_about_luma(uniform(-jnp.pi, jnp.pi))
        else:  # saturation
            vv = jnp.outer(_LUMA, _LUMA)
            m = vv + (jnp.eye(4) - vv) * jnp.exp2(normal())[:, None, None]
        color = _where(chance(), m, 4) @ color
    return AugmentParams(geometry, color)


# --------------------------------------------------------------------------- applying them

def _mirror(i, n: int):
    """Integer pixel indices reflected into [0, n - 1] (period 2n - 2, edges not repeated)."""
    if n == 1:
        return jnp.zeros_like(i)
    period = 2 * n - 2
    i = jnp.mod(i, period)
    return jnp.where(i > n - 1, period - i, i)


def warp(images, geometry):
    """Bilinear resampling of images [B, H, W, C] at geometry [B, 3, 3] @ (x, y, 1) of every
    output pixel (centred coordinates), mirrored at the borders. Linear in the images."""
    b, h, w, c = images.shape
    ys, xs = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32) - (h - 1) / 2,
                          jnp.arange(w, dtype=jnp.float32) - (w - 1) / 2, indexing="ij")
    grid = jnp.stack([xs, ys, jnp.ones_like(xs)], axis=-1).reshape(-1, 3)  # [HW, 3]
    src = jnp.einsum("bij,nj->bni", geometry, grid)  # [B, HW, 3]
    x, y = src[..., 0] + (w - 1) / 2, src[..., 1] + (h - 1) / 2
    x0, y0 = jnp.floor(x), jnp.floor(y)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = x0.astype(jnp.int32), y0.astype(jnp.int32)
    flat = images.reshape(b, h * w, c)

    def at(yi, xi):  # [B, HW, C]
        index = _mirror(yi, h) * w + _mirror(xi, w)
        return jnp.take_along_axis(flat, index[..., None], axis=1)

    top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
    bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
    return (top * (1 - fy) + bottom * fy).reshape(b, h, w, c)


def recolor(images, color):
    """Apply color [B, 4, 4] to images [B, H, W, C] (C = 3: per pixel; C = 1: as grey (g, g, g),
    keeping the mean of the three outputs)."""
    if images.shape[-1] == 3:
        return jnp.einsum("bij,bhwj->bhwi", color[:, :3, :3], images) + color[:, None, None, :3, 3]
    rows = color[:, :3, :].mean(axis=1)  # [B, 4]
    return images * rows[:, None, None, None, :3].sum(-1) + rows[:, None, None, None, 3]


def apply(images, params: AugmentParams, ops: tuple[str, ...] = GEOMETRIC + COLOR):
    """The augmented images [B, H, W, C]: geometry then colour (each skipped at trace time
    when ``ops`` has none of its kind).

    The warp is also skipped at run time (``lax.cond``) when every image's geometry is the
    identity, where it would return the images unchanged: ADA keeps p small for most of a run
    that does not overfit (at p = 1e-4 a batch of 32 draws no geometric op about 98 % of the time),
    and the warp and its gradient cost about 7 % of a 28 px StyleGAN2 step
    (``benchmarks/step_variants.py``; ``experiments/stylegan/results.md``).
    """
    if any(op in GEOMETRIC for op in ops):
        untouched = jnp.all(params.geometry == jnp.eye(3, dtype=params.geometry.dtype))
        images = jax.lax.cond(untouched, lambda x: x, lambda x: warp(x, params.geometry), images)
    if any(op in COLOR for op in ops):
        images = recolor(images, params.color)
    return images


def augment(images, key, p, ops: tuple[str, ...]):
    """ADA on images [B, H, W, C]: each op of ``ops`` with probability ``p`` per image."""
    params = sample_params(key, images.shape[0], p, ops, images.shape[1:3])
    return apply(images, params, ops)


def adjust_p(p, sign_mean, target: float, images_seen: float, kimg: float):
    """ADA's controller: p + sign(r_t - target) * images_seen / (kimg * 1000), clipped to [0, 1].

    ``sign_mean`` is r_t = E[sign(D(real))] over the interval; ``images_seen`` the real
    images shown to D since the last adjustment."""
    return jnp.clip(p + jnp.sign(sign_mean - target) * images_seen / (kimg * 1000.0), 0.0, 1.0)


__all__ = ["AugmentParams", "COLOR", "GEOMETRIC", "PRESETS", "adjust_p", "apply", "augment", "parse_pipeline",
           "recolor", "sample_params", "warp"]
