"""ACGAN (``conditioning=acgan``): the auxiliary class head of D, its loss in both objectives, pmap."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import configs, losses, models
from gan_jax.configs import Config
from gan_jax.checkpoint import _check_signature, signature
from gan_jax.errors import UserError
from gan_jax.parallel import make_parallel_step, unreplicate
from gan_jax.tasks import init_state
from gan_jax.tasks import make_train_step
from treediff import rel_diff

# One xdist worker runs this file: its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("test_acgan")


@pytest.fixture
def acgan_config(tiny_config):
    return dataclasses.replace(tiny_config, num_classes=10, conditioning="acgan", batch_size=16)


def _batch(config: Config, seed=1):
    x = jax.random.uniform(jax.random.PRNGKey(seed), (config.batch_size, 28, 28, 1)) * 2 - 1
    return {"image": np.asarray(x), "label": (np.arange(config.batch_size, dtype=np.int32) * 3) % 10}


def test_class_cross_entropy_matches_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (7, 5)).astype(np.float32)
    labels = rng.integers(0, 5, 7).astype(np.int32)
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected = -np.mean(log_p[np.arange(7), labels])
    np.testing.assert_allclose(float(losses.class_cross_entropy(jnp.asarray(logits), jnp.asarray(labels))),
                               expected, rtol=1e-6)
    # Confident and right: ~0; confident and wrong: ~ the logit margin; finite for huge logits.
    big = jnp.array([[100.0, 0.0], [100.0, 0.0]])
    assert float(losses.class_cross_entropy(big, jnp.array([0, 0]))) < 1e-6
    np.testing.assert_allclose(float(losses.class_cross_entropy(big, jnp.array([1, 1]))), 100.0, rtol=1e-6)
    assert np.isfinite(float(losses.class_cross_entropy(big * 1e6, jnp.array([1, 0]))))


@pytest.mark.parametrize("model,resolution,d_norm", [("dcgan", 28, "batch"), ("dcgan", 28, "spectral"),
                                                     ("resnet", 32, "spectral")])
def test_acgan_discriminator_has_a_class_head_and_no_projection(acgan_config, model, resolution, d_norm):
    config = dataclasses.replace(acgan_config, model=model, resolution=resolution, d_norm=d_norm)
    _, d = models.build(config)
    x = jnp.zeros((5, resolution, resolution, 1))
    variables = jax.eval_shape(lambda: d.init(jax.random.PRNGKey(0), x, None, train=False))
    logits, class_logits = jax.eval_shape(lambda v: d.apply(v, x, None, train=False), variables)
    assert logits.shape == (5,) and class_logits.shape == (5, 10)
    assert "class_embedding" not in variables["params"]  # no projection term
    projection = dataclasses.replace(config, conditioning="projection")
    p_vars = jax.eval_shape(lambda: models.build(projection)[1].init(jax.random.PRNGKey(0), x, jnp.zeros(5, int),
                                                                     train=False))
    assert "class_embedding" in p_vars["params"]


@pytest.fixture(scope="module")
def acgan_step():
    """One jitted ACGAN step (compiled once for the tests below): config, batch, state before, after, metrics,
    the jitted step, and the state and metrics after the same step without the aux loss (aux_weight 0)."""
    # Plain lax convs (fast_conv=False): the same step, compiled faster on CPU.
    config = Config(g_width=8, d_width=8, z_dim=16, batch_size=16, num_classes=10, conditioning="acgan",
                    fast_conv=False)
    batch, state = _batch(config), init_state(config)
    step = jax.jit(make_train_step(config))
    new, metrics = step(state, batch)
    off = dataclasses.replace(config, aux_weight=0.0)
    new_off, m_off = jax.jit(make_train_step(off))(init_state(off), batch)
    return config, batch, state, new, {k: float(v) for k, v in metrics.items()}, step, (new_off, m_off)


def _class_head(state, new_off):
    """The names of D's class-head parameters: those a step without the aux loss leaves unchanged."""
    return [k for k in state.d_params if rel_diff(new_off.d_params[k], state.d_params[k]) == 0.0]


def test_acgan_step_adds_the_aux_loss_to_both_objectives(acgan_step):
    config, batch, state, new, m, _, (new_off, m_off) = acgan_step
    assert int(m["nonfinite"]) == 0 and int(new.step) == 1
    # At init the class head is near uniform: each cross-entropy is about ln 10 (D: on the reals only).
    assert abs(m["d_aux"] - np.log(10)) < 0.3 and abs(m["g_aux"] - np.log(10)) < 0.3
    # Without the aux loss: the same adversarial D loss (same params, same keys), other updates.
    np.testing.assert_allclose(float(m_off["d_loss"]), m["d_loss"], rtol=1e-6)
    np.testing.assert_allclose(float(m_off["d_aux"]), m["d_aux"], rtol=1e-6)
    assert rel_diff(new.d_params, new_off.d_params) > 1e-4, "the aux loss must change D's update"
    assert rel_diff(new.g_params, new_off.g_params) > 1e-4, "the aux loss must change G's update"
    # ... down to the weights of G's one-hot label input (the rows after z's in the first kernel).
    label_rows = lambda p: p["ConvTranspose_0"]["kernel"][:, :, config.z_dim:]  # noqa: E731
    assert rel_diff(label_rows(new.g_params), label_rows(new_off.g_params)) > 1e-4
    # D's class head is trained only by the aux loss: with weight 0 it keeps its initial value.
    class_head = _class_head(state, new_off)
    assert class_head and all(rel_diff(new.d_params[k], state.d_params[k]) > 0 for k in class_head)


def test_d_aux_is_the_class_cross_entropy_of_the_real_batch(acgan_step):
    """Closed form: D's aux loss is the cross-entropy of its class head on the real images
    against their labels; the fakes (and their labels) take no part."""
    config, batch, state, _, m, _, _ = acgan_step
    _, d = models.build(config)
    variables = {"params": state.d_params, "batch_stats": state.d_stats}
    (_, class_logits), _ = d.apply(variables, jnp.asarray(batch["image"]), None, train=True, mutable=["batch_stats"])
    logits = np.asarray(class_logits, np.float64)
    log_p = logits - logits.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    expected = -np.mean(log_p[np.arange(config.batch_size), batch["label"]])
    np.testing.assert_allclose(m["d_aux"], expected, rtol=1e-5)


def test_d_class_head_learns_from_the_reals_only(acgan_step):
    """Other fakes (another step key: other latents and fake labels) change D's adversarial
    update but not its class head's: the head is a classifier of real images. Trained on G's
    fakes too, it learnt G's own class cues and G kept drawing them instead of the class
    (experiments/acgan/results.md)."""
    _, batch, state, new, _, step, (new_off, _) = acgan_step
    other, _ = step(state.replace(key=jax.random.PRNGKey(123)), batch)
    class_head = _class_head(state, new_off)
    assert class_head
    for k in class_head:
        assert rel_diff(other.d_params[k], new.d_params[k]) <= 1e-6, k
    rest = lambda p: {k: v for k, v in p.items() if k not in class_head}  # noqa: E731
    assert rel_diff(rest(other.d_params), rest(new.d_params)) > 1e-5


def test_acgan_generator_takes_the_label_beside_z():
    """The ACGAN G feeds the one-hot label to its first layer beside z: from init a label
    moves the image by a sizeable part of what z does (conditional BatchNorm alone, whose
    per-class scales start at N(1, 0.02): about 4 %), and G's label weights are on the scale
    of its other conv weights, so Adam changes them as fast."""
    config = Config(g_width=8, d_width=8, z_dim=16, num_classes=10, conditioning="acgan", fast_conv=False)
    g, _ = models.build(config)
    z = jax.random.normal(jax.random.PRNGKey(0), (8, config.z_dim))
    variables = g.init(jax.random.PRNGKey(1), z[:1], jnp.zeros((1,), jnp.int32), train=False)
    assert variables["params"]["ConvTranspose_0"]["kernel"].shape[2] == config.z_dim + config.num_classes
    x = g.apply(variables, jnp.repeat(z, 10, axis=0), jnp.tile(jnp.arange(10), 8), train=False).reshape(8, 10, -1)
    across_labels, across_z = float(jnp.std(x, axis=1).mean()), float(jnp.std(x, axis=0).mean())
    assert across_labels > 0.15 * across_z
    # The projection models keep z alone at the input.
    projection = dataclasses.replace(config, conditioning="projection")
    p_vars = jax.eval_shape(lambda: models.build(projection)[0].init(jax.random.PRNGKey(1), z[:1],
                                                                     jnp.zeros((1,), jnp.int32), train=False))
    assert p_vars["params"]["ConvTranspose_0"]["kernel"].shape[2] == config.z_dim


def test_labels_change_the_acgan_generator_output(acgan_step):
    config, _, _, new, _, _, _ = acgan_step
    g, _ = models.build(config)
    z = jnp.tile(jax.random.normal(jax.random.PRNGKey(0), (1, config.z_dim)), (10, 1))
    images = jax.jit(lambda v, z, y: g.apply(v, z, y, train=False))(new.generator_variables(use_ema=False), z,
                                                                      jnp.arange(10))
    assert images.shape == (10, 28, 28, 1)
    # One z, 10 classes: 10 different images (relative to the still small outputs of a fresh G).
    diffs = jnp.abs(images[1:] - images[:1]).max(axis=(1, 2, 3)) / jnp.abs(images[0]).max()
    assert float(jnp.min(diffs)) > 1e-2


def test_acgan_pmap_over_4_devices_equals_single_device(acgan_step):
    assert jax.local_device_count() == 4, "conftest sets 4 virtual CPU devices"
    config, batch, _, single, m_single, _, _ = acgan_step
    runner = make_parallel_step(config, "pmap")
    replicated, m_pmap = runner.step(runner.put_state(init_state(config)), runner.put_batch(batch))
    parallel, m_pmap = unreplicate(replicated), unreplicate(m_pmap)
    for name in ("g_params", "d_params", "g_stats", "d_stats"):
        assert rel_diff(getattr(parallel, name), getattr(single, name)) <= 1e-5, name
    for key in ("d_loss", "g_loss", "d_aux", "g_aux"):  # averaged over the devices like the losses
        np.testing.assert_allclose(float(m_pmap[key]), m_single[key], rtol=1e-5, err_msg=key)


@pytest.mark.parametrize("sets,culprit", [
    (["conditioning=acgan"], "conditioning=acgan"),
    (["num_classes=10", "conditioning=auxiliary"], "conditioning"),
    (["num_classes=10", "conditioning=acgan", "aux_weight=-1"], "aux_weight"),
])
def test_acgan_config_errors(sets, culprit):
    with pytest.raises(UserError, match=culprit):
        configs.validate(configs.override(configs.get("dcgan_mnist"), sets))


@pytest.mark.parametrize("name,dataset", [("acgan_fashion", "fashion_mnist"), ("acgan_mnist", "mnist5k")])
def test_acgan_config_and_checkpoint_signature(name, dataset):
    config = configs.validate(configs.get(name))
    assert (config.conditioning, config.num_classes, config.dataset, config.aux_weight) == ("acgan", 10, dataset, 1.0)
    projection = dataclasses.replace(config, conditioning="projection")
    with pytest.raises(UserError, match="conditioning: checkpoint has 'projection', config has 'acgan'"):
        _check_signature(signature(projection), signature(config), "ckpt", 1)


@pytest.mark.parametrize("changes", [dict(num_classes=0), dict(model="resnet", num_classes=10)])
def test_label_input_needs_the_conditional_dcgan(tiny_config, changes):
    with pytest.raises(UserError, match="label_input=True: only for the class-conditional DCGAN"):
        configs.validate(dataclasses.replace(tiny_config, label_input=True, **changes))


def test_projection_generator_takes_the_label_beside_z_with_label_input(tiny_config):
    """``label_input`` gives the projection model's G the ACGAN label path: 10 more rows in its
    first kernel, the label changes the image at init, and SeFa reads only the z rows."""
    from gan_jax import edit

    plain, beside = (dataclasses.replace(tiny_config, num_classes=10, label_input=flag, fast_conv=False)
                     for flag in (False, True))
    z = jax.random.normal(jax.random.PRNGKey(0), (4, tiny_config.z_dim))
    shapes, label_effect = {}, {}
    for config in (plain, beside):
        g_net = models.build(config)[0]
        variables = g_net.init(jax.random.PRNGKey(0), z, jnp.zeros(4, jnp.int32), train=False)
        shapes[config.label_input] = edit.first_layer_weight(
            variables["params"], config.z_dim, models.dcgan.inputs_beside_z(config)).shape
        a, b = (g_net.apply(variables, z, jnp.full(4, k, jnp.int32), train=True, mutable="batch_stats")[0]
                for k in (0, 7))
        label_effect[config.label_input] = float(jnp.abs(a - b).mean())
    assert shapes[False] == shapes[True]  # [D, Z]: the label rows are left out
    assert label_effect[True] > 5 * label_effect[False]  # more than the N(1, 0.02) BatchNorm tables
    assert signature(beside)["label_input"] and not signature(plain)["label_input"]
