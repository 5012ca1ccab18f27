"""InfoGAN's categorical code (``latent_code``): read off z, fed to G, recovered by D's head Q."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import configs
from gan_jax.errors import UserError
from gan_jax.models.dcgan import latent_code
from gan_jax.tasks import generate as gen
from gan_jax.tasks import init_state, make_train_step


def _batch(config, seed=1):
    x = jax.random.uniform(jax.random.PRNGKey(seed), (config.batch_size, 28, 28, 1))
    return {"image": np.asarray(x * 2 - 1)}


@pytest.fixture
def info_config(tiny_config):
    return dataclasses.replace(tiny_config, latent_code=4, lr_g=1e-2, lr_d=1e-2)


def test_code_is_the_argmax_of_the_first_entries_and_uniform():
    z = jax.random.normal(jax.random.PRNGKey(0), (40000, 16))
    code = np.asarray(latent_code(z, 4))
    np.testing.assert_array_equal(code, np.argmax(np.asarray(z[:, :4]), -1))
    np.testing.assert_allclose(np.bincount(code, minlength=4) / len(code), 0.25, atol=0.01)


def test_generator_jumps_where_the_code_changes(info_config):
    """A 1e-4 move of z that flips the code changes G's images far more than one that does not."""
    state = init_state(info_config)
    z = jax.random.normal(jax.random.PRNGKey(1), (3, info_config.z_dim)).at[:, :4].set(
        jnp.array([1.0, 1.0 + 1e-4, 0.0, 0.0]))
    flipped = z.at[:, 0].add(2e-4)  # entry 0 becomes the largest: code 1 -> 0
    nudged = z.at[:, 2].add(1e-4)  # the code stays 1
    assert list(latent_code(z, 4)) == [1] * 3 and list(latent_code(flipped, 4)) == [0] * 3
    assert list(latent_code(nudged, 4)) == [1] * 3
    base = gen.generate_from(info_config, state, z)
    jump = np.abs(gen.generate_from(info_config, state, flipped) - base).max()
    drift = np.abs(gen.generate_from(info_config, state, nudged) - base).max()
    assert jump > 100 * drift


def _code_head(params, categories):
    """D's head Q: the one conv kernel with ``categories`` output channels."""
    leaves = [(path, v) for path, v in jax.tree_util.tree_leaves_with_path(params)
              if v.ndim == 4 and v.shape[-1] == categories]
    assert len(leaves) == 1, [p for p, _ in leaves]
    return leaves[0][1]


def _head_and_g_change(config):
    state = init_state(config)
    new, metrics = jax.jit(make_train_step(config))(state, _batch(config))
    moved = float(jnp.abs(_code_head(new.d_params, config.latent_code)
                          - _code_head(state.d_params, config.latent_code)).max())
    return moved, new, metrics


def test_q_head_learns_only_from_the_information_term(info_config):
    moved, _, metrics = _head_and_g_change(info_config)
    assert moved > 0 and "d_info" in metrics and "g_aux" in metrics
    assert float(metrics["d_info"]) == pytest.approx(np.log(4), rel=0.3)  # an untrained head: ~chance
    moved_off, _, _ = _head_and_g_change(dataclasses.replace(info_config, aux_weight=0.0))
    assert moved_off == 0.0  # no gradient reaches Q without the term


def test_information_term_changes_the_generator_update(info_config):
    _, with_term, _ = _head_and_g_change(info_config)
    _, without, _ = _head_and_g_change(dataclasses.replace(info_config, aux_weight=0.0))
    diff = max(float(jnp.abs(a - b).max()) for a, b in zip(jax.tree.leaves(with_term.g_params),
                                                          jax.tree.leaves(without.g_params)))
    assert diff > 0


@pytest.mark.parametrize("changes,match", [({"num_classes": 10}, "unconditional"),
                                           ({"model": "resnet"}, "model=dcgan"),
                                           ({"latent_code": 1}, "2..z_dim")])
def test_bad_latent_code_settings_name_the_field(tiny_config, changes, match):
    with pytest.raises(UserError, match=f"latent_code.*{match}"):
        configs.validate(dataclasses.replace(tiny_config, **{"latent_code": 10, **changes}))


def test_sefa_reads_the_z_rows_of_the_first_layer(info_config):
    """The first kernel takes z and the one-hot code; SeFa's weight is its z part."""
    from gan_jax import edit

    params = init_state(info_config).g_params
    kernel = [v for v in jax.tree.leaves(params) if v.ndim == 4 and v.shape[2] == info_config.z_dim + 4]
    assert len(kernel) == 1
    w = np.asarray(edit.first_layer_weight(params, info_config.z_dim, info_config.latent_code))
    np.testing.assert_array_equal(w, np.moveaxis(np.asarray(kernel[0])[:, :, :info_config.z_dim], 2, -1)
                                  .reshape(-1, info_config.z_dim))
