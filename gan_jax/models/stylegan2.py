"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"), sized
from the config so that 28/32 px trains on a CPU and 64 px on a GPU.

Generator = mapping network + synthesis network:

* mapping: z [B, Z] -> w [B, W] (W = Z): pixel norm, ``mapping_layers`` dense layers with
  leaky ReLU, learning rate x0.01. It tracks w_avg (EMA of the batch mean of w, decay 0.995)
  in the ``batch_stats`` collection; the truncation trick is w_avg + psi (w - w_avg), or, for a
  self-conditioned G with ``truncation_center="cluster"``, w_c + psi (w - w_c) about the mean
  w of the sample's cluster (:meth:`StyleGAN2Generator.cluster_means`).
* synthesis: w+ [B, L, W] (or one w [B, W] for every layer) -> images [B, R, R, C]. A learned
  constant S x S, then per resolution two *modulated, demodulated* 3x3 convs (the first
  after a nearest-neighbour 2x upsampling, cheaper on the CPU than the paper's bilinear
  one, and computed without materialising it: :func:`conv2d_up`), each followed by per-pixel
  noise x a learned strength, bias and leaky ReLU; a modulated 1x1 toRGB per resolution, the
  images summed over bilinearly upsampled resolutions (the skip architecture). Row l of w+
  drives synthesis conv l, and toRGB j takes the row after its resolution's last conv:
  L = :func:`num_ws` = 2 + 2k rows for k upsamplings. Noise maps are inputs
  (:func:`noise_shapes`); without them, the fixed ``noise_const`` maps drawn at init (in
  ``batch_stats``) are used.

Discriminator: fromRGB, residual blocks (two 3x3 convs, the second at half resolution after
2x2 average pooling; a 1x1 skip; sum x 1/sqrt 2), then at S x S a minibatch-stddev channel,
a 3x3 conv, a dense layer and the logit. All layers use equalised learning rate (weights
N(0, 1), scaled by 1/sqrt(fan in) at run time) and leaky ReLU(0.2) x sqrt 2. No normalisation.

Self-conditioning (``cluster_code`` = K > 0, as the DCGAN's: :mod:`gan_jax.data.clusters`):
the mapping network reads a cluster off z, the argmax of z's first K entries
(:func:`gan_jax.models.dcgan.latent_code`), embeds its one-hot code and concatenates it,
second-moment normalised, with the normalised z (StyleGAN2-ADA's conditional mapping), so G
still takes z alone; D ends in StyleGAN2-ADA's projection: the logit is the dot product of
its last features, mapped to ``cmap`` dimensions, with the normalised embedding of the
cluster it is told, / sqrt(cmap). Transitional training (``transition_end``, Shahbazi et al. 2022)
fades the conditioning in: the mapping network takes ``cond_weight`` x the embedding, and D
(``transition``) adds an unconditional logit to ``cond_weight`` x the projection term.

Sizes: R = S * 2**k with 3 <= S <= 7 (28 -> 7 x 2**2, 32 -> 4 x 2**3, 64 -> 4 x 2**4). The
channel count is ``width`` at full resolution and doubles at each halving.

For training, the ``style`` task (:mod:`gan_jax.tasks.style`) calls the generator's
``mapping`` and ``synthesis`` methods. For sampling and editing, :func:`style_functions`
gives the same two halves as pure functions of the variables.
"""
from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gan_jax.errors import UserError
from gan_jax.models.dcgan import latent_code
from gan_jax.models.registry import ModelFamily, register

SQRT2 = math.sqrt(2.0)
LEAK = 0.2
MAPPING_LR_MUL = 0.01
W_AVG_DECAY = 0.995
MBSTD_GROUP = 4
CLUSTER_MEAN_DRAWS = 20000
"""Latents drawn (with the fixed key ``CLUSTER_MEAN_SEED``) to estimate each cluster's mean w."""
CLUSTER_MEAN_SEED = 123
_DN = ("NHWC", "HWIO", "NHWC")


def layout(resolution: int) -> tuple[int, int]:
    """(start size S, number of 2x upsamplings k) with resolution = S * 2**k, 3 <= S <= 7, k >= 1."""
    start, k = resolution, 0
    while start > 7 and start % 2 == 0:
        start, k = start // 2, k + 1
    if not 3 <= start <= 7 or k == 0:
        raise ValueError(f"expected resolution = S * 2**k with 3 <= S <= 7 and k >= 1, got {resolution}")
    return start, k


def num_ws(resolution: int) -> int:
    """Number of style vectors L the synthesis network takes: 2 + 2k."""
    return 2 + 2 * layout(resolution)[1]


def noise_shapes(resolution: int) -> tuple[tuple[int, int], ...]:
    """(H, W) of the noise map of each of the 1 + 2k synthesis convs, in order."""
    start, k = layout(resolution)
    return ((start, start),) + tuple((start * 2 ** j, start * 2 ** j) for j in range(1, k + 1) for _ in range(2))


def act(x):
    """Leaky ReLU(0.2) x sqrt 2 (keeps unit variance for unit-variance input)."""
    return nn.leaky_relu(x, LEAK) * SQRT2


def _bilinear_matrix(n: int) -> np.ndarray:
    """[2n, n]: output row 2i takes 3/4 of input i and 1/4 of i - 1, row 2i + 1 3/4 of i and
    1/4 of i + 1 (edges replicated): the [1, 3, 3, 1] / 4 filter of bilinear 2x upsampling."""
    m = np.zeros((2 * n, n), np.float32)
    for i in range(n):
        m[2 * i, i] += 0.75
        m[2 * i, max(i - 1, 0)] += 0.25
        m[2 * i + 1, i] += 0.75
        m[2 * i + 1, min(i + 1, n - 1)] += 0.25
    return m


def upsample_2x(x):
    """Bilinear 2x upsampling [B, H, W, C] -> [B, 2H, 2W, C], as two small matmuls."""
    rows, cols = _bilinear_matrix(x.shape[1]), _bilinear_matrix(x.shape[2])
    return jnp.einsum("ph,bhwc,qw->bpqc", rows, x, cols)


def upsample_nearest(x):
    """Nearest-neighbour 2x upsampling [B, H, W, C] -> [B, 2H, 2W, C] (a broadcast: nearly free)."""
    b, h, w, c = x.shape
    return jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c)).reshape(b, 2 * h, 2 * w, c)


def downsample_2x(x):
    """2x2 average pooling [B, H, W, C] -> [B, H/2, W/2, C]."""
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _canonical_conv(lhs, rhs, padding):
    """Stride-1 conv of lhs [B, H, W, I] by rhs [kh, kw, I, O] with ``padding`` ((lo, hi), (lo, hi))."""
    return lax.conv_general_dilated(lhs, rhs, (1, 1), padding, dimension_numbers=_DN)


def _canonical_conv_fwd(lhs, rhs, padding):
    return _canonical_conv(lhs, rhs, padding), (lhs, rhs)


def _canonical_conv_bwd(padding, residuals, g):
    """Both gradients as convs of the same NHWC/HWIO form (so their own gradients are too): the
    data gradient convolves g with the flipped, transposed kernel; the kernel gradient convolves
    the input with the batch as its channel axis by g with the batch as its input axis."""
    lhs, rhs = residuals
    kh, kw = rhs.shape[:2]
    (h_lo, h_hi), (w_lo, w_hi) = padding
    d_lhs = _canonical_conv(g, jnp.swapaxes(rhs[::-1, ::-1], 2, 3),
                            ((kh - 1 - h_lo, kh - 1 - h_hi), (kw - 1 - w_lo, kw - 1 - w_hi)))
    d_rhs = _canonical_conv(jnp.transpose(lhs, (3, 1, 2, 0)), jnp.transpose(g, (1, 2, 0, 3)), padding)
    return d_lhs, jnp.transpose(d_rhs, (1, 2, 0, 3))


_canonical_conv.defvjp(_canonical_conv_fwd, _canonical_conv_bwd)


def conv2d(x, kernel, groups: int = 1):
    """'Same' stride-1 convolution x [B, H, W, I] by kernel [k, k, I / groups, O] (odd k) -> [B, H, W, O].

    The same numbers as ``lax.conv_general_dilated``; its gradients, and theirs (R1 and the
    path-length penalty differentiate twice), are convolutions of the one layout XLA:CPU runs
    fast. Plain ``lax`` gradients inside a ``lax.cond`` (lazy regularisation) keep layouts
    that XLA:CPU computes with naive loops, 10-20x slower. 1x1 kernels are a matmul; groups
    are separate convolutions.
    """
    k = kernel.shape[0]
    if k == 1 and groups == 1:
        return x @ kernel[0, 0]
    if groups > 1:
        xs, ks = jnp.split(x, groups, axis=-1), jnp.split(kernel, groups, axis=-1)
        return jnp.concatenate([conv2d(a, b) for a, b in zip(xs, ks)], axis=-1)
    return _canonical_conv(x, kernel, ((k // 2, k // 2), (kernel.shape[1] // 2, kernel.shape[1] // 2)))


# Nearest 2x upsampling then a 3x3 conv, per output phase a (row 2i + a): the upsampled rows
# 2i + a - 1 .. 2i + a + 1 are input rows (i - 1, i, i) for a = 0 and (i, i, i + 1) for a = 1,
# so phase a is a 2x2 conv over input rows (i - 1 + a, i + a) by the kernel's rows folded:
# _UP_FOLD[a, r, dy] says whether kernel row dy lands on window row r.
_UP_FOLD = np.array([[[1, 0, 0], [0, 1, 1]], [[1, 1, 0], [0, 0, 1]]], np.float32)  # [a, r, dy]


def conv2d_up(x, kernel):
    """``conv2d(upsample_nearest(x), kernel)`` for a 3x3 kernel: x [B, H, W, I] -> [B, 2H, 2W, O].

    The same numbers in 16 taps per input pixel instead of 36: each of the four output phases
    (row parity a, column parity b) is a 2x2 conv of the low-resolution x by the 3x3 kernel
    folded (:data:`_UP_FOLD`), the phases interleaved. On XLA:CPU its forward and backward run
    in 52-61 % of the upsample-then-conv time at the 28 px model's sizes
    (``benchmarks/upconv.py``).
    """
    if kernel.shape[:2] != (3, 3):
        raise ValueError(f"conv2d_up expects a 3x3 kernel, got {kernel.shape[:2]}")
    b, h, w, _ = x.shape
    phases = jnp.einsum("ard,bse,deio->abrsio", _UP_FOLD, _UP_FOLD, kernel)  # [2, 2, 2, 2, I, O]
    rows = [jnp.stack([_canonical_conv(x, phases[a, c], ((1 - a, a), (1 - c, c))) for c in range(2)], axis=3)
            for a in range(2)]  # each [B, H, W, 2 (column parity), O]
    return jnp.stack(rows, axis=2).reshape(b, 2 * h, 2 * w, kernel.shape[-1])


def modulated_conv(x, weight, styles, demodulate: bool = True, up: bool = False, eps: float = 1e-8):
    """StyleGAN2's modulated convolution, 'same' padding (after nearest 2x upsampling with ``up``).

    x [B, H, W, I], weight [k, k, I, O], styles [B, I] -> [B, H, W, O] ([B, 2H, 2W, O] with
    ``up``). Sample b is convolved with w'_b = weight * styles[b, i] (per input channel); with
    ``demodulate`` each output channel o is then divided by sqrt(sum_{k, k, i} w'_b^2 + eps).
    Computed as conv(x * s, w) times the demodulation factors: the same numbers, one ordinary
    conv for the whole batch (:func:`conv2d_up` with ``up``).
    """
    x = x * styles[:, None, None, :].astype(x.dtype)
    y = conv2d_up(x, weight) if up else conv2d(x, weight)
    if demodulate:
        d = lax.rsqrt(jnp.einsum("hwio,bi->bo", jnp.square(weight), jnp.square(styles)) + eps)  # [B, O]
        y = y * d[:, None, None, :]
    return y


def minibatch_stddev(x, group_size: int = MBSTD_GROUP):
    """Append the minibatch-stddev feature: [B, H, W, C] -> [B, H, W, C + 1].

    Consecutive samples form groups of G = gcd(B, group_size); the new channel of every
    sample of a group is the mean over (H, W, C) of the per-feature standard deviation over
    the group (population std, eps 1e-8 under the square root). Groups of consecutive rows
    stay on one device when the batch is split over devices (rows per device divisible by G).
    """
    b, h, w, c = x.shape
    g = math.gcd(b, group_size)
    y = x.reshape(b // g, g, h, w, c)
    std = jnp.sqrt(jnp.mean(jnp.square(y - y.mean(axis=1, keepdims=True)), axis=1) + 1e-8)  # [B/G, H, W, C]
    feature = jnp.repeat(std.mean(axis=(1, 2, 3)), g)  # [B]
    return jnp.concatenate([x, jnp.broadcast_to(feature[:, None, None, None], (b, h, w, 1)).astype(x.dtype)], -1)


def mix_styles(w_first, w_second, crossover, layers: int):
    """Style mixing: w+ [B, L, W] taking ``w_first`` [B, W] for layers < ``crossover`` and
    ``w_second`` [B, W] from it on (``crossover`` an int or int []; L: no mixing)."""
    use_second = (jnp.arange(layers) >= crossover)[None, :, None]
    return jnp.where(use_second, w_second[:, None, :], w_first[:, None, :])


def normalize_2nd_moment(x, eps: float = 1e-8):
    """x [..., F] / sqrt(mean over F of x^2 + eps) (StyleGAN's pixel norm of z)."""
    return x * lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps)


def truncate(w, w_avg, psi):
    """The truncation trick: w_avg + psi (w - w_avg); w [..., W], w_avg [W]."""
    return w_avg + psi * (w - w_avg)


class EqualDense(nn.Module):
    """Dense layer with equalised learning rate: weight N(0, 1/lr_mul^2) used as
    weight * lr_mul / sqrt(fan in), bias stored / lr_mul and used x lr_mul. [..., I] -> [..., O]."""
    features: int
    lr_mul: float = 1.0
    bias_init: float = 0.0
    use_bias: bool = True

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", nn.initializers.normal(1.0 / self.lr_mul), (x.shape[-1], self.features))
        y = x @ (kernel * (self.lr_mul / math.sqrt(x.shape[-1])))
        if self.use_bias:
            bias = self.param("bias", nn.initializers.constant(self.bias_init / self.lr_mul), (self.features,))
            y = y + bias * self.lr_mul
        return y


class EqualConv(nn.Module):
    """k x k 'same' conv with equalised learning rate: [B, H, W, I] -> [B, H, W, O]."""
    features: int
    kernel_size: int
    use_bias: bool = True

    @nn.compact
    def __call__(self, x):
        k = self.kernel_size
        kernel = self.param("kernel", nn.initializers.normal(1.0), (k, k, x.shape[-1], self.features))
        y = conv2d(x, kernel / math.sqrt(k * k * x.shape[-1]))
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,))
        return y


class MappingNetwork(nn.Module):
    """z [B, Z] -> w [B, W]: pixel norm, ``depth`` dense layers (lr x0.01) with leaky ReLU.

    Keeps ``w_avg`` [W] in ``batch_stats``; ``update_w_avg`` (mutable ``batch_stats``) moves it
    towards the batch mean of w (averaged over ``axis_name``'s devices) with decay 0.995.
    With ``codes`` = K > 0 the one-hot of ``latent_code(z, K)`` is embedded ([K] -> [W]) and joins
    the normalised z: the input is [B, Z + W]; ``cond_weight`` (a float or float []) scales the
    embedding (transitional training: 0 makes the mapping unconditional)."""
    w_dim: int
    depth: int = 8
    axis_name: str | None = None
    codes: int = 0

    @nn.compact
    def __call__(self, z, update_w_avg: bool = False, cond_weight=1.0):
        x = normalize_2nd_moment(z)
        if self.codes:
            code = jax.nn.one_hot(latent_code(z, self.codes), self.codes, dtype=z.dtype)
            embed = normalize_2nd_moment(EqualDense(self.w_dim, name="embed")(code))
            x = jnp.concatenate([x, cond_weight * embed], axis=-1)
        for i in range(self.depth):
            x = act(EqualDense(self.w_dim, lr_mul=MAPPING_LR_MUL, name=f"dense_{i}")(x))
        w_avg = self.variable("batch_stats", "w_avg", jnp.zeros, (self.w_dim,), jnp.float32)
        if update_w_avg and not self.is_initializing():
            mean = jnp.mean(lax.stop_gradient(x), axis=0)
            if self.axis_name is not None:
                mean = lax.pmean(mean, self.axis_name)
            w_avg.value = W_AVG_DECAY * w_avg.value + (1.0 - W_AVG_DECAY) * mean
        return x

    def average(self):
        """w_avg [W]."""
        return self.get_variable("batch_stats", "w_avg")


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (after nearest 2x upsampling when ``up``), + noise x strength, bias, leaky ReLU.
    x [B, H, W, I], w [B, W], noise [B, H', W', 1] or None (the layer's ``noise_const``)."""
    features: int
    up: bool = False

    @nn.compact
    def __call__(self, x, w, noise=None):
        fan_in = x.shape[-1]
        styles = EqualDense(fan_in, bias_init=1.0, name="affine")(w)
        kernel = self.param("kernel", nn.initializers.normal(1.0), (3, 3, fan_in, self.features))
        y = modulated_conv(x, kernel / math.sqrt(9 * fan_in), styles, demodulate=True, up=self.up)
        const = self.variable("batch_stats", "noise_const",
                              lambda: jax.random.normal(self.make_rng("params"), y.shape[1:3]))
        noise = const.value[None, :, :, None] if noise is None else noise
        y = y + self.param("noise_strength", nn.initializers.zeros, ()) * noise
        return act(y + self.param("bias", nn.initializers.zeros, (self.features,)))


class ToRGB(nn.Module):
    """Modulated 1x1 conv without demodulation, + bias: [B, H, W, I], w [B, W] -> [B, H, W, C]."""
    channels: int

    @nn.compact
    def __call__(self, x, w):
        styles = EqualDense(x.shape[-1], bias_init=1.0, name="affine")(w)
        kernel = self.param("kernel", nn.initializers.normal(1.0), (1, 1, x.shape[-1], self.channels))
        y = modulated_conv(x, kernel / math.sqrt(x.shape[-1]), styles, demodulate=False)
        return y + self.param("bias", nn.initializers.zeros, (self.channels,))


class SynthesisNetwork(nn.Module):
    """w+ [B, L, W] (or w [B, W]) and noise maps (``noise_shapes``, each [B, H, W, 1]; None: the
    constant ones) -> images [B, R, R, C], not clipped (about [-1, 1] once trained)."""
    resolution: int
    channels: int
    width: int

    @nn.compact
    def __call__(self, ws, noise: Sequence | None = None):
        start, k = layout(self.resolution)
        if ws.ndim == 2:
            ws = jnp.broadcast_to(ws[:, None, :], (ws.shape[0], num_ws(self.resolution), ws.shape[-1]))
        noise = [None] * (1 + 2 * k) if noise is None else list(noise)
        features = [self.width * 2 ** (k - j) for j in range(k + 1)]  # per resolution, start first
        const = self.param("const", nn.initializers.normal(1.0), (start, start, features[0]))
        x = jnp.broadcast_to(const[None], (ws.shape[0],) + const.shape)
        x = SynthesisLayer(features[0], name="layer_0")(x, ws[:, 0], noise[0])
        image = ToRGB(self.channels, name="to_rgb_0")(x, ws[:, 1])
        for j in range(1, k + 1):
            x = SynthesisLayer(features[j], up=True, name=f"layer_{2 * j - 1}")(x, ws[:, 2 * j - 1], noise[2 * j - 1])
            x = SynthesisLayer(features[j], name=f"layer_{2 * j}")(x, ws[:, 2 * j], noise[2 * j])
            image = upsample_2x(image) + ToRGB(self.channels, name=f"to_rgb_{j}")(x, ws[:, 2 * j + 1])
        return image


class StyleGAN2Generator(nn.Module):
    """z [B, Z] -> images [B, R, R, C] in [-1, 1] (clipped): mapping, truncation to
    ``truncation_psi`` about ``truncation_center`` (``mean``: w_avg; ``cluster``: the sample's
    cluster mean, with ``codes``), synthesis with the constant noise. ``mapping`` and
    ``synthesis`` are the two halves (``apply(..., method="mapping")``)."""
    resolution: int = 28
    channels: int = 1
    z_dim: int = 128
    mapping_layers: int = 8
    width: int = 32
    truncation_psi: float = 1.0
    axis_name: str | None = None
    codes: int = 0
    truncation_center: str = "mean"

    def setup(self):
        self.mapping_net = MappingNetwork(self.z_dim, self.mapping_layers, self.axis_name, self.codes)
        self.synthesis_net = SynthesisNetwork(self.resolution, self.channels, self.width)

    def mapping(self, z, psi=1.0, update_w_avg: bool = False, cond_weight=1.0):
        """z [B, Z] -> w [B, W], truncated by ``psi`` (1: none) about w_avg or, with
        ``truncation_center="cluster"``, about the mean w of each z's cluster;
        ``cond_weight``: the cluster embedding's weight (self-conditioning; 1 once trained)."""
        w = self.mapping_net(z, update_w_avg, cond_weight)
        if isinstance(psi, (int, float)) and psi == 1.0:
            return w
        if self.truncation_center == "cluster":
            return truncate(w, self.cluster_means(cond_weight)[latent_code(z, self.codes)], psi)
        return truncate(w, self.mapping_net.average(), psi)

    def cluster_means(self, cond_weight=1.0):
        """[K, W]: each cluster's mean w, over ``CLUSTER_MEAN_DRAWS`` latents drawn with a fixed key
        and grouped by their cluster (about 1,000 per cluster for K = 20): a function of the
        parameters alone (nothing is tracked during training)."""
        if not self.codes:
            raise ValueError("cluster means need a self-conditioned generator (codes > 0)")
        z = jax.random.normal(jax.random.PRNGKey(CLUSTER_MEAN_SEED), (CLUSTER_MEAN_DRAWS, self.z_dim))
        w = self.mapping_net(z, False, cond_weight)
        one_hot = jax.nn.one_hot(latent_code(z, self.codes), self.codes, dtype=w.dtype)
        return (one_hot.T @ w) / jnp.sum(one_hot, axis=0)[:, None]

    def synthesis(self, ws, noise=None):
        """w [B, W] or w+ [B, L, W] (and noise maps) -> images [B, R, R, C], not clipped."""
        return self.synthesis_net(ws, noise)

    def __call__(self, z, labels=None, train: bool = True):
        if labels is not None:
            raise ValueError("the StyleGAN2 generator is unconditional: pass no labels")
        return jnp.clip(self.synthesis(self.mapping(z, self.truncation_psi)), -1.0, 1.0)


class StyleGAN2Discriminator(nn.Module):
    """images [B, R, R, C] (and, with ``num_classes`` = K > 0, the cluster int [B] of each)
    -> logits [B]: fromRGB, residual blocks down to S x S, minibatch stddev, 3x3 conv, dense,
    logit; with K, the logit is StyleGAN2-ADA's projection onto the cluster's embedding, and with
    ``transition`` an unconditional logit + ``cond_weight`` x that projection."""
    resolution: int = 28
    width: int = 32
    num_classes: int = 0
    transition: bool = False
    mbstd_group: int = MBSTD_GROUP

    @nn.compact
    def __call__(self, x, labels=None, train: bool = True, cond_weight=1.0):
        if (labels is None) != (self.num_classes == 0):
            raise ValueError(f"the StyleGAN2 discriminator with num_classes={self.num_classes} expects "
                             f"{'labels int [B]' if self.num_classes else 'no labels'}")
        start, k = layout(self.resolution)
        h = act(EqualConv(self.width, 1, name="from_rgb")(x))
        for j in range(k):
            out = self.width * 2 ** (j + 1)
            skip = EqualConv(out, 1, use_bias=False, name=f"skip_{j}")(downsample_2x(h))
            h = act(EqualConv(h.shape[-1], 3, name=f"conv_{j}_a")(h))
            h = act(EqualConv(out, 3, name=f"conv_{j}_b")(downsample_2x(h)))
            h = (skip + h) / SQRT2
        h = minibatch_stddev(h, self.mbstd_group)
        h = act(EqualConv(h.shape[-1] - 1, 3, name="epilogue_conv")(h))
        h = act(EqualDense(h.shape[-1], name="epilogue_dense")(h.reshape(h.shape[0], -1)))
        if not self.num_classes:
            return EqualDense(1, name="logit")(h)[:, 0]
        cmap_dim = h.shape[-1]
        cmap = EqualDense(cmap_dim, name="class_embed")(jax.nn.one_hot(labels, self.num_classes, dtype=h.dtype))
        out = EqualDense(cmap_dim, name="logit")(h)
        projection = jnp.sum(out * normalize_2nd_moment(cmap), axis=-1) / math.sqrt(cmap_dim)
        if not self.transition:
            return projection
        return EqualDense(1, name="unconditional_logit")(h)[:, 0] + cond_weight * projection


# --------------------------------------------------------------------------- pure functions for editing

class StyleFunctions(NamedTuple):
    """The StyleGAN2 generator as pure functions of its variables (``state.generator_variables()``)."""
    mapping: Callable
    """``mapping(variables, z [B, Z], psi=1.0, cond_weight=1.0) -> w [B, W]`` (truncation about the
    run's ``truncation_center``: w_avg or the sample's cluster mean; ``cond_weight``: the cluster
    embedding's weight, below 1 only mid-transition)."""
    synthesis: Callable
    """``synthesis(variables, w [B, W] or w+ [B, L, W], noise=None) -> images [B, R, R, C]`` in
    [-1, 1] (clipped); ``noise``: maps of shapes ``[B, H, W, 1]`` for ``noise_shapes``, or None
    for the run's constant noise."""
    num_ws: int
    """L: style vectors per image (layer l of w+ drives synthesis conv l, the last toRGBs share)."""
    noise_shapes: tuple
    """(H, W) of each synthesis conv's noise map, in order."""


def generator_module(config) -> StyleGAN2Generator:
    """The StyleGAN2 generator of ``config`` (no device axis)."""
    return build(config)[0]


@functools.lru_cache(maxsize=8)
def style_functions(config) -> StyleFunctions:
    """:class:`StyleFunctions` of ``config``'s StyleGAN2 generator.

    Editing in W: ``w = mapping(variables, z)``, edit ``w`` (or w+ = ``w[:, None]`` repeated L
    times, one row per layer), ``images = synthesis(variables, w)``. SeFa on the first
    modulation layer: :func:`style_affine` (index 0).
    """
    g = generator_module(config)

    def mapping(variables, z, psi=1.0, cond_weight=1.0):
        return g.apply(variables, z, psi, cond_weight=cond_weight, method="mapping")

    def synthesis(variables, ws, noise=None):
        return jnp.clip(g.apply(variables, ws, noise, method="synthesis"), -1.0, 1.0)

    return StyleFunctions(mapping, synthesis, num_ws(config.resolution), noise_shapes(config.resolution))


def style_affine(variables, index: int = 0) -> jax.Array:
    """The effective affine map w -> styles of synthesis conv ``index`` (0: the first
    modulation layer), [W, I]: styles = w @ A + bias. SeFa's directions are the top
    eigenvectors of A A^T ([W, W])."""
    dense = variables["params"]["synthesis_net"][f"layer_{index}"]["affine"]
    kernel = dense["kernel"]
    return kernel / math.sqrt(kernel.shape[0])


# --------------------------------------------------------------------------- registry

def check_style_layout(config, model: str, why_no_norm: str) -> None:
    """The checks StyleGAN2 and R3GAN share: S * 2**k px (3 <= S <= 7), d_norm=none (the reason,
    ``why_no_norm``, goes in the message), no classes, float32; each error names ``model``."""
    try:
        layout(config.resolution)
    except ValueError as e:
        raise UserError(f"model={model}, resolution={config.resolution}: {e}") from None
    if config.d_norm != "none":
        raise UserError(f"model={model}: expected d_norm=none ({why_no_norm}), got {config.d_norm!r}")
    if config.num_classes:
        raise UserError(f"model={model}: expected num_classes=0 (unconditional), got {config.num_classes}")
    if config.compute_dtype != "float32":
        raise UserError(f"model={model}: expected compute_dtype=float32, got {config.compute_dtype!r}")


def validate(config) -> None:
    """StyleGAN2 takes S * 2**k px (3 <= S <= 7), d_norm=none, no classes (but clusters), float32."""
    check_style_layout(config, "stylegan2", "its D has no normalisation")
    if config.mapping_layers < 1:
        raise UserError(f"mapping_layers={config.mapping_layers}: expected at least 1")
    if config.mbstd_group < 1:
        raise UserError(f"mbstd_group={config.mbstd_group}: expected at least 1 row per minibatch-stddev group")
    if config.truncation_center == "cluster" and not config.cluster_code:
        raise UserError("truncation_center=cluster: expected a self-conditioned StyleGAN2 (cluster_code > 0), "
                        "got cluster_code=0")


def build(config, axis_name: str | None = None):
    """StyleGAN2 (generator, discriminator) for ``config`` (``g_width``/``d_width``: channels at full
    resolution; ``cluster_code``: self-conditioned on that many clusters; ``transition_end``: D
    with the unconditional logit of transitional training)."""
    return (StyleGAN2Generator(config.resolution, config.channels, config.z_dim, config.mapping_layers,
                               config.g_width, config.truncation_psi, axis_name, config.cluster_code,
                               config.truncation_center),
            StyleGAN2Discriminator(config.resolution, config.d_width, config.cluster_code,
                                   config.transitional, config.mbstd_group))


register("stylegan2", ModelFamily(build, validate, tasks=("style",)))
