"""The GAN family through the one train step: losses by name, DiffAugment, gradient penalty, lazy R1."""
import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import configs
from gan_jax.errors import UserError
from gan_jax.tasks import init_state
from gan_jax.tasks import make_train_step

from treediff import rel_diff


def _batch(config, seed=1):
    x = jax.random.uniform(jax.random.PRNGKey(seed), (config.batch_size, config.resolution, config.resolution,
                                                      config.channels))
    return {"image": np.asarray(x * 2 - 1)}


def _run(config, steps=1):
    step = jax.jit(make_train_step(config))
    state, batch = init_state(config), _batch(config)
    out = []
    for _ in range(steps):
        state, metrics = step(state, batch)
        out.append({k: float(v) for k, v in metrics.items()})
    return state, out


@pytest.mark.parametrize("loss", ["wasserstein", "least_squares"])
def test_every_loss_trains_through_the_step(tiny_config, loss):
    config = dataclasses.replace(tiny_config, loss=loss, d_norm="none",
                                 gp_weight=10.0 if loss == "wasserstein" else 0.0)
    state, metrics = _run(config, steps=2)
    assert int(state.step) == 2 and all(np.isfinite(m["d_loss"]) and np.isfinite(m["g_loss"]) for m in metrics)
    assert ("gp" in metrics[0]) == (loss == "wasserstein")


def test_augmentation_changes_what_d_sees_and_is_deterministic(tiny_config):
    plain = _run(tiny_config)[1][0]
    config = dataclasses.replace(tiny_config, augment="translation,cutout")
    step, state, batch = jax.jit(make_train_step(config)), init_state(config), _batch(config)
    a, b = step(state, batch)[1], step(state, batch)[1]
    assert float(a["d_loss"]) == float(b["d_loss"])  # same state, same keys: same result
    assert float(a["d_loss"]) != plain["d_loss"]


def test_fresh_reals_feed_each_critic_update_its_own_chunk(tiny_config):
    shared = dataclasses.replace(tiny_config, n_critic=2)
    fresh = dataclasses.replace(shared, fresh_reals=True)
    assert (shared.real_batch_size, fresh.real_batch_size) == (8, 16)
    x, y = _batch(shared, seed=1)["image"], _batch(shared, seed=2)["image"]
    interleave = lambda a, b: np.stack([a, b], axis=1).reshape((-1,) + a.shape[1:])  # noqa: E731 - rows a0 b0 a1 b1 ...
    state = init_state(shared)
    jitted = functools.cache(lambda config: jax.jit(make_train_step(config)))  # one compile per config
    run = lambda config, images: jitted(config)(state, {"image": images})  # noqa: E731

    ref_state, ref = run(shared, x)
    # The same chunk twice is the shared batch: the same update (to float32 rounding: the two
    # programs differ, and XLA may order their sums differently).
    dup_state, dup = run(fresh, interleave(x, x))
    assert float(dup["d_loss"]) == pytest.approx(float(ref["d_loss"]), rel=1e-6)
    assert rel_diff(dup_state.d_params, ref_state.d_params) < 1e-6
    # Update 1, whose D(real) the metrics report, reads chunk 1: with D frozen (lr_d=0) its
    # D(real) is the shared-batch step's on that chunk alone, not on chunk 0.
    frozen = lambda config: dataclasses.replace(config, lr_d=0.0)  # noqa: E731
    _, xy0 = run(frozen(fresh), interleave(x, y))
    assert float(xy0["d_real"]) == pytest.approx(float(run(frozen(shared), y)[1]["d_real"]), rel=1e-6)
    assert float(xy0["d_real"]) != pytest.approx(float(run(frozen(shared), x)[1]["d_real"]), rel=1e-4)
    # Update 0 reads chunk 0: with D learning, chunk 0 changes what update 1 sees.
    _, xy = run(fresh, interleave(x, y))
    _, yy = run(fresh, interleave(y, y))
    assert float(xy["d_real"]) != pytest.approx(float(yy["d_real"]), rel=1e-4)
    # Labels travel with their images (a projection D reads them).
    cond, cond_fresh = (frozen(dataclasses.replace(c, num_classes=10)) for c in (shared, fresh))
    lx, ly = np.arange(8, dtype=np.int32), np.arange(8, 16, dtype=np.int32) % 10
    cond_state = init_state(cond)
    run_cond = lambda config, images, labels: jitted(config)(  # noqa: E731
        cond_state, {"image": images, "label": labels})[1]
    got = run_cond(cond_fresh, interleave(x, y), interleave(lx, ly))
    assert float(got["d_real"]) == pytest.approx(float(run_cond(cond, y, ly)["d_real"]), rel=1e-6)
    assert float(got["d_real"]) != pytest.approx(float(run_cond(cond, y, lx)["d_real"]), rel=1e-4)
    # A batch of batch_size rows is an error, not n_critic silently smaller batches.
    with pytest.raises(ValueError, match="expected config.real_batch_size = 16"):
        run(fresh, x)


def test_gradient_penalty_enters_the_d_update(tiny_config):
    base = dataclasses.replace(tiny_config, loss="wasserstein", d_norm="none")
    s0, m0 = _run(base)
    s1, m1 = _run(dataclasses.replace(base, gp_weight=10.0))
    assert m1[0]["gp"] > 0
    diff = max(float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
               for x, y in zip(jax.tree.leaves(s0.d_params), jax.tree.leaves(s1.d_params)))
    assert diff > 0
    # The reported loss is the objective without the penalty: same latents, same value.
    assert m0[0]["d_loss"] == pytest.approx(m1[0]["d_loss"])


def test_lazy_r1_applies_every_k_steps(tiny_config):
    config = dataclasses.replace(tiny_config, d_norm="none", r1_gamma=1.0, r1_every=2)
    _, metrics = _run(config, steps=3)
    assert [m["r1"] > 0 for m in metrics] == [True, False, True]


@pytest.mark.parametrize("sets,culprit", [
    (["gp_weight=10"], "d_norm=spectral or none"),
    (["r1_gamma=1"], "d_norm=spectral or none"),
    (["augment=colour"], "colour"),
    (["d_norm=layer"], "d_norm"),
    (["r1_every=0", "d_norm=none"], "r1_every=0"),
])
def test_family_config_errors(sets, culprit):
    with pytest.raises(UserError, match=culprit):
        configs.validate(configs.override(configs.get("dcgan_mnist"), sets))


def test_spectral_norm_sigma_is_the_largest_singular_value():
    """After power iterations, every conv's stored sigma is its kernel's top singular value
    (kernel as a [k*k*in, out] matrix, numpy SVD), so the normalised kernel has norm 1."""
    from gan_jax import models

    config = configs.override(configs.get("dcgan_mnist"), ["d_width=8", "d_norm=spectral"])
    _, d = models.build(config)
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 28, 28, 1))
    variables = d.init(jax.random.PRNGKey(1), x)
    # Kernels with a clear spectral gap (singular values 3, 1.5, 1, ...), so 50 power
    # iterations converge whatever the random start.
    rng = np.random.default_rng(0)

    def gapped(kernel):
        m = kernel.size // kernel.shape[-1]
        u, _, vt = np.linalg.svd(rng.normal(size=(m, kernel.shape[-1])), full_matrices=False)
        s = np.array([3.0, 1.5] + [1.0] * (len(vt) - 2))[:len(vt)]
        return jnp.asarray((u * s) @ vt, jnp.float32).reshape(kernel.shape)

    variables = {**variables, "params": jax.tree.map(gapped, variables["params"])}
    apply = jax.jit(lambda v: d.apply(v, x, mutable=["batch_stats"])[1])
    for _ in range(50):
        variables = {"params": variables["params"], **apply(variables)}
    stats = jax.tree_util.tree_leaves_with_path(variables["batch_stats"])
    kernels = jax.tree_util.tree_leaves_with_path(variables["params"])
    sigmas = [v for p, v in stats if "sigma" in jax.tree_util.keystr(p)]
    assert len(sigmas) == len(kernels) == 3
    for (_, kernel), sigma in zip(kernels, sigmas):
        matrix = np.asarray(kernel).reshape(-1, kernel.shape[-1])
        top = np.linalg.svd(matrix, compute_uv=False)[0]
        assert float(sigma) == pytest.approx(top, rel=1e-3)
        assert np.linalg.svd(matrix / float(sigma), compute_uv=False)[0] == pytest.approx(1.0, rel=1e-3)


def test_sngan_hinge_with_spectral_norm_trains(tiny_config):
    config = dataclasses.replace(tiny_config, loss="hinge", d_norm="spectral", r1_gamma=0.1)
    state, metrics = _run(config, steps=2)
    assert int(state.step) == 2 and np.isfinite(metrics[-1]["d_loss"]) and metrics[0]["r1"] > 0
    assert jax.tree.leaves(state.d_stats)  # the power-iteration vectors live in the state


def test_family_configs_are_valid_and_say_what_they_are():
    expected = {"wgan_gp_fashion": ("wasserstein", "none"), "sngan_fashion": ("hinge", "spectral"),
                "lsgan_fashion": ("least_squares", "batch")}
    for name, (loss, d_norm) in expected.items():
        config = configs.validate(configs.get(name))
        assert (config.loss, config.d_norm, config.dataset) == (loss, d_norm, "fashion_mnist")
    assert configs.get("wgan_gp_fashion").gp_weight == 10.0


def test_resnet_32px_models_and_step(tiny_config):
    from gan_jax import models

    config = dataclasses.replace(tiny_config, model="resnet", resolution=32, channels=3, g_width=16,
                                 d_width=16, d_norm="spectral", loss="hinge")
    g, d = models.build(config)
    z = jax.random.normal(jax.random.PRNGKey(0), (2, config.z_dim))
    g_vars = g.init(jax.random.PRNGKey(1), z, train=False)
    images = g.apply(g_vars, z, train=False)
    assert images.shape == (2, 32, 32, 3) and float(jnp.max(jnp.abs(images))) <= 1
    d_vars = d.init(jax.random.PRNGKey(2), images, train=False)
    assert d.apply(d_vars, images, train=False).shape == (2,)
    sigmas = [p for p, _ in jax.tree_util.tree_leaves_with_path(d_vars["batch_stats"]) if "sigma" in str(p)]
    assert len(sigmas) == 11  # every layer: 3 + 3 (down blocks, with shortcuts) + 2 + 2 + the dense
    state, metrics = _run(config, steps=1)
    assert int(state.step) == 1 and np.isfinite(metrics[0]["d_loss"])
    with pytest.raises(UserError, match="resolution=30"):
        configs.validate(dataclasses.replace(config, resolution=30))
    assert configs.validate(configs.get("sngan_resnet_fashion")).model == "resnet"


def test_resnet_generator_layout_and_28px():
    """G starts at the size the fewest up-blocks reach (32 -> 4x4 and 3 blocks, 28 -> 7x7 and 2);
    a 28 px G makes 28 px images and D scores them."""
    from gan_jax.models.resnet import ResNetDiscriminator, ResNetGenerator, generator_layout

    assert [generator_layout(r) for r in (32, 28, 48, 64, 14)] == [(4, 3), (7, 2), (6, 3), (4, 4), (7, 1)]
    for bad in (30, 7, 8 * 9, 2):
        with pytest.raises(ValueError, match=f"got {bad}"):
            generator_layout(bad)
    g, d = ResNetGenerator(1, 8, resolution=28), ResNetDiscriminator(8)
    z = jax.random.normal(jax.random.PRNGKey(0), (2, 16))
    g_vars = g.init(jax.random.PRNGKey(1), z, train=False)
    assert g_vars["params"]["Dense_0"]["kernel"].shape == (16, 7 * 7 * 8)
    images = g.apply(g_vars, z, train=False)
    assert images.shape == (2, 28, 28, 1)
    d_vars = d.init(jax.random.PRNGKey(2), images, train=False)
    assert d.apply(d_vars, images, train=False).shape == (2,)


@pytest.mark.parametrize("resolution,final", [(28, 3), (32, 4)])
def test_sngan_standard_cnn_discriminator(tiny_config, resolution, final):
    """The SNGAN paper's standard CNN D: 7 convs + dense, all spectrally normalised,
    final features final x final x 8W; the projection term makes the logit depend on y."""
    from gan_jax import models

    config = dataclasses.replace(tiny_config, model="sngan_cnn", resolution=resolution, d_width=4,
                                 d_norm="spectral", loss="hinge", num_classes=3)
    _, d = models.build(config)
    x = jax.random.normal(jax.random.PRNGKey(0), (2, resolution, resolution, 1))
    y = jnp.array([0, 1])
    variables = d.init(jax.random.PRNGKey(1), x, y, train=False)
    kernels = {jax.tree_util.keystr(p): v.shape for p, v in jax.tree_util.tree_leaves_with_path(variables["params"])
               if "kernel" in jax.tree_util.keystr(p)}
    assert sorted(s[-1] for s in kernels.values()) == [1, 4, 4, 8, 8, 16, 16, 32]
    assert (final * final * 32, 1) in kernels.values()  # the dense layer reads the flattened 8W features
    sigmas = [p for p, _ in jax.tree_util.tree_leaves_with_path(variables["batch_stats"]) if "sigma" in str(p)]
    assert len(sigmas) == 8
    logits = d.apply(variables, x, y, train=False)
    assert logits.shape == (2,)
    assert not np.allclose(logits, d.apply(variables, x, jnp.array([2, 2]), train=False))
    with pytest.raises(ValueError, match="pass labels"):
        d.apply(variables, x, train=False)


def test_sngan_standard_cnn_trains_and_refuses_batchnorm(tiny_config):
    config = dataclasses.replace(tiny_config, model="sngan_cnn", d_width=4, d_norm="spectral", loss="hinge")
    state, metrics = _run(config, steps=2)
    assert int(state.step) == 2 and all(np.isfinite(m["d_loss"]) for m in metrics)
    with pytest.raises(UserError, match="model=sngan_cnn"):
        configs.validate(dataclasses.replace(config, d_norm="batch"))
