"""Editing a StyleGAN2 run in W and W+ (gan_jax/edit/latent_space.py, projector.py): interpolation,
the projector and its noise regulariser, SeFa, GANSpace, InterFaceGAN, style mixing, the z space
of a DCGAN unchanged bit for bit, and the commands end to end on a tiny trained run."""
import dataclasses
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from gan_jax import images, models, workdir as wd
from gan_jax.cli import main
from gan_jax.edit import directions, latent_space, projector, psnr
from gan_jax.errors import UserError
from cli_errors import assert_one_line_errors

pytestmark = pytest.mark.xdist_group("test_edit_style")

# stylegan2_ada_mnist made tiny (R1, path length and ADA off: a quicker compile); 28 px: L = 6 style rows.
TINY = ["g_width=4", "d_width=4", "z_dim=8", "mapping_layers=2", "r1_gamma=0", "pl_weight=0", "ada=",
        "batch_size=8", "grid_size=4", "log_every=2", "sample_every=4", "checkpoint_every=4"]
L, W = 6, 8


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny StyleGAN2 run trained for 4 steps by `gan-jax train`: (workdir, config, EMA generator variables)."""
    from gan_jax.checkpoint import restore_run

    workdir = str(tmp_path_factory.mktemp("style") / "run")
    sets = [a for s in TINY for a in ("--set", s)]
    assert main(["train", "--config", "stylegan2_ada_mnist", "--workdir", workdir, "--steps", "4", "--no-progress",
                 *sets]) == 0
    config = wd.load_config(workdir)
    state, _ = restore_run(workdir, config)
    return workdir, config, state.generator_variables(True)


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory):
    """A DCGAN run directory with its config only: the errors below come before any checkpoint is read."""
    from gan_jax.configs import Config

    workdir = str(tmp_path_factory.mktemp("dcgan") / "run")
    os.makedirs(workdir)
    wd.save_config(workdir, Config(g_width=8, d_width=8, z_dim=16, batch_size=8))
    return workdir


def _spaces(run):
    return latent_space.spaces(run[1])


# --------------------------------------------------------------------------- spaces

def test_a_style_run_has_w_w_plus_and_z_a_dcgan_z_only(run, tiny_config):
    _, config, variables = run
    spaces = latent_space.spaces(config)
    assert list(spaces) == ["w", "w+", "z"]  # w first: the default
    assert latent_space.get(config) is spaces["w"] and latent_space.get(config, "w+") is spaces["w+"]
    assert spaces["w"].shape == (W,) and spaces["w+"].shape == (L, W) and spaces["z"].shape == (8,)
    assert spaces["w+"].layers == L and spaces["w"].layers is None and spaces["w+"].fit is spaces["w"]
    assert latent_space.spaces(config) is spaces  # cached: jitted functions compile once
    from gan_jax.cli import edit as cli_edit
    assert cli_edit.SPACES == latent_space.SPACES == ("z", "w", "w+")  # the CLI's choices, kept without JAX
    w = spaces["w"].sample(variables, jax.random.PRNGKey(0), (3, 2))
    assert w.shape == (3, 2, W)
    wp = spaces["w+"].sample(variables, jax.random.PRNGKey(0), (3, 2))
    np.testing.assert_array_equal(wp, jnp.broadcast_to(w[..., None, :], (3, 2, L, W)))
    # The z space is the whole generator: z -> mapping -> synthesis.
    z = spaces["z"].sample(variables, jax.random.PRNGKey(1), (2,))
    w_of_z = models.stylegan2.style_functions(config).mapping(variables, z)
    np.testing.assert_allclose(spaces["z"].generate(variables, z), spaces["w"].generate(variables, w_of_z), atol=1e-5)

    assert list(latent_space.spaces(tiny_config)) == ["z"]
    with pytest.raises(UserError, match=r"^--space w\+: a model=dcgan run has z only; w and w\+ need a style"):
        latent_space.get(tiny_config, "w+")
    with pytest.raises(UserError, match=r"^--workdir: style mixing needs the latent space w\+, and a model=dcgan"):
        latent_space.get(tiny_config, "w+", option="--workdir", purpose="style mixing")


def test_w_interpolation_is_lerp_of_w_and_ends_at_the_endpoints(run):
    _, _, variables = run
    space = _spaces(run)["w"]
    key = jax.random.PRNGKey(3)
    imgs = latent_space.path_images(space, variables, key, pairs=2, frames=5)  # lerp by default in w
    assert imgs.shape == (2, 5, 28, 28, 1)
    ends = space.sample(variables, key, (2, 2))
    np.testing.assert_allclose(imgs[:, 0], space.generate(variables, ends[0]), atol=1e-5)
    np.testing.assert_allclose(imgs[:, -1], space.generate(variables, ends[1]), atol=1e-5)
    np.testing.assert_allclose(imgs[:, 2], space.generate(variables, (ends[0] + ends[1]) / 2), atol=1e-5)
    # ... not the image of the midpoint in z (the mapping is not linear), nor an endpoint
    z = jax.random.normal(key, (2, 2, 8))
    z_mid = _spaces(run)["z"].generate(variables, (z[0] + z[1]) / 2)
    assert float(np.abs(imgs[:, 2] - z_mid).max()) > 1e-2 and float(np.abs(imgs[:, 2] - imgs[:, 0]).max()) > 1e-2
    with pytest.raises(UserError, match=r"^--method slerp: spherical interpolation is for Gaussian latents"):
        latent_space.path_images(space, variables, key, pairs=1, frames=2, method="slerp")
    assert _spaces(run)["z"].interpolation == "slerp"


# --------------------------------------------------------------------------- directions

def test_sefa_in_w_is_the_top_eigenvectors_of_the_first_style_affine(run):
    _, _, variables = run
    space = _spaces(run)["w+"]
    kernel = np.asarray(variables["params"]["synthesis_net"]["layer_0"]["affine"]["kernel"], np.float64)  # [W, I]
    a = kernel.T / np.sqrt(W)  # styles = a @ w + b, [I, W]
    np.testing.assert_allclose(space.sefa_weight(variables), a, rtol=1e-5)
    values, vectors = np.linalg.eigh(a.T @ a)
    assert values[-1] > values[-2] * 1.01 and values[-2] > values[-3] * 1.01  # distinct: directions defined
    for k in range(3):
        d = np.asarray(latent_space.direction(directions.parse_spec(f"sefa:{k}", z_dim=W), space, variables, None))
        np.testing.assert_allclose(abs(d @ vectors[:, -1 - k]), 1.0, atol=1e-4)
    # The first direction moves the first layer's styles most.
    d0 = vectors[:, -1]
    others = np.random.default_rng(0).normal(size=(100, W))
    others /= np.linalg.norm(others, axis=1, keepdims=True)
    assert np.linalg.norm(a @ d0) >= np.linalg.norm(others @ a.T, axis=1).max()


def test_ganspace_in_w_is_pca_of_sampled_w(run):
    _, _, variables = run
    space = _spaces(run)["w+"]  # found in w, used in every row
    key = jax.random.PRNGKey(5)
    found = np.stack([latent_space.direction(directions.parse_spec(f"ganspace:{k}", z_dim=W, num_samples=512),
                                             space, variables, key, num_samples=512) for k in range(4)])
    w = np.asarray(_spaces(run)["w"].sample(variables, key, (512,)), np.float64)
    np.testing.assert_allclose(found @ found.T, np.eye(4), atol=1e-5)  # orthonormal
    variances = (w - w.mean(0)) @ found.T
    variances = variances.var(axis=0, ddof=1)
    assert np.all(np.diff(variances) <= 1e-6), variances  # ordered by variance
    _, reference = np.linalg.eigh(np.cov(w.T))
    np.testing.assert_allclose(np.abs(np.sum(found * reference[:, ::-1][:, :4].T, -1)), 1.0, atol=1e-3)
    vecs, var = directions.pca(jnp.asarray(w, jnp.float32), 4)
    np.testing.assert_allclose(var, variances, rtol=1e-3)


def test_interfacegan_boundary_in_w(run):
    _, _, variables = run
    space = _spaces(run)["w"]
    # fit_boundary on latents far from the origin (w is not centred) finds the normal once centred.
    w = np.asarray(space.sample(variables, jax.random.PRNGKey(0), (800,)))
    normal = np.eye(W)[1] - 0.5 * np.eye(W)[4]
    normal /= np.linalg.norm(normal)
    labels = (w - w.mean(0)) @ normal > 0.1
    n, _ = directions.fit_boundary(jnp.asarray(w - w.mean(0)), jnp.asarray(labels), steps=800)
    assert float(n @ normal) > 0.95
    # attribute_direction in W: moving along it raises the attribute (the images' mean brightness).
    score = lambda x: jnp.mean(x, axis=(1, 2, 3))  # noqa: E731
    threshold = float(np.median(np.asarray(score(space.generate(variables, jnp.asarray(w))))))
    d = directions.attribute_direction(space.generate, variables, score, jax.random.PRNGKey(1), z_dim=W, num=400,
                                       threshold=threshold, sample=space.sample)
    assert d.shape == (W,) and abs(float(jnp.linalg.norm(d)) - 1) < 1e-5
    moved = directions.move(jnp.asarray(w[:64]), d, jnp.array([-1.0, 1.0]))
    brighter = score(space.generate(variables, moved[:, 1])) - score(space.generate(variables, moved[:, 0]))
    assert float(jnp.mean(brighter > 0)) > 0.9


def test_w_plus_strip_moves_every_row(run, tmp_path):
    _, config, variables = run
    space = _spaces(run)["w+"]
    latent = space.sample(variables, jax.random.PRNGKey(2), (1,)) + jax.random.normal(jax.random.PRNGKey(3),
                                                                                       (1, L, W)) * 0.3
    d = np.linalg.qr(np.random.default_rng(0).normal(size=(W, W)))[0][0].astype(np.float32)
    np.save(tmp_path / "d.npy", d)
    spec = directions.parse_spec(str(tmp_path / "d.npy"), z_dim=W)
    strengths = jnp.array([-2.0, 0.0, 1.5])
    strip = latent_space.strip(spec, space, config, variables, latent, strengths, jax.random.PRNGKey(0))
    assert strip.shape == (1, 3, 28, 28, 1)
    np.testing.assert_allclose(strip[0, 1], space.generate(variables, latent)[0], atol=1e-5)
    np.testing.assert_allclose(strip[0, 2], space.generate(variables, latent + 1.5 * d)[0], atol=1e-5)
    assert float(np.abs(strip[0, 0] - strip[0, 2]).max()) > 1e-3


def test_ink_direction_is_the_within_class_fit_and_from_row_keeps_the_coarse_rows(run, tmp_path):
    from gan_jax import data
    from gan_jax.metrics.classifier import train_classifier
    from gan_jax.metrics.digit_style import ink_mass

    workdir, config, variables = run
    src = data.load_source("mnist5k", resolution=28, channels=1)
    x, y = src.get(np.arange(0, len(src), 20))
    clf_dir = str(tmp_path / "clf")
    train_classifier(data.to_float(x), y, num_classes=10, steps=5, name="tiny").save(clf_dir)
    spec = directions.parse_spec("ink", z_dim=W, classifier=clf_dir, image_shape=(28, 28, 1))
    space, plus = _spaces(run)["w"], _spaces(run)["w+"]
    key = jax.random.PRNGKey(4)
    d = latent_space.direction(spec, plus, variables, key, num_samples=300)  # w+ fits in W
    w = space.sample(variables, key, (300,))
    images = space.generate(variables, w)
    expected = directions.within_class_direction(w, ink_mass(images), directions.classifier_labels(spec.classifier)(images),
                                                 10)
    np.testing.assert_allclose(d, expected, atol=1e-5)

    # --from-row 3: rows 0..2 of every w+ stay, rows 3..5 move by s x d.
    latent = plus.sample(variables, jax.random.PRNGKey(5), (2,))
    vec = str(tmp_path / "d.npy")
    np.save(vec, np.asarray(d))
    strip = latent_space.strip(directions.parse_spec(vec, z_dim=W), plus, config, variables, latent,
                               jnp.array([2.0]), key, from_row=3)
    moved = latent + 2.0 * (jnp.arange(L) >= 3)[:, None] * d
    np.testing.assert_allclose(strip[:, 0], plus.generate(variables, moved), atol=1e-5)
    assert float(jnp.abs(moved - latent)[:, :3].max()) == 0.0 and float(jnp.abs(moved - latent)[:, 3:].max()) > 0.1

    # The command: ink with the classifier, in the rows from 3 on.
    np.save(tmp_path / "wplus.npy", np.asarray(latent))
    out = str(tmp_path / "ink.png")
    assert main(["edit", "--workdir", workdir, "--space", "w+", "--latent", str(tmp_path / "wplus.npy"),
                 "--direction", "ink", "--classifier", clf_dir, "--from-row", "3", "--strength", "-1,0,1",
                 "--num-samples", "200", "--no-progress", "--out", out]) == 0
    assert Image.open(out).size[0] > 0


# --------------------------------------------------------------------------- style mixing

def test_style_mixing_takes_rows_before_the_crossover_from_the_first(run):
    _, _, variables = run
    space = _spaces(run)["w+"]
    a, b = jax.random.normal(jax.random.PRNGKey(0), (2, 3, W))
    mixed = latent_space.mix(jnp.broadcast_to(a[:, None], (3, L, W)), jnp.broadcast_to(b[:, None], (3, L, W)), 2)
    np.testing.assert_array_equal(mixed[:, :2], jnp.broadcast_to(a[:, None], (3, 2, W)))
    np.testing.assert_array_equal(mixed[:, 2:], jnp.broadcast_to(b[:, None], (3, L - 2, W)))
    np.testing.assert_array_equal(mixed, models.stylegan2.mix_styles(a, b, 2, L))
    # The figure: blank corner, fine-style sources on top, coarse-style sources on the left, mixes inside.
    key = jax.random.PRNGKey(4)
    grid = latent_space.mixing_grid(space, variables, key, rows=2, cols=3, crossover=2)
    assert grid.shape == (3 * 4, 28, 28, 1)
    grid = grid.reshape(3, 4, 28, 28, 1)
    sources = space.sample(variables, key, (5,))
    src = space.generate(variables, sources)
    np.testing.assert_array_equal(grid[0, 0], -1.0)
    np.testing.assert_allclose(grid[0, 1:], src[2:], atol=1e-5)
    np.testing.assert_allclose(grid[1:, 0], src[:2], atol=1e-5)
    cell = space.generate(variables, latent_space.mix(sources[1], sources[4], 2)[None])[0]
    np.testing.assert_allclose(grid[2, 3], cell, atol=1e-5)
    assert float(np.abs(grid[2, 3] - grid[2, 0]).max()) > 1e-3 and float(np.abs(grid[2, 3] - grid[0, 3]).max()) > 1e-3
    for bad in (0, L):
        with pytest.raises(UserError, match=rf"^--crossover {bad}: expected a layer in 1..{L - 1}"):
            latent_space.mixing_grid(space, variables, key, rows=1, cols=1, crossover=bad)


# --------------------------------------------------------------------------- the projector

def _regulariser_reference(maps):
    """The noise regulariser written out with numpy loops."""
    total = 0.0
    for n in maps:
        n = np.asarray(n, np.float64)
        while True:
            h, w = n.shape
            right = sum(n[y, x] * n[y, x - 1] for y in range(h) for x in range(w)) / (h * w)
            down = sum(n[y, x] * n[y - 1, x] for y in range(h) for x in range(w)) / (h * w)
            total += right ** 2 + down ** 2
            if h <= 8:
                break
            n = n.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    return total


def test_noise_regulariser():
    rng = np.random.default_rng(0)
    maps = [rng.normal(size=s).astype(np.float32) for s in ((7, 7), (14, 14), (28, 28))]
    np.testing.assert_allclose(projector.noise_regulariser(maps), _regulariser_reference(maps), rtol=1e-4)
    # White noise: each level's two terms have expectation 2 var^2 / (H W) (var = 1, 1/4, 1/16 down the pyramid).
    white = jax.random.normal(jax.random.PRNGKey(0), (4000, 28, 28))
    expected = 2 / 784 + 2 / 16 / 196 + 2 / 256 / 49
    np.testing.assert_allclose(float(jnp.mean(projector.noise_regulariser([white]))), expected, rtol=0.05)
    # A map that carries a smooth signal is penalised ~1000 x more; so is an anti-correlated one (the square).
    x = np.arange(28)
    smooth, = projector.normalise_noise([jnp.asarray(np.sin(2 * np.pi * x / 28)[None, :] + 0 * x[:, None])])
    checker, = projector.normalise_noise([jnp.asarray((-1.0) ** (x[:, None] + x[None, :]))])
    assert float(projector.noise_regulariser([smooth])) > 1.9 and float(projector.noise_regulariser([checker])) > 1.9
    normalised, = projector.normalise_noise([3 + 2 * white[:2]])
    np.testing.assert_allclose(jnp.mean(normalised, (1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(jnp.mean(normalised ** 2, (1, 2)), 1, atol=1e-4)


def test_projector_schedules():
    lr = lambda t: float(projector.learning_rate(t * 1000, 1000, 0.1))  # noqa: E731
    assert lr(0) == 0 and abs(lr(0.025) - 0.05) < 1e-7  # linear ramp up over the first 5 %
    assert lr(0.05) == lr(0.5) == lr(0.75) == pytest.approx(0.1)
    assert lr(0.875) == pytest.approx(0.05) and lr(1.0) == pytest.approx(0.0, abs=1e-9)  # cosine ramp down
    noise = lambda t: float(projector.latent_noise_scale(t * 1000, 1000, 2.0))  # noqa: E731
    assert noise(0) == pytest.approx(0.1) and noise(0.375) == pytest.approx(0.025)  # 2 x 0.05 x (1 - t / 0.75)^2
    assert noise(0.75) == noise(0.9) == 0
    w = jnp.array([[0.0, 0.0], [3.0, 4.0]])
    assert float(projector.latent_spread(w)) == pytest.approx(2.5)  # RMS distance to the mean


def test_w_plus_inversion_beats_z_and_w_inverts_a_w_image(run):
    _, _, variables = run
    spaces = _spaces(run)
    sources = spaces["w+"].sample(variables, jax.random.PRNGKey(7), (3,))
    # Target 0 lies in W; target 1 is a style mix (in W+, not in W's or z's reach).
    targets = spaces["w+"].generate(variables, jnp.stack([sources[0], latent_space.mix(sources[1], sources[2], 3)]))
    found, db = {}, {}
    for name in ("z", "w", "w+"):
        found[name] = latent_space.invert(spaces[name], variables, targets, jax.random.PRNGKey(1), steps=150,
                                          restarts=1, feature_weight=0.0, num_samples=2000)
        db[name] = np.asarray(psnr(found[name].images, targets))
    assert db["w"][0] > 40, db  # the projector finds a w image
    assert db["w+"][1] > 18 and db["w+"][1] > max(db["z"][1], db["w"][1]) + 5, db  # the mix: only W+ reaches it
    wp = found["w+"]
    assert wp.latents.shape == (2, L, W) and found["w"].latents.shape == (2, W)
    assert [n.shape[1:] for n in wp.noise] == [(7, 7), (14, 14), (14, 14), (28, 28), (28, 28)]
    for n in wp.noise:  # normalised after every step, and no more correlated than white noise
        np.testing.assert_allclose(jnp.mean(n, (1, 2)), 0, atol=1e-4)
        np.testing.assert_allclose(jnp.mean(n ** 2, (1, 2)), 1, atol=1e-3)
    white = projector.noise_regulariser(projector.normalise_noise(
        [jax.random.normal(jax.random.PRNGKey(0), (2, *n.shape[1:])) for n in wp.noise]))
    assert np.all(np.asarray(projector.noise_regulariser(wp.noise)) < np.asarray(white)), white
    # The images are the synthesis of the latents with those noise maps.
    again = latent_space.generate(spaces["w+"], variables, wp.latents[1:], [n[1] for n in wp.noise])
    np.testing.assert_allclose(again, wp.images[1:], atol=1e-5)


# --------------------------------------------------------------------------- DCGAN: z unchanged

def test_the_z_space_of_a_dcgan_computes_what_the_z_functions_compute(tiny_config):
    from gan_jax.edit import interpolation_images, invert_with_progress
    from gan_jax.sampling import latent_generator

    config = dataclasses.replace(tiny_config, fast_conv=False)
    g_net, _ = models.build(config)
    shapes = jax.eval_shape(lambda: g_net.init(jax.random.PRNGKey(0), jnp.zeros((1, 16)), None, train=False))
    rng = np.random.default_rng(0)
    variables = jax.tree_util.tree_map_with_path(
        lambda p, x: np.full(x.shape, float(p[-1].key == "var"), np.float32) if p[-1].key in ("var", "mean")
        else rng.normal(1.0 if p[-1].key == "scale" else 0.0, 0.1, x.shape).astype(np.float32), shapes)
    space = latent_space.get(config)
    assert space.name == "z" and space.generate is latent_generator(config)
    key = jax.random.PRNGKey(2)
    np.testing.assert_array_equal(latent_space.path_images(space, variables, key, pairs=2, frames=3),
                                  interpolation_images(latent_generator(config), variables, key, z_dim=16, pairs=2,
                                                       frames=3))
    z = jax.random.normal(jax.random.PRNGKey(5), (2, 16))
    strengths = jnp.array([-1.0, 0.0, 2.0])
    for text in ("sefa:1", "ganspace:2"):
        spec = directions.parse_spec(text, z_dim=16, num_samples=32)
        np.testing.assert_array_equal(
            latent_space.strip(spec, space, config, variables, z, strengths, key, num_samples=32),
            directions.strip(spec, config, variables, z, strengths, key, num_samples=32))
    target = latent_generator(config)(variables, z[:1])
    ours = latent_space.invert(space, variables, target, key, steps=4, restarts=2)
    theirs = invert_with_progress(latent_generator(config), variables, target, key, z_dim=16, steps=4, restarts=2)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- the commands

def _psnr(x, y) -> float:
    """PSNR in dB of two uint8 images, on the [0, 1] scale."""
    return float(10 * np.log10(1 / np.mean(np.square((x.astype(np.float64) - y.astype(np.float64)) / 255))))


def test_commands_end_to_end(run, tmp_path, capsys):
    workdir, config, variables = run
    png = str(tmp_path / "i.png")
    assert main(["interpolate", "--workdir", workdir, "--pairs", "2", "--frames", "3", "--out", png]) == 0
    assert capsys.readouterr().out.strip() == f"wrote 2 lerp paths of 3 images to {png} (in w)"
    assert Image.open(png).size == (3 * 30 + 2, 2 * 30 + 2)

    mix = str(tmp_path / "mix.png")
    assert main(["mix", "--workdir", workdir, "--rows", "2", "--cols", "3", "--crossover", "2", "--out", mix]) == 0
    assert "rows 0..1 of w+ (coarse) from the left column, rows 2..5 (fine) from the top row" in capsys.readouterr().out
    grid = np.asarray(Image.open(mix))
    assert grid.shape == (3 * 30 + 2, 4 * 30 + 2)
    expected = images.make_grid(latent_space.mixing_grid(_spaces(run)["w+"], variables, jax.random.PRNGKey(0),
                                                         rows=2, cols=3, crossover=2), ncol=4)[..., 0]
    assert np.abs(grid.astype(int) - expected).max() <= 1

    # invert in w+ (a generated image), then edit the inverted latent with its noise maps.
    image = str(tmp_path / "gen.png")
    w = _spaces(run)["w"].sample(variables, jax.random.PRNGKey(9), (1,))
    images.save_image(images.to_uint8(np.asarray(_spaces(run)["w"].generate(variables, w))[0]), image)
    out = tmp_path / "inv"
    assert main(["invert", "--workdir", workdir, "--image", image, "--out", str(out), "--space", "w+",
                 "--steps", "100", "--restarts", "1", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    found = re.match(r"PSNR (\d+\.\d\d) dB .*wrote latent\.npy, noise\.npz, .* \(in w\+: edit it with --space w\+ "
                     r"--noise noise\.npz\)", printed)
    assert found, printed
    target = np.asarray(Image.open(image))
    others = images.to_uint8(np.asarray(_spaces(run)["w"].generate(
        variables, _spaces(run)["w"].sample(variables, jax.random.PRNGKey(1), (8,)))))[..., 0]
    assert float(found[1]) > max(_psnr(o, target) for o in others) + 5  # far closer than random images
    assert sorted(os.listdir(out)) == ["before_after.png", "latent.npy", "loss.png", "noise.npz",
                                       "reconstruction.png"]
    assert np.load(out / "latent.npy").shape == (L, W)
    reconstruction = np.asarray(Image.open(out / "reconstruction.png"))
    assert abs(_psnr(reconstruction, target) - float(found[1])) < 0.3  # the printed PSNR is the written image's
    strip = str(tmp_path / "strip.png")
    for direction in ("sefa:0", "ganspace:1"):
        assert main(["edit", "--workdir", workdir, "--space", "w+", "--latent", str(out / "latent.npy"),
                     "--noise", str(out / "noise.npz"), "--direction", direction, "--strength", "-2:2:5",
                     "--num-samples", "64", "--out", strip, "--no-progress"]) == 0
        assert f"wrote 1 x 5 images along {direction} (strengths -2:2:5) to {strip} (in w+)" in capsys.readouterr().out
        pixels = np.asarray(Image.open(strip))
        cells = [pixels[2:30, 2 + 30 * k: 30 + 30 * k] for k in range(5)]
        assert np.abs(cells[2].astype(int) - reconstruction).max() <= 1  # strength 0: the reconstruction
        assert all(np.abs(c.astype(int) - cells[2]).max() > 0 for c in cells[:2] + cells[3:])
    # edit in w (default space) a latent [N, W]; invert in z still works on a style run.
    np.save(tmp_path / "w.npy", np.asarray(w))
    assert main(["edit", "--workdir", workdir, "--latent", str(tmp_path / "w.npy"), "--direction", "sefa:1",
                 "--strength", "0,1", "--out", strip]) == 0
    assert "(in w)" in capsys.readouterr().out
    assert main(["invert", "--workdir", workdir, "--image", image, "--out", str(tmp_path / "invz"), "--space", "z",
                 "--steps", "10", "--restarts", "1", "--no-progress"]) == 0
    assert np.load(tmp_path / "invz" / "latent.npy").shape == (8,)


def test_errors_are_one_line(run, dcgan_run, tmp_path, capsys):
    workdir = run[0]
    np.save(tmp_path / "w8.npy", np.zeros(8, np.float32))
    np.save(tmp_path / "z16.npy", np.zeros(16, np.float32))
    np.savez(tmp_path / "noise.npz", noise_0=np.zeros((7, 7)))
    Image.new("L", (28, 28)).save(tmp_path / "i.png")
    out = str(tmp_path / "o.png")
    w8, z16 = str(tmp_path / "w8.npy"), str(tmp_path / "z16.npy")
    cases = {
        "w+ of a DCGAN": (["edit", "--workdir", dcgan_run, "--space", "w+", "--latent", z16, "--direction", "sefa:0",
                           "--out", out], "--space w+", "a model=dcgan run has z only"),
        "w of a DCGAN": (["interpolate", "--workdir", dcgan_run, "--space", "w", "--out", out], "--space w",
                         "need a style-based generator"),
        "mixing a DCGAN": (["mix", "--workdir", dcgan_run, "--out", out], "--workdir: ",
                           "style mixing needs the latent space w+, and a model=dcgan run has z only"),
        "class direction of a StyleGAN": (["edit", "--workdir", workdir, "--latent", w8, "--direction", "class:1-2",
                                           "--out", out], "--direction class:1-2", "unconditional"),
        "sefa index beyond W": (["edit", "--workdir", workdir, "--latent", w8, "--direction", "sefa:8",
                                 "--out", out], "--direction sefa:8", "0..7"),
        "w latent for w+": (["edit", "--workdir", workdir, "--space", "w+", "--latent", w8, "--direction", "sefa:0",
                             "--out", out], "--latent", "expected a .npy array [6, 8] or [N, 6, 8]"),
        "z latent for w": (["edit", "--workdir", workdir, "--latent", z16, "--direction", "sefa:0", "--out", out],
                           "--latent", "expected [8] or [N, 8] (one w of the model)"),
        "noise maps of another model": (["edit", "--workdir", workdir, "--latent", w8, "--noise",
                                         str(tmp_path / "noise.npz"), "--direction", "sefa:0", "--out", out],
                                        "--noise", "expected a .npz file of 5 maps"),
        "noise in z": (["edit", "--workdir", workdir, "--space", "z", "--latent", w8, "--noise",
                        str(tmp_path / "noise.npz"), "--direction", "sefa:0", "--out", out], "--noise",
                       "the z space has no noise inputs"),
        "noise weight in z": (["invert", "--workdir", workdir, "--space", "z", "--image", str(tmp_path / "i.png"),
                               "--noise-weight", "10", "--out", str(tmp_path / "d")], "--noise-weight",
                              "only in w and w+"),
        "slerp in w": (["interpolate", "--workdir", workdir, "--method", "slerp", "--out", out], "--method slerp",
                       "in w use lerp"),
        "crossover": (["mix", "--workdir", workdir, "--crossover", "6", "--out", out], "--crossover 6",
                      "expected a layer in 1..5"),
        "unknown space": (["edit", "--workdir", workdir, "--space", "x", "--latent", w8, "--direction", "sefa:0",
                           "--out", out], "argument --space", "invalid choice"),
        "ink without a classifier": (["edit", "--workdir", workdir, "--latent", w8, "--direction", "ink",
                                      "--out", out], "--direction ink", "needs --classifier DIR"),
        "rows of w": (["edit", "--workdir", workdir, "--latent", w8, "--direction", "sefa:0", "--from-row", "3",
                       "--out", out], "--from-row 3", "only in w+"),
        "row beyond w+": (["edit", "--workdir", workdir, "--space", "w+", "--latent", w8, "--direction", "sefa:0",
                           "--from-row", "6", "--out", out], "--from-row 6", "expected a row in 0..5"),
    }
    assert_one_line_errors(main, capsys, cases)
    assert not os.path.exists(out) and not os.path.exists(tmp_path / "d")
