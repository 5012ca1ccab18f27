"""The benchmark's PyTorch reference computes the gan_jax train step (torch is optional: the tests that need it are marked ``torch``)."""
import json

import jax
import jax.numpy as jnp
import pytest
from jax import lax

from gan_jax import Config, abstract_state, make_train_step, models
from gan_jax.bench import throughput

SMALL = dict(resolution=28, channels=1, g_width=16, d_width=16, batch_size=16)


@pytest.mark.torch
def test_one_step_matches_pytorch():
    pytest.importorskip("torch")
    from gan_jax.bench.equivalence import check

    diff = check(Config(**SMALL))
    for key in ("d_loss", "g_loss", "g_params", "d_params", "bn_running_mean"):
        assert diff[key] <= 1e-4, (key, diff)
    # Adam's first step is ~lr * sign(grad): parameters whose gradient is ~eps amplify
    # float32 rounding, so the update itself is compared loosely.
    assert diff["g_update"] <= 1e-2 and diff["d_update"] <= 1e-2, diff
    # torch keeps the unbiased batch variance (x n / (n - 1)) in running_var, flax the biased one.
    assert diff["bn_running_var_unbiased_vs_biased"] <= 1e-2, diff


# --- the benchmark's FLOP formula against an independent count ----------------------------
#
# ``throughput.conv_layers`` gives each DCGAN conv layer's forward multiply-adds *densely*
# (every kernel tap, padding included, as PyTorch-style FLOP counters do) and ``step_flops``
# multiplies them by the passes one train step makes. Two independent counts check them:
# a hand count from the layer geometry, verified against the built networks' kernels and
# output shapes, and XLA's cost analysis of the compiled networks and train step (plain lax
# convolutions, fast_conv=False: the benchmark credits every variant with the dense work,
# whatever formulation, e.g. Winograd, a variant computes it with). XLA counts 2 FLOPs per
# multiply-add but only the taps that land on real input (not on padding, nor on the holes
# of a transposed conv's dilated input), plus the elementwise work; so the formula is fed
# the hand count of valid taps for the comparisons with XLA.

def _taps(n_in: int, k: int, s: int, p: int, transposed: bool) -> tuple[int, int, int]:
    """(output size, dense taps, valid taps) along one spatial axis of a k-tap conv with stride s
    and padding p (PyTorch semantics); valid taps land on an input pixel inside the output."""
    if transposed:  # input pixel i scatters tap j to output i * s - p + j
        n_out = (n_in - 1) * s - 2 * p + k
        valid = sum(0 <= i * s - p + j < n_out for i in range(n_in) for j in range(k))
        return n_out, n_in * k, valid
    n_out = (n_in + 2 * p - k) // s + 1  # output pixel o reads input o * s - p + j
    valid = sum(0 <= o * s - p + j < n_in for o in range(n_out) for j in range(k))
    return n_out, n_out * k, valid


def _dcgan_layers(config) -> tuple[list[tuple], list[tuple]]:
    """The DCGAN geometry (pytorch/examples dcgan, models/dcgan.py), one tuple per conv layer:
    (input size, kernel, stride, padding, transposed, in channels, out channels)."""
    base, stages = {28: (7, 2), 32: (4, 3), 64: (4, 4)}[config.resolution]
    f = config.g_width * 2 ** (stages - 1)
    g, n = [(1, base, 1, 0, True, config.z_dim, f)], base  # z as a 1x1 image -> base x base
    for i in range(stages):  # 4x4 / stride 2 / padding 1 transposed convs, channels halving
        out = config.channels if i == stages - 1 else f // 2
        g.append((n, 4, 2, 1, True, f, out))
        f, n = out, 2 * n
    d, n, c, f = [], config.resolution, config.channels, config.d_width
    for _ in range(stages):  # 4x4 / stride 2 / padding 1 convs, channels doubling
        d.append((n, 4, 2, 1, False, c, f))
        n, c, f = n // 2, f, 2 * f
    d.append((n, base, 1, 0, False, c, 1))  # base x base valid conv -> one logit
    return g, d


def _macs(layers, batch: int) -> tuple[list[int], list[int]]:
    """(dense, valid) multiply-adds of each layer's forward pass over the batch."""
    counts = [_taps(n, k, s, p, t) for n, k, s, p, t, _, _ in layers]
    dense = [batch * d * d * ci * co for (_, d, _), (*_, ci, co) in zip(counts, layers)]
    valid = [batch * v * v * ci * co for (_, _, v), (*_, ci, co) in zip(counts, layers)]
    return dense, valid


def _check_geometry(config, layers, params, out_size: int) -> None:
    """The declared layers are the built network's: the same kernels in order, chained sizes."""
    kernels = [x.shape for x in jax.tree.leaves(params) if x.ndim == 4]
    assert kernels == [(k, k, ci, co) for _, k, _, _, _, ci, co in layers]
    n = layers[0][0]
    for n_in, k, s, p, t, _, _ in layers:
        assert n_in == n
        n = _taps(n_in, k, s, p, t)[0]
    assert n == out_size


def _xla_flops(fn, *args) -> float:
    return throughput.compiled_flops(jax.jit(fn).lower(*args).compile())


def test_xla_counts_two_flops_per_valid_multiply_add_of_one_conv():
    """The independent counter, checked by hand on single layers: 2 * K*K*Cin*Cout*Ho*Wo per
    image for an unpadded conv, and 2 x the hand count of valid taps for the padded stride-2
    conv and the transposed conv of DCGAN."""
    dn = ("NHWC", "HWIO", "NHWC")
    b, cin, cout, k = 2, 3, 5, 4
    kernel = jnp.zeros((k, k, cin, cout))
    valid = _xla_flops(lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=dn),
                       jnp.zeros((b, 9, 9, cin)), kernel)
    assert valid == 2 * b * k * k * cin * cout * 6 * 6  # Ho = Wo = 9 - 4 + 1
    strided = _xla_flops(lambda x, w: lax.conv_general_dilated(x, w, (2, 2), ((1, 1), (1, 1)),
                                                               dimension_numbers=dn),
                         jnp.zeros((b, 8, 8, cin)), kernel)
    n_out, dense, taps = _taps(8, 4, 2, 1, False)
    assert (n_out, dense, taps) == (4, 16, 14)  # border outputs lose one tap each to the padding
    assert strided == 2 * b * taps * taps * cin * cout
    # Transposed 4x4 / stride 2 / padding 1 (PyTorch ConvTranspose2d) as DCGAN's G computes it.
    transposed = _xla_flops(lambda x, w: lax.conv_transpose(x, w, (2, 2), ((2, 2), (2, 2)), dimension_numbers=dn,
                                                            transpose_kernel=True),
                            jnp.zeros((b, 4, 4, cin)), jnp.zeros((k, k, cout, cin)))
    n_out, dense, taps = _taps(4, 4, 2, 1, True)
    assert (n_out, dense, taps) == (8, 16, 14)
    assert transposed == 2 * b * taps * taps * cin * cout


@pytest.mark.parametrize("resolution, channels, width", [(64, 3, 64), (32, 3, 16), (28, 1, 8)])
def test_conv_layers_equal_a_hand_count_of_the_built_networks(resolution, channels, width):
    config = Config(resolution=resolution, channels=channels, g_width=width, d_width=width, batch_size=3)
    g_layers, d_layers = _dcgan_layers(config)
    state = abstract_state(config)  # shapes only: nothing compiled
    _check_geometry(config, g_layers, state.g_params, resolution)
    _check_geometry(config, d_layers, state.d_params, 1)
    g, d = throughput.conv_layers(config)
    assert (g, d) == (_macs(g_layers, 3)[0], _macs(d_layers, 3)[0])
    if resolution == 64:  # pytorch/examples dcgan: 104 M + 104 M multiply-adds per image
        assert _macs(g_layers, 1)[0][1] == 16 * 16 * 512 * 256  # 4x4 -> 8x8, 512 -> 256 channels
        assert sum(g + d) / 3 / 1e6 == pytest.approx(208.4, abs=0.1)


def test_step_flops_agree_with_xla_cost_analysis_of_the_compiled_step(monkeypatch):
    """64 px, width 64 (the PyTorch reference networks), plain lax convolutions.

    Forward passes: XLA's count of each network is 2 x its valid multiply-adds plus 0.3 %
    elementwise work (BatchNorm, activations); bound [1, 1.01]. Train step: with the valid
    counts in place of the dense ones, ``step_flops`` is the conv work of the passes it
    claims; XLA's count of the compiled step, per image (the difference between batch 2 and
    batch 1, which cancels Adam and the other per-parameter work), is 1.0048 x that.
    Bound [1, 1.01]: any pass the formula counts that the step does not make (the smallest,
    the D update's data gradient of D's first layer, is 0.6 % of the step) drops the ratio
    below 1, and any pass of more than 1 % it leaves out raises it above 1.01. The dense
    formula itself is 7-15 % above XLA's count at 64 px (the padding taps)."""
    counted = {}
    for batch in (1, 2):
        config = Config(resolution=64, channels=3, g_width=64, d_width=64, batch_size=batch, fast_conv=False,
                        ema_decay=0.0)
        g_layers, d_layers = _dcgan_layers(config)
        (_, g_valid), (_, d_valid) = _macs(g_layers, batch), _macs(d_layers, batch)
        state = abstract_state(config)  # XLA only needs the shapes
        image = jax.ShapeDtypeStruct((batch, 64, 64, 3), jnp.float32)
        if batch == 1:
            g_net, d_net = models.build(config)
            g_xla = _xla_flops(lambda v, z: g_net.apply(v, z, train=False),
                               {"params": state.g_params, "batch_stats": state.g_stats}, jax.ShapeDtypeStruct((1, 100), jnp.float32))
            d_xla = _xla_flops(lambda v, x: d_net.apply(v, x, train=False),
                               {"params": state.d_params, "batch_stats": state.d_stats}, image)
            assert 1.0 <= g_xla / (2 * sum(g_valid)) <= 1.01, g_xla / (2 * sum(g_valid))
            assert 1.0 <= d_xla / (2 * sum(d_valid)) <= 1.01, d_xla / (2 * sum(d_valid))
        dense = throughput.step_flops(config)
        with monkeypatch.context() as m:
            m.setattr(throughput, "conv_layers", lambda c: (g_valid, d_valid))
            valid = throughput.step_flops(config)
        assert valid < dense
        xla = _xla_flops(make_train_step(config), state, {"image": image})
        assert 0.85 <= xla / dense <= 1.0, xla / dense
        counted[batch] = (xla, valid)
    per_image = (counted[2][0] - counted[1][0]) / (counted[2][1] - counted[1][1])
    assert 1.0 <= per_image <= 1.01, per_image


def test_parse_setting():
    name, config = throughput.parse_setting("dcgan64:32", 16, "bfloat16")
    assert (name, config.resolution, config.channels, config.batch_size, config.g_width, config.compute_dtype) == \
        ("dcgan64:32", 64, 3, 32, 16, "bfloat16")
    with pytest.raises(SystemExit):
        throughput.parse_setting("resnet32", 64, "float32")


def test_parse_inductor_options():
    assert throughput.parse_inductor_options(["layout_optimization=False", "max_autotune=1", "mode=fast"]) == \
        {"layout_optimization": False, "max_autotune": 1, "mode": "fast"}
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        throughput.parse_inductor_options(["layout_optimization"])


def test_benchmark_runs_without_torch(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(throughput, "_have_torch", lambda: False)
    out = tmp_path / "b.json"
    rc = throughput.main(["--settings", "dcgan28:8", "--width", "4", "--steps", "2", "--warmup", "0",
                          "--scan", "2", "--variants", "jax,jax-scan,jax-unroll,torch-eager", "--json", str(out),
                          "--plot", str(tmp_path / "b.png")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "PyTorch is missing" in text and "| dcgan28:8 | jax |" in text
    result = json.loads(out.read_text())["results"][0]
    assert set(result["variants"]) == {"jax", "jax-scan2", "jax-unroll2"}
    assert result["variants"]["jax"]["images_per_s_median"] > 0
    assert (tmp_path / "b.png").stat().st_size > 0


@pytest.mark.torch
def test_benchmark_runs_with_torch(tmp_path, capsys):
    pytest.importorskip("torch")
    rc = throughput.main(["--settings", "dcgan28:8", "--width", "4", "--steps", "2", "--warmup", "0",
                          "--variants", "jax,torch-eager", "--no-check", "--torch-layout", "channels_last",
                          "--json", str(tmp_path / "b.json")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "| dcgan28:8 | torch-eager |" in text and "torch layout channels_last" in text
    variants = json.loads((tmp_path / "b.json").read_text())["results"][0]["variants"]
    assert variants["jax"]["ratio_to_torch-eager"] > 0
