"""gan_jax.edit: interpolation, inversion, latent directions, masks and inpainting."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import edit, models
from gan_jax.edit import masks


def _init(net, config, *shape):
    """Random variables of a tiny model, without compiling its init (threefry is slow to compile):
    N(0, 0.1) weights, BatchNorm statistics (0, 1)."""
    labels = jnp.zeros((1,), jnp.int32) if config.num_classes else None
    shapes = jax.eval_shape(lambda: net.init(jax.random.PRNGKey(0), jnp.zeros((1, *shape)), labels, train=False))
    rng = np.random.default_rng(0)

    def fill(path, leaf):
        name = path[-1].key
        value = {"var": 1.0, "mean": 0.0}.get(name)
        if value is not None:
            return np.full(leaf.shape, value, np.float32)
        return rng.normal(1.0 if name == "scale" else 0.0, 0.1, leaf.shape).astype(np.float32)

    return jax.tree_util.tree_map_with_path(fill, shapes)


def _generator(config):
    g_net, _ = models.build(dataclasses.replace(config, fast_conv=False))
    return g_net, _init(g_net, config, config.z_dim)


def _slerp_reference(a, b, t):
    omega = np.arccos(np.clip(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b)), -1, 1))
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def test_slerp_and_lerp_against_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 16)).astype(np.float32)
    ts = np.linspace(0, 1, 7, dtype=np.float32)
    got = np.asarray(edit.slerp(jnp.asarray(a), jnp.asarray(b), ts))  # [7, 16] via broadcasting
    np.testing.assert_allclose(got, np.stack([_slerp_reference(a, b, t) for t in ts]), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[0], a, atol=1e-5)
    np.testing.assert_allclose(got[-1], b, atol=1e-5)
    ua, ub = a / np.linalg.norm(a), b / np.linalg.norm(b)  # between unit vectors: on the unit sphere
    np.testing.assert_allclose(np.linalg.norm(edit.slerp(ua, ub, ts), axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(edit.slerp(ua, ua, 0.3), ua, atol=1e-6)  # parallel: no NaN
    np.testing.assert_allclose(edit.lerp(a, b, 0.5), (a + b) / 2, atol=1e-6)
    path = edit.interpolate(jnp.stack([a, ua]), jnp.stack([b, ub]), frames=5, method="lerp")
    assert path.shape == (2, 5, 16)
    np.testing.assert_allclose(path[0, 2], (a + b) / 2, atol=1e-6)
    np.testing.assert_allclose(path[1, -1], ub, atol=1e-6)


def test_psnr_and_mean_error():
    x = jnp.zeros((2, 4, 4, 1))
    y = x.at[0].set(0.2).at[1, :2].set(0.2)  # 0.1 off on the [0, 1] scale
    np.testing.assert_allclose(edit.psnr(x, y), [20.0, 20.0 + 10 * np.log10(2)], rtol=1e-5)
    mask = jnp.zeros((2, 4, 4, 1)).at[:, :2].set(1.0)
    np.testing.assert_allclose(edit.psnr(x, y, mask), [20.0, 20.0], rtol=1e-5)
    np.testing.assert_allclose(edit.mean_error(x, y, mask, power=1), [0.1, 0.1], rtol=1e-5)


def _mlp_generator():
    """A tiny random generator z [N, 8] -> [N, 8, 8, 1] in [-1, 1] with full-contrast images."""
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    variables = {"w1": jax.random.normal(k1, (8, 32)) / np.sqrt(8), "w2": jax.random.normal(k2, (32, 64)) / 3}

    def g(v, z):
        return jnp.tanh(jax.nn.relu(z @ v["w1"]) @ v["w2"] + 0.3).reshape(-1, 8, 8, 1)

    return g, variables


_G, _G_VARS = _mlp_generator()


def test_inversion_recovers_generated_images():
    z_true = jax.random.normal(jax.random.PRNGKey(1), (3, 8))
    targets = _G(_G_VARS, z_true)
    found = edit.invert(_G, _G_VARS, targets, jax.random.PRNGKey(2), z_dim=8, steps=400, restarts=4, lr=0.1)
    assert found.latents.shape == (3, 8) and found.curves.shape == (3, 400) and found.restart_losses.shape == (3, 4)
    np.testing.assert_allclose(found.loss, found.restart_losses.min(1))  # the best restart is kept
    assert np.all(np.asarray(edit.psnr(found.images, targets)) >= 30)
    assert np.all(np.asarray(edit.psnr(_G(_G_VARS, z_true[::-1]), targets))[[0, 2]] < 20)  # not trivial
    assert np.all(found.curves[:, -1] < found.curves[:, 0])


def test_discriminator_features_and_feature_loss(tiny_config):
    _, d_net = models.build(dataclasses.replace(tiny_config, fast_conv=False))
    features = edit.discriminator_features(d_net)
    d_vars = _init(d_net, tiny_config, 28, 28, 1)
    x = jax.random.uniform(jax.random.PRNGKey(0), (2, 28, 28, 1), minval=-1, maxval=1)
    maps = features(d_vars, x)
    assert len(maps) >= 2 and all(m.ndim == 4 and m.shape[0] == 2 for m in maps)
    np.testing.assert_allclose(edit.feature_distance(maps, maps), 0.0, atol=1e-6)
    assert np.all(np.asarray(edit.feature_distance(maps, features(d_vars, x[::-1]))) > 0)


def test_sefa_is_the_top_eigenvectors_and_ganspace_agrees_for_a_linear_layer(tiny_config):
    params = _generator(tiny_config)[1]["params"]
    w = np.asarray(edit.first_layer_weight(params, tiny_config.z_dim))
    kernel = np.asarray(params["ConvTranspose_0"]["kernel"])  # [7, 7, Z, F]
    assert w.shape == (7 * 7 * kernel.shape[-1], tiny_config.z_dim)
    np.testing.assert_allclose(w @ np.ones(16), kernel.sum(2).reshape(-1), rtol=1e-4, atol=1e-5)
    dirs = np.asarray(edit.sefa(jnp.asarray(w), 3))
    values, vectors = np.linalg.eigh(w.T.astype(np.float64) @ w)
    reference = vectors[:, ::-1][:, :3].T
    np.testing.assert_allclose(np.abs(np.sum(dirs * reference, -1)), 1.0, atol=1e-4)  # same up to sign
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=-1), 1.0, atol=1e-5)
    # GANSpace on features that are a linear map of z finds SeFa's directions of that map.
    a = np.linalg.qr(np.random.default_rng(0).normal(size=(16, 16)))[0] * 2.0 ** -np.arange(16)
    z = jax.random.normal(jax.random.PRNGKey(0), (4000, 16))
    gs = np.asarray(edit.ganspace(z @ a, z, 2))
    np.testing.assert_allclose(np.abs(np.sum(gs * np.asarray(edit.sefa(jnp.asarray(a.T), 2)), -1)), 1, atol=2e-2)


def test_first_block_features(tiny_config):
    g_net, variables = _generator(tiny_config)
    feats = edit.first_block_features(g_net, variables, jnp.ones((3, 16)))
    assert feats.shape == (3, 7 * 7 * 16) and float(feats.min()) >= 0  # after ReLU


def test_fit_boundary_separates_a_linear_labelling():
    z = jax.random.normal(jax.random.PRNGKey(0), (600, 8))
    normal = jnp.asarray(np.eye(8)[2] + 0.5 * np.eye(8)[5])
    normal = normal / jnp.linalg.norm(normal)
    labels = z @ normal + 0.3 > 0
    n, c = edit.fit_boundary(z, labels, steps=800)
    assert float(jnp.dot(n, normal)) > 0.95
    assert float(jnp.mean((z @ n + c > 0) == labels)) >= 0.98
    moved = edit.move(z[:2], n, jnp.array([-1.0, 0.0, 2.0]))
    assert moved.shape == (2, 3, 8)
    np.testing.assert_allclose(moved[:, 2] - moved[:, 1], jnp.broadcast_to(2 * n, (2, 8)), atol=1e-6)


def test_attribute_direction_finds_the_attribute():
    direction = edit.attribute_direction(_G, _G_VARS, lambda x: x[:, 0, 0, 0], jax.random.PRNGKey(0), z_dim=8,
                                         num=1000, threshold=0.3)
    z = jax.random.normal(jax.random.PRNGKey(1), (200, 8))
    up, down = (_G(_G_VARS, z + s * direction)[:, 0, 0, 0] for s in (2.0, -2.0))
    assert float(jnp.mean(up > down)) > 0.9  # moving along it raises the attribute


def test_class_mix_moves_one_class_into_another(tiny_config):
    from gan_jax.sampling import latent_generator

    config = dataclasses.replace(tiny_config, num_classes=3, fast_conv=False)
    variables = _generator(config)[1]
    z = jax.random.normal(jax.random.PRNGKey(0), (2, 16))
    strip = edit.class_morph(latent_generator(config, 0), variables, z, 0, 2, jnp.array([0.0, 1.0]))
    assert strip.shape == (2, 2, 28, 28, 1)
    both = jax.jit(lambda v, z: [latent_generator(config, k)(v, z) for k in (0, 2)])(variables, z)
    np.testing.assert_allclose(strip[:, 0], both[0], atol=1e-5)
    np.testing.assert_allclose(strip[:, 1], both[1], atol=1e-5)
    assert float(jnp.abs(both[0] - both[1]).max()) > 1e-3


def test_masks_shapes_coverage_and_determinism():
    box = np.asarray(masks.center_box(28, 28))
    assert box.shape == (28, 28, 1) and box.sum() == 14 * 14 and box[7:21, 7:21].all()
    for make in (masks.random_boxes, masks.free_form):
        m1, m2 = make(jax.random.PRNGKey(1), 28, 28), make(jax.random.PRNGKey(1), 28, 28)
        m3 = make(jax.random.PRNGKey(2), 28, 28)
        assert m1.shape == (28, 28, 1) and set(np.unique(m1)) <= {0.0, 1.0}
        np.testing.assert_array_equal(m1, m2)
        assert not np.array_equal(m1, m3)
        assert 0.02 < float(m1.mean()) < 0.8
    image = np.zeros((5, 6, 3), np.uint8)
    image[1:3, 2:4] = 255
    image[4, 0] = 100  # dark grey: known
    mask = masks.from_image(image)
    assert mask.shape == (5, 6, 1) and mask.sum() == 4 and mask[1:3, 2:4].all()
    np.testing.assert_array_equal(masks.from_image(masks.to_image(mask)), mask)


def test_mean_and_diffusion_fill():
    rng = np.random.default_rng(0)
    image = jnp.asarray(rng.uniform(-1, 1, (2, 12, 12, 3)).astype(np.float32))
    mask = jnp.zeros((2, 12, 12, 1)).at[:, 3:8, 4:9].set(1.0)
    filled = edit.mean_fill(image, mask)
    known = np.asarray(mask[..., 0]) < 0.5
    np.testing.assert_array_equal(np.asarray(filled)[known], np.asarray(image)[known])
    expected = np.stack([np.asarray(image)[i][known[i]].mean(0) for i in range(2)])  # [2, 3]
    np.testing.assert_allclose(np.asarray(filled)[:, 5, 6], expected, rtol=1e-5)
    # The harmonic fill of a linear ramp is the ramp (hole inside, and touching the top border).
    ramp = jnp.broadcast_to(jnp.linspace(-1, 1, 20)[None, None, :, None], (2, 20, 20, 1))
    holes = jnp.zeros((2, 20, 20, 1)).at[0, 5:15, 4:16].set(1.0).at[1, 0:9, 6:13].set(1.0)
    np.testing.assert_allclose(edit.diffusion_fill(ramp, holes, iterations=3000), ramp, atol=1e-3)


def test_latent_fill_keeps_known_pixels_and_fills_the_hole():
    z_true = jax.random.normal(jax.random.PRNGKey(3), (2, 8))
    images = _G(_G_VARS, z_true)
    mask = jnp.broadcast_to(masks.center_box(8, 8, 0.5), (2, 8, 8, 1))
    corrupted = jnp.where(mask > 0.5, -1.0, images)
    filled, found = edit.latent_fill(_G, _G_VARS, corrupted, mask, jax.random.PRNGKey(0), z_dim=8, steps=300)
    known = np.asarray(mask[..., 0]) < 0.5
    np.testing.assert_array_equal(np.asarray(filled)[known], np.asarray(corrupted)[known])  # bit for bit
    hole = edit.psnr(filled, images, mask)
    assert np.all(np.asarray(hole) > np.asarray(edit.psnr(edit.mean_fill(corrupted, mask), images, mask)))
    assert found.latents.shape == (2, 8)


def test_make_inpainter_dispatches_on_task(tiny_config):
    from gan_jax.errors import UserError

    assert callable(edit.make_inpainter(tiny_config, {}, steps=2))  # task=generate: latent optimisation

    class Other:
        task = "pix2pix"

    with pytest.raises(UserError, match="task=pix2pix"):
        edit.make_inpainter(Other(), {})
