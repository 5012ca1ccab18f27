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
from gan_jax.state import abstract_state

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


def test_invert_edit_inpaint_chain(run, tmp_path, capsys):
    workdir, image = run
    out = tmp_path / "inv"
    assert main(["invert", "--workdir", workdir, "--image", image, "--out", str(out), "--steps", "30",
                 "--restarts", "2"]) == 0
    assert "PSNR" in capsys.readouterr().out
    assert sorted(os.listdir(out)) == ["before_after.png", "latent.npy", "loss.png", "reconstruction.png"]
    assert np.load(out / "latent.npy").shape == (16,)
    assert Image.open(out / "reconstruction.png").size == (28, 28)
    strip = str(tmp_path / "strip.png")
    for direction in ("sefa:0", "ganspace:1"):
        assert main(["edit", "--workdir", workdir, "--latent", str(out / "latent.npy"), "--direction", direction,
                     "--strength", "-2:2:5", "--out", strip, "--num-samples", "64"]) == 0
        assert Image.open(strip).size == (5 * 30 + 2, 32)
    filled = str(tmp_path / "filled.png")
    for method in ("latent", "mean", "diffusion"):
        assert main(["inpaint", "--workdir", workdir, "--image", image, "--mask", "center", "--method", method,
                     "--out", filled, "--steps", "5", "--restarts", "1"]) == 0
        before, after = np.asarray(Image.open(image)), np.asarray(Image.open(filled))
        np.testing.assert_array_equal(after[:7], before[:7])  # known pixels untouched
    assert "L1" in capsys.readouterr().out


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
    for name, (argv, option, expected) in cases.items():
        code = main([argv[0], "--workdir", workdir, *argv[1:]])
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2, f"{name}: exit {code}, stderr {err!r}"
        assert len(lines) == 1 and lines[0].startswith("gan-jax: error: " + option), f"{name}: {lines}"
        assert expected in lines[0], f"{name}: {expected!r} not in {lines[0]!r}"
    assert not os.path.exists(out) and not os.path.exists(tmp_path / "d")
