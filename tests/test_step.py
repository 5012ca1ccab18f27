import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import models
from gan_jax.configs import Config
from gan_jax.parallel import make_parallel_step, replicate, split_batch, unreplicate
from gan_jax.tasks import init_state, make_train_step
from treediff import rel_diff


def _batch(config, n=None, seed=1):
    n = n or config.batch_size
    x = jax.random.uniform(jax.random.PRNGKey(seed), (n, config.resolution, config.resolution, config.channels))
    return {"image": np.array(x * 2 - 1)}


@pytest.mark.parametrize("resolution,channels", [(28, 1), (32, 3), (64, 3)])
def test_model_shapes_and_range(resolution, channels):
    config = Config(resolution=resolution, channels=channels, g_width=8, d_width=8, z_dim=16)
    g, d = models.build(config)
    z = jnp.ones((3, 16))
    g_vars = g.init(jax.random.PRNGKey(0), z, train=False)
    img = g.apply(g_vars, z, train=False)
    assert img.shape == (3, resolution, resolution, channels)
    assert float(jnp.max(jnp.abs(img))) <= 1.0
    d_vars = d.init(jax.random.PRNGKey(1), img, train=False)
    assert d.apply(d_vars, img, train=False).shape == (3,)


def test_dcgan_init_statistics():
    config = Config(resolution=64, channels=3)  # the PyTorch reference network
    state = init_state(config)
    kernels = [x for p, x in jax.tree_util.tree_leaves_with_path(state.g_params) if "kernel" in str(p)]
    kernels += [x for p, x in jax.tree_util.tree_leaves_with_path(state.d_params) if "kernel" in str(p)]
    w = np.concatenate([np.ravel(k) for k in kernels])
    assert abs(w.mean()) < 1e-3 and abs(w.std() - 0.02) < 1e-3
    scales = np.concatenate([np.ravel(x) for p, x in jax.tree_util.tree_leaves_with_path(state.g_params)
                             if "scale" in str(p)])
    assert abs(scales.mean() - 1.0) < 5e-3 and abs(scales.std() - 0.02) < 5e-3
    # The reference G has 3.58M parameters, D 2.77M (pytorch/examples dcgan, nz=100, nc=3).
    count = lambda t: sum(x.size for x in jax.tree.leaves(t))  # noqa: E731
    assert count(state.g_params) == 3576704
    assert count(state.d_params) == 2765568


def test_step_is_pure_and_deterministic(tiny_config):
    step = jax.jit(make_train_step(tiny_config))
    state = init_state(tiny_config)
    batch = _batch(tiny_config)
    s1, m1 = step(state, batch)
    s2, m2 = step(state, batch)  # same inputs, same outputs; the input state is unchanged
    assert rel_diff(s1, s2) == 0.0 and m1["d_loss"] == m2["d_loss"]
    assert int(s1.step) == 1 and int(state.step) == 0
    assert rel_diff(s1.g_params, state.g_params) > 0 and rel_diff(s1.d_params, state.d_params) > 0
    assert not np.array_equal(s1.key, state.key)
    assert all(np.isfinite(float(v)) for v in m1.values())


def test_n_critic_updates_discriminator_n_times(tiny_config):
    config = dataclasses.replace(tiny_config, n_critic=3)
    state, _ = jax.jit(make_train_step(config))(init_state(config), _batch(config))
    assert int(state.d_opt[0].count) == 3
    assert int(state.g_opt[0].count) == 1


def test_ema_follows_generator(tiny_config):
    config = dataclasses.replace(tiny_config, ema_decay=0.9)
    state = init_state(config)
    step = jax.jit(make_train_step(config))
    new, _ = step(state, _batch(config))
    # Warm-up: the decay at step 0 is min(0.9, 1/10) = 0.1.
    expected = jax.tree.map(lambda e, p: 0.1 * e + 0.9 * p, state.ema["params"], new.g_params)
    assert rel_diff(new.ema["params"], expected) < 1e-6
    state = new.replace(step=jnp.asarray(1000, jnp.int32))  # past warm-up: the configured decay
    new, _ = step(state, _batch(config))
    expected = jax.tree.map(lambda e, p: 0.9 * e + 0.1 * p, state.ema["params"], new.g_params)
    assert rel_diff(new.ema["params"], expected) < 1e-6


def test_nonfinite_batch_leaves_state_untouched(tiny_config):
    state = init_state(tiny_config)
    batch = _batch(tiny_config)
    batch["image"][0, 0, 0, 0] = np.nan
    new, metrics = jax.jit(make_train_step(tiny_config))(state, batch)
    assert int(metrics["nonfinite"]) & 1  # the discriminator loss
    assert rel_diff(new.g_params, state.g_params) == 0 and rel_diff(new.d_params, state.d_params) == 0
    assert int(new.nonfinite_step) == 0 and int(new.step) == 1
    # A later good step trains again and keeps the record of the first bad one.
    newer, m = jax.jit(make_train_step(tiny_config))(new, _batch(tiny_config))
    assert int(m["nonfinite"]) == 0 and rel_diff(newer.d_params, state.d_params) > 0
    assert int(newer.nonfinite_step) == 0


@pytest.mark.parametrize("loss", ["minimax", pytest.param("minimax_saturating", marks=pytest.mark.slow)])
def test_pmap_over_4_devices_equals_single_device(tiny_config, loss):
    assert jax.local_device_count() == 4, "conftest sets 4 virtual CPU devices"
    config = dataclasses.replace(tiny_config, batch_size=16, loss=loss)
    batch = _batch(config)
    single, m_single = jax.jit(make_train_step(config))(init_state(config), batch)

    runner = make_parallel_step(config, "pmap")
    assert runner.num_devices == 4
    replicated, m_pmap = runner.step(runner.put_state(init_state(config)), runner.put_batch(batch))
    # Every device holds the same state.
    for leaf in jax.tree.leaves(replicated):
        assert np.all(np.asarray(leaf) == np.asarray(leaf)[:1])
    parallel = unreplicate(replicated)
    for name in ("g_params", "d_params", "g_stats", "d_stats"):
        assert rel_diff(getattr(parallel, name), getattr(single, name)) <= 1e-5, name
    np.testing.assert_allclose(float(unreplicate(m_pmap)["d_loss"]), float(m_single["d_loss"]), rtol=1e-5)


def test_pmap_rejects_indivisible_batch(tiny_config):
    from gan_jax.errors import UserError

    runner = make_parallel_step(tiny_config, "pmap")
    with pytest.raises(UserError, match="divisible by the number of devices"):
        runner.check_batch_size(10)


def test_replicate_roundtrip():
    tree = {"a": jnp.arange(3.0), "b": jnp.ones(())}
    rep = replicate(tree, 4)
    assert rep["a"].shape == (4, 3)
    assert rel_diff(unreplicate(rep), tree) == 0
    assert split_batch({"x": np.zeros((8, 2))}, 4)["x"].shape == (4, 2, 2)


def test_sharding_over_4_devices_equals_single_device(tiny_config):
    """jit + NamedSharding: the same step, the batch split over a 4-device mesh."""
    config = dataclasses.replace(tiny_config, batch_size=16)
    batch = _batch(config)
    single, m_single = jax.jit(make_train_step(config))(init_state(config), batch)
    runner = make_parallel_step(config, "sharding")
    assert runner.num_devices == 4
    sharded_batch = runner.put_batch(batch)
    assert len(sharded_batch["image"].sharding.device_set) == 4
    state, m_sharded = runner.step(runner.put_state(init_state(config)), sharded_batch)
    for name in ("g_params", "d_params", "g_stats", "d_stats"):
        assert rel_diff(getattr(runner.get_state(state), name), getattr(single, name)) <= 1e-5, name
    np.testing.assert_allclose(float(m_sharded["d_loss"]), float(m_single["d_loss"]), rtol=1e-5)


def test_init_compiled_without_llvm_optimisation_draws_the_same_values(tiny_config):
    """init_state compiles with INIT_COMPILER_OPTIONS (fast to compile); its draws equal
    those of the optimised build to float32 rounding (erf_inv may differ in the last bit)."""
    import functools

    from gan_jax.tasks.init import _init

    fast = init_state(tiny_config)
    key = jax.random.PRNGKey(tiny_config.seed)  # level 3 is XLA's default (the suite itself builds at 0)
    optimised = jax.jit(functools.partial(_init, tiny_config)).lower(key).compile(
        compiler_options={"xla_backend_optimization_level": 3})(key)
    for a, b in zip(jax.tree.leaves(fast), jax.tree.leaves(optimised)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-8)
    assert float(jnp.std(fast.g_params["ConvTranspose_0"]["kernel"])) == pytest.approx(0.02, rel=0.1)


def test_init_state_compiles_with_init_compiler_options(tiny_config, monkeypatch):
    """init_state hands INIT_COMPILER_OPTIONS to XLA: an option XLA does not know makes it fail."""
    from gan_jax.tasks import init as init_module

    config = dataclasses.replace(tiny_config, seed=tiny_config.seed + 12345)  # a program no other test cached
    monkeypatch.setattr(init_module, "INIT_COMPILER_OPTIONS", {"xla_no_such_option_for_this_test": 1})
    init_module._cached_init.cache_clear()
    try:
        with pytest.raises(Exception, match="xla_no_such_option_for_this_test"):
            init_state(config)
    finally:
        init_module._cached_init.cache_clear()


def test_rpgan_with_r1_r2_matches_its_closed_form(tiny_config):
    """RpGAN (loss=relativistic_pairing) with R1 + R2, the R3GAN objective: G's loss reads D's
    real logits, softplus(D(x_i) - D(G(z_i))) with the updated D; R2 is R1 on the fakes."""
    config = dataclasses.replace(tiny_config, loss="relativistic_pairing", d_norm="none", r1_gamma=0.5,
                                 r2_gamma=0.5)
    g, d = models.build(config)
    state = init_state(config)
    batch = _batch(config)
    new, metrics = jax.jit(make_train_step(config))(state, batch)

    _, step_key = jax.random.split(state.key)
    z = jax.random.normal(jax.random.split(step_key, 1)[0], (config.batch_size, config.z_dim))
    fake, _ = g.apply({"params": state.g_params, "batch_stats": state.g_stats}, z, train=True,
                      mutable=["batch_stats"])
    real = jnp.asarray(batch["image"])

    def d_at(params):
        return lambda x: d.apply({"params": params}, x, train=True)

    expected_g = jnp.mean(jax.nn.softplus(d_at(new.d_params)(real) - d_at(new.d_params)(fake)))
    np.testing.assert_allclose(float(metrics["g_loss"]), float(expected_g), rtol=1e-4)
    expected_d = jnp.mean(jax.nn.softplus(d_at(state.d_params)(fake) - d_at(state.d_params)(real)))
    np.testing.assert_allclose(float(metrics["d_loss"]), float(expected_d), rtol=1e-4)

    def squared_grad_norm(x):  # E ||grad_x D(x)||^2 under the pre-update D
        grads = jax.grad(lambda v: jnp.sum(d_at(state.d_params)(v)))(x)
        return jnp.mean(jnp.sum(jnp.square(grads), axis=(1, 2, 3)))

    np.testing.assert_allclose(float(metrics["r1"]), float(squared_grad_norm(real)), rtol=1e-4)
    np.testing.assert_allclose(float(metrics["r2"]), float(squared_grad_norm(fake)), rtol=1e-4)
    assert float(metrics["r2"]) != pytest.approx(float(metrics["r1"]))
