"""gan_jax.edit: interpolation, inversion, latent directions, masks and inpainting."""
import dataclasses
import re

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


@pytest.mark.parametrize("label_input", [False, True])
def test_class_mix_moves_one_class_into_another(tiny_config, label_input):
    from gan_jax.sampling import latent_generator

    config = dataclasses.replace(tiny_config, num_classes=3, fast_conv=False, label_input=label_input)
    variables = _generator(config)[1]
    z = jax.random.normal(jax.random.PRNGKey(0), (2, 16))
    strip = edit.class_morph(latent_generator(config, 0), variables, z, 0, 2, jnp.array([0.0, 1.0]),
                             label_input=label_input)
    assert strip.shape == (2, 2, 28, 28, 1)
    both = jax.jit(lambda v, z: [latent_generator(config, k)(v, z) for k in (0, 2)])(variables, z)
    np.testing.assert_allclose(strip[:, 0], both[0], atol=1e-5)
    np.testing.assert_allclose(strip[:, 1], both[1], atol=1e-5)
    assert float(jnp.abs(both[0] - both[1]).max()) > 1e-3
    if label_input:  # mixing only the BatchNorm tables leaves the label beside z at class 0
        bn_only = edit.class_morph(latent_generator(config, 0), variables, z, 0, 2, jnp.array([1.0]))
        assert float(jnp.abs(bn_only[:, 0] - both[1]).max()) > 1e-3


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


class _State:
    """What make_inpainter reads of a GANState: the generator's variables (the same with or without EMA)."""

    def __init__(self, variables):
        self.variables = variables

    def generator_variables(self, use_ema=True):
        return self.variables


def test_make_inpainter_baselines_and_latent_fill(tiny_config):
    from gan_jax.sampling import latent_generator

    rng = np.random.default_rng(0)
    images = jnp.asarray(rng.uniform(-1, 1, (2, 28, 28, 1)).astype(np.float32))
    mask = jnp.broadcast_to(masks.center_box(28, 28), (2, 28, 28, 1))
    key = jax.random.PRNGKey(0)

    def no_state():
        raise AssertionError("the baselines must not read the run's weights")

    for method, fill in (("mean", edit.mean_fill), ("diffusion", edit.diffusion_fill)):
        got = edit.make_inpainter(tiny_config, no_state, method)(images, mask, key)
        np.testing.assert_array_equal(got, fill(images, mask))
    config = dataclasses.replace(tiny_config, fast_conv=False)
    variables = _generator(config)[1]
    got = np.asarray(edit.make_inpainter(config, lambda: _State(variables), "latent", steps=20, restarts=2)(
        images, mask, key))
    expected, _ = edit.latent_fill(latent_generator(config), variables, images, mask, key, z_dim=16, steps=20,
                                   restarts=2)
    np.testing.assert_allclose(got, expected, atol=1e-6)  # latent optimisation, the same numbers
    known = np.asarray(mask[..., 0]) < 0.5
    np.testing.assert_array_equal(got[known], np.asarray(images)[known])
    assert np.abs(got[~known] - np.asarray(images)[~known]).max() > 0.1  # the hole was filled
    with pytest.raises(ValueError, match="nearest"):
        edit.make_inpainter(tiny_config, no_state, "nearest")


def test_make_inpainter_asks_the_runs_task(tiny_config, monkeypatch):
    from gan_jax import tasks
    from gan_jax.errors import UserError

    calls = []

    def model_fill(config, state, image, mask, use_ema=True):  # a stand-in for a trained inpainting model
        calls.append((state, use_ema))
        return np.where(mask > 0.5, 0.5, image)

    monkeypatch.setitem(tasks.get("inpaint").operations, "inpaint", model_fill)
    config = dataclasses.replace(tiny_config, task="inpaint")
    images = np.zeros((3, 8, 8, 1), np.float32)
    mask = np.zeros((3, 8, 8, 1), np.float32)
    mask[:, 2:4] = 1
    restores = []
    fill = edit.make_inpainter(config, lambda: restores.append(1) or "state", use_ema=False)
    assert not restores  # the weights are read when needed, not before
    got = fill(images, mask, None)
    np.testing.assert_array_equal(got, np.where(mask > 0.5, 0.5, images))
    assert calls == [("state", False)] * 3 and restores == [1]  # image by image, with the run's state

    def no_state():
        raise AssertionError("a run that cannot inpaint must fail before its weights are read")

    with pytest.raises(UserError, match=r"--workdir w: a task=pix2pix run cannot inpaint; expected a .*generate"):
        edit.make_inpainter(dataclasses.replace(tiny_config, task="pix2pix"), no_state, option="--workdir w")


def test_mask_from_spec(tmp_path):
    from PIL import Image

    from gan_jax.errors import UserError

    np.testing.assert_array_equal(masks.from_spec("center", (28, 28)), masks.center_box(28, 28))
    wide = masks.from_spec("center", (6, 10))
    assert wide.shape == (6, 10, 1) and wide.sum() == 3 * 5 and wide[1:4, 2:7].all()  # half of each side
    key0, key3 = jax.random.PRNGKey(0), jax.random.PRNGKey(3)
    np.testing.assert_array_equal(masks.from_spec("boxes:3", (28, 28)), masks.random_boxes(key3, 28, 28))
    np.testing.assert_array_equal(masks.from_spec("strokes", (28, 28)), masks.free_form(key0, 28, 28))
    assert not np.array_equal(masks.from_spec("boxes:1", (28, 28)), masks.from_spec("boxes:2", (28, 28)))
    pixels = np.zeros((6, 10), np.uint8)
    pixels[1:3, 4:9] = 200
    Image.fromarray(pixels).save(tmp_path / "m.png")
    from_file = masks.from_spec(str(tmp_path / "m.png"), (6, 10))
    assert from_file.dtype == np.float32 and from_file.sum() == 10 and from_file[1:3, 4:9].all()
    Image.fromarray(np.full((6, 10), 255, np.uint8)).save(tmp_path / "full.png")
    Image.fromarray(np.zeros((6, 10), np.uint8)).save(tmp_path / "none.png")
    errors = {"center:1": "expected center, boxes[:SEED]", "boxes:x": "expected center, boxes[:SEED]",
              str(tmp_path / "missing.png"): "no such file", "circle": "no such file",
              str(tmp_path / "full.png"): "every pixel is missing", str(tmp_path / "none.png"): "no pixel is missing"}
    for spec, message in errors.items():
        with pytest.raises(UserError, match=re.escape(message)) as e:
            masks.from_spec(spec, (6, 10))
        assert str(e.value).startswith(f"--mask {spec}: ")
    with pytest.raises(UserError, match="6x10; expected 6x6"):
        masks.from_spec(str(tmp_path / "m.png"), (6, 6))


def test_parse_strengths_and_load_vectors(tmp_path):
    from gan_jax.edit import directions
    from gan_jax.errors import UserError

    np.testing.assert_array_equal(directions.parse_strengths("-3:3:7"), np.arange(-3, 4, dtype=np.float32))
    np.testing.assert_array_equal(directions.parse_strengths("1,-2.5"), np.array([1, -2.5], np.float32))
    assert directions.parse_strengths("0:1:3").dtype == np.float32
    for bad in ("-3:3", "1:2:0", "a,b", "1,nan", "", "1:2:x"):
        with pytest.raises(UserError, match=f"--strength {re.escape(bad)}: expected START:STOP:NUM"):
            directions.parse_strengths(bad)
    np.save(tmp_path / "one.npy", np.arange(4, dtype=np.float64))
    np.save(tmp_path / "two.npy", np.ones((3, 4), np.float32))
    np.save(tmp_path / "wrong.npy", np.ones((3, 5), np.float32))
    (tmp_path / "text.npy").write_text("not an array")
    one = directions.load_vectors(str(tmp_path / "one.npy"), 4)
    assert one.shape == (1, 4) and one.dtype == np.float32 and one[0, 3] == 3
    assert directions.load_vectors(str(tmp_path / "two.npy"), 4).shape == (3, 4)
    errors = {"wrong.npy": "array of shape [3, 5]; expected [4] or [N, 4]", "text.npy": "not a .npy array",
              "missing.npy": "no such file"}
    for name, message in errors.items():
        with pytest.raises(UserError, match=re.escape(f"--latent {tmp_path / name}: {message}")):
            directions.load_vectors(str(tmp_path / name), 4, "--latent")


def test_parse_spec(tmp_path):
    from gan_jax.edit import directions
    from gan_jax.errors import UserError

    spec = directions.parse_spec("sefa:3", z_dim=16)
    assert (spec.kind, spec.index) == ("sefa", 3)
    assert directions.parse_spec("ganspace:3", z_dim=16, num_samples=4).index == 3
    assert directions.parse_spec("class:2-0", z_dim=16, num_classes=3).classes == (2, 0)
    np.save(tmp_path / "d.npy", np.stack([np.arange(16.0), np.zeros(16)]))
    vector = directions.parse_spec(str(tmp_path / "d.npy"), z_dim=16)
    assert vector.kind == "vector"
    np.testing.assert_array_equal(vector.vector, np.arange(16.0))  # the first row
    errors = {("sefa:16", 0): "expected an index in 0..15", ("sefa:x", 0): "expected an index in 0..15",
              ("ganspace:4", 0): "expected an index in 0..3", ("class:1-2", 0): "this model is unconditional",
              ("class:1-3", 3): "expected class:A-B with classes in 0..2",
              ("class:1", 3): "expected class:A-B with classes in 0..2",
              ("classifier:1", 0): "needs --classifier DIR", ("foo:1", 0): "no such file"}
    for (text, num_classes), message in errors.items():
        with pytest.raises(UserError, match=re.escape(f"--direction {text}: {message}")):
            directions.parse_spec(text, z_dim=16, num_classes=num_classes, num_samples=4)
    with pytest.raises(UserError, match="not a classifier directory"):
        directions.parse_spec("classifier:1", z_dim=16, classifier=str(tmp_path))


def test_classifier_directions(tmp_path):
    from gan_jax.edit import directions
    from gan_jax.errors import UserError
    from gan_jax.metrics.classifier import Classifier, ClassifierNet

    net = ClassifierNet(3)
    params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 1)))["params"]
    Classifier(net, params, {"name": "t", "num_classes": 3, "features": net.features,
                             "image_shape": [8, 8, 1]}).save(str(tmp_path / "clf"))
    spec = directions.parse_spec("classifier:2", z_dim=8, classifier=str(tmp_path / "clf"), image_shape=(8, 8, 1))
    assert spec.kind == "classifier" and spec.index == 2
    x = jax.random.uniform(jax.random.PRNGKey(1), (5, 8, 8, 1), minval=-1, maxval=1)
    logits = spec.classifier.net.apply({"params": spec.classifier.params}, x)[0]
    np.testing.assert_allclose(directions.classifier_score(spec.classifier, 2)(x), jax.nn.softmax(logits)[:, 2],
                               rtol=1e-6)
    with pytest.raises(UserError, match=r"--direction classifier:3: expected an index in 0..2"):
        directions.parse_spec("classifier:3", z_dim=8, classifier=str(tmp_path / "clf"))
    with pytest.raises(UserError, match=r"--classifier .*: for images \[8, 8, 1\]; expected \[28, 28, 1\]"):
        directions.parse_spec("classifier:0", z_dim=8, classifier=str(tmp_path / "clf"), image_shape=(28, 28, 1))


def test_direction_vectors_and_strips(tiny_config, tmp_path):
    from gan_jax.edit import directions
    from gan_jax.sampling import latent_generator

    config = dataclasses.replace(tiny_config, fast_conv=False)
    g_net, variables = _generator(config)
    key = jax.random.PRNGKey(4)
    sefa = directions.direction_vector(directions.parse_spec("sefa:2", z_dim=16), config, variables, key)
    np.testing.assert_array_equal(sefa, edit.sefa(edit.first_layer_weight(variables["params"], 16), 3)[2])
    gs = directions.direction_vector(directions.parse_spec("ganspace:1", z_dim=16), config, variables, key,
                                     num_samples=64)
    z = jax.random.normal(key, (64, 16))  # the latents it is fitted on, drawn with the same key
    np.testing.assert_array_equal(gs, edit.ganspace(edit.first_block_features(g_net, variables, z), z, 2)[1])
    np.testing.assert_allclose(np.linalg.norm(gs), 1.0, rtol=1e-5)
    # The strip: row n, column s is G(z_n + strength_s * d).
    z = jax.random.normal(jax.random.PRNGKey(5), (2, 16))
    strengths = jnp.array([-2.0, 0.0, 3.0])
    strip = directions.strip(directions.parse_spec("sefa:2", z_dim=16), config, variables, z, strengths, key)
    assert strip.shape == (2, 3, 28, 28, 1)
    g = latent_generator(config)
    np.testing.assert_allclose(strip[:, 1], g(variables, z), atol=1e-5)
    np.testing.assert_allclose(strip[1, 2], g(variables, z[1:] + 3.0 * sefa)[0], atol=1e-5)
    assert float(np.abs(strip[:, 0] - strip[:, 2]).max()) > 1e-3
    np.save(tmp_path / "d.npy", np.asarray(sefa))  # a direction from a file moves the same way
    from_file = directions.strip(directions.parse_spec(str(tmp_path / "d.npy"), z_dim=16), config, variables, z,
                                 strengths, key)
    np.testing.assert_array_equal(from_file, strip)


def test_class_strip_is_class_morph(tiny_config):
    from gan_jax.edit import directions
    from gan_jax.sampling import latent_generator

    config = dataclasses.replace(tiny_config, num_classes=3, fast_conv=False, label_input=True)
    variables = _generator(config)[1]
    z = jax.random.normal(jax.random.PRNGKey(0), (2, 16))
    spec = directions.parse_spec("class:0-2", z_dim=16, num_classes=3)
    strip = directions.strip(spec, config, variables, z, jnp.array([0.0, 1.0]), jax.random.PRNGKey(0))
    np.testing.assert_array_equal(strip, edit.class_morph(latent_generator(config, 0), variables, z, 0, 2,
                                                          jnp.array([0.0, 1.0]), label_input=True))


def test_first_block_features_in_chunks_equal_one_call(tiny_config):
    from gan_jax.edit import directions

    g_net, variables = _generator(tiny_config)
    z = jax.random.normal(jax.random.PRNGKey(0), (60, 16))
    whole = edit.first_block_features(g_net, variables, z)
    chunked = directions.first_block_features_in_chunks(g_net, variables, z, max_chunks=4, progress=True)
    np.testing.assert_array_equal(chunked, whole)


def test_chunk_length():
    from gan_jax.edit.progress import chunk_length

    assert [chunk_length(n, 20) for n in (1000, 30, 20, 7, 97)] == [50, 2, 1, 1, 97]
    assert chunk_length(2000, 8) == 250
    with pytest.raises(ValueError):
        chunk_length(0, 20)


def _assert_same_inversion(chunked, one):
    """The same optimisation: equal up to float rounding (XLA may round the programs' sums
    differently; often they agree bit for bit)."""
    np.testing.assert_allclose(chunked.latents, one.latents, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(chunked.images, one.images, atol=1e-5)
    for name in ("loss", "curves", "restart_losses"):
        np.testing.assert_allclose(getattr(chunked, name), getattr(one, name), rtol=1e-5, atol=1e-9)


def test_invert_with_progress_computes_what_invert_computes(tiny_config):
    from gan_jax.sampling import latent_generator

    z_true = jax.random.normal(jax.random.PRNGKey(1), (2, 8))
    targets = _G(_G_VARS, z_true)
    weights = jnp.ones((2, 8, 8, 1)).at[:, :3].set(0.0)
    for options in (dict(steps=60, restarts=3), dict(steps=37, restarts=2, latent_weight=0.1, weights=weights)):
        one = edit.invert(_G, _G_VARS, targets, jax.random.PRNGKey(2), z_dim=8, **options)
        chunked = edit.invert_with_progress(_G, _G_VARS, targets, jax.random.PRNGKey(2), z_dim=8, progress=True,
                                            max_chunks=6, **options)
        _assert_same_inversion(chunked, one)
    # With the discriminator-feature loss of a real (tiny) model.
    config = dataclasses.replace(tiny_config, fast_conv=False)
    _, d_net = models.build(config)
    g, variables = latent_generator(config), _generator(config)[1]
    options = dict(z_dim=16, steps=10, restarts=2, features=edit.discriminator_features(d_net),
                   feature_variables=_init(d_net, config, 28, 28, 1))
    target = g(variables, jax.random.normal(jax.random.PRNGKey(3), (1, 16)))
    one = edit.invert(g, variables, target, jax.random.PRNGKey(0), **options)
    chunked = edit.invert_with_progress(g, variables, target, jax.random.PRNGKey(0), max_chunks=5, **options)
    _assert_same_inversion(chunked, one)
    assert float(one.curves[0, -1]) < float(one.curves[0, 0])


def test_interpolation_images():
    key = jax.random.PRNGKey(7)
    imgs = edit.interpolation_images(_G, _G_VARS, key, z_dim=8, pairs=3, frames=4, method="lerp")
    assert imgs.shape == (3, 4, 8, 8, 1)
    ends = jax.random.normal(key, (2, 3, 8))
    np.testing.assert_allclose(imgs[:, 0], _G(_G_VARS, ends[0]), atol=1e-6)
    np.testing.assert_allclose(imgs[:, -1], _G(_G_VARS, ends[1]), atol=1e-6)
    np.testing.assert_allclose(imgs[1, 1], _G(_G_VARS, (2 * ends[0, 1:2] + ends[1, 1:2]) / 3)[0], atol=1e-5)
