"""InceptionV3 as used for FID (pytorch-fid / TF-GAN): pool3 features and 1008-way logits.

This is the network of the TensorFlow graph ``inception-2015-12-05`` that the
original FID code (TTUR) and TF-GAN use, in the form pytorch-fid ports it
(``fid_inception_v3`` with ``FIDInceptionA/C/E_1/E_2``). It differs from
torchvision's ImageNet InceptionV3 in its weights and in three pooling details:

* the pool branches of the A, C and first E blocks average over the *valid*
  pixels only (TensorFlow's average pool; torch ``count_include_pad=False``);
* the pool branch of the last E block (``Mixed_7c``) is a 3x3 *max* pool;
* the classifier has 1008 classes (with bias) and no auxiliary head.

Every conv is ``BasicConv2d``: conv without bias, BatchNorm (eps 0.001, running
statistics) and ReLU, with torchvision's explicit integer paddings.

Weights come from an ``.npz`` file (see :func:`load_inception` for the key
scheme) that :mod:`gan_jax.metrics.convert_inception` writes once from the
pytorch-fid weights ``pt_inception-2015-12-05-6726825d.pth``.
"""
from __future__ import annotations

import functools
import os
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

INPUT_SIZE = 299
FEATURE_DIM = 2048
NUM_CLASSES = 1008
BN_EPSILON = 1e-3

Precision = Any


def _pairs(padding: int | tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    return (ph, ph), (pw, pw)


def _avg_pool_3x3_valid(x):
    """3x3 / stride 1 / pad 1 average over the pixels inside the image (TF's avg pool)."""
    return nn.avg_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3_stride2(x):
    """3x3 / stride 2 max pool without padding."""
    return nn.max_pool(x, (3, 3), (2, 2), padding="VALID")


class BasicConv2d(nn.Module):
    """x [B, H, W, Cin] -> relu(bn(conv(x))) [B, H', W', features]; conv has no bias, BN eps 0.001.

    ``padding`` is torch's symmetric integer padding (one int or (ph, pw)).
    BatchNorm always uses its running statistics (inference only).
    """

    features: int
    kernel_size: int | tuple[int, int]
    strides: int = 1
    padding: int | tuple[int, int] = 0
    precision: Precision = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x):
        kernel = (self.kernel_size,) * 2 if isinstance(self.kernel_size, int) else tuple(self.kernel_size)
        x = nn.Conv(self.features, kernel, (self.strides,) * 2, padding=_pairs(self.padding), use_bias=False,
                    precision=self.precision, name="conv")(x)
        x = nn.BatchNorm(use_running_average=True, epsilon=BN_EPSILON, name="bn")(x)
        return nn.relu(x)


class InceptionA(nn.Module):
    """FID InceptionA (Mixed_5b/c/d): [B, 35, 35, C] -> [B, 35, 35, 224 + pool_features].

    Branches: 1x1 (64) | 1x1 48 -> 5x5 64 | 1x1 64 -> 3x3 96 -> 3x3 96 |
    3x3 avg pool over valid pixels -> 1x1 (pool_features).
    """

    pool_features: int
    precision: Precision = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x):
        conv = functools.partial(BasicConv2d, precision=self.precision)
        branch1x1 = conv(64, 1, name="branch1x1")(x)
        branch5x5 = conv(48, 1, name="branch5x5_1")(x)
        branch5x5 = conv(64, 5, padding=2, name="branch5x5_2")(branch5x5)
        branch3x3dbl = conv(64, 1, name="branch3x3dbl_1")(x)
        branch3x3dbl = conv(96, 3, padding=1, name="branch3x3dbl_2")(branch3x3dbl)
        branch3x3dbl = conv(96, 3, padding=1, name="branch3x3dbl_3")(branch3x3dbl)
        branch_pool = conv(self.pool_features, 1, name="branch_pool")(_avg_pool_3x3_valid(x))
        return jnp.concatenate([branch1x1, branch5x5, branch3x3dbl, branch_pool], axis=-1)


class InceptionB(nn.Module):
    """Grid reduction (Mixed_6a): [B, 35, 35, C] -> [B, 17, 17, 480 + C] (same as torchvision)."""

    precision: Precision = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x):
        conv = functools.partial(BasicConv2d, precision=self.precision)
        branch3x3 = conv(384, 3, strides=2, name="branch3x3")(x)
        branch3x3dbl = conv(64, 1, name="branch3x3dbl_1")(x)
        branch3x3dbl = conv(96, 3, padding=1, name="branch3x3dbl_2")(branch3x3dbl)
        branch3x3dbl = conv(96, 3, strides=2, name="branch3x3dbl_3")(branch3x3dbl)
        return jnp.concatenate([branch3x3, branch3x3dbl, _max_pool_3x3_stride2(x)], axis=-1)


class InceptionC(nn.Module):
    """FID InceptionC (Mixed_6b..e): [B, 17, 17, C] -> [B, 17, 17, 768], factorised 7x7 convs.

    The pool branch averages over valid pixels only (``count_include_pad=False``).
    """

    channels_7x7: int
    precision: Precision = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x):
        conv = functools.partial(BasicConv2d, precision=self.precision)
        c7 = self.channels_7x7
        branch1x1 = conv(192, 1, name="branch1x1")(x)
        branch7x7 = conv(c7, 1, name="branch7x7_1")(x)
        branch7x7 = conv(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(branch7x7)
        branch7x7 = conv(192, (7, 1), padding=(3, 0), name="branch7x7_3")(branch7x7)
        branch7x7dbl = conv(c7, 1, name="branch7x7dbl_1")(x)
        branch7x7dbl = conv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(branch7x7dbl)
        branch7x7dbl = conv(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(branch7x7dbl)
        branch7x7dbl = conv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(branch7x7dbl)
        branch7x7dbl = conv(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(branch7x7dbl)
        branch_pool = conv(192, 1, name="branch_pool")(_avg_pool_3x3_valid(x))
        return jnp.concatenate([branch1x1, branch7x7, branch7x7dbl, branch_pool], axis=-1)


class InceptionD(nn.Module):
    """Grid reduction (Mixed_7a): [B, 17, 17, C] -> [B, 8, 8, 512 + C] (same as torchvision)."""

    precision: Precision = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x):
        conv = functools.partial(BasicConv2d, precision=self.precision)
        branch3x3 = conv(192, 1, name="branch3x3_1")(x)
        branch3x3 = conv(320, 3, strides=2, name="branch3x3_2")(branch3x3)
        branch7x7x3 = conv(192, 1, name="branch7x7x3_1")(x)
        branch7x7x3 = conv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(branch7x7x3)
        branch7x7x3 = conv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(branch7x7x3)
        branch7x7x3 = conv(192, 3, strides=2, name="branch7x7x3_4")(branch7x7x3)
        return jnp.concatenate([branch3x3, branch7x7x3, _max_pool_3x3_stride2(x)], axis=-1)


class InceptionE(nn.Module):
    """FID InceptionE (Mixed_7b: ``pool="avg"``, Mixed_7c: ``pool="max"``): [B, 8, 8, C] -> [B, 8, 8, 2048].

    pytorch-fid's FIDInceptionE_1 averages over valid pixels in its pool branch;
    FIDInceptionE_2 uses a 3x3 / stride 1 / pad 1 *max* pool there (as the TF graph does).
    """

    pool: str = "avg"
    precision: Precision = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x):
        if self.pool not in ("avg", "max"):
            raise ValueError(f"InceptionE pool must be 'avg' or 'max', got {self.pool!r}")
        conv = functools.partial(BasicConv2d, precision=self.precision)
        branch1x1 = conv(320, 1, name="branch1x1")(x)
        branch3x3 = conv(384, 1, name="branch3x3_1")(x)
        branch3x3 = jnp.concatenate([conv(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(branch3x3),
                                     conv(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(branch3x3)], axis=-1)
        branch3x3dbl = conv(448, 1, name="branch3x3dbl_1")(x)
        branch3x3dbl = conv(384, 3, padding=1, name="branch3x3dbl_2")(branch3x3dbl)
        branch3x3dbl = jnp.concatenate([conv(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(branch3x3dbl),
                                        conv(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(branch3x3dbl)],
                                       axis=-1)
        if self.pool == "avg":
            pooled = _avg_pool_3x3_valid(x)
        else:
            pooled = nn.max_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)))
        branch_pool = conv(192, 1, name="branch_pool")(pooled)
        return jnp.concatenate([branch1x1, branch3x3, branch3x3dbl, branch_pool], axis=-1)


class InceptionV3(nn.Module):
    """FID InceptionV3: images [B, 299, 299, 3] in [-1, 1] -> (pool3 [B, 2048], logits [B, 1008]).

    Use :func:`preprocess` to bring other sizes / greyscale images to the input
    format. Submodule names follow torchvision (``Conv2d_1a_3x3``, ``Mixed_5b``,
    ..., ``fc``) so the weights map one to one. Inference only: BatchNorm uses
    running statistics and there is no dropout. ``precision`` applies to every
    conv and the fc (HIGHEST: true float32 on GPUs/TPUs, not TF32/bf16 passes).
    """

    precision: Precision = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x):
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"InceptionV3 expects images [B, H, W, 3], got shape {x.shape}")
        p = self.precision
        conv = functools.partial(BasicConv2d, precision=p)
        x = conv(32, 3, strides=2, name="Conv2d_1a_3x3")(x)      # 149 x 149 x 32
        x = conv(32, 3, name="Conv2d_2a_3x3")(x)                 # 147 x 147 x 32
        x = conv(64, 3, padding=1, name="Conv2d_2b_3x3")(x)      # 147 x 147 x 64
        x = _max_pool_3x3_stride2(x)                             # 73 x 73 x 64
        x = conv(80, 1, name="Conv2d_3b_1x1")(x)                 # 73 x 73 x 80
        x = conv(192, 3, name="Conv2d_4a_3x3")(x)                # 71 x 71 x 192
        x = _max_pool_3x3_stride2(x)                             # 35 x 35 x 192
        x = InceptionA(32, precision=p, name="Mixed_5b")(x)      # 35 x 35 x 256
        x = InceptionA(64, precision=p, name="Mixed_5c")(x)      # 35 x 35 x 288
        x = InceptionA(64, precision=p, name="Mixed_5d")(x)      # 35 x 35 x 288
        x = InceptionB(precision=p, name="Mixed_6a")(x)          # 17 x 17 x 768
        x = InceptionC(128, precision=p, name="Mixed_6b")(x)
        x = InceptionC(160, precision=p, name="Mixed_6c")(x)
        x = InceptionC(160, precision=p, name="Mixed_6d")(x)
        x = InceptionC(192, precision=p, name="Mixed_6e")(x)     # 17 x 17 x 768
        x = InceptionD(precision=p, name="Mixed_7a")(x)          # 8 x 8 x 1280
        x = InceptionE("avg", precision=p, name="Mixed_7b")(x)   # 8 x 8 x 2048
        x = InceptionE("max", precision=p, name="Mixed_7c")(x)   # 8 x 8 x 2048
        pool3 = jnp.mean(x, axis=(1, 2))                         # adaptive avg pool to 1 x 1
        logits = nn.Dense(NUM_CLASSES, precision=p, name="fc")(pool3)
        return pool3, logits


def preprocess(images):
    """images [B, H, W, C] in [-1, 1], C = 1 or 3 -> [B, 299, 299, 3] in [-1, 1] (float32).

    Greyscale is repeated to three channels (what pytorch-fid's ``convert('RGB')``
    does to greyscale files). The resize is bilinear with half-pixel centres,
    which is pytorch-fid's ``F.interpolate(mode='bilinear', align_corners=False)``;
    resizing in [-1, 1] or in [0, 1] then mapping ``2x - 1`` is the same since the
    weights sum to one. ``antialias=False``: torch's interpolate does not
    antialias either, which only matters when *down*sampling (H > 299); for
    upsampling 28/32/64 -> 299 the two agree exactly. (The original TF FID code
    used TF1's ``resize_bilinear`` without half-pixel centres, a tiny difference
    that pytorch-fid also has.)
    """
    images = jnp.asarray(images, jnp.float32)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"preprocess expects images [B, H, W, C] with C in (1, 3), got shape {images.shape}")
    if images.shape[-1] == 1:
        images = jnp.repeat(images, 3, axis=-1)
    if images.shape[1:3] != (INPUT_SIZE, INPUT_SIZE):
        images = jax.image.resize(images, (images.shape[0], INPUT_SIZE, INPUT_SIZE, 3), "bilinear",
                                  antialias=False)
    return images


def _variable_key(collection: str, path: tuple[str, ...]) -> str:
    del collection  # params hold kernel/scale/bias, batch_stats hold mean/var: the leaf names never clash
    return "/".join(path)


@functools.lru_cache(maxsize=None)
def expected_shapes(module: InceptionV3 | None = None) -> dict[str, tuple[int, ...]]:
    """The ``.npz`` key -> array shape that :func:`load_inception` requires (no computation)."""
    module = module or InceptionV3()
    template = jax.eval_shape(module.init, jax.random.PRNGKey(0),
                              jax.ShapeDtypeStruct((1, INPUT_SIZE, INPUT_SIZE, 3), jnp.float32))
    flat = traverse_util.flatten_dict(template)
    return {_variable_key(path[0], path[1:]): tuple(leaf.shape) for path, leaf in flat.items()}


def variables_to_arrays(variables) -> dict[str, np.ndarray]:
    """Flax variables {'params': ..., 'batch_stats': ...} -> flat ``.npz`` dict (the inverse of the loader)."""
    flat = traverse_util.flatten_dict(jax.device_get(variables))
    return {_variable_key(path[0], path[1:]): np.asarray(v, np.float32) for path, v in flat.items()}


def load_inception(path: str) -> tuple[InceptionV3, dict]:
    """Read the FID InceptionV3 weights from an ``.npz`` -> (module, variables for ``module.apply``).

    Key scheme: the Flax variable path joined with ``/``, collection dropped,
    float32 arrays; the names are torchvision's module names::

        Conv2d_1a_3x3/conv/kernel        [3, 3, 3, 32]  conv kernel, HWIO (torch OIHW transposed 2, 3, 1, 0)
        Conv2d_1a_3x3/bn/scale|bias      [32]           BatchNorm weight / bias
        Conv2d_1a_3x3/bn/mean|var        [32]           BatchNorm running_mean / running_var
        Mixed_5b/branch5x5_2/conv/kernel [5, 5, 48, 64]
        ...
        fc/kernel                        [2048, 1008]   torch fc.weight transposed
        fc/bias                          [1008]

    Every expected key must be present with the expected shape; otherwise a
    ``ValueError`` names the file and the key (extra keys are an error too).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: InceptionV3 weights file not found; convert pytorch-fid's "
                                f"pt_inception-2015-12-05-6726825d.pth with "
                                f"`python -m gan_jax.metrics.convert_inception`")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as e:  # a truncated or non-npz file
        raise ValueError(f"{path}: not a readable .npz weights file ({e})") from e
    module = InceptionV3()
    expected = expected_shapes()
    for key, shape in expected.items():
        if key not in arrays:
            raise ValueError(f"{path}: missing key {key!r} (expected shape {shape}); "
                             f"is this the FID InceptionV3 npz written by gan_jax.metrics.convert_inception?")
        if tuple(arrays[key].shape) != shape:
            raise ValueError(f"{path}: key {key!r} has shape {tuple(arrays[key].shape)}, expected {shape}")
    unexpected = sorted(set(arrays) - set(expected))
    if unexpected:
        raise ValueError(f"{path}: unexpected keys {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
    variables: dict = {"params": {}, "batch_stats": {}}
    for key, value in arrays.items():
        *scope, leaf = key.split("/")
        collection = "batch_stats" if leaf in ("mean", "var") else "params"
        node = variables[collection]
        for name in scope:
            node = node.setdefault(name, {})
        node[leaf] = jnp.asarray(value, jnp.float32)
    return module, variables


@functools.partial(jax.jit, static_argnums=0)
def _features_and_logits(module: InceptionV3, variables, images):
    return module.apply(variables, preprocess(images))


class InceptionExtractor:
    """FID features: images [N, H, W, C] in [-1, 1] -> (pool3 [N, 2048], logits [N, 1008]) float32 numpy.

    Runs :func:`preprocess` and the network in jitted batches of ``batch_size``
    (the last batch is padded, so one compilation per image shape).
    """

    name = "inception_v3_fid"
    feature_dim = FEATURE_DIM

    def __init__(self, path: str, batch_size: int = 100):
        self.path = path
        self.batch_size = batch_size
        self.module, self.variables = load_inception(path)

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise ValueError(f"{self.name}: expected images [N, H, W, C] with C in (1, 3), got {images.shape}")
        if images.size and (images.min() < -1.001 or images.max() > 1.001):
            raise ValueError(f"{self.name}: images must be in [-1, 1], got range "
                             f"[{images.min():.3g}, {images.max():.3g}]")
        features, logits = [], []
        for start in range(0, len(images), self.batch_size):
            batch = images[start:start + self.batch_size]
            n = len(batch)
            if n < self.batch_size:
                batch = np.concatenate([batch, np.zeros((self.batch_size - n, *batch.shape[1:]), np.float32)])
            f, lg = _features_and_logits(self.module, self.variables, batch)
            features.append(np.asarray(f[:n], np.float32))
            logits.append(np.asarray(lg[:n], np.float32))
        if not features:
            return np.zeros((0, FEATURE_DIM), np.float32), np.zeros((0, NUM_CLASSES), np.float32)
        return np.concatenate(features), np.concatenate(logits)
