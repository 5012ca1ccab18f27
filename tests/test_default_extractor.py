"""The default extractor: trained on first use, cached atomically, reused, rebuilt when damaged."""
import json
import os

import numpy as np
import pytest

from gan_jax.configs import Config
from gan_jax.errors import UserError
from gan_jax.metrics import default_extractor as de
from gan_jax.metrics import evaluation

# One xdist worker runs this file: the classifier step compiles once.
pytestmark = pytest.mark.xdist_group("test_default_extractor")

STEPS = 3  # a tiny training budget: the tests check the caching, not the classifier


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("GAN_JAX_CACHE", str(root))
    return root


def _entries(cache):
    d = cache / "extractors"
    return sorted(os.listdir(d)) if d.is_dir() else []


def _no_training(monkeypatch):
    from gan_jax.metrics import classifier

    def fail(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr(classifier, "train_classifier", fail)


def test_trains_on_first_use_caches_and_reuses(cache, monkeypatch, capsys):
    ext, directory = de.default_extractor(Config(), steps=STEPS, progress=False)
    fingerprint = de.code_fingerprint(dict(de.RECIPE, steps=STEPS))
    assert directory == str(cache / "extractors" / f"mnist5k-{fingerprint}")
    assert _entries(cache) == [f"mnist5k-{fingerprint}"]  # no temporary directory left
    assert sorted(os.listdir(directory)) == ["default.json", "info.json", "params.msgpack"]
    meta = json.loads((cache / "extractors" / f"mnist5k-{fingerprint}" / "default.json").read_text())
    assert meta["dataset"] == "mnist5k" and meta["recipe"]["steps"] == STEPS and meta["image_shape"] == [28, 28, 1]
    assert ext.name == f"classifier:mnist5k-default-{fingerprint[:8]}" and ext.image_shape == (28, 28, 1)
    assert "training the default extractor of mnist5k" in capsys.readouterr().err
    feats, logits = ext(np.zeros((3, 28, 28, 1), np.float32))
    assert feats.shape == (3, 128) and logits.shape == (3, 10)

    _no_training(monkeypatch)
    again, same = de.default_extractor(Config(), steps=STEPS, progress=False)
    assert same == directory and (again.name, again.fingerprint) == (ext.name, ext.fingerprint)
    assert "training" not in capsys.readouterr().err
    # The cached directory is an ordinary classifier directory: --extractor classifier:DIR takes it.
    resolved, spec = de.resolve_extractor(f"classifier:{directory}", Config())
    assert spec == f"classifier:{directory}" and resolved.fingerprint == ext.fingerprint


def test_the_fingerprint_follows_the_recipe_and_the_code():
    assert de.code_fingerprint(dict(de.RECIPE, steps=1)) != de.code_fingerprint(dict(de.RECIPE, steps=2))
    assert de.code_fingerprint() == de.code_fingerprint(de.RECIPE) and len(de.code_fingerprint()) == 16


@pytest.mark.parametrize("damage", ["truncate_params", "flip_a_byte", "bad_json", "no_info"])
def test_a_damaged_cache_entry_is_rebuilt_with_a_warning(cache, capsys, damage):
    ext, directory = de.default_extractor(Config(), steps=STEPS, progress=False)
    params = os.path.join(directory, "params.msgpack")
    if damage == "truncate_params":
        with open(params, "r+b") as f:
            f.truncate(100)
    elif damage == "flip_a_byte":  # still loads: only the recorded sha256 tells
        with open(params, "r+b") as f:
            f.seek(-5, os.SEEK_END)
            byte = f.read(1)
            f.seek(-5, os.SEEK_END)
            f.write(bytes([byte[0] ^ 0xFF]))
    elif damage == "bad_json":
        with open(os.path.join(directory, "default.json"), "w") as f:
            f.write("{not json")
    else:
        os.remove(os.path.join(directory, "info.json"))
    capsys.readouterr()
    rebuilt, again = de.default_extractor(Config(), steps=STEPS, progress=False)
    err = capsys.readouterr().err
    assert again == directory and "warning: cached default extractor" in err and "rebuilding" in err
    assert len([line for line in err.splitlines() if "warning" in line]) == 1
    assert rebuilt.fingerprint == ext.fingerprint  # the same recipe, seed and data: the same weights
    assert _entries(cache) == [os.path.basename(directory)]


def test_no_default_extractor_and_a_wrong_image_size_are_one_line_errors_and_cache_nothing(cache, monkeypatch):
    _no_training(monkeypatch)
    with pytest.raises(UserError, match="no default extractor") as e:
        de.default_extractor(Config(dataset="photos", resolution=28, channels=3), steps=STEPS)
    assert "\n" not in str(e.value) and "--extractor" in str(e.value)
    with pytest.raises(UserError, match="takes 28x28x1 images, but this run's model makes 32x32x1") as e:
        de.default_extractor(Config(resolution=32), steps=STEPS)
    assert "\n" not in str(e.value) and "gan-jax train-classifier --dataset mnist5k --resolution 32" in str(e.value)
    with pytest.raises(UserError, match="no default extractor"):
        de.default_extractor(Config(dataset="nonsense"), steps=STEPS)
    assert not cache.exists() or _entries(cache) == []


def test_an_unlabelled_folder_has_no_default_and_a_labelled_one_has(cache, tmp_path):
    from PIL import Image

    flat, classes = tmp_path / "flat", tmp_path / "classes"
    rng = np.random.default_rng(0)
    for i in range(8):
        img = Image.fromarray(rng.integers(0, 255, (20, 20), dtype=np.uint8))
        flat.mkdir(exist_ok=True)
        img.save(flat / f"{i}.png")
        (classes / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        img.save(classes / f"c{i % 2}" / f"{i}.png")
    with pytest.raises(UserError, match="no default extractor"):
        de.default_extractor(Config(dataset=f"folder:{flat}", resolution=16, channels=1), steps=STEPS)
    assert _entries(cache) == []
    ext, directory = de.default_extractor(Config(dataset=f"folder:{classes}", resolution=16, channels=1),
                                          steps=STEPS, progress=False)
    assert ext.image_shape == (16, 16, 1) and os.path.basename(directory).startswith("folder-classes-")
    assert "-16x16x1-" in os.path.basename(directory)


def test_an_interrupted_training_leaves_nothing(cache, monkeypatch):
    from gan_jax.metrics import classifier

    real = classifier.train_classifier

    def interrupted(*a, **k):
        real(*a, **dict(k, steps=1))
        raise KeyboardInterrupt

    monkeypatch.setattr(classifier, "train_classifier", interrupted)
    with pytest.raises(KeyboardInterrupt):
        de.default_extractor(Config(), steps=STEPS, progress=False)
    assert _entries(cache) == []


def test_stats_cache_follows_gan_jax_cache(cache):
    assert evaluation.default_cache_dir() == str(cache / "stats")


def test_evaluate_with_the_default_extractor_names_it(cache, tmp_path, monkeypatch):
    """The library path behind ``gan-jax evaluate --workdir DIR`` with no extractor."""
    from gan_jax import workdir as wd
    from gan_jax.checkpoint import restore_run
    from gan_jax.cli import main

    run = str(tmp_path / "run")
    assert main(["train", "--config", "dcgan_mnist", "--workdir", run, "--steps", "2", "--batch-size", "8",
                 "--no-progress", "--set", "g_width=8", "--set", "d_width=8", "--set", "z_dim=16", "--set", "parallel=jit"]) == 0
    config = wd.load_config(run)
    state, _ = restore_run(run, config)
    de.default_extractor(config, steps=STEPS, progress=False)  # cached with the tiny budget
    monkeypatch.setattr(de, "RECIPE", dict(de.RECIPE, steps=STEPS))  # what the CLI calls finds it cached
    _no_training(monkeypatch)
    extractor, spec = de.resolve_extractor(None, config, progress=False)
    result = evaluation.evaluate(config, state, extractor, num=40, kid_subsets=3)
    assert result["extractor"] == extractor.name and extractor.name.startswith("classifier:mnist5k-default-")
    assert spec.startswith("classifier:") and os.path.isdir(spec.split(":", 1)[1])
    assert extractor.name in evaluation.format_table(result)
