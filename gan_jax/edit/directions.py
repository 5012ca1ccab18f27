"""Latent directions: vectors d [Z] along which z + s d changes one property of G(z).

* ``sefa``: closed form (Shen & Zhou 2021): the top eigenvectors of W^T W, W [D, Z] the
  weight of G's first layer (:func:`first_layer_weight`).
* ``ganspace``: PCA (Härkönen et al. 2020) of G's first-block activations for random z
  (:func:`first_block_features`), each component carried back to z by least squares.
* ``fit_boundary`` / ``attribute_direction``: InterFaceGAN (Shen et al. 2020): the unit
  normal of a linear boundary (logistic regression) separating latents by an attribute
  of their images, e.g. a classifier's prediction.
* ``class_mix``: for a class-conditional G, moving from class a towards class b mixes the
  per-class parameters (the conditional BatchNorm embeddings) of a into those of b.
"""
from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import optax


def _unit(v: jax.Array) -> jax.Array:
    return v / jnp.maximum(jnp.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _fix_sign(v: jax.Array) -> jax.Array:
    """Rows [K, Z] flipped so that each row's largest-magnitude entry is positive (deterministic signs)."""
    idx = jnp.argmax(jnp.abs(v), axis=-1)
    return v * jnp.sign(jnp.take_along_axis(v, idx[:, None], axis=-1))


@jax.jit
def move(z: jax.Array, direction: jax.Array, strengths: jax.Array) -> jax.Array:
    """z [B, Z] moved along ``direction`` [Z] by each of ``strengths`` [S] -> [B, S, Z]."""
    return z[:, None, :] + strengths[None, :, None] * direction[None, None, :]


def first_layer_weight(g_params, z_dim: int) -> jax.Array:
    """The weight of the generator's first layer as a matrix [D, Z] (its output = W z).

    The first parameter named ``kernel`` that takes z: a Dense kernel [Z, D] or a
    transposed-conv kernel [k, k, Z, F] from a 1x1 input (the DCGAN projection)."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(g_params)[0]:
        if getattr(path[-1], "key", None) != "kernel":
            continue
        if leaf.ndim == 2 and leaf.shape[0] == z_dim:
            return leaf.T
        if leaf.ndim == 4 and leaf.shape[2] == z_dim:
            return jnp.moveaxis(leaf, 2, -1).reshape(-1, z_dim)
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


@functools.partial(jax.jit, static_argnames=("g", "score", "z_dim", "num"))
def attribute_direction(g: Callable, variables, score: Callable, key: jax.Array, *, z_dim: int,
                        num: int = 2000, threshold: float = 0.5) -> jax.Array:
    """InterFaceGAN direction [Z] for the attribute ``score(images [N, H, W, C]) -> [N] > threshold``,
    fitted on ``num`` latents z ~ N(0, I) of ``g(variables, z) -> images``."""
    z = jax.random.normal(key, (num, z_dim))
    normal, _ = fit_boundary(z, score(g(variables, z)) > threshold)
    return normal


def class_mix(variables, source: int, target: int, t) -> dict:
    """G's variables with every per-class table's row ``source`` replaced by
    (1 - t) row[source] + t row[target]; G(z, label=source) then moves towards class
    ``target`` as t goes from 0 to 1 (t outside [0, 1] extrapolates). Per-class tables are
    the ``embedding`` parameters (conditional BatchNorm gamma/beta)."""
    def mix(path, leaf):
        if getattr(path[-1], "key", None) != "embedding":
            return leaf
        return leaf.at[source].set((1 - t) * leaf[source] + t * leaf[target])

    return jax.tree_util.tree_map_with_path(mix, variables)


@functools.partial(jax.jit, static_argnames="g")
def class_morph(g: Callable, variables, z: jax.Array, source, target, strengths: jax.Array) -> jax.Array:
    """Images [B, S, H, W, C] of latents z [B, Z] as class ``source`` moves towards ``target``
    by each of ``strengths`` [S] (:func:`class_mix`); ``g(variables, z)`` must draw class ``source``."""
    images = jax.vmap(lambda t: g(class_mix(variables, source, target, t), z))(strengths)  # [S, B, ...]
    return jnp.swapaxes(images, 0, 1)
