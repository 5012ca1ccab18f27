"""Building blocks shared by the models.

The transposed convolution here computes exactly what ``lax.conv_transpose``
(and PyTorch's ``ConvTranspose2d``) computes, with a faster backward pass on
XLA:CPU: the gradients are written as those of the *adjoint strided
convolution*, which XLA runs an order of magnitude faster than the weight
gradient of a dilated convolution. A 1x1 input (the generator's projection
layer) becomes a single matmul.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

_DN = ("NHWC", "HWIO", "NHWC")

_FORCE_PLAIN = [False]


@contextlib.contextmanager
def plain_convs(enabled: bool = True):
    """While tracing inside this context, every :class:`Conv` and :class:`ConvTranspose` uses the
    plain ``lax`` op whatever its ``fast`` flag (for benchmarks and equivalence tests)."""
    old = _FORCE_PLAIN[0]
    _FORCE_PLAIN[0] = enabled
    try:
        yield
    finally:
        _FORCE_PLAIN[0] = old

dcgan_kernel_init = nn.initializers.normal(0.02)
"""DCGAN convolution init: N(0, 0.02)."""


def dcgan_scale_init(key, shape, dtype=jnp.float32):
    """DCGAN BatchNorm scale init: N(1, 0.02)."""
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def strided_conv(u, kernel, stride: int, padding: int):
    """Plain convolution. u: [B, H, W, I], kernel: [kh, kw, I, O] -> [B, H', W', O]."""
    pad = ((padding, padding), (padding, padding))
    return lax.conv_general_dilated(u, kernel, (stride, stride), pad, dimension_numbers=_DN)


def conv_transpose_reference(x, kernel, stride: int, padding: int):
    """Transposed convolution with PyTorch ``ConvTranspose2d`` semantics, via ``lax.conv_transpose``.

    x: [B, H, W, I]; kernel: [kh, kw, I, O] (PyTorch weight ``[I, O, kh, kw]`` transposed
    to ``(2, 3, 0, 1)``). Output: [B, (H - 1) * stride - 2 * padding + kh, ..., O].
    """
    kh, kw = kernel.shape[:2]
    pad = ((kh - 1 - padding,) * 2, (kw - 1 - padding,) * 2)
    # ``transpose_kernel=True`` wants the kernel of the adjoint forward conv: [kh, kw, O, I].
    adjoint_kernel = jnp.swapaxes(kernel, 2, 3)
    return lax.conv_transpose(
        x, adjoint_kernel, (stride, stride), pad, dimension_numbers=_DN, transpose_kernel=True
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv_transpose_fast(x, kernel, stride: int, padding: int):
    """Same function as :func:`conv_transpose_reference`; gradients via the adjoint strided conv."""
    return conv_transpose_reference(x, kernel, stride, padding)


def _conv_transpose_fast_fwd(x, kernel, stride, padding):
    return conv_transpose_reference(x, kernel, stride, padding), (x, kernel)


def _conv_transpose_fast_bwd(stride, padding, residuals, g):
    x, kernel = residuals
    # y = A^T x where A = strided_conv(., adjoint_kernel). Then dx = A g, and
    # dK is the weight gradient of the forward conv A evaluated at input g, cotangent x.
    adjoint_kernel = jnp.swapaxes(kernel, 2, 3)
    dx = strided_conv(g, adjoint_kernel, stride, padding)
    _, pullback = jax.vjp(lambda k: strided_conv(g, k, stride, padding), adjoint_kernel)
    (d_adjoint,) = pullback(x)
    return dx, jnp.swapaxes(d_adjoint, 2, 3)


conv_transpose_fast.defvjp(_conv_transpose_fast_fwd, _conv_transpose_fast_bwd)


def project(x, kernel):
    """Transposed conv of a 1x1 input with stride 1 and no padding, as one matmul.

    x: [B, 1, 1, I]; kernel: [kh, kw, I, O] -> [B, kh, kw, O].
    """
    kh, kw, i, o = kernel.shape
    flat = jnp.transpose(kernel, (2, 0, 1, 3)).reshape(i, kh * kw * o)
    return (x.reshape(x.shape[0], i) @ flat).reshape(x.shape[0], kh, kw, o)


class ConvTranspose(nn.Module):
    """Transposed convolution with PyTorch semantics (``ConvTranspose2d(k, stride, padding)``).

    Input [B, H, W, I] -> [B, (H - 1) * stride - 2 * padding + k, ..., features].
    The kernel parameter is ``[k, k, I, features]``. ``fast=True`` selects the
    fast-gradient formulation; ``fast=False`` the plain ``lax.conv_transpose``.
    """

    features: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    use_bias: bool = False
    fast: bool = True
    kernel_init: Any = dcgan_kernel_init
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        k = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (k, k, x.shape[-1], self.features))
        x, kernel = x.astype(self.dtype), kernel.astype(self.dtype)
        if not self.fast or _FORCE_PLAIN[0]:
            y = conv_transpose_reference(x, kernel, self.stride, self.padding)
        elif x.shape[1:3] == (1, 1) and self.stride == 1 and self.padding == 0:
            y = project(x, kernel)
        else:
            y = conv_transpose_fast(x, kernel, self.stride, self.padding)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,)).astype(self.dtype)
        return y


class Conv(nn.Module):
    """Convolution with PyTorch-style integer padding: ``Conv2d(k, stride, padding)``.

    Input [B, H, W, I] -> [B, (H + 2 * padding - k) // stride + 1, ..., features].
    """

    features: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    use_bias: bool = False
    kernel_init: Any = dcgan_kernel_init
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        p = self.padding
        return nn.Conv(
            self.features,
            (self.kernel_size, self.kernel_size),
            strides=(self.stride, self.stride),
            padding=((p, p), (p, p)),
            use_bias=self.use_bias,
            kernel_init=self.kernel_init,
            dtype=self.dtype,
        )(x)


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
