"""Image-to-image paths the other tests leave out: SRGAN's switch from pixel pretraining to
adversarial training, pix2pix under shard_map and sharding and CycleGAN under sharding over
the 4 virtual devices (each equal to one device), and the EMA generator of pix2pix and CycleGAN."""
import dataclasses

import jax
import numpy as np
import pytest

from gan_jax import configs, init_state, make_parallel_step, make_train_step
from treediff import rel_diff

STEPS = 2


def _tiny(name, **changes):
    """A shipped config at widths 8 and batch 8 (a valid one: its 28 px, or 32 px for SRGAN x4)."""
    return configs.validate(dataclasses.replace(configs.get(name), **{"g_width": 8, "d_width": 8, "batch_size": 8,
                                                                      **changes}))


# ema_decay=0.9 in both, so that the EMA and the parallel tests compile the same single-device
# step (served the second time from the session's compilation cache).
PIX2PIX = _tiny("pix2pix_edges_fashion", ema_decay=0.9)
# pool 4 < batch 8: the pool fills and reuses fakes in the first step. Plain convs: CycleGAN's
# six U-Net passes compile 2.5x faster than with the fast conv formulations.
CYCLE = _tiny("cyclegan_fashion", pool_size=4, ema_decay=0.9, fast_conv=False)
SRGAN = _tiny("srgan_x4", resolution=32, batch_size=4, pretrain_steps=2, steps=4)


def _batches(config, n=STEPS, seed=0):
    """``n`` synthetic batches in [-1, 1] of the task's layout."""
    rng = np.random.default_rng(seed)
    r, c, b = config.resolution, config.channels, config.batch_size

    def images(size):
        return rng.uniform(-1, 1, (b, size, size, c)).astype(np.float32)

    if config.task == "cyclegan":
        return [{"a": images(r), "b": images(r)} for _ in range(n)]
    small = r // config.scale if config.task == "srgan" else r
    return [{"source": images(small), "target": images(r)} for _ in range(n)]


def _trees_equal(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


# --- SRGAN: pixel pretraining, then adversarial training -------------------------------------

def test_srgan_switches_from_pixel_pretraining_to_adversarial_training():
    """srgan_x4 with pretrain_steps=2 and steps=4: one compiled step whose ``lax.cond`` on
    ``state.step < pretrain_steps`` trains G on L1 alone for steps 0 and 1 (D, its statistics and
    its optimiser untouched, no adversarial or feature loss, G's update independent of D), then
    G and D adversarially from step 2 on."""
    config = SRGAN
    assert config.task == "srgan" and config.steps > config.pretrain_steps == 2
    batches = _batches(config, n=config.steps)
    assert batches[0]["source"].shape == (4, 8, 8, 3) and batches[0]["target"].shape == (4, 32, 32, 3)
    step = jax.jit(make_train_step(config))
    state = init_state(config)
    for t, batch in enumerate(batches):
        new, metrics = step(state, batch)
        metrics = {k: float(v) for k, v in metrics.items()}
        assert int(new.step) == t + 1 and metrics["nonfinite"] == 0, (t, metrics)
        assert all(np.isfinite(v) for v in metrics.values()), (t, metrics)
        assert metrics["l1"] > 0
        assert not _trees_equal(new.g_params, state.g_params), t  # G learns in both phases
        # G's update with a different D: the same while pretraining, different after the switch.
        other_d = state.replace(d_params=jax.tree.map(lambda x: 1.5 * x, state.d_params))
        g_with_other_d = step(other_d, batch)[0].g_params
        if t < config.pretrain_steps:
            for name in ("d_params", "d_stats", "d_opt"):
                assert _trees_equal(getattr(new, name), getattr(state, name)), (t, name)
            assert metrics["adv"] == 0 and metrics["feature"] == 0 and metrics["d_loss"] == 0, (t, metrics)
            assert _trees_equal(g_with_other_d, new.g_params), t
        else:
            for name in ("d_params", "d_stats", "d_opt"):
                assert not _trees_equal(getattr(new, name), getattr(state, name)), (t, name)
            assert rel_diff(new.d_params, state.d_params) > 1e-4, t
            assert metrics["adv"] > 0.01 and metrics["feature"] > 0 and metrics["d_loss"] > 0.01, (t, metrics)
            assert rel_diff(g_with_other_d, new.g_params) > 1e-6, t
        state = new
    assert int(state.step) == config.steps


# --- data parallel image-to-image steps equal one device -----------------------------------

@pytest.mark.parametrize("config, mode", [(PIX2PIX, "shard_map"), (PIX2PIX, "sharding"), (CYCLE, "sharding")],
                         ids=["pix2pix-shard_map", "pix2pix-sharding", "cyclegan-sharding"])
def test_img2img_over_4_devices_equals_one_device_after_2_steps(config, mode):
    assert jax.device_count() == 4, "conftest sets 4 virtual CPU devices"
    batches = _batches(config)
    single, step = init_state(config), jax.jit(make_train_step(config))
    for batch in batches:
        single, m_single = step(single, batch)

    runner = make_parallel_step(config, mode)
    assert runner.num_devices == 4
    state = runner.put_state(init_state(config))
    for batch in batches:
        device_batch = runner.put_batch(batch)
        assert all(len(x.sharding.device_set) == 4 for x in jax.tree.leaves(device_batch))
        state, metrics = runner.step(state, device_batch)
    state, metrics = runner.get_state(state), runner.get_metrics(metrics)

    assert int(state.step) == STEPS == int(single.step) and int(metrics["nonfinite"]) == 0
    assert rel_diff(single.g_params, init_state(config).g_params) > 1e-4  # two steps moved the weights
    for name in ("g_params", "d_params", "g_stats", "d_stats", "g_opt", "d_opt", "ema", "pool"):
        if getattr(single, name) is None:
            assert config.task != "cyclegan" and name == "pool"
            continue
        # Adam's moments of conv biases before instance norm sum near-cancelling gradients: the
        # no-skip U-Net's move ~1e-3 with the summation order (its parameters agree to ~4e-6).
        tolerance = 1e-2 if name == "g_opt" and config.model == "unet_noskip" else 1e-5
        assert rel_diff(getattr(state, name), getattr(single, name), allow_empty=True) <= tolerance, name
    for key in ("d_loss", "g_loss", "adv"):
        np.testing.assert_allclose(float(metrics[key]), float(m_single[key]), rtol=1e-5, err_msg=key)
    if config.task == "cyclegan":
        assert int(state.pool["count"]) == config.pool_size
    else:  # pix2pix's U-Net and PatchGAN keep BatchNorm statistics: they were averaged over the devices
        assert jax.tree.leaves(single.g_stats) and jax.tree.leaves(single.d_stats)


# --- EMA of the generator --------------------------------------------------------------------

@pytest.mark.parametrize("config", [PIX2PIX, CYCLE], ids=["pix2pix", "cyclegan"])
def test_img2img_ema_follows_the_generator_with_warm_up(config):
    """ema_decay=0.9: after step t the EMA is d_t * EMA + (1 - d_t) * (G's new weights and
    statistics), d_t = min(0.9, (1 + t) / (10 + t)): 0.1 at t=0, 2/11 at t=1."""
    decay = config.ema_decay
    assert decay == 0.9
    step = jax.jit(make_train_step(config))
    state = init_state(config)
    assert _trees_equal(state.ema, {"params": state.g_params, "batch_stats": state.g_stats})  # starts at G
    for t, batch in enumerate(_batches(config)):
        new, _ = step(state, batch)
        d_t = min(decay, (1.0 + t) / (10.0 + t))

        def expected(d):
            return jax.tree.map(lambda e, p: d * np.asarray(e, np.float64) + (1 - d) * np.asarray(p, np.float64),
                                state.ema, {"params": new.g_params, "batch_stats": new.g_stats})

        assert rel_diff(new.ema["params"], expected(d_t)["params"]) <= 1e-6, t
        assert rel_diff(new.ema["batch_stats"], expected(d_t)["batch_stats"], allow_empty=True) <= 1e-6, t
        # The comparison can tell decays apart: without the warm-up (0.9), or the warm-up of the
        # other step, the EMA is far off.
        for wrong in (decay, min(decay, (2.0 + t) / (11.0 + t))):
            assert rel_diff(new.ema["params"], expected(wrong)["params"]) > 1e-5, (t, wrong)
        state = new
    assert int(state.step) == STEPS
