"""Evaluation end to end: extractors, cached real statistics, evaluate(), the CLI and the best checkpoint."""
import dataclasses
import json
import os

import numpy as np
import pytest

from gan_jax import data
from gan_jax.checkpoint import restore_run
from gan_jax.train import train
from gan_jax.cli import main
from gan_jax.errors import UserError
from gan_jax.metrics import evaluation as ev
from gan_jax.metrics import frechet_distance, load_extractor, FeatureStats
from gan_jax.metrics.classifier import train_classifier

# One xdist worker runs this file: its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("test_evaluate")


@pytest.fixture(scope="module")
def mnist():
    src = data.load_source("mnist5k", resolution=28, channels=1)
    images, labels = src.get(np.arange(len(src)))
    return data.to_float(images), labels


@pytest.fixture(scope="module")
def classifier_dir(mnist, tmp_path_factory):
    images, labels = mnist
    clf = train_classifier(images, labels, num_classes=10, steps=60, name="test-cnn")
    path = str(tmp_path_factory.mktemp("clf"))
    clf.save(path)
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 2-step run of a tiny DCGAN made with the CLI: (workdir, config)."""
    workdir = str(tmp_path_factory.mktemp("eval") / "run")
    assert main(["train", "--config", "dcgan_mnist", "--workdir", workdir, "--steps", "2", "--batch-size", "8",
                 "--no-progress", "--set", "g_width=8", "--set", "d_width=8", "--set", "z_dim=16", "--set", "parallel=jit"]) == 0
    from gan_jax import workdir as wd
    return workdir, wd.load_config(workdir)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_classifier_extractor_shapes_and_name(classifier_dir, mnist):
    ext = load_extractor(f"classifier:{classifier_dir}")
    feats, logits = ext(mnist[0][:7])
    assert feats.shape == (7, 128) and logits.shape == (7, 10)
    assert ext.name == "classifier:test-cnn" and ext.image_shape == (28, 28, 1)
    assert len(ext.fingerprint) == 16


def test_frechet_distance_ranks_real_below_noise(classifier_dir, mnist):
    """FD(real, other real) is small, FD(real, noise) is large, in the classifier's features."""
    ext = load_extractor(f"classifier:{classifier_dir}")
    images = mnist[0]
    a, _ = ext(images[0::2])  # the rows are sorted by label: even/odd rows are two real halves
    b, _ = ext(images[1::2])
    noise, _ = ext(np.random.default_rng(0).uniform(-1, 1, images[:2500].shape).astype(np.float32))
    sa, sb, sn = (FeatureStats().update(x) for x in (a, b, noise))
    real_real = frechet_distance(sa.mean, sa.cov, sb.mean, sb.cov)
    real_noise = frechet_distance(sa.mean, sa.cov, sn.mean, sn.cov)
    assert real_real < 0.05 * real_noise


def test_evaluate_a_trained_state_and_cache(classifier_dir, tiny_run, tmp_path):
    workdir, config = tiny_run
    state, _ = restore_run(workdir, config)
    ext = load_extractor(f"classifier:{classifier_dir}")
    cache = str(tmp_path / "stats")
    r1 = ev.evaluate(config, state, ext, num=50, kid_subsets=5, cache_dir=cache)
    assert set(r1) == {"extractor", "num_fake", "num_real", "fd", "kid", "kid_std", "is", "is_std",
                       "precision", "recall"}
    assert r1["num_fake"] == 50 and r1["num_real"] == 5000 and r1["extractor"] == "classifier:test-cnn"
    assert r1["fd"] > 0 and 0 <= r1["precision"] <= 1 and 0 <= r1["recall"] <= 1 and r1["is"] >= 1
    (cached,) = os.listdir(cache)
    r2 = ev.evaluate(config, state, ext, num=50, kid_subsets=5, cache_dir=cache)  # from the cache
    assert r2 == r1 and os.listdir(cache) == [cached]
    # A wrong image shape is caught before any work.
    with pytest.raises(UserError, match=r"takes images \(28, 28, 1\)"):
        ev.evaluate(dataclasses.replace(config, resolution=32, channels=3), state, ext, num=8)


def test_training_keeps_the_best_checkpoint(classifier_dir, tiny_config, tmp_path):
    config = dataclasses.replace(tiny_config, parallel="jit", eval_every=2, eval_num=32,
                                 eval_extractor=f"classifier:{classifier_dir}")
    workdir = str(tmp_path / "run")
    train(config, workdir, progress=False)
    lines = [json.loads(x) for x in open(os.path.join(workdir, "metrics.jsonl"))]
    fds = {x["step"]: x["eval/fd"] for x in lines if "eval/fd" in x}
    assert sorted(fds) == [2, 4]
    best_step = min(fds, key=fds.get)
    (saved,) = os.listdir(os.path.join(workdir, "best"))
    assert int(saved) == best_step
    state, meta = restore_run(workdir, config, "best")
    assert int(state.step) == best_step and meta["eval"]["fd"] == pytest.approx(fds[best_step])
    # On resume the best value is read back: a worse evaluation does not replace it.
    from gan_jax.train import _PeriodicEval
    assert _PeriodicEval(config, workdir, {}).best_value == pytest.approx(fds[best_step])


def test_cli_train_classifier_and_evaluate(tiny_run, tmp_path, capsys):
    clf = str(tmp_path / "clf")
    assert main(["train-classifier", "--out", clf, "--steps", "5"]) == 0
    assert "held-out accuracy" in capsys.readouterr().out
    run, _ = tiny_run
    assert main(["evaluate", "--workdir", run, "--extractor", f"classifier:{clf}", "--num", "40"]) == 0
    out = capsys.readouterr().out
    assert "Fréchet classifier distance" in out and "classifier:mnist5k-cnn" in out
    result = json.load(open(os.path.join(run, "eval.json")))
    assert result["step"] == 2 and result["num_fake"] == 40 and np.isfinite(result["fd"])


def test_cli_evaluate_with_no_flags_trains_the_default_extractor_once(tiny_run, tmp_path, capsys, monkeypatch):
    """``gan-jax evaluate --workdir DIR`` alone: the dataset's default classifier is trained on
    first use (here 3 steps), cached under $GAN_JAX_CACHE, named in the table and eval.json,
    and reused by the next call."""
    from gan_jax.metrics import default_extractor as de

    monkeypatch.setenv("GAN_JAX_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(de, "RECIPE", dict(de.RECIPE, steps=3))
    run, _ = tiny_run
    assert main(["evaluate", "--workdir", run, "--num", "20"]) == 0
    out = capsys.readouterr().out
    cached = [d for d in os.listdir(tmp_path / "cache" / "extractors") if d.startswith("mnist5k-")]
    assert len(cached) == 1 and f"extractor: classifier:{tmp_path / 'cache' / 'extractors' / cached[0]}" in out
    result = json.load(open(os.path.join(run, "eval.json")))
    assert "mnist5k-default" in result["extractor"] and result["extractor_spec"].endswith(cached[0])

    def must_not_train(*args, **kwargs):
        raise AssertionError("the cached default extractor was trained again")

    monkeypatch.setattr(de, "_train_into", must_not_train)
    assert main(["evaluate", "--workdir", run, "--num", "20"]) == 0
    assert json.load(open(os.path.join(run, "eval.json")))["fd"] == pytest.approx(result["fd"], rel=1e-5)
