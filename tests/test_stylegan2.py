"""StyleGAN2 (gan_jax/models/stylegan2.py) and its train step (gan_jax/tasks/style.py): the layers
against reference formulas, truncation, mixing, path length, EMA, ADA's p in the step, N devices
= 1 device, and `gan-jax train` / resume / sample."""
import dataclasses
import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from gan_jax import tasks
from gan_jax.cli import main as cli_main
from gan_jax.configs import get, override, validate
from gan_jax.errors import UserError
from gan_jax.models import stylegan2 as sg
from gan_jax.models.dcgan import latent_code
from gan_jax.parallel import make_parallel_step
from gan_jax.tasks import generate, init_state, make_train_step, style
from gan_jax.tasks.common import ema_decay_at
from treediff import rel_diff

pytestmark = pytest.mark.xdist_group("stylegan2")

# The named config made tiny; the CLI test trains exactly this config under parallel=shard_map, so
# that its step is the one the 4-device test compiles (the session's compilation cache has it).
TINY_SETS = ["g_width=4", "d_width=4", "z_dim=8", "mapping_layers=1", "r1_gamma=0.1", "r1_every=2", "pl_every=2",
             "ada_p=0.3", "ada_target=0.05", "ada_kimg=1.0", "ema_decay=0.99", "lr_g=2e-3", "lr_d=2e-3",
             "batch_size=16", "parallel=shard_map"]
TINY = override(get("stylegan2_ada_mnist"), TINY_SETS)
STEPS = 4  # one ADA adjustment (every style.ADA_INTERVAL steps), R1 and path length twice


def _batches(config, n=STEPS):
    rng = np.random.default_rng(0)
    shape = (config.batch_size, config.resolution, config.resolution, config.channels)
    return [{"image": rng.uniform(-1, 1, shape).astype(np.float32)} for _ in range(n)]


@pytest.fixture(scope="module")
def one_device_run():
    """The tiny config's states after 0..STEPS steps and each step's metrics, on one device."""
    validate(TINY)
    step = jax.jit(make_train_step(TINY))
    states, metrics = [init_state(TINY)], []
    for batch in _batches(TINY):
        state, m = step(states[-1], batch)
        states.append(state)
        metrics.append(jax.tree.map(np.asarray, m))
    return step, states, metrics


def _generator(config=TINY, psi=1.0):
    g, _ = sg.build(dataclasses.replace(config, truncation_psi=psi))
    return g


G = _generator()
synthesis = jax.jit(lambda v, ws: G.apply(v, ws, method="synthesis"))  # w+ [B, L, W]
B = 4


def _variables(seed=0, config=TINY):
    variables = G.init(jax.random.PRNGKey(seed), jnp.zeros((1, config.z_dim)), train=False)
    # A w_avg away from 0 (as after training), so that truncation has something to do.
    w_avg = jax.random.normal(jax.random.PRNGKey(seed + 1), (config.z_dim,))
    stats = dict(variables["batch_stats"], mapping_net={"w_avg": w_avg})
    return {"params": variables["params"], "batch_stats": stats}


# --------------------------------------------------------------------------- layers

@pytest.mark.parametrize("resolution,channels,layers", [(28, 1, 6), (32, 3, 8)])
def test_shapes(resolution, channels, layers):
    config = dataclasses.replace(TINY, resolution=resolution, channels=channels)
    validate(config)
    g, d = sg.build(config)
    z = jnp.zeros((3, config.z_dim))
    g_vars = jax.eval_shape(lambda: g.init(jax.random.PRNGKey(0), z, train=False))
    images = jax.eval_shape(lambda v: g.apply(v, z, train=False), g_vars)
    assert images.shape == (3, resolution, resolution, channels)
    assert sg.num_ws(resolution) == layers and len(sg.noise_shapes(resolution)) == layers - 1
    ws = jnp.zeros((3, layers, config.z_dim))
    assert jax.eval_shape(lambda v: g.apply(v, ws, method="synthesis"), g_vars).shape == images.shape
    assert jax.eval_shape(lambda v: g.apply(v, z, method="mapping"), g_vars).shape == (3, config.z_dim)
    x = jnp.zeros((3, resolution, resolution, channels))
    d_vars = jax.eval_shape(lambda: d.init(jax.random.PRNGKey(0), x))
    assert jax.eval_shape(lambda v: d.apply(v, x), d_vars).shape == (3,)
    assert "batch_stats" not in d_vars  # no normalisation, nothing but parameters


def test_config_checks():
    with pytest.raises(UserError, match="d_norm=none"):
        validate(dataclasses.replace(TINY, d_norm="spectral"))
    with pytest.raises(UserError, match="task=generate expects"):
        validate(dataclasses.replace(TINY, task="generate"))
    with pytest.raises(UserError, match="ada='bgcx'"):
        validate(dataclasses.replace(TINY, ada="bgcx"))
    with pytest.raises(UserError, match="style_mixing=1.5"):
        validate(dataclasses.replace(TINY, style_mixing=1.5))
    with pytest.raises(UserError, match="mbstd_group=0"):
        validate(dataclasses.replace(TINY, mbstd_group=0))


def test_config_default_group_is_the_model_default():
    from gan_jax.configs.base import Config

    assert Config().mbstd_group == sg.MBSTD_GROUP == sg.StyleGAN2Discriminator.mbstd_group
    assert not Config().transitional and dataclasses.replace(TINY, transition_end=4).transitional


def test_discriminator_reads_the_minibatch_stddev_over_the_configured_group():
    """Changing rows 4..7 moves the logits of rows 0..3 only when they share a group (mbstd_group=8)."""
    x = jax.random.uniform(jax.random.PRNGKey(0), (8, TINY.resolution, TINY.resolution, TINY.channels), minval=-1)
    other = x.at[4:].set(-x[4:])
    for group, coupled in ((4, False), (8, True)):
        _, d = sg.build(dataclasses.replace(TINY, mbstd_group=group))
        variables = d.init(jax.random.PRNGKey(1), x)
        moved = np.abs(np.asarray(d.apply(variables, x)[:4] - d.apply(variables, other)[:4])).max()
        assert (moved > 1e-6) == coupled, (group, moved)


def test_modulated_conv_equals_a_per_sample_conv_with_scaled_weights():
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(keys[0], (3, 6, 5, 4))
    weight = jax.random.normal(keys[1], (3, 3, 4, 7))
    styles = jax.random.normal(keys[2], (3, 4)) + 1.0
    for demodulate in (True, False):
        expected = []
        for b in range(3):  # w'_b = w * s_b over input channels; w''_b = w'_b / |w'_b| per output channel
            w = weight * styles[b][None, None, :, None]
            if demodulate:
                w = w / jnp.sqrt(jnp.sum(w ** 2, axis=(0, 1, 2), keepdims=True) + 1e-8)
            expected.append(lax.conv_general_dilated(x[b:b + 1], w, (1, 1), "SAME",
                                                     dimension_numbers=("NHWC", "HWIO", "NHWC")))
        got = sg.modulated_conv(x, weight, styles, demodulate)
        np.testing.assert_allclose(got, jnp.concatenate(expected), rtol=1e-5, atol=1e-5)


def test_conv2d_up_equals_nearest_upsampling_then_the_conv_with_first_and_second_derivatives():
    """The phase form (four 2x2 convs of the low-resolution input) against the definition, on a
    non-square odd size, including the up flag of modulated_conv and a double derivative (the
    path-length penalty differentiates G twice)."""
    keys = jax.random.split(jax.random.PRNGKey(5), 3)
    x = jax.random.normal(keys[0], (2, 5, 3, 4))
    kernel = jax.random.normal(keys[1], (3, 3, 4, 6))
    styles = jax.random.normal(keys[2], (2, 4)) + 1.0

    def reference(x, kernel):
        return lax.conv_general_dilated(sg.upsample_nearest(x), kernel, (1, 1), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))

    got = sg.conv2d_up(x, kernel)
    assert got.shape == (2, 10, 6, 6)
    np.testing.assert_allclose(got, reference(x, kernel), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sg.modulated_conv(x, kernel, styles, up=True),
                               sg.modulated_conv(sg.upsample_nearest(x), kernel, styles), rtol=1e-5, atol=1e-5)

    def input_gradient_norm(conv, x, kernel):  # a path-length-like functional: |d<y, y>/dx|^2
        return jnp.sum(jax.grad(lambda x: jnp.sum(jnp.sin(conv(x, kernel))))(x) ** 2)

    for argnum in (0, 1):
        got = jax.grad(input_gradient_norm, argnum + 1)(sg.conv2d_up, x, kernel)
        expected = jax.grad(input_gradient_norm, argnum + 1)(reference, x, kernel)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="3x3 kernel"):
        sg.conv2d_up(x, kernel[:1, :1])


def test_demodulation_gives_unit_output_std_for_unit_variance_input():
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    x = jax.random.normal(keys[0], (4, 40, 40, 64))
    weight = jax.random.normal(keys[1], (3, 3, 64, 8)) * 5.0
    styles = jnp.exp(jax.random.normal(keys[2], (4, 64)))  # very different scales per channel and sample
    y = sg.modulated_conv(x, weight, styles)[:, 1:-1, 1:-1]  # interior: no zero padding in the window
    std = np.asarray(jnp.std(y, axis=(1, 2)))  # [B, O]
    np.testing.assert_allclose(std, 1.0, atol=0.08)
    raw = np.asarray(jnp.std(sg.modulated_conv(x, weight, styles, demodulate=False), axis=(1, 2)))
    assert raw.mean() > 10  # without demodulation the scale is the weights'


def test_minibatch_stddev_matches_numpy():
    x = np.random.default_rng(0).normal(size=(8, 3, 2, 5)).astype(np.float32)
    got = np.asarray(sg.minibatch_stddev(jnp.asarray(x)))
    assert got.shape == (8, 3, 2, 6)
    np.testing.assert_array_equal(got[..., :5], x)
    for n in range(8):
        group = x[4 * (n // 4):4 * (n // 4) + 4]  # groups of 4 consecutive samples
        expected = np.mean(np.sqrt(np.mean((group - group.mean(0)) ** 2, axis=0) + 1e-8))
        np.testing.assert_allclose(got[n, ..., 5], expected, rtol=1e-5)
    six = np.asarray(sg.minibatch_stddev(jnp.asarray(x[:6])))  # 6 rows: groups of gcd(6, 4) = 2
    np.testing.assert_allclose(six[0, 0, 0, 5], np.mean(np.sqrt(np.mean((x[:2] - x[:2].mean(0)) ** 2, 0) + 1e-8)),
                               rtol=1e-5)


def test_path_length_on_a_linear_generator_matches_the_closed_form_and_finite_differences():
    b, layers, w_dim, h, c = 3, 2, 4, 3, 1
    keys = jax.random.split(jax.random.PRNGKey(2), 3)
    a = jax.random.normal(keys[0], (layers, w_dim, h * h * c))
    ws = jax.random.normal(keys[1], (b, layers, w_dim))
    y = jax.random.normal(keys[2], (b, h, h, c))

    def synthesis(ws, a=a):  # G(w+) = sum_l w_l A_l: J^T y = A y, whatever w+ is
        return jnp.einsum("blw,lwp->bp", ws, a).reshape(b, h, h, c)

    lengths = style.path_lengths(synthesis, ws, y)
    jty = jnp.einsum("lwp,bp->blw", a, y.reshape(b, -1) / h)  # y / sqrt(H W)
    np.testing.assert_allclose(lengths, jnp.sqrt(jnp.mean(jnp.sum(jty ** 2, -1), -1)), rtol=1e-5)

    # The penalty and its new running mean: a_mean' = a_mean + 0.01 (mean(a) - a_mean).
    penalty, mean = style.path_length_penalty(lengths, 0.5)
    np.testing.assert_allclose(mean, 0.5 + 0.01 * (np.mean(lengths) - 0.5), rtol=1e-6)
    np.testing.assert_allclose(penalty, np.mean((np.asarray(lengths) - mean) ** 2), rtol=1e-5)

    # d penalty / d A against central differences (the regulariser's gradient to G's weights).
    def objective(a):
        return style.path_length_penalty(style.path_lengths(lambda v: synthesis(v, a), ws, y), 0.5)[0]
    grad = jax.grad(objective)(a)
    eps = 1e-2
    for index in [(0, 0, 0), (1, 3, 5), (0, 2, 8)]:
        bump = jnp.zeros_like(a).at[index].set(eps)
        numeric = (objective(a + bump) - objective(a - bump)) / (2 * eps)
        np.testing.assert_allclose(grad[index], numeric, rtol=2e-2, atol=1e-4)


def test_truncation_psi_0_gives_the_mean_w_image_and_psi_1_the_plain_one():
    variables = _variables()
    layers = sg.num_ws(28)
    z = jax.random.normal(jax.random.PRNGKey(5), (B, TINY.z_dim))
    w_avg = variables["batch_stats"]["mapping_net"]["w_avg"]
    mean_image = synthesis(variables, jnp.broadcast_to(w_avg, (B, layers, TINY.z_dim)))
    at_0 = jax.jit(_generator(psi=0.0).apply)(variables, z)  # what sample / evaluate draw with psi = 0
    np.testing.assert_allclose(at_0, jnp.clip(mean_image, -1, 1), atol=1e-5)
    np.testing.assert_allclose(at_0, at_0[:1].repeat(B, 0), atol=1e-6)  # every z: the same image
    full = G.apply(variables, z, method="mapping")
    np.testing.assert_allclose(G.apply(variables, z, 1.0, method="mapping"), full)  # psi = 1: the plain w
    np.testing.assert_allclose(G.apply(variables, z, 0.5, method="mapping"), w_avg + 0.5 * (full - w_avg), atol=1e-6)


def test_style_mixing_switches_at_the_crossover_layer():
    layers = sg.num_ws(28)
    w1, w2 = jnp.ones((2, 8)), -jnp.ones((2, 8))
    for crossover in range(1, layers + 1):
        mixed = np.asarray(sg.mix_styles(w1, w2, crossover, layers))
        assert (mixed[:, :crossover] == 1).all() and (mixed[:, crossover:] == -1).all()
    # Every row of w+ drives the synthesis: changing row l (alone) changes the image.
    variables = _variables()
    ws = jax.random.normal(jax.random.PRNGKey(3), (B, layers, TINY.z_dim))
    base = synthesis(variables, ws)
    np.testing.assert_allclose(G.apply(variables, ws[:, 0], method="synthesis"),  # one w = w+ of equal rows
                               synthesis(variables, jnp.repeat(ws[:, :1], layers, 1)), rtol=1e-5, atol=1e-5)
    for row in range(layers):
        moved = synthesis(variables, ws.at[:, row].add(1.0))
        assert float(jnp.abs(moved - base).max()) > 1e-4, row


def test_edit_functions_are_the_generator_halves():
    variables = _variables()
    fns = sg.style_functions(TINY)
    z = jax.random.normal(jax.random.PRNGKey(4), (B, TINY.z_dim))
    w = jax.jit(fns.mapping)(variables, z)
    w_plus = jnp.repeat(w[:, None], fns.num_ws, 1)
    np.testing.assert_allclose(fns.synthesis(variables, w_plus), jax.jit(G.apply)(variables, z), atol=1e-5)
    noise = [jnp.zeros((B, h, w_, 1)) for h, w_ in fns.noise_shapes]
    assert fns.synthesis(variables, w_plus, noise).shape == (B, 28, 28, 1)
    assert sg.style_affine(variables, 0).shape == (TINY.z_dim, 4 * TINY.g_width)


# --------------------------------------------------------------------------- the train step

def test_step_is_deterministic_and_finite(one_device_run):
    step, states, metrics = one_device_run
    again, _ = step(states[0], _batches(TINY)[0])
    assert rel_diff(again.g_params, states[1].g_params) == 0.0  # randomness only from the state's key
    for m in metrics:
        assert all(np.isfinite(v).all() for v in m.values()) and int(m["nonfinite"]) == 0
    assert float(metrics[0]["r1"]) > 0 and float(metrics[1]["r1"]) == 0  # lazy: every r1_every=2 steps
    assert float(metrics[0]["pl"]) > 0 and float(metrics[1]["pl"]) == 0
    assert float(states[1].pool["pl_mean"]) > 0
    # w_avg moves towards the batch means of w (decay 0.995).
    assert float(jnp.abs(states[1].g_stats["mapping_net"]["w_avg"]).sum()) > 0


def test_ema_generator(one_device_run):
    _, states, _ = one_device_run
    decay = float(ema_decay_at(jnp.int32(0), TINY.ema_decay))  # warm-up: 0.1 at step 0
    expected = jax.tree.map(lambda e, p: decay * e + (1 - decay) * p, states[0].ema["params"], states[1].g_params)
    assert rel_diff(states[1].ema["params"], expected) < 1e-6
    assert rel_diff(states[1].ema["batch_stats"], states[1].g_stats) == 0  # buffers copied
    assert rel_diff(states[1].ema["params"], states[1].g_params) > 0


def test_ada_p_moves_by_the_rule_every_4_steps(one_device_run):
    _, states, metrics = one_device_run
    ps = [float(s.pool["ada_p"]) for s in states]
    assert ps[:STEPS] == pytest.approx([TINY.ada_p] * STEPS)  # unchanged until the first interval is complete
    r_t = np.mean([float(m["r_t"]) for m in metrics])  # E[sign(D(real))] over the interval
    expected = np.clip(TINY.ada_p + np.sign(r_t - TINY.ada_target) * TINY.batch_size * STEPS / (TINY.ada_kimg * 1000),
                       0, 1)
    assert ps[STEPS] == pytest.approx(expected, abs=1e-6) and ps[STEPS] != pytest.approx(TINY.ada_p)
    assert float(states[STEPS].pool["ada_steps"]) == 0  # the accumulator starts again


def test_4_devices_equal_one_device(one_device_run):
    _, states, _ = one_device_run
    runner = make_parallel_step(TINY, "shard_map")  # explicit collectives: every pmean of the step
    assert runner.num_devices == 4
    state = runner.put_state(init_state(TINY))
    for batch in _batches(TINY):
        state, _ = runner.step(state, runner.put_batch(batch))
    state, reference = runner.get_state(state), states[-1]
    for name in ("g_params", "d_params", "g_stats", "ema", "pool"):
        assert rel_diff(getattr(state, name), getattr(reference, name)) <= 1e-5, name


def test_gan_jax_train_resume_and_sample(tmp_path):
    workdir = str(tmp_path / "run")
    sets = [word for item in TINY_SETS for word in ("--set", item)]
    tiny = [*sets, "--set", "log_every=1", "--set", "sample_every=2", "--set", "checkpoint_every=2",
            "--set", "grid_size=4", "--no-progress"]
    assert cli_main(["train", "--config", "stylegan2_ada_mnist", "--workdir", workdir, "--steps", "2", *tiny]) == 0
    assert cli_main(["train", "--workdir", workdir, "--steps", "4", "--no-progress"]) == 0  # resumes at 2
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    assert [r["step"] for r in rows if "d_loss" in r] == [1, 2, 3, 4]
    assert all(math.isfinite(r[k]) for r in rows if "d_loss" in r for k in ("d_loss", "g_loss", "ada_p", "pl"))
    out = str(tmp_path / "s.npy")
    assert cli_main(["sample", "--workdir", workdir, "--num", "4", "--out", out]) == 0
    x = np.load(out)
    assert x.shape == (4, 28, 28, 1) and -1 <= x.min() and x.max() <= 1 and x.std() > 0
    wide = str(tmp_path / "wide.npy")  # psi above 1 widens W about w_avg: other images, same range
    assert cli_main(["sample", "--workdir", workdir, "--num", "4", "--truncation", "1.5", "--out", wide]) == 0
    y = np.load(wide)
    assert y.shape == x.shape and -1 <= y.min() and y.max() <= 1 and np.abs(y - x).max() > 1e-3


def test_d_sees_the_fakes_clipped_to_the_data_range():
    """D judges G's images as sampling gives them, clipped to [-1, 1] (the unclipped overshoot
    made G collapse: experiments/stylegan/results.md): with toRGB kernels 0 and biases 5 every
    raw pixel is 15 and D's view of the fakes is the all-ones image."""
    config = override(TINY, ["ada=", "r1_gamma=0", "pl_weight=0", "style_mixing=0", "parallel=jit"])
    state = init_state(config)

    def to_rgb(path, x):
        names = jax.tree_util.keystr(path)
        return x if "to_rgb" not in names or "affine" in names else jnp.full_like(x, 5.0 * (path[-1].key == "bias"))

    params = jax.tree_util.tree_map_with_path(to_rgb, state.g_params)
    state = state.replace(g_params=params)
    v = {"params": params, "batch_stats": state.g_stats}
    raw = G.apply(v, G.apply(v, jax.random.normal(jax.random.PRNGKey(0), (4, config.z_dim)), method="mapping"),
                  method="synthesis")
    np.testing.assert_allclose(raw, 15.0)  # every raw pixel far outside the data range
    _, metrics = jax.jit(make_train_step(config))(state, _batches(config, 1)[0])
    _, d_net = sg.build(config)
    ones = jnp.ones((config.batch_size, config.resolution, config.resolution, config.channels))
    expected = jnp.mean(jax.nn.sigmoid(d_net.apply({"params": state.d_params}, ones)))
    assert float(metrics["d_fake"]) == pytest.approx(float(expected), rel=1e-5)


# --------------------------------------------------------------------------- self-conditioning

def test_self_conditioned_stylegan2_reads_clusters_in_d_and_its_code_from_z():
    """cluster_code=K: D's projection is told each real image's cluster (only the labels differ
    between the two steps, and D's class embedding moves differently); G takes z alone and its
    mapping jumps where the argmax of z's first K entries changes."""
    config = override(TINY, ["cluster_code=4", "parallel=jit"])
    validate(config)
    step = jax.jit(make_train_step(config))
    images = _batches(config, 1)[0]["image"]
    b = config.batch_size
    a, _ = step(init_state(config), {"image": images, "label": np.zeros(b, np.int32)})
    c, _ = step(init_state(config), {"image": images, "label": (np.arange(b) % 4).astype(np.int32)})
    assert a.d_params["class_embed"]["kernel"].shape == (4, 4 * TINY.d_width)  # the last features: d_width x 2**2
    assert np.abs(np.asarray(a.d_params["class_embed"]["kernel"] - c.d_params["class_embed"]["kernel"])).max() > 1e-5
    g, _ = sg.build(config)
    v = g.init(jax.random.PRNGKey(0), jnp.zeros((1, config.z_dim)), train=False)
    assert v["params"]["mapping_net"]["embed"]["kernel"].shape == (4, config.z_dim)
    z = jax.random.normal(jax.random.PRNGKey(3), (2, config.z_dim)).at[:, :4].set(jnp.array([1.0, 1.0 + 1e-4, 0, 0]))
    flipped = z.at[:, 0].add(2e-4)  # code 1 -> 0, z moves by 2e-4
    nudged = z.at[:, 2].add(2e-4)  # the same move, the code stays 1
    assert list(latent_code(z, 4)) == [1, 1] and list(latent_code(flipped, 4)) == [0, 0]
    w = lambda x: g.apply(v, x, method="mapping")  # noqa: E731
    assert float(jnp.abs(w(flipped) - w(z)).max()) > 100 * float(jnp.abs(w(nudged) - w(z)).max())


def test_self_conditioned_d_asks_for_labels_and_other_models_refuse_clusters():
    config = override(TINY, ["cluster_code=4"])
    _, d = sg.build(config)
    x = jnp.zeros((2, 28, 28, 1))
    v = d.init(jax.random.PRNGKey(0), x, jnp.zeros((2,), jnp.int32))
    with pytest.raises(ValueError, match="num_classes=4 expects labels"):
        d.apply(v, x)
    with pytest.raises(UserError, match="cluster_code=4: only for the unconditional DCGAN or StyleGAN2"):
        validate(override(get("r3gan_mnist"), ["cluster_code=4"]))
    with pytest.raises(UserError, match="2..z_dim"):
        validate(override(TINY, ["cluster_code=9"]))  # z_dim=8


def test_cluster_truncation_moves_w_about_its_own_clusters_mean():
    """truncation_center=cluster: w_c + psi (w - w_c), w_c the mean w over the fixed draws of z
    that fall in c (checked against a group-by written here); psi 0 gives each cluster one w."""
    config = override(TINY, ["cluster_code=4", "truncation_center=cluster", "truncation_psi=1.5"])
    g, _ = sg.build(validate(config))
    v = g.init(jax.random.PRNGKey(0), jnp.zeros((1, config.z_dim)), train=False)
    draws = jax.random.normal(jax.random.PRNGKey(sg.CLUSTER_MEAN_SEED), (sg.CLUSTER_MEAN_DRAWS, config.z_dim))
    w_draws, codes = np.asarray(g.apply(v, draws, method="mapping")), np.asarray(draws[:, :4]).argmax(-1)
    expected = np.stack([w_draws[codes == c].mean(0) for c in range(4)])
    means = np.asarray(g.apply(v, method="cluster_means"))
    np.testing.assert_allclose(means, expected, rtol=1e-4, atol=1e-5)
    assert np.linalg.norm(means - means.mean(0), axis=-1).min() > 1e-3  # the clusters' means differ

    z = jax.random.normal(jax.random.PRNGKey(7), (64, config.z_dim))
    c = np.asarray(latent_code(z, 4))
    w = np.asarray(g.apply(v, z, method="mapping"))
    np.testing.assert_allclose(g.apply(v, z, 1.5, method="mapping"), means[c] + 1.5 * (w - means[c]), atol=1e-5)
    np.testing.assert_allclose(g.apply(v, z, 0.0, method="mapping"), means[c], atol=1e-5)
    images = np.asarray(jax.jit(g.apply)(v, z))  # sampling truncates as configured (psi 1.5)
    plain = np.asarray(sg.build(dataclasses.replace(config, truncation_psi=1.0))[0].apply(v, z))
    assert np.abs(images - plain).max() > 1e-3


def test_cluster_truncation_needs_a_self_conditioned_stylegan2_and_psi_stays_in_range():
    with pytest.raises(UserError, match="truncation_center=cluster: expected a self-conditioned StyleGAN2"):
        validate(override(TINY, ["truncation_center=cluster"]))
    with pytest.raises(UserError, match="truncation_center=cluster: only StyleGAN2"):
        validate(override(get("selfcond_mnist"), ["truncation_center=cluster"]))
    with pytest.raises(UserError, match="truncation_center='middle': expected one of mean, cluster"):
        validate(override(TINY, ["truncation_center=middle"]))
    with pytest.raises(UserError, match=r"truncation_psi=2.5: expected a value in \(0, 2\]"):
        validate(override(TINY, ["truncation_psi=2.5"]))
    with pytest.raises(ValueError, match="codes > 0"):
        g = sg.StyleGAN2Generator(28, 1, 8, 1, 4, truncation_center="cluster")
        g.init(jax.random.PRNGKey(0), jnp.zeros((1, 8)), 0.5, method="mapping")


def test_transition_weight_rises_linearly_between_start_and_end():
    lam = [float(style.transition_weight(s, 100, 300)) for s in (0, 100, 150, 300, 1000)]
    np.testing.assert_allclose(lam, [0.0, 0.0, 0.25, 1.0, 1.0])
    assert float(style.transition_weight(0, 0, 0)) == 1.0  # off: conditional from the first step


def test_transitional_training_is_unconditional_before_start_and_conditional_after():
    """transition_start/end: at lambda = 0 D's logits ignore the cluster and a step leaves D's
    projection and G's cluster embedding where they were (zero gradients: Adam's update is 0);
    once lambda > 0 the cluster changes D's logits and both embeddings learn."""
    config = override(TINY, ["cluster_code=4", "parallel=jit", "transition_start=5", "transition_end=10"])
    validate(config)
    _, d = sg.build(config)
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 28, 28, 1))
    zeros, ones = jnp.zeros((4,), jnp.int32), jnp.ones((4,), jnp.int32)
    v = d.init(jax.random.PRNGKey(0), x, zeros)
    np.testing.assert_array_equal(d.apply(v, x, zeros, True, 0.0), d.apply(v, x, ones, True, 0.0))
    assert float(jnp.abs(d.apply(v, x, zeros, True, 1.0) - d.apply(v, x, ones, True, 1.0)).max()) > 1e-4

    step = jax.jit(make_train_step(config))
    batch = {"image": _batches(config, 1)[0]["image"], "label": (np.arange(config.batch_size) % 4).astype(np.int32)}
    state = init_state(config)
    early, metrics = step(state, batch)
    assert float(metrics["cond_weight"]) == 0.0
    for before, after in ((state.d_params["class_embed"], early.d_params["class_embed"]),
                          (state.g_params["mapping_net"]["embed"], early.g_params["mapping_net"]["embed"])):
        assert rel_diff(before, after) == 0.0
    assert rel_diff(state.d_params["unconditional_logit"], early.d_params["unconditional_logit"]) > 0.0
    late, metrics = step(state.replace(step=jnp.asarray(7, state.step.dtype)), batch)
    assert float(metrics["cond_weight"]) == pytest.approx(0.4)
    assert rel_diff(state.d_params["class_embed"], late.d_params["class_embed"]) > 0.0
    assert rel_diff(state.g_params["mapping_net"]["embed"], late.g_params["mapping_net"]["embed"]) > 0.0


def test_training_grids_show_the_generator_at_the_steps_transition_weight():
    """Before ``transition_start`` the grid is G with the cluster embedding off (lambda 0); from
    ``transition_end`` on it is the conditional generator that sampling uses."""
    config = override(TINY, ["cluster_code=4", "parallel=jit", "transition_start=5", "transition_end=10"])
    state = init_state(config)
    z = jax.random.normal(jax.random.PRNGKey(3), (4, config.z_dim))
    g = sg.generator_module(config)
    variables = state.generator_variables(True)
    unconditional = jnp.clip(g.apply(variables, g.apply(variables, z, cond_weight=0.0, method="mapping"),
                                     method="synthesis"), -1.0, 1.0)
    early, ncol = tasks.sample_grid(config, state, z)
    assert ncol is None
    np.testing.assert_allclose(early, unconditional, atol=1e-5)
    late, _ = tasks.sample_grid(config, state.replace(step=jnp.asarray(10, state.step.dtype)), z)
    np.testing.assert_allclose(late, generate.generate_from(config, state, z), atol=1e-5)
    assert float(np.abs(late - early).max()) > 1e-3


def test_transition_needs_a_self_conditioned_stylegan2_and_an_order():
    with pytest.raises(UserError, match="only for the self-conditioned StyleGAN2"):
        validate(override(TINY, ["transition_end=10"]))
    with pytest.raises(UserError, match="expected 0 <= transition_start < transition_end"):
        validate(override(TINY, ["cluster_code=4", "transition_start=10", "transition_end=10"]))
