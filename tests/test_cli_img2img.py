"""gan-jax train / translate / upscale end to end on tiny image-to-image runs, resume, and errors.

The tiny configs equal tests/test_img2img.py's, so their compiled steps come from the session cache.
"""
import json
import os

import numpy as np
import pytest
from PIL import Image

from gan_jax.cli import main

# One xdist worker runs this file: its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("test_cli_img2img")

COMMON = ["--set", "fast_conv=false", "--set", "log_every=1", "--set", "sample_every=2", "--set", "checkpoint_every=2",
          "--batch-size", "8", "--no-progress"]
PIX2PIX = ["--config", "pix2pix_denoise", "--set", "resolution=32", "--set", "g_width=4", "--set", "d_width=4",
           "--set", "lr_g=1e-3", *COMMON]
CYCLE = ["--config", "cyclegan_fashion", "--set", "dataset=mnist5k#1", "--set", "dataset_b=mnist5k#7",
         "--set", "g_width=8", "--set", "d_width=8", "--set", "pool_size=4", *COMMON]
SRGAN = ["--config", "srgan_x4", "--set", "scale=2", "--set", "resolution=32", "--set", "g_width=4",
         "--set", "d_width=4", "--set", "pretrain_steps=2", *COMMON]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("img2img_cli")
    out = {}
    for name, args in (("pix2pix", PIX2PIX), ("cyclegan", CYCLE), ("srgan", SRGAN)):
        out[name] = str(root / name)
        assert main(["train", "--workdir", out[name], "--steps", "2", *args]) == 0
    return out


def _png(path, shape, seed=0):
    arr = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(arr[..., 0] if shape[-1] == 1 else arr).save(path)
    return str(path)


def test_train_writes_source_output_target_grids_and_resumes(runs):
    grid = Image.open(os.path.join(runs["pix2pix"], "samples", "step_0000002.png"))
    assert grid.size == (3 * 34 + 2, 8 * 34 + 2)  # 8 rows of source | output | target, 32 px + padding
    cycle_grid = Image.open(os.path.join(runs["cyclegan"], "samples", "step_0000002.png"))
    assert cycle_grid.size[0] == 6 * 30 + 2  # a | a2b | a2b2a | b | b2a | b2a2b
    # Resume: the saved config is reused and the run continues to the new step count.
    assert main(["train", "--workdir", runs["pix2pix"], "--steps", "3", "--no-progress"]) == 0
    steps = [json.loads(line)["step"] for line in open(os.path.join(runs["pix2pix"], "metrics.jsonl"))]
    assert steps == [1, 2, 3]
    assert sorted(os.listdir(os.path.join(runs["pix2pix"], "checkpoints"))) == ["2", "3"]


def test_pixel_pretraining_leaves_discriminator_untouched(runs):
    from gan_jax import workdir as wd
    from gan_jax.checkpoint import restore_run

    config = wd.load_config(runs["srgan"])
    state, _ = restore_run(runs["srgan"], config)
    assert int(state.step) == 2 and int(state.d_opt[0].count) == 0 and int(state.g_opt[0].count) == 2


def test_translate_any_size_and_direction(runs, tmp_path, capsys):
    out = str(tmp_path / "t.png")
    assert main(["translate", "--workdir", runs["pix2pix"], "--image", _png(tmp_path / "a.png", (40, 50, 3)),
                 "--out", out]) == 0
    assert Image.open(out).size == (50, 40) and Image.open(out).mode == "RGB"
    grey = _png(tmp_path / "g.png", (28, 28, 1))
    for direction in ("a2b", "b2a"):
        assert main(["translate", "--workdir", runs["cyclegan"], "--image", grey, "--out", out,
                     "--direction", direction]) == 0
        assert Image.open(out).size == (28, 28)
    assert "cyclegan b2a" in capsys.readouterr().out


def test_upscale_tiles_any_size(runs, tmp_path):
    out = str(tmp_path / "u.png")
    assert main(["upscale", "--workdir", runs["srgan"], "--image", _png(tmp_path / "lr.png", (20, 37, 3)),
                 "--scale", "2", "--tile", "8", "--out", out]) == 0
    assert Image.open(out).size == (74, 40)


def test_img2img_cli_errors(runs, tmp_path, capsys):
    rgb, grey = _png(tmp_path / "rgb.png", (28, 28, 3)), _png(tmp_path / "grey.png", (16, 16, 1))
    out = str(tmp_path / "o.png")
    cases = [
        (["upscale", "--workdir", runs["srgan"], "--image", grey, "--scale", "4", "--out", out], "--scale 4"),
        (["upscale", "--workdir", runs["pix2pix"], "--image", grey, "--scale", "2", "--out", out], "task=pix2pix"),
        (["translate", "--workdir", runs["srgan"], "--image", grey, "--out", out], "task=srgan"),
        (["translate", "--workdir", runs["cyclegan"], "--image", rgb, "--out", out], "3 channels"),
        (["translate", "--workdir", runs["pix2pix"], "--image", grey, "--out", out, "--direction", "b2a"],
         "one way"),
        (["translate", "--workdir", str(tmp_path / "none"), "--image", grey, "--out", out], "no such directory"),
        (["translate", "--workdir", runs["pix2pix"], "--image", str(tmp_path / "x.png"), "--out", out], "no such file"),
        (["translate", "--workdir", runs["pix2pix"], "--image", grey, "--out", str(tmp_path / "o.jpg")], ".png"),
        (["upscale", "--workdir", runs["srgan"], "--image", grey, "--scale", "2", "--tile", "0", "--out", out],
         "--tile"),
        (["train", "--workdir", str(tmp_path / "bad"), "--config", "srgan_x4", "--set", "scale=3"], "scale=3"),
        # What a run's task cannot do is named, with the tasks that can (gan_jax.tasks.operation).
        (["sample", "--workdir", runs["pix2pix"], "--out", out],
         "a task=pix2pix run cannot sample; expected a generate"),
        (["interpolate", "--workdir", runs["cyclegan"], "--out", out], "a task=cyclegan run cannot sample"),
        (["inpaint", "--workdir", runs["srgan"], "--image", grey, "--mask", "center", "--out", out],
         "cannot inpaint"),
        (["upscale", "--workdir", runs["cyclegan"], "--image", grey, "--scale", "2", "--out", out],
         "a task=cyclegan run cannot upscale; expected a srgan run"),
    ]
    for argv, culprit in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("gan-jax: error: ") and culprit in err, (argv, err)
    assert not os.path.exists(out)


def test_inpaint_with_a_trained_inpainting_model(tmp_path_factory, tmp_path, capsys):
    workdir = str(tmp_path_factory.mktemp("inpaint_cli") / "run")
    assert main(["train", "--workdir", workdir, "--steps", "1", "--config", "inpaint_fashion",
                 "--set", "dataset=mnist5k", "--set", "holdout_dataset=mnist5k", "--set", "g_width=4",
                 "--set", "d_width=4", *COMMON]) == 0
    image, out = _png(tmp_path / "i.png", (28, 28, 1)), str(tmp_path / "filled.png")
    assert main(["inpaint", "--workdir", workdir, "--image", image, "--mask", "center", "--out", out]) == 0
    filled, original = np.asarray(Image.open(out)), np.asarray(Image.open(image))
    assert filled.shape == (28, 28)
    np.testing.assert_array_equal(filled[:7], original[:7])  # known pixels are kept exactly
    assert not np.array_equal(filled[7:21, 7:21], original[7:21, 7:21])
    assert "missing pixels" in capsys.readouterr().out
