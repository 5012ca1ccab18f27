"""Space-to-depth: a stride-s conv of a [B, H, W, C] image as a stride-1 conv of [B, H/s, W/s, s*s*C].

A stride-2 4x4 conv (padding 1) is, after space-to-depth of its padded input, a stride-1
2x2 conv on 4x the channels; its transpose (the transposed conv) is a stride-1 2x2 conv to
4x the channels followed by depth-to-space ("sub-pixel" / phase decomposition).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


@jax.named_scope("space_to_depth")
def space_to_depth(x, s: int):
    """[B, H, W, C] -> [B, H/s, W/s, s*s*C], channel index (a, b, c) for pixel (s*i + a, s*j + b)."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // s, s, w // s, s, c)
    return jnp.transpose(x, (0, 1, 3, 2, 4, 5)).reshape(b, h // s, w // s, s * s * c)


@jax.named_scope("depth_to_space")
def depth_to_space(x, s: int):
    """Inverse of :func:`space_to_depth`: [B, H, W, s*s*C] -> [B, s*H, s*W, C]."""
    b, h, w, c = x.shape
    x = x.reshape(b, h, w, s, s, c // (s * s))
    return jnp.transpose(x, (0, 1, 3, 2, 4, 5)).reshape(b, h * s, w * s, c // (s * s))


def s2d_kernel(kernel, s: int):
    """[k, k, I, O] -> [k/s, k/s, s*s*I, O], matching :func:`space_to_depth` of the input."""
    k, _, i, o = kernel.shape
    kk = kernel.reshape(k // s, s, k // s, s, i, o)
    return jnp.transpose(kk, (0, 2, 1, 3, 4, 5)).reshape(k // s, k // s, s * s * i, o)


def s2d_geometry(shape, k: int, stride: int, padding: int):
    """Output size (H', W') and the padding of the input [B, H, W, C] (to a multiple of the
    stride) of a strided conv with a [k, k] kernel, computed after space-to-depth."""
    _, h, w, _ = shape
    ho, wo = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    hp, wp = -(-(h + 2 * padding) // stride) * stride, -(-(w + 2 * padding) // stride) * stride
    return (ho, wo), ((0, 0), (padding, hp - h - padding), (padding, wp - w - padding), (0, 0))
