"""The sample-quality levers of the default recipe: the learning-rate decay and the truncation trick."""
import dataclasses

import jax
import numpy as np
import pytest

from gan_jax import configs
from gan_jax.errors import UserError
from gan_jax.state import learning_rate, make_optimizers
from gan_jax.tasks import generate as gen
from gan_jax.tasks import init_state, make_train_step


def test_learning_rate_holds_then_falls_linearly_to_zero():
    rate = learning_rate(2.0, 100, 0.5)
    assert [float(rate(t)) for t in (0, 49, 50, 75, 100, 120)] == pytest.approx([2.0, 2.0, 2.0, 1.0, 0.0, 0.0])
    assert learning_rate(2e-4, 100, 1.0) == 2e-4  # constant: a plain float, the optimiser state unchanged


def test_decayed_adam_takes_the_scheduled_step(tiny_config):
    """Adam's first update has magnitude lr (sign of the gradient); at the end of the decay, 0."""
    config = dataclasses.replace(tiny_config, steps=10, lr_decay_start=0.5, lr_g=1e-2)
    tx_g, _ = make_optimizers(config)
    params = {"w": np.ones(3, np.float32)}
    grads = {"w": np.array([1.0, -2.0, 3.0], np.float32)}
    state = tx_g.init(params)
    updates, state = tx_g.update(grads, state, params)
    np.testing.assert_allclose(updates["w"], -1e-2 * np.sign(grads["w"]), rtol=1e-3)
    for _ in range(8):
        updates, state = tx_g.update(grads, state, params)
    np.testing.assert_allclose(updates["w"], -4e-3 * np.sign(grads["w"]), rtol=1e-3)  # count 8: 2/5 of lr
    updates, state = tx_g.update(grads, state, params)
    np.testing.assert_allclose(updates["w"], -2e-3 * np.sign(grads["w"]), rtol=1e-3)  # count 9: 1/5
    updates, state = tx_g.update(grads, state, params)
    np.testing.assert_allclose(updates["w"], 0.0, atol=1e-8)  # count 10 = steps: rate 0


def test_train_step_runs_with_decay_and_lowers_the_rate(tiny_config):
    config = dataclasses.replace(tiny_config, steps=2, lr_decay_start=0.0)
    state = init_state(config)
    step = jax.jit(make_train_step(config))
    batch = {"image": np.random.default_rng(0).uniform(-1, 1, (config.batch_size, 28, 28, 1)).astype(np.float32)}
    state, _ = step(state, batch)
    g1 = jax.tree.map(np.asarray, state.g_params)
    state, _ = step(state, batch)  # count 1 of 2: half of lr_g
    state, _ = step(state, batch)  # count 2: rate 0
    g3 = jax.tree.map(np.asarray, state.g_params)
    state, _ = step(state, batch)
    moved = max(float(np.abs(a - b).max()) for a, b in zip(jax.tree.leaves(g3), jax.tree.leaves(state.g_params)))
    assert moved == 0.0  # past the end of the decay, G no longer moves
    assert max(float(np.abs(a - b).max()) for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g3))) > 0


@pytest.mark.parametrize("field,value", [("lr_decay_start", 1.5), ("lr_decay_start", -0.1),
                                         ("truncation_psi", 0.0), ("truncation_psi", 2.5)])
def test_bad_values_name_the_field(tiny_config, field, value):
    with pytest.raises(UserError, match=field):
        configs.validate(dataclasses.replace(tiny_config, **{field: value}))


def test_truncation_scales_the_latents(tiny_config):
    state = init_state(tiny_config)
    z = jax.random.normal(jax.random.PRNGKey(3), (6, tiny_config.z_dim))
    truncated = dataclasses.replace(tiny_config, truncation_psi=0.5)
    got = gen.generate(truncated, state, 6, seed=3)
    np.testing.assert_allclose(got, gen.generate_from(tiny_config, state, 0.5 * z), atol=1e-5)
    assert not np.allclose(got, gen.generate(tiny_config, state, 6, seed=3), atol=1e-3)
