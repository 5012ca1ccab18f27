"""The fast convs of ``gan_jax.ops`` compute the same functions as the plain lax ops.

Every formulation (a :class:`ConvPolicy` value) of the strided conv, the transposed conv and
their gradients is compared with ``lax`` on random inputs, for the spatial
sizes the DCGANs use (28/32/64 px stages; small channel counts keep it fast),
to 1e-5 relative (tree-norm-wise); then whole generators/discriminators with
the fast paths on and off. The policy is a hashable value that jit caches key on.
"""
import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import ops
from gan_jax.configs import Config
from gan_jax.models.blocks import Conv
from gan_jax.models.dcgan import Discriminator, Generator
from gan_jax.ops import DEFAULT_POLICY, PLAIN, ConvPolicy, OpFormulations
from treediff import rel_diff

TOL = 1e-5
FORWARD = ("lax", "winograd", "im2col", "subpixel", "patches")
TRANSPOSE = ("lax", "subpixel", "winograd", "im2col", "adjoint", "phase", "patches")
WGRAD = ("lax", "winograd", "im2col", "patches")


def _policy(**choices) -> ConvPolicy:
    """The default policy with ``choices`` overridden."""
    return dataclasses.replace(DEFAULT_POLICY, **choices)


ALL_LAX = {"forward": "lax", "transpose": "lax", "wgrad": "lax"}
ALL_WINOGRAD = {"forward": "winograd", "transpose": "winograd", "wgrad": "winograd"}
# Each formulation of each op (the others lax), everything Winograd (with and without the
# tiles kept for the backward pass), and the library default.
POLICIES = ([DEFAULT_POLICY] + [_policy(**{**ALL_LAX, "forward": f}) for f in FORWARD]
            + [_policy(**{**ALL_LAX, "transpose": t}) for t in TRANSPOSE]
            + [_policy(**{**ALL_LAX, "wgrad": w}) for w in WGRAD]
            + [_policy(**ALL_WINOGRAD, reuse_tiles=r) for r in (True, False)])


def _normal(key, shape, scale=1.0):
    return scale * jax.random.normal(jax.random.PRNGKey(key), shape, jnp.float32)


# (input size, in channels, out channels) of the stride-2 4x4 convs of D at 28/32/64 px
# (and of the transposed convs of G, read backwards), with small channel counts.
# The rest of the 32/64 px stages run with ``-m slow``.
_slow = pytest.mark.slow
STRIDED = [(28, 1, 8), (14, 8, 16), (8, 16, 8), (7, 8, 4),
           pytest.param(32, 3, 8, marks=_slow), pytest.param(16, 8, 16, marks=_slow),
           pytest.param(4, 8, 16, marks=_slow), pytest.param(64, 3, 8, marks=_slow),
           pytest.param(5, 3, 4, marks=_slow)]
TRANSPOSED = [(7, 16, 8), (14, 8, 1), (4, 16, 8), (16, 8, 3),
              pytest.param(8, 8, 16, marks=_slow), pytest.param(32, 8, 3, marks=_slow),
              pytest.param(3, 4, 5, marks=_slow)]


def _vjp_all(f, *args):
    y, pullback = jax.vjp(f, *args)
    g = _normal(99, y.shape)
    return y, pullback(g)


@pytest.mark.parametrize("size,cin,cout", STRIDED)
def test_strided_conv_fast_matches_lax(size, cin, cout):
    u = _normal(1, (2, size, size, cin))
    k = _normal(2, (4, 4, cin, cout), 0.1)
    ref = _vjp_all(lambda a, b: ops.strided_conv(a, b, 2, 1), u, k)
    for policy in POLICIES:
        out = _vjp_all(lambda a, b: ops.strided_conv_fast(a, b, 2, 1, policy), u, k)
        assert rel_diff(out, ref) <= TOL, (policy, rel_diff(out, ref))


@pytest.mark.parametrize("size,cin,cout", TRANSPOSED)
def test_conv_transpose_fast_matches_lax(size, cin, cout):
    x = _normal(3, (2, size, size, cin))
    k = _normal(4, (4, 4, cin, cout), 0.1)
    ref = _vjp_all(lambda a, b: ops.conv_transpose_reference(a, b, 2, 1), x, k)
    for policy in POLICIES:
        out = _vjp_all(lambda a, b: ops.conv_transpose_fast(a, b, 2, 1, policy), x, k)
        assert rel_diff(out, ref) <= TOL, (policy, rel_diff(out, ref))


@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize("size,cin,cout", [(32, 16, 8), (14, 8, 16), pytest.param(8, 32, 16, marks=_slow)])
def test_winograd_tiles(tile, size, cin, cout):
    """F(2x2, 2x2) and F(4x4, 2x2), forward and both gradients, as one policy."""
    u = _normal(5, (2, size, size, cin))
    k = _normal(6, (4, 4, cin, cout), 0.1)
    ref = _vjp_all(lambda a, b: ops.strided_conv(a, b, 2, 1), u, k)
    ref_t = _vjp_all(lambda a, b: ops.conv_transpose_reference(a, b, 2, 1), u, k)
    policy = _policy(**ALL_WINOGRAD, winograd_tile=tile)
    out = _vjp_all(lambda a, b: ops.strided_conv_fast(a, b, 2, 1, policy), u, k)
    out_t = _vjp_all(lambda a, b: ops.conv_transpose_fast(a, b, 2, 1, policy), u, k)
    assert rel_diff(out, ref) <= TOL
    assert rel_diff(out_t, ref_t) <= TOL


@pytest.mark.parametrize("size", [2, 3, 5, 6, 9])
def test_winograd_conv2x2_any_size(size):
    u = _normal(7, (2, size, size + 1, 6))
    k = _normal(8, (2, 2, 6, 5))
    ref = jax.lax.conv_general_dilated(u, k, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    for m in (2, 4):
        assert rel_diff(ops.winograd_conv2x2(u, k, m), ref) <= TOL


def test_space_to_depth_round_trip():
    x = _normal(9, (2, 6, 8, 3))
    y = ops.space_to_depth(x, 2)
    assert y.shape == (2, 3, 4, 12)
    np.testing.assert_array_equal(ops.depth_to_space(y, 2), x)
    np.testing.assert_array_equal(y[0, 1, 2, 3:6], x[0, 2, 5])  # channel block (a, b) = (0, 1)


@pytest.mark.parametrize("size,cin,cout", [(8, 8, 16), (7, 4, 8), (28, 1, 8)])
def test_transposed_conv_is_the_adjoint_of_strided_conv(size, cin, cout):
    """conv_transpose_fast(y, K^T) == the vjp of strided_conv w.r.t. its input (same padding/stride)."""
    u = _normal(10, (2, size, size, cin))
    k = _normal(11, (4, 4, cin, cout), 0.1)
    y, pullback = jax.vjp(lambda a: ops.strided_conv(a, k, 2, 1), u)
    g = _normal(12, y.shape)
    (du,) = pullback(g)
    adjoint = jnp.swapaxes(k, 2, 3)
    for t in TRANSPOSE:
        got = ops.conv_transpose_forward(g, adjoint, 2, 1, t, size=(size, size))
        assert rel_diff(got, du) <= TOL, t
    if size % 2 == 0:  # even sizes: the plain transposed conv too
        assert rel_diff(ops.conv_transpose_fast(g, adjoint, 2, 1), du) <= TOL
    # <A u, g> == <u, A^T g>
    lhs = jnp.vdot(ops.strided_conv(u, k, 2, 1), g)
    rhs = jnp.vdot(u, ops.conv_transpose_forward(g, adjoint, 2, 1, "winograd", size=(size, size)))
    assert abs(float(lhs - rhs)) <= 1e-4 * abs(float(lhs))


@pytest.mark.parametrize("base,zdim,cout", [(7, 16, 32), (4, 16, 64)])
def test_projection_is_the_transposed_conv_of_a_1x1_input(base, zdim, cout):
    z = _normal(13, (3, 1, 1, zdim))
    k = _normal(14, (base, base, zdim, cout), 0.1)
    ref = _vjp_all(lambda a, b: ops.conv_transpose_reference(a, b, 1, 0), z, k)
    assert rel_diff(_vjp_all(ops.project, z, k), ref) <= TOL
    assert rel_diff(_vjp_all(lambda a, b: ops.conv_transpose_fast(a, b, 1, 0), z, k), ref) <= TOL


@pytest.mark.parametrize("base", [4, 7])
def test_final_valid_conv_matches_lax(base):
    """D's last layer (base x base, stride 1, no padding) through the flax Conv fast path."""
    u = _normal(15, (3, base, base, 16))
    k = _normal(16, (base, base, 16, 1), 0.1)
    ref = _vjp_all(lambda a, b: ops.strided_conv(a, b, 1, 0), u, k)
    assert rel_diff(_vjp_all(lambda a, b: ops.strided_conv_fast(a, b, 1, 0), u, k), ref) <= TOL
    jaxpr = str(jax.make_jaxpr(lambda a, b: _vjp_all(lambda c, d: ops.strided_conv_fast(c, d, 1, 0), a, b))(u, k))
    assert "conv_general_dilated" not in jaxpr and "dot_general" in jaxpr  # one matmul, both ways


def test_conv_general_dilated_fast_falls_back_to_lax():
    u = _normal(17, (2, 9, 9, 3))
    k = _normal(18, (3, 3, 3, 4))
    dn = jax.lax.conv_dimension_numbers(u.shape, k.shape, ("NHWC", "HWIO", "NHWC"))
    for pad, rhs_dil in [(((1, 2), (1, 2)), (1, 1)), (((1, 1), (1, 1)), (2, 2)), ("SAME", (1, 1))]:
        got = ops.conv_general_dilated_fast(u, k, (2, 2), pad, rhs_dilation=rhs_dil, dimension_numbers=dn)
        ref = jax.lax.conv_general_dilated(u, k, (2, 2), pad, rhs_dilation=rhs_dil, dimension_numbers=dn)
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


def test_conv_policy_is_an_immutable_hashable_value():
    with pytest.raises(TypeError):
        ConvPolicy(fwd="lax")  # unknown field
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_POLICY.forward = "lax"
    assert ConvPolicy() == DEFAULT_POLICY and hash(ConvPolicy()) == hash(DEFAULT_POLICY)
    assert DEFAULT_POLICY.small == OpFormulations(forward="lax", transpose="lax", wgrad="patches")
    # ``small`` as one formulation for all ops, or a mapping (ops it leaves out: lax), is stored as OpFormulations.
    assert _policy(small="lax").small == OpFormulations("lax", "lax", "lax")
    assert _policy(small={"wgrad": "patches"}) == DEFAULT_POLICY
    assert hash(_policy(small={"wgrad": "patches"})) == hash(DEFAULT_POLICY)
    assert _policy(forward="lax") != DEFAULT_POLICY
    assert ops.policy_for(Config()) == DEFAULT_POLICY
    assert ops.policy_for(Config(fast_conv=False)) == PLAIN and not PLAIN.fast


def test_the_policy_is_part_of_the_jit_cache_key():
    """One jitted function traced under two policies compiles two different programs; an equal
    policy value hits the cache. As a kernel argument and as a layer's field."""
    u, k = _normal(21, (2, 16, 16, 8)), _normal(22, (4, 4, 8, 16), 0.1)
    winograd, lax_ops = _policy(**ALL_WINOGRAD), _policy(**ALL_LAX)
    traces = []

    @functools.partial(jax.jit, static_argnames="policy")
    def grads(u, k, policy):
        traces.append(policy)
        return jax.grad(lambda a, b: jnp.sum(ops.strided_conv_fast(a, b, 2, 1, policy) ** 2), argnums=(0, 1))(u, k)

    first = grads(u, k, policy=winograd)
    second = grads(u, k, policy=lax_ops)
    grads(u, k, policy=_policy(**ALL_WINOGRAD))  # an equal value: the cached program
    assert traces == [winograd, lax_ops]
    hlo = {p: grads.lower(u, k, policy=p).as_text() for p in (winograd, lax_ops)}
    assert "convolution" not in hlo[winograd] and "convolution" in hlo[lax_ops]
    assert rel_diff(first, second) <= TOL

    layer_traces = []

    @functools.partial(jax.jit, static_argnums=0)
    def apply(layer, variables, x):
        layer_traces.append(layer.conv_policy)
        return layer.apply(variables, x)

    variables = Conv(16, 4, 2, 1).init(jax.random.PRNGKey(0), u)
    for policy in (winograd, lax_ops, _policy(**ALL_WINOGRAD)):
        apply(Conv(16, 4, 2, 1, conv_policy=policy), variables, u)
    assert layer_traces == [winograd, lax_ops]


def test_image_layers_use_patches_and_match_lax():
    """The layers with 1-3 channels on a side (D's first conv, G's last transposed conv) compute
    their kernel gradient with one patches matmul and the rest with lax, at every size; the
    default path, and patches for every op, equal lax."""
    choose = DEFAULT_POLICY.choose
    k_d, k_g = jnp.zeros((4, 4, 3, 8)), jnp.zeros((4, 4, 8, 3))  # D: 3 -> 8; G's convT: 8 -> 3
    for side in (28, 32, 64):
        full, low = jnp.zeros((1, side, side, 3)), jnp.zeros((1, side // 2, side // 2, 8))
        assert choose("forward", full, k_d, 2) == "lax", side  # D's conv, and G's convT data gradient
        assert choose("wgrad", full, k_d, 2) == "patches", side
        assert choose("wgrad", low, k_g, 2) == "patches", side  # G's convT (its adjoint's kernel gradient)
        assert choose("transpose", low, k_g, 2) == "lax", side  # G's convT, and D's conv data gradient
    assert choose("forward", jnp.zeros((1, 64, 64, 8)), jnp.zeros((4, 4, 8, 16)), 2) == "winograd"
    assert _policy(small="lax").choose("wgrad", jnp.zeros((1, 64, 64, 3)), k_d, 2) == "lax"
    for policy in (DEFAULT_POLICY, _policy(small="patches")):
        for side, c in ((28, 1), (64, 3)):
            u, k = _normal(3, (2, side, side, c)), _normal(4, (4, 4, c, 8), 0.1)
            ref = _vjp_all(lambda a, b: ops.strided_conv(a, b, 2, 1), u, k)
            assert rel_diff(_vjp_all(lambda a, b: ops.strided_conv_fast(a, b, 2, 1, policy), u, k), ref) <= TOL
            x, kt = _normal(5, (2, side // 2, side // 2, 8)), _normal(6, (4, 4, 8, c), 0.1)
            ref = _vjp_all(lambda a, b: ops.conv_transpose_reference(a, b, 2, 1), x, kt)
            assert rel_diff(_vjp_all(lambda a, b: ops.conv_transpose_fast(a, b, 2, 1, policy), x, kt), ref) <= TOL


def test_conv_patches_layout():
    """conv_patches(u)[b, i, j] is the padded window at (stride*i, stride*j), flattened (kh, kw, C)."""
    u = _normal(7, (2, 7, 6, 3))
    cols = ops.conv_patches(u, 4, 3, 2, 1)
    up = np.pad(np.asarray(u), ((0, 0), (1, 1), (1, 1), (0, 0)))
    assert cols.shape == (2, 3, 3, 4 * 3 * 3)
    for i, j in ((0, 0), (1, 2), (2, 1)):
        np.testing.assert_array_equal(cols[1, i, j], up[1, 2 * i:2 * i + 4, 2 * j:2 * j + 3].reshape(-1))


def test_conv_parameter_layout_unchanged():
    """The fast path keeps the checkpoint layout: D's kernels live at Conv_i/Conv_0/kernel."""
    d = Discriminator(28, 1, 8)
    variables = jax.eval_shape(lambda: d.init(jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 1)), train=False))
    assert variables["params"]["Conv_1"]["Conv_0"]["kernel"].shape == (4, 4, 8, 16)


@pytest.mark.parametrize("batch_split", [1, 2])
@pytest.mark.parametrize("resolution,channels", [(28, 1), (32, 3), pytest.param(64, 3, marks=_slow)])
def test_networks_fast_and_plain_compute_the_same(resolution, channels, batch_split):
    """Whole G and D: fast paths on (each conv on ``batch_split`` slices of the batch) vs every
    conv the plain lax op; outputs and all gradients."""
    fast_policy = _policy(batch_split=batch_split)
    g_fast, d_fast = (Generator(resolution, channels, 8, conv_policy=fast_policy),
                      Discriminator(resolution, channels, 8, conv_policy=fast_policy))
    g_plain, d_plain = (Generator(resolution, channels, 8, conv_policy=PLAIN),
                        Discriminator(resolution, channels, 8, conv_policy=PLAIN))
    z = _normal(19, (4, 16))
    x = jnp.tanh(_normal(20, (4, resolution, resolution, channels)))
    g_vars = g_fast.init(jax.random.PRNGKey(1), z, train=False)
    d_vars = d_fast.init(jax.random.PRNGKey(2), x, train=False)

    def run(g_net, d_net):
        def loss(gp, dp, z, x):
            fake, _ = g_net.apply({"params": gp, "batch_stats": g_vars["batch_stats"]}, z, train=True,
                                  mutable=["batch_stats"])
            logits, _ = d_net.apply({"params": dp, "batch_stats": d_vars["batch_stats"]},
                                    jnp.concatenate([fake, x]), train=True, mutable=["batch_stats"])
            return jnp.sum(jnp.sin(logits)), (fake, logits)

        (value, aux), grads = jax.value_and_grad(loss, argnums=(0, 1, 2, 3), has_aux=True)(
            g_vars["params"], d_vars["params"], z, x)
        return value, aux, grads

    fast = jax.jit(lambda: run(g_fast, d_fast))()
    plain = jax.jit(lambda: run(g_plain, d_plain))()
    assert rel_diff(fast[1], plain[1]) <= TOL  # images and logits
    assert rel_diff(fast[2], plain[2]) <= TOL  # gradients w.r.t. G params, D params, z, x


def test_policy_text_form_round_trips_and_names_bad_items():
    from gan_jax import ops

    policy = dataclasses.replace(ops.DEFAULT_POLICY, small="lax", winograd_tile=4, reuse_tiles=False)
    spec = ops.policy_spec(policy)
    assert spec == "winograd_tile=4,reuse_tiles=false,small.wgrad=lax"
    assert ops.parse_policy(spec) == policy and hash(ops.parse_policy(spec)) == hash(policy)
    assert ops.parse_policy("") is ops.DEFAULT_POLICY and ops.parse_policy("plain") is ops.PLAIN
    assert ops.parse_policy("small.forward=patches").small.forward == "patches"
    for bad, message in [("tile=4", "unknown field"), ("winograd_tile=x", "expected an integer"),
                         ("small.nope=lax", "small.OP"), ("reuse_tiles=maybe", "true or false"), ("forward", "field=value")]:
        with pytest.raises(ValueError, match=message):
            ops.parse_policy(bad)


def test_config_conv_policy_reaches_the_models():
    from gan_jax import configs, models
    from gan_jax.errors import UserError

    config = configs.override(configs.get(), ["conv_policy=small=lax,winograd_tile=4"])
    g, d = models.build(configs.validate(config))
    assert g.conv_policy.winograd_tile == 4 and d.conv_policy.small.wgrad == "lax"
    assert not models.build(configs.override(config, ["fast_conv=false"]))[0].conv_policy.fast
    with pytest.raises(UserError, match="conv_policy='tile=4': tile: unknown field"):
        configs.validate(configs.override(config, ["conv_policy=tile=4"]))
