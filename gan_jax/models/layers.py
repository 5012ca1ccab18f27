"""Building blocks shared by the models.

:class:`ConvTranspose` and :class:`Conv` compute exactly what ``lax.conv_transpose``
(PyTorch's ``ConvTranspose2d``) and ``lax.conv_general_dilated`` (``Conv2d``)
compute. With ``fast=True`` (the default) each of forward pass, data gradient
and kernel gradient uses the formulation that XLA:CPU runs fastest
(``_choose``; measured in benchmarks/NOTES.md):

* gradients of a transposed conv are those of the *adjoint strided conv* (XLA's
  own kernel gradient of a transposed conv, a conv dilated on both sides, is an
  order of magnitude slower);
* a stride-2 4x4 conv is, after space-to-depth, a stride-1 2x2 conv, computed by
  Winograd F(2x2, 2x2): 9 matmuls per 2x2 output tile instead of 16; a transposed
  conv is the exact transpose of that (even sizes) or a sub-pixel stride-1 conv
  + depth-to-space (odd sizes);
* layers with fewer than 8 channels on a side (the image's own layers: 1 or 3
  channels) compute their kernel gradient as one matmul with the input's k*k*C
  patches (``conv_patches``), and the rest with the plain ``lax`` ops;
* other strides/kernels, and every backend but the CPU, use the plain ``lax`` ops;
* a 1x1 input (the generator's projection layer) becomes a single matmul, and so
  does a kernel covering its whole unpadded input (the discriminator's last layer).

``conv_policy`` overrides the choices and ``plain_convs`` forces the plain ops
(benchmarks, equivalence tests). Results agree with the plain ops to float32
rounding (~1e-6 relative).
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable

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


# --------------------------------------------------------------------------- fast formulations
#
# A stride-2 4x4 conv (padding 1) is, after space-to-depth of its padded input, a
# *stride-1 2x2* conv on 4x the channels; its transpose (the transposed conv) is
# a stride-1 2x2 conv producing 4x the channels followed by depth-to-space
# ("sub-pixel" / phase decomposition). A stride-1 2x2 conv is computed with
# Winograd F(2x2, 2x2): 9 matmuls per 2x2 output tile instead of 16 (exact
# arithmetic up to float rounding: the transforms only add and subtract).
# Which formulation each op uses depends on its shape (``_choose``); the
# choices were measured on XLA:CPU (benchmarks/NOTES.md).

POLICY_DEFAULT = {"forward": "auto", "transpose": "auto", "wgrad": "auto", "winograd_min_channels": 8,
                  "winograd_tile": 2, "reuse_tiles": True,
                  "small": {"forward": "lax", "transpose": "lax", "wgrad": "patches"},
                  "batch_split": 1, "full_window_matmul": True}
_POLICY = dict(POLICY_DEFAULT)


@contextlib.contextmanager
def conv_policy(**choices):
    """Override the fast path's per-op formulation while tracing (benchmarks, tests).

    ``forward`` (strided conv, and the data gradient of a transposed conv):
    ``auto | lax | winograd | im2col | subpixel | patches``; ``transpose`` (transposed
    conv, and the data gradient of a strided conv): ``auto | lax | subpixel | winograd |
    im2col | adjoint | phase | patches``; ``wgrad`` (kernel gradients): ``auto | lax |
    winograd | im2col | patches``. ``auto``: on the CPU, Winograd (for transposed convs of
    even input size its exact ``adjoint``) where both channel counts are at least
    ``winograd_min_channels``, else ``small``; plain lax on other backends.
    ``small``: the formulation of the ops of a layer with fewer than ``winograd_min_channels``
    channels on a side, one for all (``lax | im2col | subpixel | patches``) or a dict op -> one
    (ops it leaves out: ``lax``).
    Default: ``patches`` (one matmul of the k*k*C input patches) for the kernel gradient, whose
    XLA:CPU form (a conv with the batch as its feature axis) ran at ~2.5 GFLOP/s, 6-8x slower;
    ``lax`` for the rest (patches there were no faster in the whole step, and compile longer).
    ``winograd_tile``: ``auto | 2 | 4``, the output tile m of F(m x m, 2 x 2).
    ``reuse_tiles``: keep the transformed input tiles of the forward pass for the
    kernel gradient (and share those of the cotangent between the two gradients).
    ``batch_split``: run every fast conv on n independent slices of the batch (a lever for
    thread-level concurrency on the CPU; measured slower, so 1).
    ``full_window_matmul``: a kernel covering its whole unpadded input is one matmul.
    """
    old = dict(_POLICY)
    unknown = set(choices) - set(POLICY_DEFAULT)
    if unknown:
        raise ValueError(f"unknown conv_policy keys {sorted(unknown)}")
    _POLICY.update(choices)
    try:
        yield
    finally:
        _POLICY.clear()
        _POLICY.update(old)


@jax.named_scope("space_to_depth")
def space_to_depth(x, s: int):
    """[B, H, W, C] -> [B, H/s, W/s, s*s*C], channel index (a, b, c) for pixel (s*i + a, s*j + b)."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // s, s, w // s, s, c)
    return jnp.transpose(x, (0, 1, 3, 2, 4, 5)).reshape(b, h // s, w // s, s * s * c)


@jax.named_scope("depth_to_space")
def depth_to_space(x, s: int):
    """Inverse of :func:`space_to_depth`."""
    b, h, w, c = x.shape
    x = x.reshape(b, h, w, s, s, c // (s * s))
    return jnp.transpose(x, (0, 1, 3, 2, 4, 5)).reshape(b, h * s, w * s, c // (s * s))


def pixel_shuffle(x, r: int):
    """Sub-pixel upsampling (Shi et al. 2016): [B, H, W, r*r*C] -> [B, r*H, r*W, C].

    Output pixel (r*i + a, r*j + b, c) is input channel (a*r + b)*C + c of pixel (i, j): the
    channel order of :func:`space_to_depth`, whose exact inverse this is.
    """
    if x.shape[-1] % (r * r):
        raise ValueError(f"pixel_shuffle: {x.shape[-1]} channels is not a multiple of r*r = {r * r}")
    return depth_to_space(x, r)


def _s2d_kernel(kernel, s: int):
    """[k, k, I, O] -> [k/s, k/s, s*s*I, O], matching :func:`space_to_depth` of the input."""
    k, _, i, o = kernel.shape
    kk = kernel.reshape(k // s, s, k // s, s, i, o)
    return jnp.transpose(kk, (0, 2, 1, 3, 4, 5)).reshape(k // s, k // s, s * s * i, o)


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


def _winograd_tile(n: int) -> int:
    """Output tile m of F(m, 2) for n outputs along an axis: the fewest multiplies, padding included."""
    choice = _POLICY["winograd_tile"]
    if choice != "auto":
        return int(choice)
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
    """The (m + 1)^2 transformed input tiles [B, th, tw, C] of u (padded to m * t + 1 as needed)."""
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


def winograd_conv2x2(u, k2, m: int | None = None):
    """Valid stride-1 2x2 convolution by Winograd F(m x m, 2 x 2): u [B, H, W, C], k2 [2, 2, C, O] -> [B, H-1, W-1, O].

    Per m x m output tile: (m + 1)^2 matmuls over the channels instead of 4 m^2
    (m = 2: 9 instead of 16; m = 4: 25 instead of 64). The (m + 1)^2 matmuls stay
    separate: XLA:CPU concatenates slowly. Sizes not divisible by m are padded and cropped.
    """
    nh, nw = u.shape[1] - 1, u.shape[2] - 1
    m = m or _winograd_tile(max(nh, nw))
    th, tw = -(-nh // m), -(-nw // m)
    y = winograd_output(_winograd_dots(winograd_input(u, m, th, tw), winograd_kernel(k2, m)), m)
    return y[:, :nh, :nw]


def _conv_valid(u, k, impl: str):
    if impl == "winograd" and k.shape[:2] == (2, 2):
        return winograd_conv2x2(u, k)
    if impl == "im2col":
        kh, kw = k.shape[:2]
        ho, wo = u.shape[1] - kh + 1, u.shape[2] - kw + 1
        y = None
        for p in range(kh):  # a sum of shifted matmuls: no concatenation
            for q in range(kw):
                t = jnp.dot(u[:, p:p + ho, q:q + wo].reshape(-1, u.shape[-1]), k[p, q])
                y = t if y is None else y + t
        return y.reshape(u.shape[0], ho, wo, k.shape[-1])
    return lax.conv_general_dilated(u, k, (1, 1), "VALID", dimension_numbers=_DN)


def _s2d_ok(kernel, stride: int) -> bool:
    k = kernel.shape[0]
    return stride > 1 and k % stride == 0 and kernel.shape[1] == k


def _choose(op: str, x, kernel, stride: int) -> str:
    """The formulation of ``op`` for these shapes (see ``conv_policy`` and benchmarks/NOTES.md)."""
    choice = _POLICY[op]
    if choice == "lax" or not _s2d_ok(kernel, stride):
        return "lax"
    if choice == "auto":
        if jax.default_backend() != "cpu":  # cuDNN & co. have fast convs of every kind
            return "lax"
        if min(kernel.shape[2], kernel.shape[3]) < _POLICY["winograd_min_channels"]:
            small = _POLICY["small"]
            return small.get(op, "lax") if isinstance(small, dict) else small
        if op == "transpose" and x.shape[1] % 2 == 0 and x.shape[2] % 2 == 0:
            # Even input: the exact transpose of the Winograd strided conv tiles it without
            # padding; the sub-pixel conv has H + 1 outputs per axis, padded to H + 2.
            return "adjoint"
        return "winograd"
    return choice


def _conv_geometry(shape, k: int, stride: int, padding: int):
    """Output size and padded input size (a multiple of the stride) of a strided conv."""
    _, h, w, _ = shape
    ho, wo = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    hp, wp = -(-(h + 2 * padding) // stride) * stride, -(-(w + 2 * padding) // stride) * stride
    return (ho, wo), ((0, 0), (padding, hp - h - padding), (padding, wp - w - padding), (0, 0))


def _winograd_prepare(u, k: int, stride: int, padding: int):
    """Winograd-transformed input tiles of ``strided_conv(u, [k, k, ., .], stride, padding)`` with k = 2 * stride.

    Returns (tiles, m, output size); the tiles serve the forward pass and the kernel gradient.
    """
    out_hw, pads = _conv_geometry(u.shape, k, stride, padding)
    u2 = space_to_depth(jnp.pad(u, pads), stride)
    nh, nw = u2.shape[1] - 1, u2.shape[2] - 1
    m = _winograd_tile(max(nh, nw))
    return winograd_input(u2, m, -(-nh // m), -(-nw // m)), m, out_hw


def _winograd_apply(tiles, m: int, kernel, stride: int, out_hw):
    k2 = _s2d_kernel(kernel, stride)
    y = winograd_output(_winograd_dots(tiles, winograd_kernel(k2, m)), m)
    return y[:, :out_hw[0], :out_hw[1]]


def _winograd_kernel_grad(tiles, m: int, g, kernel_shape, stride: int, out_hw):
    zero = jnp.zeros(kernel_shape, g.dtype)
    (dk,) = jax.linear_transpose(lambda k: _winograd_apply(tiles, m, k, stride, out_hw), zero)(g)
    return dk


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


def conv_forward(u, kernel, stride: int, padding: int, impl: str = "lax"):
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
        return _winograd_apply(*_winograd_prepare(u, kernel.shape[0], stride, padding)[:2], kernel, stride,
                               _conv_geometry(u.shape, kernel.shape[0], stride, padding)[0])
    out_hw, pads = _conv_geometry(u.shape, kernel.shape[0], stride, padding)
    u2 = space_to_depth(jnp.pad(u, pads), stride)
    return _conv_valid(u2, _s2d_kernel(kernel, stride), impl)[:, :out_hw[0], :out_hw[1]]


def conv_transpose_forward(x, kernel, stride: int, padding: int, impl: str = "lax", size=None):
    """:func:`conv_transpose_reference` computed by ``impl``.

    ``lax``: ``lax.conv_transpose``. ``adjoint`` / ``patches``: the exact transpose
    (``jax.linear_transpose``) of the Winograd / patches strided conv. Otherwise sub-pixel: a stride-1 (k/s x k/s)
    conv of the padded input to s*s*O channels (by ``lax`` for ``subpixel``, or
    ``winograd`` / ``im2col``), then depth-to-space and a crop. ``size`` (H, W)
    asks for a larger output (PyTorch's ``output_padding``): the exact transpose
    of a strided conv whose input had that size.
    """
    b, h, w, _ = x.shape
    s, k = stride, kernel.shape[0]
    ho, wo = (h - 1) * s - 2 * padding + k, (w - 1) * s - 2 * padding + k
    if impl in ("adjoint", "patches") or (size is not None and tuple(size) != (ho, wo)
                                          and (impl == "lax" or not _s2d_ok(kernel, stride))):
        adjoint = jnp.swapaxes(kernel, 2, 3)
        shape = jax.ShapeDtypeStruct((b, *(size or (ho, wo)), kernel.shape[3]), x.dtype)
        f_impl = {"adjoint": "winograd", "patches": "patches"}.get(impl, "lax")
        return jax.linear_transpose(lambda u: conv_forward(u, adjoint, s, padding, f_impl), shape)(x)[0]
    if size is not None:
        ho, wo = size
    if impl == "lax":
        return conv_transpose_reference(x, kernel, stride, padding)
    kk = k // s
    # The transpose of conv_forward(., swapaxes(kernel)): its 2x2 kernel flipped, in/out swapped.
    k2 = _s2d_kernel(jnp.swapaxes(kernel, 2, 3), s)  # [kk, kk, s*s*O, I]
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
                row.append(_conv_valid(window, kt[..., grp * o:(grp + 1) * o], inner))
            phases.append(jnp.stack(row, axis=3))  # [B, H, W, s(b), O]
        y = jnp.stack(phases, axis=2)  # [B, H, s(a), W, s(b), O]
        return y.reshape(b, s * h, s * w, o)
    y = depth_to_space(_conv_valid(xp, kt, "lax" if impl == "subpixel" else impl), s)
    extra_h, extra_w = max(0, padding + ho - y.shape[1]), max(0, padding + wo - y.shape[2])
    if extra_h or extra_w:
        y = jnp.pad(y, ((0, 0), (0, extra_h), (0, extra_w), (0, 0)))
    return y[:, padding:padding + ho, padding:padding + wo]


def conv_kernel_grad(u, g, kernel_shape, stride: int, padding: int, impl: str = "lax"):
    """Gradient w.r.t. the kernel of ``strided_conv(u, kernel, stride, padding)`` for output cotangent g."""
    zero = jnp.zeros(kernel_shape, u.dtype)
    if impl == "lax":
        f = lambda k: strided_conv(u, k, stride, padding)  # noqa: E731
    else:
        f = lambda k: conv_forward(u, k, stride, padding, impl)  # noqa: E731
    (dk,) = jax.linear_transpose(f, zero)(g)
    return dk


def _both_winograd(x, kernel, stride: int) -> bool:
    return (_POLICY["reuse_tiles"] and kernel.shape[0] == 2 * stride
            and _choose("forward", x, kernel, stride) == "winograd"
            and _choose("wgrad", x, kernel, stride) == "winograd")


def _split_batch(fn, x, *args):
    """``fn(x, *args)`` on ``batch_split`` independent slices of the batch, concatenated."""
    n = _POLICY["batch_split"]
    if n <= 1 or x.shape[0] % n:
        return fn(x, *args)
    return jnp.concatenate([fn(part, *args) for part in jnp.split(x, n)], axis=0)


def full_window_conv(u, kernel):
    """A conv whose kernel covers its whole unpadded input (D's last layer), as one matmul.

    u: [B, H, W, I]; kernel: [H, W, I, O] -> [B, 1, 1, O]. On XLA:CPU, 6-7x faster than the conv
    with both gradients (benchmarks/NOTES.md)."""
    b, h, w, i = u.shape
    return (u.reshape(b, h * w * i) @ kernel.reshape(h * w * i, -1)).reshape(b, 1, 1, kernel.shape[-1])


def strided_conv_fast(u, kernel, stride: int, padding: int):
    """Same function as :func:`strided_conv`; forward, data gradient and kernel gradient each by the
    fastest formulation for the shapes (``_choose``). With Winograd forward and kernel
    gradient, the transformed input tiles are computed once and kept for the backward pass.
    A kernel covering the whole unpadded input is one matmul (:func:`full_window_conv`)."""
    if _POLICY["full_window_matmul"] and padding == 0 and tuple(kernel.shape[:2]) == tuple(u.shape[1:3]):
        return full_window_conv(u, kernel)
    return _split_batch(lambda x, k: _strided_conv_fast(x, k, stride, padding, tuple(u.shape[1:3])), u, kernel)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _strided_conv_fast(u, kernel, stride, padding, in_hw):
    return conv_forward(u, kernel, stride, padding, _choose("forward", u, kernel, stride))


def _strided_conv_fast_fwd(u, kernel, stride, padding, in_hw):
    if _both_winograd(u, kernel, stride):
        tiles, m, out_hw = _winograd_prepare(u, kernel.shape[0], stride, padding)
        return _winograd_apply(tiles, m, kernel, stride, out_hw), (tiles, kernel)
    return conv_forward(u, kernel, stride, padding, _choose("forward", u, kernel, stride)), (u, kernel)


def _strided_conv_fast_bwd(stride, padding, in_hw, residuals, g):
    saved, kernel = residuals
    # The data gradient is the transposed conv of g with the same kernel read [k, k, O, I].
    adjoint = jnp.swapaxes(kernel, 2, 3)
    du = conv_transpose_forward(g, adjoint, stride, padding, _choose("transpose", g, adjoint, stride),
                                size=in_hw)
    if isinstance(saved, list):  # Winograd tiles of u
        m = int(round(len(saved) ** 0.5)) - 1  # (m + 1)^2 tiles
        dk = _winograd_kernel_grad(saved, m, g, kernel.shape, stride, g.shape[1:3])
    else:
        dk = conv_kernel_grad(saved, g, kernel.shape, stride, padding, _choose("wgrad", saved, kernel, stride))
    return du, dk


_strided_conv_fast.defvjp(_strided_conv_fast_fwd, _strided_conv_fast_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv_transpose_fast(x, kernel, stride: int, padding: int):
    """Same function as :func:`conv_transpose_reference`; forward by the fastest formulation for the
    shapes, gradients via the adjoint strided conv (XLA:CPU's own weight gradient of a
    transposed conv, a conv dilated on both sides, is an order of magnitude slower)."""
    return conv_transpose_forward(x, kernel, stride, padding, _choose("transpose", x, kernel, stride))


def _conv_transpose_fast_fwd(x, kernel, stride, padding):
    y = conv_transpose_forward(x, kernel, stride, padding, _choose("transpose", x, kernel, stride))
    return y, (x, kernel)


def _conv_transpose_fast_bwd(stride, padding, residuals, g):
    x, kernel = residuals
    # y = A^T x where A = strided_conv(., adjoint_kernel). Then dx = A g, and
    # dK is the weight gradient of the forward conv A evaluated at input g, cotangent x.
    adjoint = jnp.swapaxes(kernel, 2, 3)
    if _both_winograd(g, adjoint, stride):  # one transform of g serves both
        tiles, m, out_hw = _winograd_prepare(g, adjoint.shape[0], stride, padding)
        dx = _winograd_apply(tiles, m, adjoint, stride, out_hw)
        d_adjoint = _winograd_kernel_grad(tiles, m, x, adjoint.shape, stride, out_hw)
    else:
        dx = conv_forward(g, adjoint, stride, padding, _choose("forward", g, adjoint, stride))
        d_adjoint = conv_kernel_grad(g, x, adjoint.shape, stride, padding, _choose("wgrad", g, adjoint, stride))
    return dx, jnp.swapaxes(d_adjoint, 2, 3)


conv_transpose_fast.defvjp(_conv_transpose_fast_fwd, _conv_transpose_fast_bwd)


def _conv_general_dilated_fast(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                               dimension_numbers=None, feature_group_count=1, batch_group_count=1,
                               precision=None, preferred_element_type=None):
    """``lax.conv_general_dilated`` for flax ``nn.Conv``: the plain NHWC strided case goes to
    :func:`strided_conv_fast`, anything else to ``lax``."""
    plain_case = (
        not _FORCE_PLAIN[0] and lhs.ndim == 4
        and dimension_numbers == lax.conv_dimension_numbers(lhs.shape, rhs.shape, _DN)
        and len(set(window_strides)) == 1 and all(d == 1 for d in (lhs_dilation or (1,)))
        and all(d == 1 for d in (rhs_dilation or (1,))) and feature_group_count == 1
        and batch_group_count == 1 and precision is None and preferred_element_type is None
        and not isinstance(padding, str) and len({tuple(p) for p in padding}) == 1
        and padding[0][0] == padding[0][1] and rhs.shape[0] == rhs.shape[1]
    )
    if plain_case:
        return strided_conv_fast(lhs, rhs, window_strides[0], padding[0][0])
    return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                    dimension_numbers, feature_group_count, batch_group_count,
                                    precision, preferred_element_type)


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
    fast formulations (:func:`conv_transpose_fast`, :func:`project`); ``fast=False``
    the plain ``lax.conv_transpose``. Same function either way.
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
            y = _split_batch(lambda v, k: conv_transpose_fast(v, k, self.stride, self.padding), x, kernel)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,)).astype(self.dtype)
        return y


class Conv(nn.Module):
    """Convolution with PyTorch-style integer padding: ``Conv2d(k, stride, padding)``.

    Input [B, H, W, I] -> [B, (H + 2 * padding - k) // stride + 1, ..., features].
    ``fast=True`` routes the convolution through :func:`strided_conv_fast`
    (``fast=False``: plain ``lax``). Same function either way.
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
        p = self.padding
        # The parameter lives in an inner nn.Conv ("Conv_0/kernel"), as before the fast path existed.
        return nn.Conv(
            self.features,
            (self.kernel_size, self.kernel_size),
            strides=(self.stride, self.stride),
            padding=((p, p), (p, p)),
            use_bias=self.use_bias,
            kernel_init=self.kernel_init,
            dtype=self.dtype,
            conv_general_dilated=_conv_general_dilated_fast if self.fast else None,
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
