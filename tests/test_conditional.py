"""Class-conditional models: labels reach G and D, training, pmap equivalence, sampling by class."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import configs, generate, init_state, make_train_step, models, sampling
from gan_jax.errors import UserError
from gan_jax.parallel import make_parallel_step, unreplicate
from treediff import rel_diff


@pytest.fixture
def cond_config(tiny_config):
    return dataclasses.replace(tiny_config, num_classes=10, batch_size=16)


def _batch(config, seed=1):
    key = jax.random.PRNGKey(seed)
    x = jax.random.uniform(key, (config.batch_size, 28, 28, 1)) * 2 - 1
    return {"image": np.asarray(x), "label": np.arange(config.batch_size, dtype=np.int32) % 10}


def test_labels_change_the_outputs(cond_config):
    state = init_state(cond_config)
    g, d = models.build(cond_config)
    z = jnp.tile(jax.random.normal(jax.random.PRNGKey(0), (1, cond_config.z_dim)), (10, 1))
    variables = state.generator_variables(use_ema=False)
    # Give the class embeddings distinct values (they start close to 1 and 0).
    variables = jax.tree.map(lambda x: x + jax.random.normal(jax.random.PRNGKey(2), x.shape) * 0.5
                             if x.ndim == 2 and x.shape[0] == 10 else x, variables)
    images = g.apply(variables, z, jnp.arange(10), train=False)
    assert images.shape == (10, 28, 28, 1)
    assert float(jnp.min(jnp.abs(images[1:] - images[:1]).max(axis=(1, 2, 3)))) > 1e-3  # one z, 10 classes
    d_vars = {"params": state.d_params, "batch_stats": state.d_stats}
    x = jnp.repeat(images[:1], 10, axis=0)
    logits = d.apply(d_vars, x, jnp.arange(10), train=False)
    assert len(np.unique(np.round(np.asarray(logits), 6))) == 10  # one image, 10 labels
    with pytest.raises(ValueError, match="conditional"):
        g.apply(variables, z, None, train=False)


def test_conditional_step_trains_and_pmap_equals_single(cond_config):
    batch = _batch(cond_config)
    single, metrics = jax.jit(make_train_step(cond_config))(init_state(cond_config), batch)
    assert int(single.step) == 1 and np.isfinite(float(metrics["d_loss"]))
    runner = make_parallel_step(cond_config, "pmap")
    replicated, _ = runner.step(runner.put_state(init_state(cond_config)), runner.put_batch(batch))
    parallel = unreplicate(replicated)
    for name in ("g_params", "d_params"):
        assert rel_diff(getattr(parallel, name), getattr(single, name)) <= 1e-5, name


def _is_class_table(x, num_classes=10):
    """A per-class row table of the conditional BatchNorm (gamma or beta): [num_classes, F]."""
    return x.ndim == 2 and x.shape[0] == num_classes


def _with_distinct_classes(state, seed=2):
    """``state`` with noise on every class row of G's conditional BatchNorm tables (they start at
    N(1, 0.02) and 0, so that classes differ clearly), EMA off."""
    leaves, treedef = jax.tree.flatten(state.g_params)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
    leaves = [x + 0.5 * jax.random.normal(k, x.shape) if _is_class_table(x) else x for x, k in zip(leaves, keys)]
    return state.replace(g_params=jax.tree.unflatten(treedef, leaves), ema=None)


def test_sampling_by_class(cond_config, tiny_config):
    state = init_state(cond_config)
    assert sampling.class_labels(cond_config, 12).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert sampling.class_labels(cond_config, 3, 7).tolist() == [7, 7, 7]
    # The same 20 latents (seed 3): once with every class in turn (row i has class i % 10), and
    # once per class K with all 20 labels K. Row i of "class K" is the mixed batch's row i exactly
    # where i % 10 == K (BatchNorm in eval mode: each row depends only on its latent and label).
    n, rows = 20, np.arange(20) % 10
    mixed = generate(cond_config, state, n, seed=3)
    per_class = np.stack([generate(cond_config, state, n, seed=3, labels=k) for k in range(10)])
    assert mixed.shape == (n, 28, 28, 1) and per_class.shape == (10, n, 28, 28, 1)
    assert np.all(np.isfinite(per_class))
    scale = np.abs(mixed).max()  # ~5e-3: the untrained G's output is small
    for k in range(10):  # (equal to the bit in practice)
        np.testing.assert_allclose(per_class[k][rows == k], mixed[rows == k], rtol=0, atol=1e-5 * scale,
                                   err_msg=f"class {k}")
    # ... and everywhere else the class changes the image: for one latent, every pair of the ten
    # classes gives different images, far above float rounding, although the model is untrained
    # (its conditional BatchNorm scales start at N(1, 0.02), different for every class). Measured:
    # the closest pair of classes differs by 2.2 % of the largest pixel, a class K sample and the
    # mixed batch's row of another class by at least 1.1 %.
    spread = np.abs(per_class[:, None] - per_class[None, :]).max(axis=(2, 3, 4, 5))  # [10, 10], max over rows
    off_diagonal = spread[~np.eye(10, dtype=bool)]
    assert off_diagonal.min() > 5e-3 * scale, spread / scale
    for k in range(10):  # the other classes' rows of the mixed batch are not class K's images
        row_gaps = np.abs(per_class[k][rows != k] - mixed[rows != k]).max(axis=(1, 2, 3))
        assert row_gaps.min() > 2e-3 * scale, (k, row_gaps / scale)
    # Labels given per row [n] are the same as the default cycle 0..9.
    np.testing.assert_array_equal(generate(cond_config, state, n, seed=3, labels=rows), mixed)
    with pytest.raises(UserError, match="expected a class in 0..9"):
        sampling.class_labels(cond_config, 3, 10)
    with pytest.raises(UserError, match="unconditional"):
        sampling.class_labels(tiny_config, 3, 1)


def test_a_class_is_its_rows_of_the_conditional_batchnorm_tables(cond_config):
    """The generator draws class K with row K of each conditional BatchNorm table: after rows 3
    and 7 of every table are swapped, class 3 draws what class 7 drew, and vice versa."""
    state = _with_distinct_classes(init_state(cond_config))
    tables = [x for x in jax.tree.leaves(state.g_params) if _is_class_table(x)]
    assert len(tables) >= 4  # gamma and beta of each of G's conditional BatchNorms
    swap = np.arange(10)
    swap[[3, 7]] = [7, 3]
    swapped = state.replace(g_params=jax.tree.map(lambda x: x[swap] if _is_class_table(x) else x, state.g_params))
    three, seven = (generate(cond_config, state, 8, seed=5, labels=k) for k in (3, 7))
    assert np.abs(three - seven).max() > 0.05  # distinct tables: distinct images
    np.testing.assert_allclose(generate(cond_config, swapped, 8, seed=5, labels=3), seven, rtol=0, atol=1e-6)
    np.testing.assert_allclose(generate(cond_config, swapped, 8, seed=5, labels=7), three, rtol=0, atol=1e-6)
    # The other classes' rows are untouched.
    np.testing.assert_array_equal(generate(cond_config, swapped, 8, seed=5, labels=4),
                                  generate(cond_config, state, 8, seed=5, labels=4))


def test_class_accuracy_scores_each_class_on_its_own_samples(cond_config, tiny_config):
    """class_accuracy shows the classifier, for each K, the samples drawn with label K and
    latent seed K, and returns the share it assigns to K."""
    from gan_jax.metrics import class_accuracy

    state = init_state(cond_config)
    drawn = {k: sampling.generate(cond_config, state, 4, seed=k, labels=k) for k in range(10)}

    class Stub:  # right on 4 - k % 4 of the 4 samples of class k
        def predict(self, images):
            k = next(k for k, x in drawn.items() if np.array_equal(x, images))
            guess = np.full(len(images), k)
            guess[:k % 4] = (k + 1) % 10
            return guess, np.ones(len(images))

    assert class_accuracy(cond_config, state, Stub(), per_class=4) == [(4 - k % 4) / 4 for k in range(10)]
    with pytest.raises(UserError, match="class-conditional"):
        class_accuracy(tiny_config, state, Stub())


def test_conditional_configs():
    for name in ("dcgan_cond_mnist", "sngan_cond_fashion"):
        assert configs.validate(configs.get(name)).num_classes == 10
    with pytest.raises(UserError, match="num_classes=1"):
        configs.validate(configs.override(configs.get("dcgan_mnist"), ["num_classes=1"]))
