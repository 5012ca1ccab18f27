"""Class-conditional models: labels reach G and D, training, pmap equivalence, sampling by class."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import configs, models, sampling
from gan_jax.errors import UserError
from gan_jax.parallel import make_parallel_step, unreplicate
from gan_jax.state import init_state
from gan_jax.step import make_train_step


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
        a, b = jax.tree.leaves(getattr(parallel, name)), jax.tree.leaves(getattr(single, name))
        num = np.sqrt(sum(np.sum((np.asarray(x, np.float64) - np.asarray(y, np.float64)) ** 2) for x, y in zip(a, b)))
        den = np.sqrt(sum(np.sum(np.asarray(y, np.float64) ** 2) for y in b))
        assert num / den <= 1e-5, name


def test_sampling_by_class(cond_config, tiny_config):
    state = init_state(cond_config)
    assert sampling.class_labels(cond_config, 12).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert sampling.class_labels(cond_config, 3, 7).tolist() == [7, 7, 7]
    seven = sampling.generate(cond_config, state, 4, labels=7)
    mixed = sampling.generate(cond_config, state, 4)
    assert seven.shape == mixed.shape == (4, 28, 28, 1)
    with pytest.raises(UserError, match="expected a class in 0..9"):
        sampling.class_labels(cond_config, 3, 10)
    with pytest.raises(UserError, match="unconditional"):
        sampling.class_labels(tiny_config, 3, 1)


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
