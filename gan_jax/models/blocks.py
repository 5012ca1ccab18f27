"""Building blocks shared by the models: conv layers, norms, spectral norm, inits, pixel shuffle.

:class:`ConvTranspose` and :class:`Conv` compute exactly what ``lax.conv_transpose``
(PyTorch's ``ConvTranspose2d``) and ``lax.conv_general_dilated`` (``Conv2d``) compute,
each op by the formulation their ``conv_policy`` field chooses (:mod:`gan_jax.ops`;
:data:`gan_jax.ops.PLAIN`: the plain ``lax`` ops). Same function under every policy.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax import ops
from gan_jax.ops import DEFAULT_POLICY, ConvPolicy

dcgan_kernel_init = nn.initializers.normal(0.02)
"""DCGAN convolution init: N(0, 0.02)."""


def dcgan_scale_init(key, shape, dtype=jnp.float32):
    """DCGAN BatchNorm scale init: N(1, 0.02)."""
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def pixel_shuffle(x, r: int):
    """Sub-pixel upsampling (Shi et al. 2016): [B, H, W, r*r*C] -> [B, r*H, r*W, C].

    Output pixel (r*i + a, r*j + b, c) is input channel (a*r + b)*C + c of pixel (i, j): the
    channel order of :func:`gan_jax.ops.space_to_depth`, whose exact inverse this is.
    """
    if x.shape[-1] % (r * r):
        raise ValueError(f"pixel_shuffle: {x.shape[-1]} channels is not a multiple of r*r = {r * r}")
    return ops.depth_to_space(x, r)


class ConvTranspose(nn.Module):
    """Transposed convolution with PyTorch semantics (``ConvTranspose2d(k, stride, padding)``).

    Input [B, H, W, I] -> [B, (H - 1) * stride - 2 * padding + k, ..., features].
    The kernel parameter is ``[k, k, I, features]``. A fast ``conv_policy`` selects the
    fast formulations (:func:`gan_jax.ops.conv_transpose_fast`, :func:`gan_jax.ops.project`);
    :data:`gan_jax.ops.PLAIN` the plain ``lax.conv_transpose``. Same function either way.
    """

    features: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    use_bias: bool = False
    conv_policy: ConvPolicy = DEFAULT_POLICY
    kernel_init: Any = dcgan_kernel_init
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        k, policy = self.kernel_size, self.conv_policy
        kernel = self.param("kernel", self.kernel_init, (k, k, x.shape[-1], self.features))
        x, kernel = x.astype(self.dtype), kernel.astype(self.dtype)
        if not policy.fast:
            y = ops.conv_transpose_reference(x, kernel, self.stride, self.padding)
        elif x.shape[1:3] == (1, 1) and self.stride == 1 and self.padding == 0:
            y = ops.project(x, kernel)
        else:
            y = ops.split_batch(lambda v, w: ops.conv_transpose_fast(v, w, self.stride, self.padding, policy),
                                x, kernel, policy)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,)).astype(self.dtype)
        return y


class Conv(nn.Module):
    """Convolution with PyTorch-style integer padding: ``Conv2d(k, stride, padding)``.

    Input [B, H, W, I] -> [B, (H + 2 * padding - k) // stride + 1, ..., features].
    A fast ``conv_policy`` routes the convolution through :func:`gan_jax.ops.strided_conv_fast`
    (:data:`gan_jax.ops.PLAIN`: plain ``lax``). Same function either way.
    """

    features: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    use_bias: bool = False
    conv_policy: ConvPolicy = DEFAULT_POLICY
    kernel_init: Any = dcgan_kernel_init
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        p = self.padding
        fast = functools.partial(ops.conv_general_dilated_fast, policy=self.conv_policy)
        # The parameter lives in an inner nn.Conv ("Conv_0/kernel"), as before the fast path existed.
        return nn.Conv(
            self.features,
            (self.kernel_size, self.kernel_size),
            strides=(self.stride, self.stride),
            padding=((p, p), (p, p)),
            use_bias=self.use_bias,
            kernel_init=self.kernel_init,
            dtype=self.dtype,
            conv_general_dilated=fast if self.conv_policy.fast else None,
        )(x)


def spectral_normed(layer: nn.Module, enabled: bool, train: bool) -> Callable:
    """``layer`` under spectral normalisation (Miyato et al. 2018) when ``enabled``, else ``layer``.

    The power-iteration vectors live in the ``batch_stats`` collection and advance only in
    training mode. Call inside the owning module's compact method (names follow the call order).
    """
    if enabled:
        return lambda x: nn.SpectralNorm(layer)(x, update_stats=train)
    return layer


def projection_term(h: jax.Array, labels: jax.Array, num_classes: int, embedding_init) -> jax.Array:
    """The projection discriminator's class term (Miyato & Koyama 2018): <embed(y), h> [B].

    ``h`` [B, F] are D's pooled last features, ``labels`` int [B]; the embedding table
    [num_classes, F] is the calling module's ``class_embedding`` parameter.
    """
    embed = nn.Embed(num_classes, h.shape[-1], embedding_init=embedding_init, name="class_embedding")(labels)
    return jnp.sum(embed * h, axis=-1)


def batch_norm(train: bool, axis_name: str | None, dtype=jnp.float32) -> nn.BatchNorm:
    """BatchNorm with PyTorch defaults (momentum 0.1, eps 1e-5) and DCGAN init.

    In training mode, statistics are averaged over ``axis_name`` (all devices
    of a data-parallel step) so N devices compute what one device would.
    """
    return nn.BatchNorm(
        use_running_average=not train,
        momentum=0.9,
        epsilon=1e-5,
        axis_name=axis_name if train else None,
        scale_init=dcgan_scale_init,
        dtype=dtype,
    )


def norm_layer(kind: str, train: bool, axis_name: str | None, dtype=jnp.float32):
    """``batch`` (:func:`batch_norm`, statistics synchronised over ``axis_name``), ``instance``
    (per image and channel, no statistics) or ``none`` (the identity)."""
    if kind == "batch":
        return batch_norm(train, axis_name, dtype)
    if kind == "instance":
        return nn.InstanceNorm(epsilon=1e-5, dtype=dtype)
    if kind == "none":
        return lambda x: x
    raise ValueError(f"norm must be batch, instance or none, got {kind!r}")


class ConditionalBatchNorm(nn.Module):
    """BatchNorm whose scale and shift are looked up per class (de Vries et al. 2017).

    x [B, H, W, C], labels int [B] -> [B, H, W, C]. The statistics are shared (and,
    in training mode, averaged over ``axis_name``); each class has its own gamma
    (init N(1, 0.02), as DCGAN's BatchNorm scale) and beta (init 0).
    """

    num_classes: int
    axis_name: str | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, labels, train: bool):
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                         axis_name=self.axis_name if train else None, use_scale=False, use_bias=False,
                         dtype=self.dtype)(x)
        features = x.shape[-1]
        gamma = nn.Embed(self.num_classes, features, embedding_init=dcgan_scale_init, name="gamma")(labels)
        beta = nn.Embed(self.num_classes, features, embedding_init=nn.initializers.zeros, name="beta")(labels)
        return x * gamma[:, None, None, :].astype(x.dtype) + beta[:, None, None, :].astype(x.dtype)
