"""Winograd F(m x m, 2 x 2): a stride-1 2x2 conv with (m + 1)^2 matmuls per m x m output tile.

Instead of 4 m^2 (m = 2: 9 instead of 16; m = 4: 25 instead of 64); exact arithmetic up to
float rounding (the transforms only add and subtract, and scale by small constants for m = 4).
A stride-2 4x4 conv is one of these after space-to-depth (:mod:`gan_jax.ops.space_to_depth`):
:func:`strided_conv_tiles` / :func:`strided_conv_from_tiles` split it so the transformed input
tiles of the forward pass can serve the kernel gradient (:func:`kernel_grad_from_tiles`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from gan_jax.ops.space_to_depth import s2d_geometry, s2d_kernel, space_to_depth

# Winograd F(m, 2) matrices (Toom-Cook, points 0, 1, -1, 2, inf): y = A^T [(G g) * (B^T d)].
_WINOGRAD = {
    2: ([[1, -1, 0], [0, 1, 0], [0, -1, 1]],
        [[1, 0], [1, 1], [0, 1]],
        [[1, 1, 0], [0, 1, 1]]),
    4: ([[1, -1 / 2, -1, 1 / 2, 0], [0, 1, 1 / 2, -1 / 2, 0], [0, -1 / 3, 1 / 2, -1 / 6, 0],
         [0, -1 / 6, 0, 1 / 6, 0], [0, 2, -1, -2, 1]],
        [[1, 0], [1, 1], [1, -1], [1, 2], [0, 1]],
        [[1, 1, 1, 1, 0], [0, 1, -1, 2, 0], [0, 1, 1, 4, 0], [0, 1, -1, 8, 1]]),
}


def output_tile(n: int, tile: int | str) -> int:
    """Output tile m of F(m, 2) for n outputs along an axis: ``tile`` (2 or 4), or for ``"auto"``
    the one with the fewest multiplies, padding included."""
    if tile != "auto":
        return int(tile)
    return min(_WINOGRAD, key=lambda m: ((m + 1) * -(-n // m), -m))


def _lincomb(terms, coeffs):
    out = None
    for t, c in zip(terms, coeffs):
        if c == 0:
            continue
        if out is None:
            out = t if c == 1 else (-t if c == -1 else c * t)
        elif c == 1:
            out = out + t
        elif c == -1:
            out = out - t
        else:
            out = out + c * t
    return out


def _winograd_in_1d(d, axis: int, t: int, m: int):
    """B^T along ``axis`` for t tiles of m + 1 inputs at stride m (``d`` has length >= m * t + 1)."""
    bt = _WINOGRAD[m][0]
    taps = [lax.slice_in_dim(d, j, j + m * (t - 1) + 1, m, axis) for j in range(m + 1)]
    return [_lincomb(taps, row) for row in bt]


@jax.named_scope("winograd_input")
def winograd_input(u, m: int, th: int, tw: int):
    """The (m + 1)^2 transformed input tiles [B, th, tw, C] of u [B, H, W, C] (padded to m * t + 1 as needed)."""
    b, h, w, c = u.shape
    u = jnp.pad(u, ((0, 0), (0, max(0, m * th + 1 - h)), (0, max(0, m * tw + 1 - w)), (0, 0)))
    return [x for r in _winograd_in_1d(u, 1, th, m) for x in _winograd_in_1d(r, 2, tw, m)]


def winograd_kernel(k2, m: int):
    """The (m + 1)^2 transformed kernels [C, O] (G g G^T) of a 2x2 kernel [2, 2, C, O]."""
    g = _WINOGRAD[m][1]
    rows = [_lincomb((k2[0], k2[1]), gr) for gr in g]
    return [_lincomb((r[0], r[1]), gc) for r in rows for gc in g]


@jax.named_scope("winograd_output")
def winograd_output(prods, m: int):
    """A^T M A: (m + 1)^2 products [B, th, tw, O] -> [B, m * th, m * tw, O]."""
    at = _WINOGRAD[m][2]
    a = m + 1
    b, th, tw, o = prods[0].shape
    rows = [_lincomb([prods[i * a + j] for i in range(a)], at_row) for at_row in at for j in range(a)]
    cols = [[_lincomb(rows[p * a:(p + 1) * a], at_col) for at_col in at] for p in range(m)]
    y = jnp.stack([jnp.stack(c, axis=3) for c in cols], axis=2)  # [B, th, m, tw, m, O]
    return y.reshape(b, m * th, m * tw, o)


@jax.named_scope("winograd_dots")
def _winograd_dots(v, ku):
    b, th, tw, c = v[0].shape
    return [jnp.dot(vi.reshape(-1, c), ki).reshape(b, th, tw, ki.shape[-1]) for vi, ki in zip(v, ku)]


def winograd_conv2x2(u, k2, tile: int | str = 2):
    """Valid stride-1 2x2 convolution by Winograd F(m x m, 2 x 2): u [B, H, W, C], k2 [2, 2, C, O] -> [B, H-1, W-1, O].

    m is ``tile`` (see :func:`output_tile`). The (m + 1)^2 matmuls stay separate: XLA:CPU
    concatenates slowly. Sizes not divisible by m are padded and cropped.
    """
    nh, nw = u.shape[1] - 1, u.shape[2] - 1
    m = output_tile(max(nh, nw), tile)
    th, tw = -(-nh // m), -(-nw // m)
    y = winograd_output(_winograd_dots(winograd_input(u, m, th, tw), winograd_kernel(k2, m)), m)
    return y[:, :nh, :nw]


def strided_conv_tiles(u, k: int, stride: int, padding: int, tile: int | str):
    """Winograd-transformed input tiles of the strided conv of u [B, H, W, I] by a [k, k, I, O]
    kernel with k = 2 * stride, after space-to-depth.

    Returns (tiles, m, output size (H', W')); the tiles serve the forward pass and the kernel gradient.
    """
    out_hw, pads = s2d_geometry(u.shape, k, stride, padding)
    u2 = space_to_depth(jnp.pad(u, pads), stride)
    nh, nw = u2.shape[1] - 1, u2.shape[2] - 1
    m = output_tile(max(nh, nw), tile)
    return winograd_input(u2, m, -(-nh // m), -(-nw // m)), m, out_hw


def strided_conv_from_tiles(tiles, m: int, kernel, stride: int, out_hw):
    """The strided conv [B, H', W', O] from the tiles of :func:`strided_conv_tiles` and the kernel [k, k, I, O]."""
    k2 = s2d_kernel(kernel, stride)
    y = winograd_output(_winograd_dots(tiles, winograd_kernel(k2, m)), m)
    return y[:, :out_hw[0], :out_hw[1]]


def kernel_grad_from_tiles(tiles, m: int, g, kernel_shape, stride: int, out_hw):
    """Gradient [k, k, I, O] w.r.t. the kernel of :func:`strided_conv_from_tiles` for the output
    cotangent g [B, H', W', O]."""
    zero = jnp.zeros(kernel_shape, g.dtype)
    (dk,) = jax.linear_transpose(lambda k: strided_conv_from_tiles(tiles, m, k, stride, out_hw), zero)(g)
    return dk
