"""The latent spaces a run's images are edited in: z for every GAN that samples, and W and W+
for a style-based generator (StyleGAN2), as the run's task offers them.

A :class:`LatentSpace` is what the editing functions need of one space: how to sample its
latents, turn them into images, its first layer (SeFa), what GANSpace takes the principal
components of, its mean latent and, for inversion with noise maps, the unclipped synthesis.
The operations of the editing commands take one (:func:`path_images`, :func:`invert`,
:func:`direction`, :func:`strip`, :func:`mixing_grid`) instead of assuming z.

* ``z``: z ~ N(0, I) [Z] through the whole generator (:func:`gan_jax.sampling.latent_generator`).
  Interpolation: slerp. SeFa: G's first layer. GANSpace: principal components of G's first
  block (of a style-based G: of w = mapping(z)), carried back to z by least squares.
  Inversion: Adam from random z (:func:`gan_jax.edit.invert.invert`).
* ``w``: w = mapping(z) [W] (truncated to the run's ``truncation_psi``), one w for every
  layer of the synthesis network. Interpolation: lerp. SeFa: the first modulation layer's
  affine map A (styles = A w + b): the top eigenvectors of A^T A. GANSpace: principal
  components of sampled w's. Inversion: the StyleGAN2 projector
  (:mod:`gan_jax.edit.projector`) from the mean w, with the noise maps.
* ``w+``: one w per synthesis layer, [L, W]. Its random latents and its directions are W's
  (a direction d [W] moves every row); inversion optimises every row; style mixing takes
  the rows before a crossover from one latent and the rest from another (:func:`mix`).

A task offers W and W+ with its ``style_space`` operation (``gan_jax.tasks.style``); other
runs that sample have z only. The ``z`` space of a DCGAN run computes exactly what the
z-only functions compute (:func:`gan_jax.edit.directions.strip`, ...): tested bit for bit.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import zipfile
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.edit.directions import (STYLE_ATTRIBUTES, DirectionSpec, attribute_direction, classifier_labels,
                                     classifier_score, first_block_features_in_chunks, first_layer_weight, ganspace,
                                     load_vectors, move, pca, sefa, within_class_direction)
from gan_jax.edit.interpolate import interpolate
from gan_jax.errors import UserError

SPACES = ("z", "w", "w+")
"""Every space name a run may offer."""
NUM_SPREAD_SAMPLES = 10000
"""Latents sampled for the projector's sigma_w (the reference projector's 10,000)."""


@dataclasses.dataclass(frozen=True, eq=False)
class LatentSpace:
    """One latent space of a run; every function takes the generator's variables first.

    Built once per (config, class) by :func:`spaces` (cached), so that jitted functions that
    take its functions as static arguments compile once."""
    name: str
    shape: tuple[int, ...]
    """One latent: (Z,), (W,) or (L, W)."""
    sample: Callable
    """``sample(variables, key, batch) -> latents [*batch, *shape]``: the latents of random images."""
    generate: Callable
    """``generate(variables, latents [N, *shape]) -> images [N, H, W, C]`` in [-1, 1]."""
    sefa_weight: Callable
    """``sefa_weight(variables) -> [D, dim]``: the first layer's weight (its output = weight @ latent + b)."""
    interpolation: str = "slerp"
    """The interpolation of ``gan-jax interpolate`` by default: slerp for Gaussian z, lerp in W."""
    features: Callable | None = None
    """GANSpace: ``features(variables, latents [N, dim], progress) -> [N, F]``, whose principal
    components are carried back to the latents by least squares; None: the principal
    components of the latents themselves."""
    mean: Callable | None = None
    """``mean(variables) -> [*shape]``: the run's tracked mean latent (w_avg; the truncation
    trick's centre). None: the latents are z ~ N(0, I) (mean 0), inverted from random restarts."""
    synthesis: Callable | None = None
    """``synthesis(variables, latents [N, *shape], noise) -> images`` not clipped, ``noise`` one
    [N, H, W, 1] map per ``noise_shapes`` entry: what the projector differentiates. None: no noise inputs."""
    noise_shapes: tuple = ()
    """(H, W) of each noise map the synthesis network takes."""
    directions: LatentSpace | None = None
    """The space whose latents directions are found on, when not this one (W+: W)."""
    codes: int = 0
    """Categories of a code read off the latent's first entries (``latent_code``,
    ``cluster_code``; 0: none): inversion starts its restarts in the codes that fit best."""

    @property
    def dim(self) -> int:
        """The size of a direction (a latent's last axis)."""
        return self.shape[-1]

    @property
    def fit(self) -> LatentSpace:
        """The space whose samples SeFa, GANSpace and InterFaceGAN directions are found on."""
        return self.directions or self

    @property
    def layers(self) -> int | None:
        """L, the rows of a per-layer latent (W+); None for one vector per image."""
        return self.shape[0] if len(self.shape) == 2 else None


# --------------------------------------------------------------------------- the spaces of a run

def z_space(config, label: int | None = None, features: Callable | None = None) -> LatentSpace:
    """The z space of a run that samples (conditional models: every image of class ``label``).
    ``features``: what GANSpace takes principal components of (default: G's first block)."""
    from gan_jax import models, sampling
    from gan_jax.models.dcgan import inputs_beside_z, latent_codes

    g = sampling.latent_generator(config, label)
    z_dim = config.z_dim

    def sample(variables, key, batch):
        return jax.random.normal(key, (*batch, z_dim))

    def sefa_weight(variables):
        return first_layer_weight(variables["params"], z_dim, inputs_beside_z(config))

    def first_block(variables, z, progress=False):
        labels = None if label is None else jnp.full((z.shape[0],), label)
        return first_block_features_in_chunks(models.build(config)[0], variables, z, labels, progress=progress)

    return LatentSpace("z", (z_dim,), sample=sample, generate=g, sefa_weight=sefa_weight, interpolation="slerp",
                       features=features or first_block, codes=latent_codes(config))


def style_spaces(config, style: dict, label: int | None = None) -> dict[str, LatentSpace]:
    """``{"w": ..., "w+": ..., "z": ...}`` of a style-based generator described by ``style`` (a
    task's ``style_space(config)``: ``mapping``, ``synthesis``, ``raw_synthesis``, ``num_ws``,
    ``noise_shapes``, ``w_dim``, ``w_avg``, ``sefa_weight``)."""
    mapping, layers, w_dim, synthesis = style["mapping"], style["num_ws"], style["w_dim"], style["synthesis"]
    psi, z_dim = config.truncation_psi, config.z_dim

    def sample_w(variables, key, batch):
        z = jax.random.normal(key, (math.prod(batch), z_dim))
        return mapping(variables, z, psi).reshape(*batch, w_dim)

    def sample_w_plus(variables, key, batch):
        return jnp.broadcast_to(sample_w(variables, key, batch)[..., None, :], (*batch, layers, w_dim))

    def mean_w_plus(variables):
        return jnp.broadcast_to(style["w_avg"](variables), (layers, w_dim))

    def mapped(variables, z, progress=False):  # GANSpace in z: components of w, carried back to z
        return mapping(variables, z, psi)

    common = dict(generate=synthesis, sefa_weight=style["sefa_weight"], interpolation="lerp", features=None,
                  synthesis=style["raw_synthesis"], noise_shapes=tuple(tuple(s) for s in style["noise_shapes"]))
    w = LatentSpace("w", (w_dim,), sample=sample_w, mean=style["w_avg"], **common)
    w_plus = LatentSpace("w+", (layers, w_dim), sample=sample_w_plus, mean=mean_w_plus, directions=w, **common)
    return {"w": w, "w+": w_plus, "z": z_space(config, label, features=mapped)}


@functools.lru_cache(maxsize=16)
def _spaces(config, label, registry_version: int) -> dict[str, LatentSpace]:
    from gan_jax import tasks

    if not tasks.supports(config, "style_space"):
        return {"z": z_space(config, label)}
    return style_spaces(config, tasks.operation(config, "style_space")(config), label)


def spaces(config, label: int | None = None) -> dict[str, LatentSpace]:
    """The latent spaces of ``config``'s run by name, its default first (``w`` for a
    style-based generator, else ``z``); UserError naming ``--class`` for a class an
    unconditional model cannot take or a conditional model without one."""
    from gan_jax import registry

    return _spaces(config, label, registry.version())


def get(config, name: str | None = None, *, label: int | None = None, option: str = "--space",
        purpose: str | None = None) -> LatentSpace:
    """The run's latent space ``name`` (None: its default). UserError naming ``option`` when the
    run has no such space (``purpose``: what needed it, for the message)."""
    available = spaces(config, label)
    if name is None:
        return next(iter(available.values()))
    if name not in available:
        has = f"a model={config.model} run has {' and '.join(available)} only"
        what = f"{option}: {purpose} needs the latent space {name}, and {has}" if purpose else f"{option} {name}: {has}"
        raise UserError(f"{what}; w and w+ need a style-based generator (e.g. --config stylegan2_ada_mnist)")
    return available[name]


# --------------------------------------------------------------------------- files

def _read_array(path: str, option: str, expected: str):
    """The array of a ``.npy`` file, or ``{name: array}`` of a ``.npz`` file; UserError naming
    ``option`` (and what was ``expected``) for a missing or unreadable file."""
    if not os.path.isfile(path):
        raise UserError(f"{option} {path}: no such file; expected {expected}")
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                return {name: data[name] for name in data.files}
        return data
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise UserError(f"{option} {path}: not a .npy or .npz file ({type(e).__name__}); expected {expected}") from None


def load_latents(path: str, space: LatentSpace, option: str = "--latent") -> np.ndarray:
    """A ``.npy`` file of latents of ``space`` -> float32 [N, *shape]: [Z] / [N, Z] (z), [W] / [N, W]
    (w), [L, W] / [N, L, W] (w+). UserError naming ``option`` for a missing file, not an array,
    or another shape."""
    if len(space.shape) == 1:
        what = "the model's z_dim" if space.name == "z" else f"one {space.name} of the model"
        return load_vectors(path, space.dim, option, what)
    shape = list(space.shape)
    expected = f"a .npy array {shape} or [N, {', '.join(map(str, shape))}] (--space {space.name})"
    latents = _read_array(path, option, expected + " (e.g. latent.npy from gan-jax invert)")
    if isinstance(latents, dict):
        raise UserError(f"{option} {path}: a .npz file; expected {expected}")
    latents = latents[None] if latents.ndim == len(shape) else latents
    if latents.shape[1:] != tuple(shape) or not np.issubdtype(latents.dtype, np.number):
        raise UserError(f"{option} {path}: array of shape {list(latents.shape)}; expected {expected}")
    return latents.astype(np.float32)


def save_noise(maps, path: str) -> None:
    """Write noise maps (one [H, W] each, in order) as a ``.npz`` file (``noise_0``, ``noise_1``, ...); atomic."""
    from gan_jax.files import atomic_write

    with atomic_write(path) as f:
        np.savez(f, **{f"noise_{i}": np.asarray(m, np.float32) for i, m in enumerate(maps)})


def load_noise(path: str, space: LatentSpace, option: str = "--noise") -> tuple:
    """The noise maps of a ``.npz`` file from :func:`save_noise` (``gan-jax invert`` in w or w+):
    one float32 [H, W] per ``space.noise_shapes`` entry. UserError naming ``option`` when the space
    has no noise inputs, or for a missing file or maps of other shapes."""
    if not space.noise_shapes:
        raise UserError(f"{option} {path}: the {space.name} space has no noise inputs; expected --space w or w+")
    shapes = [list(s) for s in space.noise_shapes]
    expected = f"a .npz file of {len(shapes)} maps {shapes} (noise.npz from gan-jax invert)"
    data = _read_array(path, option, expected)
    if not isinstance(data, dict):
        raise UserError(f"{option} {path}: a .npy array; expected {expected}")
    maps = [data.get(f"noise_{i}") for i in range(len(shapes))]
    if len(data) != len(shapes) or not all(m is not None and list(m.shape) == s for m, s in zip(maps, shapes)):
        found = {k: list(v.shape) for k, v in sorted(data.items())}
        raise UserError(f"{option} {path}: maps {found}; expected {expected}")
    return tuple(np.asarray(m, np.float32) for m in maps)


# --------------------------------------------------------------------------- operations

def check_method(space: LatentSpace, method: str, option: str = "--method") -> None:
    """UserError naming ``option`` for an interpolation that does not suit ``space`` (slerp outside z)."""
    if method == "slerp" and space.mean is not None:
        raise UserError(f"{option} slerp: spherical interpolation is for Gaussian latents (--space z); "
                        f"in {space.name} use lerp")


def path_images(space: LatentSpace, variables, key: jax.Array, *, pairs: int, frames: int,
                method: str | None = None, option: str = "--method") -> np.ndarray:
    """Images [pairs, frames, H, W, C] in [-1, 1] along interpolation paths between ``pairs`` pairs
    of random latents of ``space`` drawn with ``key`` (both ends included); ``method``: slerp or
    lerp (None: the space's, lerp in W; slerp outside z is a UserError naming ``option``)."""
    method = method or space.interpolation
    check_method(space, method, option)
    ends = space.sample(variables, key, (2, pairs))
    latents = interpolate(ends[0], ends[1], frames, method)  # [P, T, *shape]
    images = np.asarray(jax.jit(space.generate)(variables, latents.reshape(-1, *space.shape)))
    return images.reshape(pairs, frames, *images.shape[1:])


def direction(spec: DirectionSpec, space: LatentSpace, variables, key: jax.Array, *, num_samples: int = 2000,
              progress: bool = False) -> jax.Array:
    """The direction [dim] of ``spec`` (sefa, ganspace, classifier, vector) in ``space``; ``key``
    draws the ``num_samples`` latents GANSpace and InterFaceGAN directions are fitted on."""
    fit = space.fit
    if spec.kind == "sefa":
        return sefa(fit.sefa_weight(variables), spec.index + 1)[spec.index]
    if spec.kind == "ganspace":
        latents = fit.sample(variables, key, (num_samples,))
        if fit.features is None:
            return pca(latents, spec.index + 1)[0][spec.index]
        return ganspace(fit.features(variables, latents, progress), latents, spec.index + 1)[spec.index]
    if spec.kind == "classifier":
        sample = None if fit.mean is None else fit.sample  # None: z ~ N(0, I), drawn inside
        return attribute_direction(fit.generate, variables, classifier_score(spec.classifier, spec.index), key,
                                   z_dim=fit.dim, num=num_samples, sample=sample)
    if spec.kind in STYLE_ATTRIBUTES:
        latents = fit.sample(variables, key, (num_samples,))
        images = jax.jit(fit.generate)(variables, latents)
        return within_class_direction(latents, STYLE_ATTRIBUTES[spec.kind](images),
                                      classifier_labels(spec.classifier)(images), spec.classifier.info["num_classes"])
    if spec.kind == "vector":
        return jnp.asarray(spec.vector)
    raise ValueError(f"{spec.text}: a {spec.kind} spec is not a latent direction")


def check_from_row(space: LatentSpace, from_row: int | None, option: str = "--from-row") -> None:
    """UserError naming ``option`` unless ``from_row`` is None or a row of a W+ space."""
    if from_row is None:
        return
    if not space.layers:
        raise UserError(f"{option} {from_row}: only in w+ (one w per synthesis layer); this edit is in {space.name}")
    if not 0 <= from_row < space.layers:
        raise UserError(f"{option} {from_row}: expected a row in 0..{space.layers - 1} of w+")


def rows_from(space: LatentSpace, d: jax.Array, from_row: int | None) -> jax.Array:
    """The step [*shape] that moves a latent along ``d`` [dim]: in W+ with ``from_row`` only its
    rows ``from_row`` .. L-1 (the finer styles), else every row (d itself)."""
    if from_row is None:
        return d
    return (jnp.arange(space.layers) >= from_row)[:, None] * d


@functools.partial(jax.jit, static_argnames="synthesis")
def _with_noise(synthesis, variables, latents, noise):
    maps = tuple(jnp.broadcast_to(m[None, :, :, None], (latents.shape[0], *m.shape, 1)) for m in noise)
    return jnp.clip(synthesis(variables, latents, maps), -1.0, 1.0)


def generate(space: LatentSpace, variables, latents: jax.Array, noise=None) -> np.ndarray:
    """Images [N, H, W, C] in [-1, 1] of latents [N, *shape]; ``noise``: noise maps ([H, W] each,
    shared by every image, e.g. from the projector) instead of the run's constant ones."""
    if noise is None:
        return np.asarray(jax.jit(space.generate)(variables, latents))
    return np.asarray(_with_noise(space.synthesis, variables, latents, tuple(jnp.asarray(m) for m in noise)))


def strip(spec: DirectionSpec, space: LatentSpace, config, variables, latents: jax.Array, strengths: jax.Array,
          key: jax.Array, *, label: int | None = None, num_samples: int = 2000, progress: bool = False,
          noise=None, from_row: int | None = None) -> np.ndarray:
    """Images [N, S, H, W, C] in [-1, 1]: each latent of ``latents`` [N, *shape] moved along ``spec``
    by each of ``strengths`` [S] (:func:`gan_jax.edit.directions.move`; in W+ the direction moves
    every row, or with ``from_row`` the rows from it on: :func:`rows_from`), or for ``class:A-B``
    (z of a conditional model) class A mixed into class B (:func:`gan_jax.edit.directions.strip`).
    ``noise`` as in :func:`generate`."""
    check_from_row(space, from_row)
    if spec.kind == "class":
        from gan_jax.edit import directions

        return directions.strip(spec, config, variables, latents, strengths, key, label=label)
    d = rows_from(space, direction(spec, space, variables, key, num_samples=num_samples, progress=progress), from_row)
    moved = move(latents, d, strengths)  # [N, S, *shape]
    images = generate(space, variables, moved.reshape(-1, *space.shape), noise)
    return images.reshape(*moved.shape[:2], *images.shape[1:])


def invert(space: LatentSpace, variables, targets: jax.Array, key: jax.Array, *, features: Callable | None = None,
           feature_variables=None, feature_weight: float = 0.1, steps: int = 1000, restarts: int = 8,
           lr: float = 0.1, noise_weight: float | None = None, num_samples: int = NUM_SPREAD_SAMPLES,
           progress: bool = False):
    """Invert targets [B, H, W, C] in [-1, 1] in ``space``.

    z: :func:`gan_jax.edit.invert.invert_with_progress` (Adam from random z, an
    :class:`~gan_jax.edit.invert.Inversion`). W and W+: the StyleGAN2 projector
    (:func:`gan_jax.edit.projector.project_with_progress`, a
    :class:`~gan_jax.edit.projector.Projection` with the noise maps), started, as the
    reference projector, at the mean of ``num_samples`` sampled w's (in every row of W+), with
    sigma_w from the same samples, and the noise regulariser's weight ``noise_weight`` (None:
    the reference's 1e5). ``key`` draws the restarts and those w's. (The run's tracked w_avg
    is that mean once trained but lags behind in a short run: an EMA of decay 0.995, and of
    the raw generator's mapping, not the EMA generator's.)"""
    from gan_jax.edit.invert import invert_with_progress
    from gan_jax.edit.projector import NOISE_WEIGHT, latent_spread, project_with_progress

    if space.synthesis is None:
        return invert_with_progress(space.generate, variables, targets, key, z_dim=space.dim, features=features,
                                    feature_variables=feature_variables, feature_weight=feature_weight,
                                    steps=steps, restarts=restarts, lr=lr, progress=progress, codes=space.codes)
    k_spread, k_project = jax.random.split(key)
    w = space.fit.sample(variables, k_spread, (num_samples,))
    start = jnp.broadcast_to(w.mean(0), space.shape)
    return project_with_progress(space.synthesis, variables, targets, k_project, start=start, w_std=latent_spread(w),
                                 noise_shapes=space.noise_shapes, features=features,
                                 feature_variables=feature_variables, feature_weight=feature_weight,
                                 noise_weight=NOISE_WEIGHT if noise_weight is None else noise_weight, steps=steps,
                                 restarts=restarts, lr=lr, progress=progress)


def mix(first: jax.Array, second: jax.Array, crossover) -> jax.Array:
    """Style mixing of w+ latents [..., L, W] (broadcasting): rows before ``crossover`` from
    ``first`` (the coarse styles), the rest from ``second`` (the fine ones)."""
    take_second = (jnp.arange(first.shape[-2]) >= crossover)[:, None]
    return jnp.where(take_second, second, first)


def check_crossover(space: LatentSpace, crossover: int, option: str = "--crossover") -> None:
    """UserError naming ``option`` unless ``crossover`` splits ``space``'s w+ rows (1..L-1);
    ValueError for a space without rows."""
    layers = space.layers
    if layers is None:
        raise ValueError(f"style mixing needs a per-layer space (w+), not {space.name}")
    if not 1 <= crossover < layers:
        raise UserError(f"{option} {crossover}: expected a layer in 1..{layers - 1} (the model has {layers} style "
                        f"rows; the rows before the crossover are the coarse styles)")


def mixing_grid(space: LatentSpace, variables, key: jax.Array, *, rows: int, cols: int, crossover: int,
                option: str = "--crossover") -> np.ndarray:
    """The style-mixing figure of the StyleGAN papers, images [(rows + 1) (cols + 1), H, W, C] in
    [-1, 1], row by row: the top row holds ``cols`` random sources (their fine styles are used),
    the left column ``rows`` random sources (their coarse styles), the top-left cell is blank
    (-1), and cell (i, j) is :func:`mix` of row source i and column source j at ``crossover``.
    ``space``: a W+ space; ``key`` draws the sources. UserError naming ``option`` for a
    crossover outside 1..L-1."""
    check_crossover(space, crossover, option)
    sources = space.sample(variables, key, (rows + cols,))  # [rows + cols, L, W]
    coarse, fine = sources[:rows], sources[rows:]
    mixed = mix(coarse[:, None], fine[None, :], crossover).reshape(rows * cols, *space.shape)
    images = generate(space, variables, jnp.concatenate([sources, mixed]))
    src, cells = images[:rows + cols], images[rows + cols:].reshape(rows, cols, *images.shape[1:])
    blank = -np.ones_like(src[:1])
    top = np.concatenate([blank, src[rows:]])[None]  # [1, cols + 1]
    body = np.concatenate([src[:rows, None], cells], axis=1)  # [rows, cols + 1]
    return np.concatenate([top, body]).reshape(-1, *images.shape[1:])
