"""The editing commands end to end (interpolate, invert, edit, inpaint) and their one-line errors."""
import dataclasses
import os

import jax
import numpy as np
import pytest
from PIL import Image

from gan_jax import images, workdir as wd
from gan_jax.checkpoint import Checkpoints, signature
from gan_jax.cli import main
from gan_jax.tasks import abstract_state
from cli_errors import assert_one_line_errors

# One xdist worker runs this file: its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("test_cli_edit")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny run directory (random weights, plain convs: quick to compile) and an image it generated."""
    from gan_jax.configs import Config

    config = Config(g_width=8, d_width=8, z_dim=16, batch_size=8, fast_conv=False)
    rng = np.random.default_rng(0)

    def fill(path, leaf):
        name = getattr(path[-1], "key", getattr(path[-1], "name", ""))
        if name in ("var", "mean"):
            return np.full(leaf.shape, float(name == "var"), leaf.dtype)
        if np.issubdtype(leaf.dtype, np.floating):
            return rng.normal(1.0 if name == "scale" else 0.0, 0.3, leaf.shape).astype(leaf.dtype)
        return np.zeros(leaf.shape, leaf.dtype)

    state = jax.tree_util.tree_map_with_path(fill, abstract_state(config))
    state = dataclasses.replace(state, step=np.asarray(1, np.int32))
    root = tmp_path_factory.mktemp("edit")
    workdir = str(root / "run")
    os.makedirs(workdir)
    wd.save_config(workdir, config)
    Checkpoints(wd.checkpoint_dir(workdir)).save(state, {"signature": signature(config)})
    out = str(root / "gen.npy")
    assert main(["sample", "--workdir", workdir, "--num", "1", "--out", out]) == 0
    image = str(root / "gen.png")
    images.save_image(images.to_uint8(np.load(out)[0]), image)
    return workdir, image


def test_interpolate_grid_and_gif(run, tmp_path):
    workdir, _ = run
    png, gif = str(tmp_path / "i.png"), str(tmp_path / "i.gif")
    assert main(["interpolate", "--workdir", workdir, "--pairs", "2", "--frames", "3", "--out", png]) == 0
    assert Image.open(png).size == (3 * 30 + 2, 2 * 30 + 2)
    assert main(["interpolate", "--workdir", workdir, "--pairs", "2", "--frames", "3", "--out", gif,
                 "--method", "lerp"]) == 0
    assert Image.open(gif).n_frames == 4  # there (3) and back (1 more)


def _restored(workdir):
    """(config, state) of the run and its generator as the editing commands use it."""
    from gan_jax.checkpoint import restore_run
    from gan_jax.sampling import latent_generator

    config = wd.load_config(workdir)
    state, _ = restore_run(workdir, config)
    return config, state, latent_generator(config)


def _psnr(x, y, mask=None) -> float:
    """PSNR in dB of two uint8 images, on the [0, 1] scale; over ``mask`` when given."""
    err = np.square((x.astype(np.float64) - y.astype(np.float64)) / 255)
    return float(10 * np.log10(1 / (err.mean() if mask is None else err[mask].mean())))


def test_invert_edit_inpaint_chain(run, tmp_path, capsys):
    import re

    workdir, image = run
    config, state, g = _restored(workdir)
    variables = state.generator_variables(True)
    target = np.asarray(Image.open(image))
    out = tmp_path / "inv"
    assert main(["invert", "--workdir", workdir, "--image", image, "--out", str(out), "--steps", "30",
                 "--restarts", "2", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    found = re.match(r"PSNR (\d+\.\d\d) dB \(on \[0, 1\] images\), final loss (\d+\.\d{5}); wrote", printed)
    assert found, printed
    db, loss = float(found[1]), float(found[2])
    assert sorted(os.listdir(out)) == ["before_after.png", "latent.npy", "loss.png", "reconstruction.png"]
    latent = np.load(out / "latent.npy")
    assert latent.shape == (16,) and latent.dtype == np.float32
    # The written reconstruction is G(latent.npy), and its PSNR is the one printed (up to the PNG's rounding).
    reconstruction = np.asarray(Image.open(out / "reconstruction.png"))
    regenerated = images.to_uint8(np.asarray(g(variables, latent[None]))[0])[..., 0]
    assert reconstruction.shape == (28, 28)
    assert np.abs(reconstruction.astype(int) - regenerated).max() <= 1
    assert abs(_psnr(reconstruction, target) - db) < 0.3, (db, _psnr(reconstruction, target))
    # Inverting a generated image works: far closer than G at random latents, and the loss is small.
    others = images.to_uint8(np.asarray(g(variables, jax.random.normal(jax.random.PRNGKey(1), (8, 16)))))[..., 0]
    chance = max(_psnr(o, target) for o in others)
    assert db > 30 and db > chance + 15, (db, chance)
    assert 0 <= loss < 0.01
    before_after = np.asarray(Image.open(out / "before_after.png"))
    np.testing.assert_array_equal(before_after[2:30, 2:30], target)  # target | reconstruction
    np.testing.assert_array_equal(before_after[2:30, 32:60], reconstruction)

    # edit: row = the latent, columns = strengths; strength 0 is the reconstruction itself.
    strip = str(tmp_path / "strip.png")
    for direction in ("sefa:0", "ganspace:1"):
        assert main(["edit", "--workdir", workdir, "--latent", str(out / "latent.npy"), "--direction", direction,
                     "--strength", "-2:2:5", "--out", strip, "--num-samples", "64", "--no-progress"]) == 0
        assert f"wrote 1 x 5 images along {direction}" in capsys.readouterr().out
        pixels = np.asarray(Image.open(strip))
        assert pixels.shape == (32, 5 * 30 + 2)
        cells = [pixels[2:30, 2 + 30 * k: 30 + 30 * k] for k in range(5)]
        np.testing.assert_array_equal(cells[2], reconstruction)
        assert all(np.abs(c.astype(int) - reconstruction).max() > 0 for c in cells[:2] + cells[3:])

    # inpaint: known pixels untouched; the printed PSNR / L1 over the hole are the written file's.
    filled = str(tmp_path / "filled.png")
    hole = np.zeros((28, 28), bool)
    hole[7:21, 7:21] = True
    for method in ("latent", "mean", "diffusion"):
        assert main(["inpaint", "--workdir", workdir, "--image", image, "--mask", "center", "--method", method,
                     "--out", filled, "--steps", "5", "--restarts", "1", "--no-progress"]) == 0
        printed = capsys.readouterr().out
        found = re.search(r"\({} fill of (\d+) missing pixels\).*PSNR (-?\d+\.\d\d) dB, L1 (\d\.\d{{4}})"
                          .format(method), printed)
        assert found, printed
        after = np.asarray(Image.open(filled))
        np.testing.assert_array_equal(after[~hole], target[~hole])  # known pixels untouched
        assert int(found[1]) == hole.sum()
        l1 = np.abs(after.astype(float) - target)[hole].mean() / 255
        assert abs(float(found[3]) - l1) < 2 / 255, (method, found[3], l1)
        assert abs(float(found[2]) - _psnr(after, target, hole)) < 0.3, (method, found[2])
        if method == "mean":
            assert np.unique(after[hole]).size == 1
            assert abs(int(after[hole][0]) - target[~hole].mean()) <= 1


def test_edit_errors_are_one_line(run, tmp_path, capsys):
    workdir, image = run
    Image.new("L", (20, 20)).save(tmp_path / "small.png")
    Image.new("RGB", (28, 28)).save(tmp_path / "rgb.png")
    Image.new("L", (14, 14), 255).save(tmp_path / "mask14.png")
    Image.new("L", (28, 28), 0).save(tmp_path / "empty_mask.png")
    np.save(tmp_path / "z8.npy", np.zeros(8, np.float32))
    out = str(tmp_path / "o.png")
    cases = {
        "image too small": (["invert", "--image", str(tmp_path / "small.png"), "--out", str(tmp_path / "d")],
                            "--image", "20x20 with 1 channel(s); expected 28x28 with 1"),
        "image with 3 channels": (["inpaint", "--image", str(tmp_path / "rgb.png"), "--mask", "center", "--out", out],
                                  "--image", "28x28 with 3 channel(s); expected 28x28 with 1"),
        "missing image": (["invert", "--image", str(tmp_path / "nope.png"), "--out", str(tmp_path / "d")],
                          "--image", "no such file"),
        "mask of another size": (["inpaint", "--image", image, "--mask", str(tmp_path / "mask14.png"),
                                  "--out", out], "--mask", "14x14; expected 28x28"),
        "mask without a hole": (["inpaint", "--image", image, "--mask", str(tmp_path / "empty_mask.png"),
                                 "--out", out], "--mask", "no pixel is missing"),
        "unknown mask": (["inpaint", "--image", image, "--mask", "circle", "--out", out], "--mask", "no such file"),
        "missing latent": (["edit", "--latent", str(tmp_path / "z.npy"), "--direction", "sefa:0", "--out", out],
                           "--latent", "no such file"),
        "latent of another size": (["edit", "--latent", str(tmp_path / "z8.npy"), "--direction", "sefa:0",
                                    "--out", out], "--latent", "expected [16] or [N, 16]"),
        "bad strength": (["edit", "--latent", str(tmp_path / "z8.npy"), "--direction", "sefa:0", "--strength",
                          "-3:3", "--out", out], "--strength", "START:STOP:NUM"),
        "direction index": (["edit", "--latent", str(tmp_path / "z16.npy"), "--direction", "sefa:99",
                             "--out", out], "--direction", "0..15"),
        "class direction of an unconditional run": (
            ["edit", "--latent", str(tmp_path / "z16.npy"), "--direction", "class:1-2", "--out", out],
            "--direction", "unconditional"),
        "classifier direction without classifier": (
            ["edit", "--latent", str(tmp_path / "z16.npy"), "--direction", "classifier:1", "--out", out],
            "--direction", "--classifier"),
        "class of an unconditional run": (["interpolate", "--class", "3", "--out", out], "--class", "unconditional"),
        "gif for edit": (["edit", "--latent", str(tmp_path / "z16.npy"), "--direction", "sefa:0",
                          "--out", str(tmp_path / "o.gif")], "--out", "expected a .png"),
        "bad --frames": (["interpolate", "--frames", "0", "--out", out], "--frames", "positive"),
    }
    np.save(tmp_path / "z16.npy", np.zeros((2, 16), np.float32))
    assert_one_line_errors(main, capsys, cases, prefix=["--workdir", workdir])
    assert not os.path.exists(out) and not os.path.exists(tmp_path / "d")
