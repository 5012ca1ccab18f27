"""The gan-jax command line: help, train -> sample, and one-line errors for bad input."""
import os
import re

import numpy as np
import pytest

from gan_jax.cli import main

# One xdist worker runs this file: its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("test_cli")

TINY = ["--config", "dcgan_mnist", "--set", "g_width=8", "--set", "d_width=8", "--set", "z_dim=16", "--set", "log_every=2",
        "--set", "sample_every=2", "--set", "checkpoint_every=2", "--set", "grid_size=4",
        "--batch-size", "8", "--no-progress"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("cli") / "run")
    assert main(["train", "--workdir", workdir, "--steps", "2", *TINY]) == 0
    return workdir


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["sample", "--help"], ["bench", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    assert "usage: gan-jax" in capsys.readouterr().out


def test_compilation_cache_dir(monkeypatch, tmp_path):
    import jax
    from gan_jax.cli.common import enable_compilation_cache

    before = jax.config.jax_compilation_cache_dir
    try:
        monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "xla"))
        enable_compilation_cache()
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "xla")
        monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR")
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        enable_compilation_cache()
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "cache" / "gan_jax" / "xla")
    finally:
        jax.config.update("jax_compilation_cache_dir", before)


def test_sample_png_and_npy(trained_run, tmp_path, capsys):
    npy = str(tmp_path / "s.npy")
    assert main(["sample", "--workdir", trained_run, "--num", "10", "--out", npy]) == 0
    x = np.load(npy)
    assert x.shape == (10, 28, 28, 1) and x.dtype == np.float32
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0
    png = str(tmp_path / "s.png")
    assert main(["sample", "--workdir", trained_run, "--num", "9", "--out", png, "--seed", "3"]) == 0
    from PIL import Image
    assert Image.open(png).size == (3 * 30 + 2, 3 * 30 + 2)
    # The same seed gives the same images; the raw (non-EMA) generator is selectable.
    npy2 = str(tmp_path / "s2.npy")
    assert main(["sample", "--workdir", trained_run, "--num", "10", "--out", npy2]) == 0
    np.testing.assert_array_equal(np.load(npy2), x)
    assert main(["sample", "--workdir", trained_run, "--num", "10", "--out", npy2, "--no-ema"]) == 0
    assert not np.array_equal(np.load(npy2), x)


def _bad_inputs(tmp_path, trained_run):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    ro = a_file  # a path below a regular file can be created by no one, root included
    from PIL import Image
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    Image.new("RGB", (40, 40)).save(corrupt / "good.png")
    (corrupt / "broken.png").write_bytes(b"\x89PNG not really")
    small = tmp_path / "small"
    small.mkdir()
    Image.new("L", (16, 16)).save(small / "tiny.png")
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    Image.new("L", (32, 32)).save(unlabelled / "a.png")
    return {
        "unknown config": (["train", "--config", "nope", "--workdir", str(tmp_path / "w")], "--config nope"),
        "unknown --set key": (["train", "--workdir", str(tmp_path / "w"), "--set", "lr=1"], "--set lr"),
        "ill-typed --set": (["train", "--workdir", str(tmp_path / "w"), "--set", "steps=ten"], "expected int"),
        "--set without =": (["train", "--workdir", str(tmp_path / "w"), "--set", "steps"], "key=value"),
        "bad bool": (["train", "--workdir", str(tmp_path / "w"), "--set", "fast_conv=maybe"], "boolean"),
        "negative steps": (["train", "--workdir", str(tmp_path / "w"), "--steps", "-5"], "steps=-5"),
        "zero batch": (["train", "--workdir", str(tmp_path / "w"), "--batch-size", "0"], "batch_size=0"),
        "bad resolution": (["train", "--workdir", str(tmp_path / "w"), "--set", "resolution=30"], "resolution=30"),
        "bad loss": (["train", "--workdir", str(tmp_path / "w"), "--set", "loss=l3"], "loss='l3'"),
        "workdir is a file": (["train", "--workdir", str(a_file)], "is a file"),
        "unwritable workdir": (["train", "--workdir", str(ro / "sub")], "cannot create"),
        "missing dataset": (["train", "--workdir", str(tmp_path / "w"), "--set", "dataset=idx:/nonexistent"],
                            "/nonexistent"),
        "unknown dataset spec": (["train", "--workdir", str(tmp_path / "w"), "--set", "dataset=imagenet"],
                                 "imagenet"),
        "empty image folder": (["train", "--workdir", str(tmp_path / "w"), "--set", f"dataset=folder:{empty}"],
                               str(empty)),
        "corrupt image in folder": (["train", "--workdir", str(tmp_path / "w"), "--set",
                                     f"dataset=folder:{corrupt}"], "broken.png"),
        "image smaller than model": (["train", "--workdir", str(tmp_path / "w"), "--set",
                                      f"dataset=folder:{small}"], "tiny.png"),
        "indivisible batch": (["train", "--workdir", str(tmp_path / "w"), "--batch-size", "10", "--set",
                               "parallel=pmap"], "divisible"),
        "batch larger than data": (["train", "--workdir", str(tmp_path / "w"), "--batch-size", "8000",
                                    "--set", "parallel=jit"], "larger than the dataset"),
        "fresh reals larger than data": (["train", "--workdir", str(tmp_path / "w"), "--batch-size", "1000",
                                          "--set", "n_critic=6", "--set", "fresh_reals=true", "--set",
                                          "parallel=jit"], "x n_critic=6"),
        "sample: no run": (["sample", "--workdir", str(tmp_path / "none"), "--out", str(tmp_path / "s.png")],
                           "no such directory"),
        "sample: no checkpoint": (["sample", "--workdir", str(tmp_path), "--out", str(tmp_path / "s.png")],
                                  "no config.json"),
        "sample: bad extension": (["sample", "--workdir", trained_run, "--out", str(tmp_path / "s.jpg")],
                                  "expected a .png or .npy"),
        "sample: unwritable out": (["sample", "--workdir", trained_run, "--out", str(ro / "s.png")],
                                   "is a file, not a directory"),
        "sample: out in a missing directory": (["sample", "--workdir", trained_run, "--out",
                                                str(tmp_path / "none" / "s.png")], "does not exist"),
        "sample: bad --num": (["sample", "--workdir", trained_run, "--num", "0", "--out", str(tmp_path / "s.png")],
                              "--num 0"),
        "sample: missing step": (["sample", "--workdir", trained_run, "--checkpoint", "999",
                                  "--out", str(tmp_path / "s.png")], "--checkpoint 999"),
        "sample: bad step": (["sample", "--workdir", trained_run, "--checkpoint", "best?",
                              "--out", str(tmp_path / "s.png")], "--checkpoint best?"),
        "sample: no best checkpoint": (["sample", "--workdir", trained_run, "--checkpoint", "best",
                                        "--out", str(tmp_path / "s.png")], "no best checkpoint"),
        "evaluate: one sample": (["evaluate", "--workdir", trained_run, "--num", "1"], "--num 1"),
        "evaluate: unknown extractor": (["evaluate", "--workdir", trained_run, "--extractor", "vgg:x"], "vgg:x"),
        "evaluate: not a classifier": (["evaluate", "--workdir", trained_run, "--extractor",
                                        f"classifier:{empty}"], "not a classifier directory"),
        "evaluate: missing weights": (["evaluate", "--workdir", trained_run, "--extractor",
                                       "inception:/nonexistent.npz"], "/nonexistent.npz"),
        "evaluate: bad --num": (["evaluate", "--workdir", trained_run, "--extractor", "classifier:x",
                                 "--num", "1"], "--num 1"),
        "eval_every without extractor": (["train", "--workdir", str(tmp_path / "w"), "--set", "eval_every=10"],
                                         "eval_extractor"),
        "eval: bad extractor": (["train", "--workdir", str(tmp_path / "w"), "--set", "eval_every=10",
                                 "--set", f"eval_extractor=classifier:{empty}"], "not a classifier directory"),
        "unknown eval_metric": (["train", "--workdir", str(tmp_path / "w"), "--set", "eval_metric=fid"],
                                "eval_metric='fid'"),
        "classifier: unlabelled data": (["train-classifier", "--dataset", f"folder:{unlabelled}",
                                         "--out", str(tmp_path / "c")], "has no labels"),
        "classifier: out is a file": (["train-classifier", "--out", str(a_file)], "is a file"),
        "sample: class of unconditional": (["sample", "--workdir", trained_run, "--class", "3",
                                            "--out", str(tmp_path / "s.png")], "unconditional"),
        "sample: psi above 2": (["sample", "--workdir", trained_run, "--truncation", "2.5",
                                 "--out", str(tmp_path / "s.png")], "--truncation 2.5: expected a value in (0, 2]"),
        "sample: cluster truncation of a DCGAN": (["sample", "--workdir", trained_run, "--truncation-center",
                                                  "cluster", "--out", str(tmp_path / "s.png")],
                                                 "truncation_center=cluster: only StyleGAN2"),
        "conditional without labels": (["train", "--config", "dcgan_mnist", "--workdir", str(tmp_path / "w"),
                                        "--set", "num_classes=10", "--set", f"dataset=folder:{unlabelled}"],
                                       "has no labels"),
        "classes on the self-conditioned default": (["train", "--workdir", str(tmp_path / "w"), "--set", "num_classes=10"],
                                                    "--set cluster_code=0, or start from --config dcgan_mnist"),
        "unknown subcommand": (["frobnicate"], "invalid choice"),
        "unknown flag": (["train", "--stepz", "3"], "unrecognized arguments"),
        "ill-typed flag": (["train", "--steps", "many"], "invalid int value"),
    }


def test_bad_inputs_give_one_line_errors(tmp_path, trained_run, capsys):
    for name, (argv, culprit) in _bad_inputs(tmp_path, trained_run).items():
        code = main(argv)
        out, err = capsys.readouterr()
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2, f"{name}: exit {code}, stderr {err!r}"
        assert len(lines) == 1, f"{name}: expected one line, got {lines}"
        assert lines[0].startswith("gan-jax: error: "), f"{name}: {lines[0]!r}"
        assert culprit in lines[0], f"{name}: {culprit!r} not in {lines[0]!r}"
        assert "Traceback" not in err
    assert not os.path.exists(tmp_path / "s.png") and not os.path.exists(tmp_path / "s.jpg")
    assert not os.path.exists(tmp_path / "w") and not os.path.exists(tmp_path / "c")  # nothing half-made


def test_output_paths_are_checked_before_any_work(trained_run, tmp_path, capsys, monkeypatch):
    """An --out that no one can write, root included (below a regular file; on a read-only
    filesystem), is one line of error and exit 2 before anything is loaded or computed."""
    import time

    from PIL import Image

    import gan_jax.checkpoint
    import gan_jax.metrics.classifier
    import gan_jax.workdir

    def must_not_run(*args, **kwargs):
        raise AssertionError("the output path must be checked before any work")

    for module, name in ((gan_jax.workdir, "load_config"), (gan_jax.checkpoint, "restore_run"),
                         (gan_jax.metrics.classifier, "train_on_dataset")):
        monkeypatch.setattr(module, name, must_not_run)
    a_file = tmp_path / "somefile.txt"
    a_file.write_text("x")
    image = str(tmp_path / "i.png")
    Image.new("L", (28, 28)).save(image)
    np.save(tmp_path / "z.npy", np.zeros(16, np.float32))
    run = ["--workdir", trained_run]
    commands = {  # FILE / DIR: the output file / directory
        "sample": ["sample", *run, "--out", "FILE"],
        "interpolate": ["interpolate", *run, "--out", "FILE"],
        "invert": ["invert", *run, "--image", image, "--out", "DIR"],
        "edit": ["edit", *run, "--latent", str(tmp_path / "z.npy"), "--direction", "sefa:0", "--out", "FILE"],
        "inpaint": ["inpaint", *run, "--image", image, "--mask", "center", "--out", "FILE"],
        "mix": ["mix", *run, "--out", "FILE"],
        "translate": ["translate", *run, "--image", image, "--out", "FILE"],
        "upscale": ["upscale", *run, "--image", image, "--scale", "4", "--out", "FILE"],
        "train-classifier": ["train-classifier", "--out", "DIR"],
    }
    places = {"below a file": (str(a_file / "x.png"), str(a_file / "d"), "Not a directory|not a directory"),
              "read-only filesystem": ("/proc/x.png", "/proc/d", "not writable|cannot create")}
    for place, (file, directory, reason) in places.items():
        for name, argv in commands.items():
            argv = [file if a == "FILE" else directory if a == "DIR" else a for a in argv]
            start = time.perf_counter()
            code = main(argv)
            seconds = time.perf_counter() - start
            err = capsys.readouterr().err
            lines = [line for line in err.splitlines() if line.strip()]
            assert code == 2, f"{name}, {place}: exit {code}, stderr {err!r}"
            assert len(lines) == 1 and lines[0].startswith("gan-jax: error: --out "), f"{name}, {place}: {lines}"
            assert re.search(reason, lines[0]), f"{name}, {place}: {lines[0]!r}"
            assert seconds < 5, f"{name}, {place}: {seconds:.1f} s to fail"
    assert sorted(os.listdir(tmp_path)) == ["i.png", "somefile.txt", "z.npy"]


def test_corrupt_checkpoint_falls_back_to_previous(trained_run, tmp_path, capsys):
    import shutil

    workdir = str(tmp_path / "copy")
    shutil.copytree(trained_run, workdir)
    assert main(["train", "--workdir", workdir, "--steps", "4", *TINY]) == 0
    ckpt = os.path.join(workdir, "checkpoints")
    assert sorted(os.listdir(ckpt)) == ["2", "4"]
    # Damage every data file of the newest checkpoint.
    for root, _, files in os.walk(os.path.join(ckpt, "4", "state")):
        for f in files:
            with open(os.path.join(root, f), "r+b") as fh:
                fh.truncate(max(0, os.path.getsize(os.path.join(root, f)) // 3))
    out = str(tmp_path / "s.npy")
    assert main(["sample", "--workdir", workdir, "--num", "2", "--out", out]) == 0
    assert "from step 2" in capsys.readouterr().out


def test_checkpoint_from_other_model_is_a_clear_error(trained_run, tmp_path, capsys):
    import json
    import shutil

    workdir = str(tmp_path / "copy")
    shutil.copytree(trained_run, workdir)
    cfg_path = os.path.join(workdir, "config.json")
    cfg = json.load(open(cfg_path))
    cfg["g_width"] = 16
    json.dump(cfg, open(cfg_path, "w"))
    assert main(["sample", "--workdir", workdir, "--out", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert "different model" in err and "g_width" in err and len(err.strip().splitlines()) == 1
