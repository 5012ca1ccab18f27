"""Self-conditioning (``cluster_code``): equal-size clusters found without labels, G's code read
off z, D told the cluster of reals and the code of fakes."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import configs
from gan_jax.data.clusters import balanced_assignment, equal_size_clusters, with_cluster_labels
from gan_jax.data.source import ImageSource
from gan_jax.errors import UserError
from gan_jax.models.dcgan import latent_code
from gan_jax.tasks import generate as gen
from gan_jax.tasks import init_state, make_train_step


def test_balanced_assignment_takes_the_closest_pairs_within_capacity():
    # Three points all closest to centre 0; capacity 2 each (4 points, 2 centres).
    d = np.array([[0.0, 5.0], [1.0, 5.0], [2.0, 3.0], [0.5, 9.0]])
    a = balanced_assignment(d)
    np.testing.assert_array_equal(a, [0, 1, 1, 0])  # points 0 and 3 are closest to 0; 1 and 2 overflow
    sizes = np.bincount(balanced_assignment(np.random.default_rng(0).random((103, 10))), minlength=10)
    assert sizes.min() == 10 and sizes.max() == 11 and sizes.sum() == 103


def _blobs(n_per=30, seed=0):
    """Three groups of images: dark, bright on the left half, bright on the right half (with noise)."""
    rng = np.random.default_rng(seed)
    groups = []
    for g in range(3):
        x = rng.integers(0, 30, (n_per, 8, 8, 1))
        if g == 1:
            x[:, :, :4] += 200
        if g == 2:
            x[:, :, 4:] += 200
        groups.append(x)
    return np.concatenate(groups).astype(np.uint8), np.repeat(np.arange(3), n_per)


def test_equal_size_clusters_recover_separated_groups():
    images, groups = _blobs()
    clusters = equal_size_clusters(images, 3)
    assert np.bincount(clusters).tolist() == [30, 30, 30]
    for g in range(3):  # each group is exactly one cluster
        assert len(set(clusters[groups == g])) == 1
    np.testing.assert_array_equal(clusters, equal_size_clusters(images, 3))  # deterministic


def test_cluster_labels_replace_the_datasets_labels_and_bad_k_names_the_option():
    images, groups = _blobs()
    source = with_cluster_labels(ImageSource("blobs", images, (groups + 1) % 3), 3)
    assert source.num_classes == 3 and len(source) == 90
    assert np.bincount(source.labels).tolist() == [30, 30, 30]
    with pytest.raises(UserError, match="cluster_code=200.*2 .. 90"):
        with_cluster_labels(ImageSource("blobs", images), 200, "cluster_code=200")


@pytest.mark.parametrize("changes,match", [({"num_classes": 10}, "unconditional"),
                                           ({"latent_code": 4}, "without latent_code"),
                                           ({"model": "resnet"}, "model=dcgan"),
                                           ({"cluster_code": 1}, "2..z_dim")])
def test_bad_cluster_code_settings_name_the_field(tiny_config, changes, match):
    with pytest.raises(UserError, match=f"cluster_code.*{match}"):
        configs.validate(dataclasses.replace(tiny_config, **{"cluster_code": 4, **changes}))


@pytest.fixture
def cluster_config(tiny_config):
    return dataclasses.replace(tiny_config, cluster_code=4, loss="hinge", d_norm="spectral")


def _batch(config, labels, seed=1):
    x = jax.random.uniform(jax.random.PRNGKey(seed), (config.batch_size, 28, 28, 1))
    return {"image": np.asarray(x * 2 - 1), "label": np.asarray(labels, np.int32)}


def _embedding(params, k):
    """D's projection embedding: the one [k, C] matrix among D's parameters."""
    leaves = [v for v in jax.tree.leaves(params) if v.ndim == 2 and v.shape[0] == k]
    assert len(leaves) == 1
    return np.asarray(leaves[0])


def test_d_is_told_the_real_clusters_and_g_takes_z_alone(cluster_config):
    state = init_state(cluster_config)
    step = jax.jit(make_train_step(cluster_config))
    b = cluster_config.batch_size
    a, _ = step(state, _batch(cluster_config, np.zeros(b)))
    c, _ = step(init_state(cluster_config), _batch(cluster_config, np.arange(b) % 4))
    # Same state, keys and images: only the reals' clusters differ, and D's update with them.
    assert np.abs(_embedding(a.d_params, 4) - _embedding(c.d_params, 4)).max() > 1e-4
    # G: z alone in, its first kernel takes z and the one-hot code; the code is latent_code(z).
    kernel = [v for v in jax.tree.leaves(state.g_params) if v.ndim == 4 and v.shape[2] == cluster_config.z_dim + 4]
    assert len(kernel) == 1
    z = jax.random.normal(jax.random.PRNGKey(3), (2, cluster_config.z_dim)).at[:, :4].set(
        jnp.array([1.0, 1.0 + 1e-4, 0.0, 0.0]))
    flipped = z.at[:, 0].add(2e-4)
    assert list(latent_code(z, 4)) == [1, 1] and list(latent_code(flipped, 4)) == [0, 0]
    jump = np.abs(gen.generate_from(cluster_config, state, flipped) - gen.generate_from(cluster_config, state, z))
    assert jump.max() > 1e-3


def test_inversion_restarts_start_in_the_codes_that_fit_best():
    """A toy G whose image is its code's grey level: restart r starts in the r-th best code, and
    with code starts inversion finds the target's code, which random starts miss."""
    from gan_jax.edit import invert
    from gan_jax.edit.invert import _start

    k, z_dim = 6, 8

    def g(variables, z):  # grey level of the code, in [-1, 1]; the rest of z changes nothing
        level = latent_code(z, k).astype(jnp.float32) / (k - 1) * 2 - 1
        return jnp.broadcast_to(level[:, None, None, None], (z.shape[0], 4, 4, 1)) + 0.0 * z[:, :1, None, None]

    targets = g(None, jnp.eye(k, z_dim)[jnp.array([2, 5])])  # codes 2 and 5
    (z0, _), _ = _start(targets, jax.random.PRNGKey(0), z_dim, None, 3, 0.1, 10, g, None, k)
    codes = np.asarray(latent_code(z0.reshape(-1, z_dim), k)).reshape(2, 3)
    assert codes[0, 0] == 2 and set(codes[0, 1:]) == {1, 3}
    assert codes[1, 0] == 5 and codes[1, 1] == 4
    found = invert(g, None, targets, jax.random.PRNGKey(0), z_dim=z_dim, steps=5, restarts=1, codes=k)
    np.testing.assert_allclose(found.images, targets)
    missed = invert(g, None, targets, jax.random.PRNGKey(0), z_dim=z_dim, steps=5, restarts=1, codes=0)
    assert np.abs(np.asarray(missed.images) - np.asarray(targets)).max() > 0.1  # random start: another code


def test_train_in_memory_clusters_an_unlabelled_source(cluster_config):
    """``train_in_memory`` labels the source by its clusters as ``train`` does: a source with
    no labels at all trains (the batches need labels for D's projection)."""
    from gan_jax.train import train_in_memory

    images, _ = _blobs(n_per=8)
    source = ImageSource("blobs", np.repeat(np.repeat(images, 4, axis=1)[:, :28], 4, axis=2)[:, :, :28])
    assert source.labels is None and source.resolution == 28
    (step, state, _), = list(train_in_memory(cluster_config, source, stop_at=[1]))
    assert step == 1 and int(state.step) == 1


def test_truncation_keeps_each_samples_cluster_code():
    # selfcond_mnist_long samples at psi 0.8: scaling z must not move any sample to another
    # cluster, or truncation would change the clusters' shares instead of only their typicality.
    config = configs.get("selfcond_mnist_long")
    assert config.truncation_psi == 0.8 and config.cluster_code == 20
    z = jax.random.normal(jax.random.PRNGKey(0), (4096, config.z_dim))
    codes = latent_code(z, config.cluster_code)
    np.testing.assert_array_equal(latent_code(config.truncation_psi * z, config.cluster_code), codes)
    shares = np.bincount(np.asarray(codes), minlength=config.cluster_code) / len(codes)
    assert shares.min() > 0.03 and shares.max() < 0.07  # each of 20 codes near 5 %
