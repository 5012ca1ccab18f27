"""Latent directions: vectors d [Z] along which z + s d changes one property of G(z).

The functions work on latents of any space (z, or a style-based generator's w:
:mod:`gan_jax.edit.latent_space` picks the run's spaces and their first layers):

* ``sefa``: closed form (Shen & Zhou 2021): the top eigenvectors of W^T W, W [D, Z] the
  weight of G's first layer (:func:`first_layer_weight`; in W, the first style affine map).
* ``ganspace``: PCA (Härkönen et al. 2020) of G's first-block activations for random z
  (:func:`first_block_features`), each component carried back to z by least squares; in W,
  :func:`pca` of the sampled w's themselves.
* ``fit_boundary`` / ``attribute_direction``: InterFaceGAN (Shen et al. 2020): the unit
  normal of a linear boundary (logistic regression) separating latents by an attribute
  of their images, e.g. a classifier's prediction.
* ``within_class_direction``: the least-squares direction of a continuous attribute of the
  images (e.g. a digit's ink mass, :mod:`gan_jax.metrics.digit_style`) with the class held
  fixed: a style edit that should keep the digit.
* ``class_mix``: for a class-conditional G, moving from class a towards class b mixes the
  per-class parameters (the conditional BatchNorm embeddings) of a into those of b.

A command line's ``--direction`` / ``--strength`` text becomes a checked :class:`DirectionSpec`
and strengths with :func:`parse_spec` / :func:`parse_strengths`; :func:`strip` draws the
images along it.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gan_jax.errors import UserError
from gan_jax.metrics.digit_style import ink_mass, slant

STYLE_ATTRIBUTES = {"ink": ink_mass, "slant": slant}
"""``--direction ink`` / ``slant``: style attributes of a digit, fitted with its class held fixed."""


def _unit(v: jax.Array) -> jax.Array:
    return v / jnp.maximum(jnp.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _fix_sign(v: jax.Array) -> jax.Array:
    """Rows [K, Z] flipped so that each row's largest-magnitude entry is positive (deterministic signs)."""
    idx = jnp.argmax(jnp.abs(v), axis=-1)
    return v * jnp.sign(jnp.take_along_axis(v, idx[:, None], axis=-1))


@jax.jit
def move(z: jax.Array, direction: jax.Array, strengths: jax.Array) -> jax.Array:
    """z [B, Z] moved along ``direction`` [Z] by each of ``strengths`` [S] -> [B, S, Z].

    Latents of any shape: z [B, *shape] and a direction that broadcasts against ``shape``
    (a w+ [B, L, W] moves along d [W] in every row) -> [B, S, *shape]."""
    return z[:, None] + strengths.reshape(1, -1, *([1] * (z.ndim - 1))) * direction


def first_layer_weight(g_params, z_dim: int, extra: int = 0) -> jax.Array:
    """The weight of the generator's first layer as a matrix [D, Z] (its output = W z).

    The first parameter named ``kernel`` that takes z: a Dense kernel [Z, D] or a
    transposed-conv kernel [k, k, Z, F] from a 1x1 input (the DCGAN projection). With
    ``extra`` inputs beside z (InfoGAN's one-hot code: ``config.latent_code``), the kernel
    takes Z + extra inputs and its first Z rows are the part z drives."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(g_params)[0]:
        if getattr(path[-1], "key", None) != "kernel":
            continue
        if leaf.ndim == 2 and leaf.shape[0] == z_dim + extra:
            return leaf[:z_dim].T
        if leaf.ndim == 4 and leaf.shape[2] == z_dim + extra:
            return jnp.moveaxis(leaf[:, :, :z_dim], 2, -1).reshape(-1, z_dim)
    raise ValueError(f"no first-layer kernel taking a {z_dim}-dimensional latent in the generator params")


@functools.partial(jax.jit, static_argnames="num")
def sefa(weight: jax.Array, num: int) -> jax.Array:
    """The ``num`` top eigenvectors of W^T W for W [D, Z] (largest eigenvalue first): [num, Z], unit rows."""
    _, vectors = jnp.linalg.eigh(weight.T @ weight)  # ascending eigenvalues
    return _fix_sign(vectors[:, ::-1][:, :num].T)


@functools.partial(jax.jit, static_argnames="g_net")
def first_block_features(g_net, variables, z: jax.Array, labels=None) -> jax.Array:
    """Activations of G's first block (its first normalisation layer's output, after ReLU)
    for latents z [N, Z]: [N, D]."""
    _, captured = g_net.apply(variables, z, labels, train=False, capture_intermediates=True,
                              mutable=["intermediates"])
    for name, value in captured["intermediates"].items():  # in call order
        if "BatchNorm" in name:
            out = value["__call__"][0]
            return jax.nn.relu(out).reshape(z.shape[0], -1)
    raise ValueError("the generator has no normalisation layer to take first-block features from")


@functools.partial(jax.jit, static_argnames="num")
def ganspace(features: jax.Array, z: jax.Array, num: int) -> jax.Array:
    """GANSpace directions [num, Z] (unit rows) from features [N, D] of latents z [N, Z]:
    the principal components of the features, each mapped back to latent space by the
    least-squares regression of z on the PCA coordinates (largest variance first)."""
    centred = features - features.mean(0)
    _, _, vt = jnp.linalg.svd(centred, full_matrices=False)
    coords = centred @ vt[:num].T  # [N, num]
    u, *_ = jnp.linalg.lstsq(coords, z - z.mean(0))  # [num, Z]: z ~ coords @ u
    return _fix_sign(_unit(u))


@functools.partial(jax.jit, static_argnames="num")
def pca(latents: jax.Array, num: int) -> tuple[jax.Array, jax.Array]:
    """The ``num`` principal directions of samples ``latents`` [N, D] (GANSpace in W): unit
    rows [num, D], largest variance first, and the variance of the samples along each [num]."""
    centred = latents - latents.mean(0)
    _, s, vt = jnp.linalg.svd(centred, full_matrices=False)
    return _fix_sign(vt[:num]), jnp.square(s[:num]) / max(latents.shape[0] - 1, 1)


@functools.partial(jax.jit, static_argnames="steps")
def fit_boundary(z: jax.Array, labels: jax.Array, steps: int = 500, l2: float = 1e-3,
                 lr: float = 0.05) -> tuple[jax.Array, jax.Array]:
    """Logistic regression of binary ``labels`` [N] on latents z [N, Z] (Adam, ``steps``
    full-batch steps, L2 penalty ``l2``). Returns (unit normal [Z], offset []) of the boundary
    n.z + c = 0, the normal pointing towards label 1."""
    labels = labels.astype(z.dtype)
    scale = jnp.maximum(z.std(), 1e-6)
    tx = optax.adam(lr)

    def loss(p):
        logits = (z / scale) @ p["w"] + p["b"]
        return optax.sigmoid_binary_cross_entropy(logits, labels).mean() + l2 * jnp.sum(p["w"] ** 2)

    def step(carry, _):
        p, opt = carry
        grad = jax.grad(loss)(p)
        updates, opt = tx.update(grad, opt, p)
        return (optax.apply_updates(p, updates), opt), None

    p = {"w": jnp.zeros(z.shape[-1], z.dtype), "b": jnp.zeros((), z.dtype)}
    (p, _), _ = jax.lax.scan(step, (p, tx.init(p)), None, length=steps)
    norm = jnp.maximum(jnp.linalg.norm(p["w"]), 1e-12)
    return p["w"] / norm, p["b"] / norm * scale


def within_class_direction(latents: jax.Array, attribute: jax.Array, classes: jax.Array, num_classes: int,
                           ridge: float = 1e-3) -> jax.Array:
    """Unit direction [D] along which a continuous ``attribute`` [N] of the images of
    ``latents`` [N, D] grows while their class (``classes`` int [N], e.g. a classifier's label)
    stays: the least-squares slope of the attribute on the latents after each class's mean is
    taken from both (a regression with one intercept per class). A plain regression would
    also follow whatever changes the class with the attribute (ones have less ink than
    eights); InterFaceGAN's conditional manipulation removes the same confound by projection.
    ``ridge`` x the mean variance regularises the solve."""
    onehot = jax.nn.one_hot(classes, num_classes, dtype=latents.dtype)  # [N, K]
    counts = jnp.maximum(onehot.sum(0), 1.0)[:, None]

    def centred(v):  # v [N, F] minus the mean of its class
        return v - onehot @ ((onehot.T @ v) / counts)

    x = centred(latents.reshape(latents.shape[0], -1))
    a = centred(attribute.reshape(-1, 1).astype(latents.dtype))
    gram = x.T @ x
    gram = gram + ridge * jnp.trace(gram) / gram.shape[0] * jnp.eye(gram.shape[0], dtype=gram.dtype)
    return _unit(jnp.linalg.solve(gram, x.T @ a)[:, 0])


@functools.partial(jax.jit, static_argnames=("g", "score", "z_dim", "num", "sample"))
def attribute_direction(g: Callable, variables, score: Callable, key: jax.Array, *, z_dim: int,
                        num: int = 2000, threshold: float = 0.5, sample: Callable | None = None) -> jax.Array:
    """InterFaceGAN direction [Z] for the attribute ``score(images [N, H, W, C]) -> [N] > threshold``,
    fitted on ``num`` latents z ~ N(0, I) of ``g(variables, z) -> images``.

    Any latent space: ``sample(variables, key, (num,)) -> latents [num, D]`` draws the latents
    instead (e.g. w = mapping(z)); the boundary is then fitted on them centred on their mean."""
    if sample is None:
        z = jax.random.normal(key, (num, z_dim))
        normal, _ = fit_boundary(z, score(g(variables, z)) > threshold)
        return normal
    z = sample(variables, key, (num,))
    normal, _ = fit_boundary(z - z.mean(0), score(g(variables, z)) > threshold)
    return normal


def class_mix(variables, source: int, target: int, t, label_rows_from: int | None = None) -> dict:
    """G's variables with every per-class table's row ``source`` replaced by
    (1 - t) row[source] + t row[target]; G(z, label=source) then moves towards class
    ``target`` as t goes from 0 to 1 (t outside [0, 1] extrapolates). Per-class tables are
    the ``embedding`` parameters (conditional BatchNorm gamma/beta) and, for a G that takes
    the one-hot label beside z [B, Z] (``label_input``; pass ``label_rows_from`` = Z), the
    label rows Z .. Z + K - 1 of the kernel that takes [z, one-hot]: the one-hot enters
    linearly, so mixing its rows is drawing with the label (1 - t) e_source + t e_target."""
    def mix_rows(leaf, axis, offset=0):
        rows = jnp.moveaxis(leaf, axis, 0)
        a, b = offset + source, offset + target
        return jnp.moveaxis(rows.at[a].set((1 - t) * rows[a] + t * rows[b]), 0, axis)

    num_classes = {leaf.shape[0] for path, leaf in jax.tree_util.tree_flatten_with_path(variables)[0]
                   if getattr(path[-1], "key", None) == "embedding"}

    def mix(path, leaf):
        name = getattr(path[-1], "key", None)
        if name == "embedding":
            return mix_rows(leaf, 0)
        if (name == "kernel" and label_rows_from is not None and leaf.ndim >= 2
                and leaf.shape[-2] in {label_rows_from + k for k in num_classes}):
            return mix_rows(leaf, leaf.ndim - 2, label_rows_from)
        return leaf

    return jax.tree_util.tree_map_with_path(mix, variables)


@functools.partial(jax.jit, static_argnames=("g", "label_input"))
def class_morph(g: Callable, variables, z: jax.Array, source, target, strengths: jax.Array,
                label_input: bool = False) -> jax.Array:
    """Images [B, S, H, W, C] of latents z [B, Z] as class ``source`` moves towards ``target``
    by each of ``strengths`` [S] (:func:`class_mix`); ``g(variables, z)`` must draw class ``source``.
    ``label_input``: G also takes the one-hot label beside z (mixed too)."""
    rows_from = z.shape[-1] if label_input else None
    images = jax.vmap(lambda t: g(class_mix(variables, source, target, t, rows_from), z))(strengths)  # [S, B, ...]
    return jnp.swapaxes(images, 0, 1)


# --- Directions named on a command line -------------------------------------------------

KINDS = ("sefa", "ganspace", "classifier", *STYLE_ATTRIBUTES, "class")
"""The direction kinds :func:`parse_spec` knows by name (anything else is a ``.npy`` file)."""


@dataclasses.dataclass(frozen=True, eq=False)
class DirectionSpec:
    """A direction named by text (:func:`parse_spec`), checked against the model.

    ``kind``: ``sefa``, ``ganspace`` or ``classifier`` (``index`` = K), ``ink`` or ``slant``, ``class``
    (``classes`` = (A, B)) or ``vector`` (``vector`` [Z], a ``.npy`` file's first row).
    ``classifier``: the classifier of ``classifier:K``, ``ink`` and ``slant``."""
    text: str
    kind: str
    index: int | None = None
    classes: tuple[int, int] | None = None
    vector: np.ndarray | None = None
    classifier: Any = None


def parse_strengths(text: str, option: str = "--strength") -> np.ndarray:
    """``START:STOP:NUM`` (evenly spaced, ends included) or a comma-separated list -> float32 [S];
    UserError naming ``option`` for anything else, an empty list or a non-finite value."""
    try:
        if ":" in text:
            start, stop, num = text.split(":")
            values = np.linspace(float(start), float(stop), int(num))
        else:
            values = np.array([float(v) for v in text.split(",")])
    except ValueError:
        values = np.zeros(0)
    if not values.size or not np.all(np.isfinite(values)):
        raise UserError(f"{option} {text}: expected START:STOP:NUM (e.g. -3:3:7) or a comma-separated list")
    return values.astype(np.float32)


def load_vectors(path: str, z_dim: int, option: str = "--latent", what: str = "the model's z_dim") -> np.ndarray:
    """A ``.npy`` file of latents [Z] or [N, Z] -> float32 [N, Z]; UserError naming ``option`` if it
    is missing, not a ``.npy`` array, or of another shape (``what`` Z is, in the message)."""
    if not os.path.isfile(path):
        raise UserError(f"{option} {path}: no such file; expected a .npy array [{z_dim}] or [N, {z_dim}] "
                        f"(e.g. latent.npy from gan-jax invert)")
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UserError(f"{option} {path}: not a .npy array ({type(e).__name__})") from None
    z = z[None] if z.ndim == 1 else z
    if z.ndim != 2 or z.shape[1] != z_dim or not np.issubdtype(z.dtype, np.number):
        raise UserError(f"{option} {path}: array of shape {list(z.shape)}; expected [{z_dim}] or [N, {z_dim}] "
                        f"({what})")
    return z.astype(np.float32)


def parse_spec(text: str, *, z_dim: int, num_classes: int = 0, num_samples: int = 2000,
               classifier: str | None = None, image_shape: tuple[int, int, int] | None = None,
               option: str = "--direction") -> DirectionSpec:
    """Parse and check a direction named by ``text`` for a model with latents [``z_dim``]:

    * ``sefa:K``: K-th closed-form SeFa direction (K < z_dim);
    * ``ganspace:K``: K-th GANSpace direction fitted on ``num_samples`` latents (K < both);
    * ``classifier:K``: InterFaceGAN boundary of class K of the classifier in the directory
      ``classifier`` (gan-jax train-classifier), which must take images of ``image_shape``;
    * ``ink`` / ``slant``: the stroke thickness or the lean of a greyscale digit
      (:data:`STYLE_ATTRIBUTES`), fitted by :func:`within_class_direction` with the class that
      the classifier in ``classifier`` gives each image held fixed;
    * ``class:A-B``: class-conditional models (``num_classes`` > 0): class A mixed into B;
    * anything else: a ``.npy`` file of a vector [Z] (or [N, Z]: its first row).

    UserError naming ``option`` (or ``--classifier``) for what does not fit the model."""
    kind, _, arg = text.partition(":")

    def index(limit: int) -> int:
        if not arg.isdigit() or int(arg) >= limit:
            raise UserError(f"{option} {text}: expected an index in 0..{limit - 1}")
        return int(arg)

    if kind == "sefa":
        return DirectionSpec(text, kind, index=index(z_dim))
    if kind == "ganspace":
        return DirectionSpec(text, kind, index=index(min(z_dim, num_samples)))
    if kind == "classifier":
        if not classifier:
            raise UserError(f"{option} {text}: needs --classifier DIR (gan-jax train-classifier)")
        clf = _load_classifier(classifier, image_shape)
        return DirectionSpec(text, kind, index=index(clf.info["num_classes"]), classifier=clf)
    if kind in STYLE_ATTRIBUTES:
        if arg:
            raise UserError(f"{option} {text}: expected {kind} alone (a style attribute of the digit)")
        if image_shape is not None and image_shape[-1] != 1:
            raise UserError(f"{option} {text}: {kind} is a style attribute of greyscale glyphs (MNIST); this model "
                            f"makes {image_shape[-1]}-channel images")
        if not classifier:
            raise UserError(f"{option} {text}: needs --classifier DIR (gan-jax train-classifier): the direction "
                            f"is fitted with each image's class held fixed")
        return DirectionSpec(text, kind, classifier=_load_classifier(classifier, image_shape))
    if kind == "class":
        a, _, b = arg.partition("-")
        if not num_classes:
            raise UserError(f"{option} {text}: this model is unconditional; class:A-B needs a "
                            f"class-conditional run")
        if not (a.isdigit() and b.isdigit() and int(a) < num_classes and int(b) < num_classes):
            raise UserError(f"{option} {text}: expected class:A-B with classes in 0..{num_classes - 1}")
        return DirectionSpec(text, kind, classes=(int(a), int(b)))
    return DirectionSpec(text, "vector", vector=load_vectors(text, z_dim, option)[0])


def _load_classifier(directory: str, image_shape: tuple[int, int, int] | None):
    """The classifier in ``directory``; UserError naming --classifier unless it takes ``image_shape``."""
    from gan_jax.metrics.classifier import Classifier

    clf = Classifier.load(directory)
    if image_shape is not None and list(clf.info["image_shape"]) != list(image_shape):
        raise UserError(f"--classifier {directory}: for images {clf.info['image_shape']}; expected "
                        f"{list(image_shape)}, the model's")
    return clf


def classifier_labels(classifier) -> Callable:
    """``labels(images [N, H, W, C]) -> int [N]``: the class ``classifier`` predicts."""
    return lambda x: jnp.argmax(classifier.net.apply({"params": classifier.params}, x)[0], axis=-1)


def classifier_score(classifier, k: int) -> Callable:
    """``score(images [N, H, W, C]) -> [N]``: the probability ``classifier`` gives class ``k``."""
    return lambda x: jax.nn.softmax(classifier.net.apply({"params": classifier.params}, x)[0])[:, k]


def first_block_features_in_chunks(g_net, variables, z: jax.Array, labels=None, *, max_chunks: int = 8,
                                   progress: bool = False, desc: str = "ganspace") -> jax.Array:
    """:func:`first_block_features` of latents z [N, Z] in at most ``max_chunks`` equal calls,
    with a progress bar over the latents (``progress``: when stderr is a terminal). The
    features of each latent do not depend on the others (BatchNorm in eval mode)."""
    from gan_jax.edit.progress import bar, chunk_length

    n = z.shape[0]
    length = chunk_length(n, max_chunks)
    parts = []
    with bar(n, desc, progress, unit="latent") as pbar:
        for i in range(0, n, length):
            part = first_block_features(g_net, variables, z[i:i + length],
                                        None if labels is None else labels[i:i + length])
            if not pbar.disable:
                part.block_until_ready()
            parts.append(part)
            pbar.update(length)
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts)


def direction_vector(spec: DirectionSpec, config, variables, key: jax.Array, *, label: int | None = None,
                     num_samples: int = 2000, progress: bool = False) -> jax.Array:
    """The latent direction [Z] of ``spec`` (not ``class:A-B``, see :func:`strip`) for the run
    ``config`` with generator ``variables``; ``key`` draws the latents GANSpace and InterFaceGAN
    directions are fitted on (``num_samples`` of them, conditional models in class ``label``)."""
    from gan_jax import models, sampling
    from gan_jax.models.dcgan import inputs_beside_z

    if spec.kind == "sefa":
        weight = first_layer_weight(variables["params"], config.z_dim, inputs_beside_z(config))
        return sefa(weight, spec.index + 1)[spec.index]
    if spec.kind == "ganspace":
        z = jax.random.normal(key, (num_samples, config.z_dim))
        labels = None if label is None else jnp.full((num_samples,), label)
        feats = first_block_features_in_chunks(models.build(config)[0], variables, z, labels, progress=progress)
        return ganspace(feats, z, spec.index + 1)[spec.index]
    if spec.kind == "classifier":
        g = sampling.latent_generator(config, label)
        return attribute_direction(g, variables, classifier_score(spec.classifier, spec.index), key,
                                   z_dim=config.z_dim, num=num_samples)
    if spec.kind == "vector":
        return jnp.asarray(spec.vector)
    raise ValueError(f"{spec.text}: a {spec.kind} spec is not a latent direction")


def strip(spec: DirectionSpec, config, variables, z: jax.Array, strengths: jax.Array, key: jax.Array, *,
          label: int | None = None, num_samples: int = 2000, progress: bool = False) -> np.ndarray:
    """Images [N, S, H, W, C] in [-1, 1]: each latent of z [N, Z] moved along ``spec`` by each of
    ``strengths`` [S] (:func:`move`), or, for ``class:A-B``, drawn as class A mixed into class B
    by each strength (:func:`class_morph`: 0 = A, 1 = B). Other arguments as in
    :func:`direction_vector`."""
    from gan_jax import sampling
    from gan_jax.models.dcgan import takes_label_input

    if spec.kind == "class":
        source, target = spec.classes
        images = class_morph(sampling.latent_generator(config, source), variables, z, source, target, strengths,
                             label_input=takes_label_input(config))
        return np.asarray(images)
    g = sampling.latent_generator(config, label)
    direction = direction_vector(spec, config, variables, key, label=label, num_samples=num_samples,
                                 progress=progress)
    moved = move(z, direction, strengths)
    images = np.asarray(jax.jit(g)(variables, moved.reshape(-1, config.z_dim)))
    return images.reshape(*moved.shape[:2], *images.shape[1:])
