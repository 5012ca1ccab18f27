"""The conv policy: which formulation each fast conv op uses, as an immutable, hashable value.

A :class:`ConvPolicy` is a Flax module field of every layer with fast convs and a static
argument of the kernels (``nondiff_argnums`` of their ``custom_vjp``), so a jitted
function traced under two policies compiles two programs. :meth:`ConvPolicy.choose` picks
an op's formulation for its shapes; the choices were measured on XLA:CPU
(benchmarks/NOTES.md).
"""
from __future__ import annotations

import dataclasses
from typing import Mapping

import jax

OPS = ("forward", "transpose", "wgrad")
"""The three ops of a conv layer with both gradients: the strided conv (and the data
gradient of a transposed conv), the transposed conv (and the data gradient of a strided
conv), and the kernel gradients."""


@dataclasses.dataclass(frozen=True)
class OpFormulations:
    """One formulation per op (see :class:`ConvPolicy` for the values)."""

    forward: str = "lax"
    transpose: str = "lax"
    wgrad: str = "lax"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConvPolicy:
    """How the fast convs compute each op. Equal policies hash equal (jit cache keys).

    ``forward`` (strided conv, and the data gradient of a transposed conv):
    ``auto | lax | winograd | im2col | subpixel | patches``; ``transpose`` (transposed
    conv, and the data gradient of a strided conv): ``auto | lax | subpixel | winograd |
    im2col | adjoint | phase | patches``; ``wgrad`` (kernel gradients): ``auto | lax |
    winograd | im2col | patches``. ``auto``: on the CPU, Winograd (for transposed convs of
    even input size its exact ``adjoint``) where both channel counts are at least
    ``winograd_min_channels``, else ``small``; plain lax on other backends.

    ``small``: the formulations of the ops of a layer with fewer than ``winograd_min_channels``
    channels on a side: one for all (a string: ``lax | im2col | subpixel | patches``), a mapping
    op -> one (ops it leaves out: ``lax``) or an :class:`OpFormulations`; stored as the latter.
    Default: ``patches`` (one matmul of the k*k*C input patches) for the kernel gradient, whose
    XLA:CPU form (a conv with the batch as its feature axis) ran at ~2.5 GFLOP/s, 6-8x slower;
    ``lax`` for the rest (patches there were no faster in the whole step, and compile longer).

    ``winograd_tile``: ``auto | 2 | 4``, the output tile m of F(m x m, 2 x 2).
    ``reuse_tiles``: keep the transformed input tiles of the forward pass for the
    kernel gradient (and share those of the cotangent between the two gradients).
    ``batch_split``: run every fast conv on n independent slices of the batch (a lever for
    thread-level concurrency on the CPU; measured slower, so 1).
    ``full_window_matmul``: a kernel covering its whole unpadded input is one matmul.
    ``fast``: False makes every conv the plain ``lax`` op and ignores the rest (:data:`PLAIN`).
    """

    forward: str = "auto"
    transpose: str = "auto"
    wgrad: str = "auto"
    winograd_min_channels: int = 8
    winograd_tile: int | str = 2
    reuse_tiles: bool = True
    small: OpFormulations | str | Mapping[str, str] = OpFormulations(wgrad="patches")
    batch_split: int = 1
    full_window_matmul: bool = True
    fast: bool = True

    def __post_init__(self):
        if isinstance(self.small, str):
            object.__setattr__(self, "small", OpFormulations(self.small, self.small, self.small))
        elif not isinstance(self.small, OpFormulations):
            object.__setattr__(self, "small", OpFormulations(**self.small))

    def choose(self, op: str, x, kernel, stride: int) -> str:
        """The formulation of ``op`` (one of :data:`OPS`) for input x [B, H, W, I] and kernel
        [k, k, I, O] at ``stride``."""
        choice = getattr(self, op)
        if choice == "lax" or not s2d_applies(kernel, stride):
            return "lax"
        if choice == "auto":
            if jax.default_backend() != "cpu":  # cuDNN & co. have fast convs of every kind
                return "lax"
            if min(kernel.shape[2], kernel.shape[3]) < self.winograd_min_channels:
                return getattr(self.small, op)
            if op == "transpose" and x.shape[1] % 2 == 0 and x.shape[2] % 2 == 0:
                # Even input: the exact transpose of the Winograd strided conv tiles it without
                # padding; the sub-pixel conv has H + 1 outputs per axis, padded to H + 2.
                return "adjoint"
            return "winograd"
        return choice

    def reuses_winograd_tiles(self, x, kernel, stride: int) -> bool:
        """Whether the strided conv of x [B, H, W, I] by kernel [2s, 2s, I, O] and its kernel
        gradient both run Winograd on one set of input tiles."""
        return (self.reuse_tiles and kernel.shape[0] == 2 * stride
                and self.choose("forward", x, kernel, stride) == "winograd"
                and self.choose("wgrad", x, kernel, stride) == "winograd")


def s2d_applies(kernel, stride: int) -> bool:
    """Whether a strided conv with this square kernel [k, k, I, O] becomes a stride-1 conv
    after space-to-depth (stride > 1 dividing k)."""
    k = kernel.shape[0]
    return stride > 1 and k % stride == 0 and kernel.shape[1] == k


DEFAULT_POLICY = ConvPolicy()
"""The library default: per-shape choices measured on XLA:CPU."""

PLAIN = ConvPolicy(fast=False)
"""Every conv the plain ``lax`` op (``Config.fast_conv=False``; benchmarks, equivalence tests)."""


FORMULATIONS = {
    "forward": ("auto", "lax", "winograd", "im2col", "subpixel", "patches"),
    "transpose": ("auto", "lax", "subpixel", "winograd", "im2col", "adjoint", "phase", "patches"),
    "wgrad": ("auto", "lax", "winograd", "im2col", "patches"),
}
"""The formulations each op accepts in a policy's text form (``phase-IMPL`` too for ``transpose``)."""
SMALL_FORMULATIONS = tuple(sorted({f for fs in FORMULATIONS.values() for f in fs} - {"auto"}))
"""The formulations of ``small.OP`` (every op's, but ``auto``)."""
SPEC_FORMS = ("'' (the default), 'auto' (the autotuned choice for this CPU), 'plain' or comma-separated "
              "field=value changes of the default, e.g. small=lax,winograd_tile=4")
"""What a policy's text form may be, for error messages."""


def _check_formulation(key: str, value: str, allowed: tuple[str, ...]) -> str:
    if value in allowed or (key == "transpose" and value.startswith("phase-")):
        return value
    raise ValueError(f"{key}={value}: expected one of {', '.join(allowed)}")


def _parse_value(key: str, raw: str, default):
    if isinstance(default, bool):
        if raw.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"{key}={raw}: expected true or false")
        return raw.lower() in ("true", "1")
    if isinstance(default, int) or key == "winograd_tile":
        if key == "winograd_tile" and raw == "auto":
            return raw
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{key}={raw}: expected an integer"
                             + (" or auto" if key == "winograd_tile" else "")) from None
        if key == "winograd_tile" and value not in (2, 4):
            raise ValueError(f"{key}={raw}: expected 2, 4 or auto")
        if value < 1:
            raise ValueError(f"{key}={raw}: expected an integer >= 1")
        return value
    if key in FORMULATIONS:
        return _check_formulation(key, raw, FORMULATIONS[key])
    return raw


def parse_policy(spec: str) -> ConvPolicy:
    """A policy from its text form (``Config.conv_policy``): ``""`` the default, ``"plain"``
    :data:`PLAIN`, else comma-separated ``field=value`` changes of the default, e.g.
    ``small=lax,winograd_tile=4`` or ``small.wgrad=lax``. ValueError naming a bad item.

    ``"auto"`` names no fixed policy (it is this CPU's autotuned choice): :func:`policy_for`
    resolves it; here it is a ValueError."""
    spec = spec.strip()
    if spec in ("", "default"):
        return DEFAULT_POLICY
    if spec == "plain":
        return PLAIN
    if spec == "auto":
        raise ValueError("auto: the autotuned policy of this CPU, resolved by policy_for(config), not a fixed "
                         "policy")
    fields = {f.name: f.default for f in dataclasses.fields(ConvPolicy)}
    changes, small = {}, dict(dataclasses.asdict(DEFAULT_POLICY.small))
    for item in spec.split(","):
        key, sep, raw = (part.strip() for part in item.partition("="))
        if not sep or not raw:
            raise ValueError(f"{item.strip()!r}: expected field=value")
        if key.startswith("small."):
            if key[6:] not in OPS:
                raise ValueError(f"{key}: expected small.OP with OP one of {', '.join(OPS)}")
            small[key[6:]] = _check_formulation(key, raw, SMALL_FORMULATIONS)
        elif key == "small":
            small = dict.fromkeys(OPS, _check_formulation(key, raw, SMALL_FORMULATIONS))
        elif key in fields:
            changes[key] = _parse_value(key, raw, fields[key])
        else:
            raise ValueError(f"{key}: unknown field; expected one of {', '.join(fields)} or small.OP")
    return ConvPolicy(**changes, small=OpFormulations(**small))


def policy_spec(policy: ConvPolicy) -> str:
    """The text form of ``policy`` (:func:`parse_policy` gives it back): the fields that differ
    from :data:`DEFAULT_POLICY`."""
    if not policy.fast:
        return "plain"
    items = []
    for field in dataclasses.fields(ConvPolicy):
        value, default = getattr(policy, field.name), getattr(DEFAULT_POLICY, field.name)
        if field.name == "small":
            items += [f"small.{op}={getattr(value, op)}" for op in OPS if getattr(value, op) != getattr(default, op)]
        elif value != default:
            items.append(f"{field.name}={str(value).lower() if isinstance(value, bool) else value}")
    return ",".join(items)


def policy_for(config) -> ConvPolicy:
    """The conv policy of a run: ``config.conv_policy`` (:func:`parse_policy`), or :data:`PLAIN`
    when ``config.fast_conv`` is off.

    ``"auto"``: the choice cached for this CPU and the config's setting by the autotune
    (:mod:`gan_jax.ops.autotune`; ``gan-jax train`` runs it first when there is none), else the
    default. Only a cache lookup, so it is safe while tracing; on other backends the default."""
    if not config.fast_conv:
        return PLAIN
    if config.conv_policy.strip() == "auto":
        from gan_jax.ops import autotune

        spec = autotune.lookup(config) if autotune.applies() else None
        return DEFAULT_POLICY if spec is None else parse_policy(spec)
    return parse_policy(config.conv_policy)
