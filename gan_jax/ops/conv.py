"""The fast convs: each of forward pass, data gradient and kernel gradient by the formulation
the policy chooses for the shapes (``custom_vjp``; the policy is a static argument).

* gradients of a transposed conv are those of the *adjoint strided conv* (XLA's own kernel
  gradient of a transposed conv, a conv dilated on both sides, is an order of magnitude slower);
* with Winograd forward and kernel gradient, the transformed input tiles are computed once
  and kept for the backward pass;
* a kernel covering its whole unpadded input (D's last layer) is one matmul.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from gan_jax.ops.formulations import (DN, conv_forward, conv_kernel_grad, conv_transpose_forward,
                                      full_window_conv)
from gan_jax.ops.policy import DEFAULT_POLICY, ConvPolicy
from gan_jax.ops.winograd import kernel_grad_from_tiles, strided_conv_from_tiles, strided_conv_tiles


def split_batch(fn, x, kernel, policy: ConvPolicy):
    """``fn(x, kernel)`` on ``policy.batch_split`` independent slices of the batch x [B, ...], concatenated."""
    n = policy.batch_split
    if n <= 1 or x.shape[0] % n:
        return fn(x, kernel)
    return jnp.concatenate([fn(part, kernel) for part in jnp.split(x, n)], axis=0)


def strided_conv_fast(u, kernel, stride: int, padding: int, policy: ConvPolicy = DEFAULT_POLICY):
    """Same function as :func:`gan_jax.ops.strided_conv`: u [B, H, W, I], kernel [k, k, I, O] ->
    [B, H', W', O]; forward, data gradient and kernel gradient each by ``policy``'s formulation."""
    if policy.full_window_matmul and padding == 0 and tuple(kernel.shape[:2]) == tuple(u.shape[1:3]):
        return full_window_conv(u, kernel)
    in_hw = tuple(u.shape[1:3])
    return split_batch(lambda x, k: _strided_conv(x, k, stride, padding, in_hw, policy), u, kernel, policy)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def _strided_conv(u, kernel, stride, padding, in_hw, policy):
    tile = policy.winograd_tile
    return conv_forward(u, kernel, stride, padding, policy.choose("forward", u, kernel, stride), tile)


def _strided_conv_fwd(u, kernel, stride, padding, in_hw, policy):
    tile = policy.winograd_tile
    if policy.reuses_winograd_tiles(u, kernel, stride):
        tiles, m, out_hw = strided_conv_tiles(u, kernel.shape[0], stride, padding, tile)
        return strided_conv_from_tiles(tiles, m, kernel, stride, out_hw), (tiles, kernel)
    y = conv_forward(u, kernel, stride, padding, policy.choose("forward", u, kernel, stride), tile)
    return y, (u, kernel)


def _strided_conv_bwd(stride, padding, in_hw, policy, residuals, g):
    saved, kernel = residuals
    tile = policy.winograd_tile
    # The data gradient is the transposed conv of g with the same kernel read [k, k, O, I].
    adjoint = jnp.swapaxes(kernel, 2, 3)
    du = conv_transpose_forward(g, adjoint, stride, padding, policy.choose("transpose", g, adjoint, stride),
                                size=in_hw, winograd_tile=tile)
    if isinstance(saved, list):  # Winograd tiles of u
        m = int(round(len(saved) ** 0.5)) - 1  # (m + 1)^2 tiles
        dk = kernel_grad_from_tiles(saved, m, g, kernel.shape, stride, g.shape[1:3])
    else:
        dk = conv_kernel_grad(saved, g, kernel.shape, stride, padding,
                              policy.choose("wgrad", saved, kernel, stride), tile)
    return du, dk


_strided_conv.defvjp(_strided_conv_fwd, _strided_conv_bwd)


def conv_transpose_fast(x, kernel, stride: int, padding: int, policy: ConvPolicy = DEFAULT_POLICY):
    """Same function as :func:`gan_jax.ops.conv_transpose_reference`: x [B, H, W, I], kernel
    [k, k, I, O] -> [B, (H - 1) * stride - 2 * padding + k, ..., O]; forward by ``policy``'s
    formulation, gradients via the adjoint strided conv."""
    return _conv_transpose(x, kernel, stride, padding, policy)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _conv_transpose(x, kernel, stride, padding, policy):
    return conv_transpose_forward(x, kernel, stride, padding, policy.choose("transpose", x, kernel, stride),
                                  winograd_tile=policy.winograd_tile)


def _conv_transpose_fwd(x, kernel, stride, padding, policy):
    y = conv_transpose_forward(x, kernel, stride, padding, policy.choose("transpose", x, kernel, stride),
                               winograd_tile=policy.winograd_tile)
    return y, (x, kernel)


def _conv_transpose_bwd(stride, padding, policy, residuals, g):
    x, kernel = residuals
    tile = policy.winograd_tile
    # y = A^T x where A = strided_conv(., adjoint_kernel). Then dx = A g, and
    # dK is the weight gradient of the forward conv A evaluated at input g, cotangent x.
    adjoint = jnp.swapaxes(kernel, 2, 3)
    if policy.reuses_winograd_tiles(g, adjoint, stride):  # one transform of g serves both
        tiles, m, out_hw = strided_conv_tiles(g, adjoint.shape[0], stride, padding, tile)
        dx = strided_conv_from_tiles(tiles, m, adjoint, stride, out_hw)
        d_adjoint = kernel_grad_from_tiles(tiles, m, x, adjoint.shape, stride, out_hw)
    else:
        dx = conv_forward(g, adjoint, stride, padding, policy.choose("forward", g, adjoint, stride), tile)
        d_adjoint = conv_kernel_grad(g, x, adjoint.shape, stride, padding,
                                     policy.choose("wgrad", g, adjoint, stride), tile)
    return dx, jnp.swapaxes(d_adjoint, 2, 3)


_conv_transpose.defvjp(_conv_transpose_fwd, _conv_transpose_bwd)


def conv_general_dilated_fast(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                              dimension_numbers=None, feature_group_count=1, batch_group_count=1,
                              precision=None, preferred_element_type=None, *, policy: ConvPolicy = DEFAULT_POLICY):
    """``lax.conv_general_dilated`` for flax ``nn.Conv(conv_general_dilated=partial(this, policy=...))``:
    the plain NHWC square-kernel strided case goes to :func:`strided_conv_fast`, anything else
    (and everything under a policy with ``fast=False``) to ``lax``."""
    plain_case = (
        policy.fast and lhs.ndim == 4
        and dimension_numbers == lax.conv_dimension_numbers(lhs.shape, rhs.shape, DN)
        and len(set(window_strides)) == 1 and all(d == 1 for d in (lhs_dilation or (1,)))
        and all(d == 1 for d in (rhs_dilation or (1,))) and feature_group_count == 1
        and batch_group_count == 1 and precision is None and preferred_element_type is None
        and not isinstance(padding, str) and len({tuple(p) for p in padding}) == 1
        and padding[0][0] == padding[0][1] and rhs.shape[0] == rhs.shape[1]
    )
    if plain_case:
        return strided_conv_fast(lhs, rhs, window_strides[0], padding[0][0], policy)
    return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                    dimension_numbers, feature_group_count, batch_group_count,
                                    precision, preferred_element_type)
