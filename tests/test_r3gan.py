"""R3GAN (gan_jax/models/r3gan.py) through the generate step with RpGAN + R1 + R2, and the
stacked_mnist data source its mode-coverage benchmark uses."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.configs import get, override, validate
from gan_jax.data.load import load_source
from gan_jax.data.mnist5k import read_mnist5k
from gan_jax.errors import UserError
from gan_jax.models import r3gan
from gan_jax.tasks import init_state, make_train_step

TINY = override(get("r3gan_mnist"), ["g_width=4", "d_width=4", "z_dim=8", "batch_size=8"])


@pytest.mark.parametrize("resolution,channels", [(28, 1), (32, 3)])
def test_shapes_and_no_normalisation(resolution, channels):
    config = dataclasses.replace(TINY, resolution=resolution, channels=channels)
    validate(config)
    g, d = r3gan.build(config)
    z, x = jnp.zeros((3, config.z_dim)), jnp.zeros((3, resolution, resolution, channels))
    g_vars = jax.eval_shape(lambda: g.init(jax.random.PRNGKey(0), z))
    d_vars = jax.eval_shape(lambda: d.init(jax.random.PRNGKey(0), x))
    assert jax.eval_shape(lambda v: g.apply(v, z), g_vars).shape == (3, resolution, resolution, channels)
    assert jax.eval_shape(lambda v: d.apply(v, x), d_vars).shape == (3,)
    assert set(g_vars) == set(d_vars) == {"params"}  # no BatchNorm statistics, nothing but weights


def test_config_checks():
    with pytest.raises(UserError, match="model=r3gan: expected d_norm=none"):
        validate(dataclasses.replace(TINY, d_norm="spectral"))
    with pytest.raises(UserError, match="num_classes=0"):
        validate(dataclasses.replace(TINY, num_classes=10))


def test_residual_blocks_start_as_the_identity():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 7, 7, 16))
    block = r3gan.ResidualBlock(scale=0.5)
    variables = block.init(jax.random.PRNGKey(1), x)
    np.testing.assert_array_equal(block.apply(variables, x), x)  # fix-up: the branch's last conv is zero
    grads = jax.grad(lambda v: jnp.sum(block.apply(v, x) ** 2))(variables)
    assert float(jnp.abs(grads["params"]["Conv_2"]["kernel"]).sum()) > 0  # ... and it learns from the start
    inner = variables["params"]["Conv_0"]["kernel"]
    assert float(jnp.std(inner)) == pytest.approx(r3gan.ACT_GAIN * 0.5 / np.sqrt(16), rel=0.15)  # He x L^-1/4


def test_rpgan_r1_r2_step_trains_finite():
    validate(TINY)
    step = jax.jit(make_train_step(TINY))
    state = init_state(TINY)
    rng = np.random.default_rng(0)
    for _ in range(2):
        state, metrics = step(state, {"image": rng.uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)})
        assert all(np.isfinite(np.asarray(v)).all() for v in metrics.values()) and int(metrics["nonfinite"]) == 0
        assert float(metrics["r1"]) > 0 and float(metrics["r2"]) > 0  # R3GAN: both penalties, every step
    g = r3gan.build(TINY)[0]
    images = jax.jit(lambda v, z: g.apply(v, z, train=False))(state.ema, 3 * jnp.ones((2, TINY.z_dim)))
    assert images.shape == (2, 28, 28, 1) and float(jnp.abs(images).max()) <= 1  # clipped for sampling


def test_stacked_mnist_channels_are_three_digits_and_labels_encode_them():
    source = load_source("stacked_mnist", resolution=28, channels=3)
    digits, digit_labels = read_mnist5k()
    assert len(source) == 100_000 and source.num_classes == 1000
    index = np.arange(0, 100_000, 997)
    images, labels = source.get(index)
    assert images.shape == (len(index), 28, 28, 3) and images.dtype == np.uint8
    for n, i in enumerate(index):
        triple = source.triples[i]
        for c in range(3):  # channel c is MNIST-5k digit triple[c]
            np.testing.assert_array_equal(images[n, ..., c], digits[triple[c], ..., 0])
        assert labels[n] == 100 * digit_labels[triple[0]] + 10 * digit_labels[triple[1]] + digit_labels[triple[2]]
    assert set(np.unique(source.labels)) == set(range(1000))  # all 1,000 modes are in the data
    with pytest.raises(UserError, match="expected channels=3"):
        load_source("stacked_mnist", resolution=28, channels=1)
