"""The formulations of a strided conv, its transpose and its kernel gradient, selected by name (``impl``).

Every one computes the same function as the plain ``lax`` op (to float32 rounding):

* ``lax``: ``lax.conv_general_dilated`` / ``lax.conv_transpose``;
* ``patches``: one matmul of the input's k*k*C patches (:func:`conv_patches`) with the flattened kernel;
* ``winograd``, ``im2col`` (shifted matmuls), ``subpixel`` (a stride-1 lax conv): after
  space-to-depth, a stride-1 conv (:mod:`gan_jax.ops.space_to_depth`, :mod:`gan_jax.ops.winograd`);
* transposed convs also ``adjoint`` (the exact transpose of the Winograd strided conv) and
  ``phase`` (one stride-1 conv per output phase).

Which one each op uses is the policy's choice (:class:`gan_jax.ops.ConvPolicy`).
``winograd_tile`` is the policy's F(m x m, 2 x 2) tile (2, 4 or ``auto``).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from gan_jax.ops.policy import DEFAULT_POLICY, s2d_applies
from gan_jax.ops.space_to_depth import depth_to_space, s2d_geometry, s2d_kernel, space_to_depth
from gan_jax.ops.winograd import strided_conv_from_tiles, strided_conv_tiles, winograd_conv2x2

DN = ("NHWC", "HWIO", "NHWC")
"""Dimension numbers of every conv here: images [B, H, W, C], kernels [kh, kw, I, O]."""

_TILE = DEFAULT_POLICY.winograd_tile


def strided_conv(u, kernel, stride: int, padding: int):
    """Plain convolution. u: [B, H, W, I], kernel: [kh, kw, I, O] -> [B, H', W', O]."""
    pad = ((padding, padding), (padding, padding))
    return lax.conv_general_dilated(u, kernel, (stride, stride), pad, dimension_numbers=DN)


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
        x, adjoint_kernel, (stride, stride), pad, dimension_numbers=DN, transpose_kernel=True
    )


@jax.named_scope("patches")
def conv_patches(u, kh: int, kw: int, stride: int, padding: int):
    """u [B, H, W, C] -> [B, H', W', kh*kw*C]: the input window of every output pixel of
    ``strided_conv(u, [kh, kw, C, .], stride, padding)``, flattened in the kernel's HWI order."""
    b, h, w, c = u.shape
    ho, wo = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    up = jnp.pad(u, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    taps = [lax.slice(up, (0, a, d, 0), (b, a + stride * (ho - 1) + 1, d + stride * (wo - 1) + 1, c),
                      (1, stride, stride, 1)) for a in range(kh) for d in range(kw)]
    return jnp.concatenate(taps, axis=-1)


def _conv_valid(u, k, impl: str, winograd_tile):
    """Valid stride-1 conv of u [B, H, W, C] by k [kh, kw, C, O] by ``impl``."""
    if impl == "winograd" and k.shape[:2] == (2, 2):
        return winograd_conv2x2(u, k, winograd_tile)
    if impl == "im2col":
        kh, kw = k.shape[:2]
        ho, wo = u.shape[1] - kh + 1, u.shape[2] - kw + 1
        y = None
        for p in range(kh):  # a sum of shifted matmuls: no concatenation
            for q in range(kw):
                t = jnp.dot(u[:, p:p + ho, q:q + wo].reshape(-1, u.shape[-1]), k[p, q])
                y = t if y is None else y + t
        return y.reshape(u.shape[0], ho, wo, k.shape[-1])
    return lax.conv_general_dilated(u, k, (1, 1), "VALID", dimension_numbers=DN)


def conv_forward(u, kernel, stride: int, padding: int, impl: str = "lax", winograd_tile=_TILE):
    """:func:`strided_conv` computed by ``impl``: ``lax``; ``patches`` (one matmul of the input's
    patches, :func:`conv_patches`, with the flattened kernel); or space-to-depth and then
    ``winograd``, ``im2col`` or ``subpixel`` (a stride-1 lax conv)."""
    if impl == "lax":
        return strided_conv(u, kernel, stride, padding)
    if impl == "patches":
        kh, kw, i, o = kernel.shape
        cols = conv_patches(u, kh, kw, stride, padding)
        return (cols.reshape(-1, kh * kw * i) @ kernel.reshape(kh * kw * i, o)).reshape(cols.shape[:3] + (o,))
    if impl == "winograd" and kernel.shape[0] == 2 * stride:
        tiles, m, out_hw = strided_conv_tiles(u, kernel.shape[0], stride, padding, winograd_tile)
        return strided_conv_from_tiles(tiles, m, kernel, stride, out_hw)
    out_hw, pads = s2d_geometry(u.shape, kernel.shape[0], stride, padding)
    u2 = space_to_depth(jnp.pad(u, pads), stride)
    return _conv_valid(u2, s2d_kernel(kernel, stride), impl, winograd_tile)[:, :out_hw[0], :out_hw[1]]


def conv_transpose_forward(x, kernel, stride: int, padding: int, impl: str = "lax", size=None,
                           winograd_tile=_TILE):
    """:func:`conv_transpose_reference` computed by ``impl``: x [B, H, W, I], kernel [k, k, I, O].

    ``lax``: ``lax.conv_transpose``. ``adjoint`` / ``patches``: the exact transpose
    (``jax.linear_transpose``) of the Winograd / patches strided conv. Otherwise sub-pixel: a stride-1 (k/s x k/s)
    conv of the padded input to s*s*O channels (by ``lax`` for ``subpixel``, or
    ``winograd`` / ``im2col``), then depth-to-space and a crop. ``size`` (H', W')
    asks for a larger output (PyTorch's ``output_padding``): the exact transpose
    of a strided conv whose input had that size.
    """
    b, h, w, _ = x.shape
    s, k = stride, kernel.shape[0]
    ho, wo = (h - 1) * s - 2 * padding + k, (w - 1) * s - 2 * padding + k
    if impl in ("adjoint", "patches") or (size is not None and tuple(size) != (ho, wo)
                                          and (impl == "lax" or not s2d_applies(kernel, stride))):
        adjoint = jnp.swapaxes(kernel, 2, 3)
        shape = jax.ShapeDtypeStruct((b, *(size or (ho, wo)), kernel.shape[3]), x.dtype)
        f_impl = {"adjoint": "winograd", "patches": "patches"}.get(impl, "lax")
        forward = lambda u: conv_forward(u, adjoint, s, padding, f_impl, winograd_tile)  # noqa: E731
        return jax.linear_transpose(forward, shape)(x)[0]
    if size is not None:
        ho, wo = size
    if impl == "lax":
        return conv_transpose_reference(x, kernel, stride, padding)
    kk = k // s
    # The transpose of conv_forward(., swapaxes(kernel)): its 2x2 kernel flipped, in/out swapped.
    k2 = s2d_kernel(jnp.swapaxes(kernel, 2, 3), s)  # [kk, kk, s*s*O, I]
    kt = jnp.swapaxes(k2[::-1, ::-1], 2, 3)  # [kk, kk, I, s*s*O]
    xp = jnp.pad(x, ((0, 0), (kk - 1, kk - 1), (kk - 1, kk - 1), (0, 0)))
    if impl.startswith("phase") and (ho, wo) == (s * h, s * w):
        # One stride-1 conv per output phase (a, b), each over exactly H x W outputs: no
        # padding of the tile grid. Output row s*m + a is row m + (a + p) // s of phase (a + p) % s.
        o = kernel.shape[3]
        inner = impl[len("phase-"):] or "winograd"
        phases = []
        for a in range(s):
            row = []
            for b_ in range(s):
                r0, c0 = (a + padding) // s, (b_ + padding) // s
                grp = ((a + padding) % s) * s + (b_ + padding) % s
                window = xp[:, r0:r0 + h + kk - 1, c0:c0 + w + kk - 1]
                row.append(_conv_valid(window, kt[..., grp * o:(grp + 1) * o], inner, winograd_tile))
            phases.append(jnp.stack(row, axis=3))  # [B, H, W, s(b), O]
        y = jnp.stack(phases, axis=2)  # [B, H, s(a), W, s(b), O]
        return y.reshape(b, s * h, s * w, o)
    y = depth_to_space(_conv_valid(xp, kt, "lax" if impl == "subpixel" else impl, winograd_tile), s)
    extra_h, extra_w = max(0, padding + ho - y.shape[1]), max(0, padding + wo - y.shape[2])
    if extra_h or extra_w:
        y = jnp.pad(y, ((0, 0), (0, extra_h), (0, extra_w), (0, 0)))
    return y[:, padding:padding + ho, padding:padding + wo]


def conv_kernel_grad(u, g, kernel_shape, stride: int, padding: int, impl: str = "lax", winograd_tile=_TILE):
    """Gradient [k, k, I, O] w.r.t. the kernel of ``strided_conv(u, kernel, stride, padding)`` for
    input u [B, H, W, I] and output cotangent g [B, H', W', O]."""
    zero = jnp.zeros(kernel_shape, u.dtype)
    if impl == "lax":
        f = lambda k: strided_conv(u, k, stride, padding)  # noqa: E731
    else:
        f = lambda k: conv_forward(u, k, stride, padding, impl, winograd_tile)  # noqa: E731
    (dk,) = jax.linear_transpose(f, zero)(g)
    return dk


def full_window_conv(u, kernel):
    """A conv whose kernel covers its whole unpadded input (D's last layer), as one matmul.

    u: [B, H, W, I]; kernel: [H, W, I, O] -> [B, 1, 1, O]. On XLA:CPU, 6-7x faster than the conv
    with both gradients (benchmarks/NOTES.md)."""
    b, h, w, i = u.shape
    return (u.reshape(b, h * w * i) @ kernel.reshape(h * w * i, -1)).reshape(b, 1, 1, kernel.shape[-1])


def project(x, kernel):
    """Transposed conv of a 1x1 input with stride 1 and no padding, as one matmul.

    x: [B, 1, 1, I]; kernel: [kh, kw, I, O] -> [B, kh, kw, O].
    """
    kh, kw, i, o = kernel.shape
    flat = jnp.transpose(kernel, (2, 0, 1, 3)).reshape(i, kh * kw * o)
    return (x.reshape(x.shape[0], i) @ flat).reshape(x.shape[0], kh, kw, o)
