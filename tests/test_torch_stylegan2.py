"""The PyTorch StyleGAN2 reference (gan_jax/bench/torch_stylegan2.py) computes the gan_jax StyleGAN2
networks and train step (without ADA); torch is optional: these tests are marked ``torch``."""
import dataclasses

import jax
import numpy as np
import pytest

from gan_jax.configs import get, validate
from gan_jax.models import stylegan2 as sg

pytestmark = [pytest.mark.torch, pytest.mark.xdist_group("torch_stylegan2")]

# The benchmark's config (stylegan2_ada_mnist without ADA), made small; R1 and the path length every
# 2 steps, so that state step 2 runs both with Adam's moments in play.
SMALL = dict(g_width=8, d_width=8, z_dim=16, mapping_layers=2, batch_size=8, r1_every=2, pl_every=2)
CHECK_STEPS = (0, 1, 2, 3)


@pytest.fixture(scope="module")
def ts():
    torch = pytest.importorskip("torch")
    from gan_jax.bench import torch_stylegan2
    # One torch thread: beside another busy process (the suite's second worker) torch's OpenMP
    # threads wait on each other for milliseconds per op (a 0.1 s step took 4 s on 2 cores).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch_stylegan2
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def config(ts):
    config = dataclasses.replace(ts.bench_config(get("stylegan2_ada_mnist")), **SMALL)
    validate(config)
    assert config.ada == "" and config.ema_decay > 0 and config.style_mixing > 0
    return config


@pytest.fixture(scope="module")
def step_fn(config):
    from gan_jax.tasks import make_train_step
    return jax.jit(make_train_step(config))


def _rel(a, b):
    return float(np.linalg.norm(np.asarray(a, np.float64) - b) / np.linalg.norm(np.asarray(b, np.float64)))


def test_upsampling_matches_the_jax_filters(ts):
    import torch
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 7)).astype(np.float32)  # NCHW
    nhwc = x.transpose(0, 2, 3, 1)
    up = ts.upsample_bilinear(torch.from_numpy(x)).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(up, np.asarray(sg.upsample_2x(nhwc)), rtol=1e-6, atol=1e-6)
    near = ts.upsample_nearest(torch.from_numpy(x)).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(near, np.asarray(sg.upsample_nearest(nhwc)))


def test_forward_passes_match_the_flax_modules(ts, config):
    """After load_state: mapping, synthesis from w+ (given noise and the constant noise), D's logits."""
    import torch

    from gan_jax.tasks import init_state
    state = init_state(config, 3)
    trainer = ts.TorchStyleGAN2(config)
    trainer.load_state(state)
    grouped = ts.TorchStyleGAN2(config, modulation="grouped")
    grouped.load_state(state)
    g, d = sg.build(config)
    variables = {"params": state.g_params, "batch_stats": state.g_stats}
    rng = np.random.default_rng(1)
    b = 8
    z = rng.standard_normal((b, config.z_dim)).astype(np.float32)
    ws = rng.standard_normal((b, sg.num_ws(config.resolution), config.z_dim)).astype(np.float32)
    noise = [rng.standard_normal((b, h, w, 1)).astype(np.float32) for h, w in sg.noise_shapes(config.resolution)]
    x = rng.uniform(-1, 1, (b, config.resolution, config.resolution, config.channels)).astype(np.float32)
    t_noise = [torch.from_numpy(n.transpose(0, 3, 1, 2).copy()) for n in noise]
    with torch.no_grad():
        w_t = trainer.g.mapping_net(torch.from_numpy(z)).numpy()
        img_t = trainer.g.synthesis_net(torch.from_numpy(ws), t_noise).numpy().transpose(0, 2, 3, 1)
        img_grouped = grouped.g.synthesis_net(torch.from_numpy(ws), t_noise).numpy().transpose(0, 2, 3, 1)
        img_const = trainer.g.synthesis_net(torch.from_numpy(ws)).numpy().transpose(0, 2, 3, 1)
        logits_t = trainer.d(trainer.to_input(x)).numpy()
    assert _rel(w_t, np.asarray(g.apply(variables, z, method="mapping"))) < 1e-5
    img = np.asarray(g.apply(variables, ws, noise, method="synthesis"))
    assert _rel(img_t, img) < 1e-5
    assert _rel(img_grouped, img) < 1e-5
    assert _rel(img_const, np.asarray(g.apply(variables, ws, None, method="synthesis"))) < 1e-5
    assert _rel(logits_t, np.asarray(d.apply({"params": state.d_params}, x))) < 1e-5
    # the weights go back to the flax layout unchanged
    assert ts.rel(ts.tree_like(trainer.g, state.g_params), state.g_params) == 0.0


def test_steps_match_the_jax_step(ts, config, step_fn):
    """State steps 0 (R1 and path length, Adam's first update), 1 (neither), 2 (both, with Adam's
    moments) and 3, each from the same state on both sides."""
    assert all(s % config.r1_every == 0 and s % config.pl_every == 0 for s in (0, 2))
    diff = ts.check(config, steps=CHECK_STEPS, step_fn=step_fn)
    assert ts.check_failures(diff) == [], diff
    assert {"d_loss", "g_loss", "r1", "pl", "w_avg", "pl_mean", "ema", "g_params@4", "d_update_median@3"} <= set(diff)


@pytest.mark.parametrize("override", [{"r1_gamma": 0.2}, {"pl_weight": 2.2}])
def test_a_wrong_torch_step_is_caught(ts, config, step_fn, override):
    """On the torch side only, R1 weighted gamma instead of gamma / 2, or the path-length weight 10 %
    high: the check fails."""
    diff = ts.check(config, steps=CHECK_STEPS, step_fn=step_fn, torch_overrides=override)
    assert ts.check_failures(diff), diff
