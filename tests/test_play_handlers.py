"""The playground's parts as plain functions (gan_jax.play.handlers), checked by their numbers on a tiny
trained run: no server, no browser (tests/test_play_app.py and tests/test_play_browser.py do those)."""
import fcntl
import importlib.util
import os
import shutil

import jax
import numpy as np
import pytest
from PIL import Image

from gan_jax import configs
from gan_jax import workdir as wd
from gan_jax.errors import UserError
from gan_jax.images import to_uint8

if importlib.util.find_spec("gradio") is None:  # (not imported here: the server sets up its environment first)
    pytest.skip("the playground needs the play extra: pip install -e '.[play]'", allow_module_level=True)

from gan_jax.play import handlers as h  # noqa: E402
from gan_jax.play import runlog, uploads  # noqa: E402
from gan_jax.play.model import NoCheckpointYet  # noqa: E402

pytestmark = pytest.mark.xdist_group(__name__)

TINY = ["steps=60", "batch_size=16", "g_width=8", "d_width=8", "lr_g=2e-3", "ema_decay=0.9", "checkpoint_every=30",
        "sample_every=30", "log_every=10", "grid_size=4", "parallel=jit", "checkpoint_async=false"]
"""The default run's config (selfcond_mnist), made tiny: 60 steps of narrow networks (a few seconds), enough for
images that span [-1, 1] (after 4 steps BatchNorm's running statistics still scale every image to ~0.005)."""
SRGAN = ["scale=2", "resolution=32", "g_width=4", "d_width=4", "pretrain_steps=1", "steps=2", "batch_size=8",
         "fast_conv=false", "log_every=1", "sample_every=2", "checkpoint_every=2", "parallel=jit",
         "checkpoint_async=false"]
"""A tiny super-resolution model (tests/test_cli_img2img.py's)."""

INVERSION_PSNR = 30.0
"""The page's inversion (500 steps x 8 restarts) of an image the generator made reaches at least this (dB)."""


def tiny_config(overrides=(), name=None):
    """The config ``name`` (default: the default run's) made tiny (:data:`TINY`), then ``overrides``."""
    return configs.override(configs.get(name) if name else configs.get(), [*TINY, *overrides])


def train_run(workdir, config) -> str:
    from gan_jax.train import train

    train(config, str(workdir), progress=False)
    return str(workdir)


def untrained_run(workdir, config) -> str:
    """A run directory with the config's initial state as its checkpoint 0 (no train step to compile)."""
    from gan_jax.checkpoint import Checkpoints, signature
    from gan_jax.tasks import init_state

    config_only(workdir, config)
    with Checkpoints(wd.checkpoint_dir(str(workdir))) as ckpts:
        ckpts.save(jax.device_get(init_state(config)), {"signature": signature(config), "config": config.to_dict()})
    return str(workdir)


def config_only(workdir, config) -> str:
    """A run directory before its first checkpoint (what gan-jax train writes first)."""
    os.makedirs(workdir, exist_ok=True)
    wd.save_config(str(workdir), config)
    return str(workdir)


def shared_tiny_run(tmp_path_factory) -> str:
    """The tiny run (:data:`TINY`), trained once per test session and shared by the playground's test files
    (and their xdist workers: a lock orders them). Read it only; copy it to train it further."""
    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    run = root / "play_tiny_run"
    with open(root / "play_tiny_run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (run / "checkpoints" / "60").is_dir():
            shutil.rmtree(run, ignore_errors=True)
            train_run(run, tiny_config())
    return str(run)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return shared_tiny_run(tmp_path_factory)


@pytest.fixture(scope="module")
def pg(run, tmp_path_factory):
    return h.Playground.open(run, str(tmp_path_factory.mktemp("play_files")))


C = h.Controls()


def test_watch_shows_curves_grid_step_and_checkpoints(pg):
    seen = h.watch(pg)
    assert seen.status.startswith("step 60 of 60") and "finished" in seen.status
    assert "checkpoint: step 60" in seen.status
    assert {r["series"] for r in seen.curves["d_outputs"]} == {"d_real", "d_fake"}
    assert {"d_loss", "g_loss"} <= {r["series"] for r in seen.curves["losses"]}
    assert [r["step"] for r in seen.curves["losses"] if r["series"] == "g_loss"] == [10, 20, 30, 40, 50, 60]
    assert seen.grid_step == 60 and seen.grid.shape == (2 * 30 + 2, 2 * 30 + 2, 1)  # 4 images of 28 px, padded
    assert seen.checkpoints == ["latest", "60", "30"]


def test_metrics_log_reads_appended_lines_once_and_waits_for_a_partial_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    log = runlog.MetricsLog(str(path))
    assert log.read() == [] and log.modified() is None
    path.write_text('{"step": 1, "d_loss": 1.0}\n{"step": 2, "d_lo')
    assert [r["step"] for r in log.read()] == [1]
    with open(path, "a") as f:
        f.write('ss": 0.5}\n')
    assert [r["step"] for r in log.read()] == [1, 2] and log.read()[1]["d_loss"] == 0.5
    path.write_text('{"step": 7}\n')  # a new run: read again from the start
    assert [r["step"] for r in log.read()] == [7]
    rows = [{"step": s, "d_loss": 1.0, "d_real": 0.5, "steps_per_sec": 9.0} for s in range(1, 1001)]
    thinned = runlog.curves(rows, max_points=100)
    steps = [r["step"] for r in thinned["losses"]]
    assert len(steps) <= 100 and steps[-1] == 1000 and not any(r["series"] == "steps_per_sec"
                                                               for r in thinned["losses"])


def test_generate_draws_what_gan_jax_sample_draws(pg):
    from gan_jax.sampling import generate

    state = pg.model.restore("latest").state
    expected = generate(pg.config, state, num=16, seed=3)
    for num in (16, 5):  # padded to a compiled batch size; image k is the same for every count
        found = h.generate(pg, C, seed=3, num=num)
        np.testing.assert_allclose(found.images, expected[:num], atol=1e-5)
    assert found.step == 60 and "5 images, seed 3, step 60 (EMA, truncation 1)" in found.message
    assert np.array_equal(np.asarray(Image.open(found.path)).reshape(found.grid.shape), found.grid)
    raw = h.generate(pg, h.Controls(ema=False), seed=3, num=4)
    assert np.abs(raw.images - expected[:4]).max() > 1e-3  # the raw weights are not the EMA copy
    half = h.generate(pg, h.Controls(truncation=0.5), seed=3, num=4)
    np.testing.assert_allclose(half.images, generate_latents(pg, 0.5 * pg.model.latents(3, 4)), atol=1e-5)
    older = h.generate(pg, h.Controls(checkpoint="30"), seed=3, num=4)
    assert older.step == 30 and np.abs(older.images - expected[:4]).max() > 1e-3


def generate_latents(pg, z):
    from gan_jax.sampling import generate_from

    return generate_from(pg.config, pg.model.restore("latest").state, z)


def test_slider_at_zero_returns_the_unedited_image_and_moves_it_otherwise(pg):
    names = h.directions(pg, C)
    assert names == tuple(f"SeFa {i}" for i in range(5))
    z = h.latent(pg, C, seed=2, index=5)
    unedited = h.generate(pg, C, seed=2, num=6).images[5]
    at_zero = h.edit(pg, C, z, [0.0] * 5)
    np.testing.assert_allclose(at_zero.image, unedited, atol=1e-5)
    assert "unedited" in at_zero.message
    moved = h.edit(pg, C, z, [3.0, 0, 0, 0, 0])
    direction = pg.model.directions().vectors[0]
    np.testing.assert_allclose(moved.image, generate_latents(pg, (z + 3.0 * direction)[None])[0], atol=1e-5)
    assert np.abs(moved.image - unedited).max() > 1e-3 and "SeFa 0 +3" in moved.message
    with pytest.raises(UserError, match="2 slider values: expected 5"):
        h.edit(pg, C, z, [1.0, 2.0])


def test_slider_moves_reuse_one_compiled_program(pg):
    z = h.latent(pg, C, seed=0, index=0)
    h.edit(pg, C, z, [0.0] * 5)  # compiled here (or earlier)
    with count_traces() as traces:
        for value in (0.5, -1.0, 2.5, 8.0, -8.0):
            h.edit(pg, C, z, [value, 0.0, value, 0.0, 1.0])
        h.edit(pg, h.Controls(ema=False), z, [1.0] * 5)  # other weights, same program
    assert traces == []


class count_traces:
    """Collects the names of the jaxpr traces that start while active (a trace precedes every compile)."""

    def __enter__(self):
        self.names = []

        def listener(event, duration, **kwargs):
            if event == "/jax/core/compile/jaxpr_trace_duration":
                self.names.append(kwargs.get("fun_name", event))
        self.listener = listener
        jax.monitoring.register_event_duration_secs_listener(listener)
        return self.names

    def __exit__(self, *exc):
        jax.monitoring.unregister_event_duration_listener(self.listener)


def test_interpolation_runs_from_one_image_to_the_other(pg, tmp_path):
    a, b = h.latent(pg, C, 0, 1), h.latent(pg, C, 4, 2)
    ends = generate_latents(pg, np.stack([a, b]))
    np.testing.assert_allclose(h.interpolate(pg, C, a, b, 0.0).image, ends[0], atol=1e-5)
    np.testing.assert_allclose(h.interpolate(pg, C, a, b, 1.0).image, ends[1], atol=1e-4)
    middle = h.interpolate(pg, C, a, b, 0.5, method="lerp").image
    np.testing.assert_allclose(middle, generate_latents(pg, ((a + b) / 2)[None])[0], atol=1e-5)
    gif = h.animation(pg, C, a, b, frames=6)
    with Image.open(gif.path) as im:
        assert im.n_frames == 10 and im.size == (28, 28)  # forwards (6) then back without the ends (4)
    assert np.array_equal(gif.frames[0][..., 0], to_uint8(ends[0])[..., 0])
    with pytest.raises(UserError, match="t 1.5: expected 0.0..1.0"):
        h.interpolate(pg, C, a, b, 1.5)


def test_inversion_of_a_generated_image_reaches_the_documented_psnr(pg):
    from gan_jax.edit import psnr

    target = h.generate(pg, C, seed=7, num=1).images[0]
    progress = []
    found = h.invert(pg, C, to_uint8(target), on_progress=lambda done, total: progress.append((done, total)))
    assert found.psnr >= INVERSION_PSNR, found.message
    others = h.generate(pg, C, seed=8, num=16).images  # where a random latent starts: far below
    assert float(np.max(psnr(others, np.broadcast_to(found.target, others.shape)))) < found.psnr - 10
    assert f"PSNR {found.psnr:.1f} dB" in found.message and "500 steps x 8 restarts" in found.message
    assert progress[-1] == (500, 500) and len(progress) == 20
    # The latent reproduces the reconstruction, and the sliders then edit it.
    np.testing.assert_allclose(generate_latents(pg, found.latent[None])[0], found.reconstruction, atol=1e-5)
    np.testing.assert_allclose(h.edit(pg, C, found.latent, [0.0] * 5).image, found.reconstruction, atol=1e-5)


def test_inversion_reports_each_chunk_to_the_page_and_computes_what_gan_jax_invert_computes(pg):
    from gan_jax import sampling
    from gan_jax.edit import invert_with_progress
    from gan_jax.play import inversion

    g = sampling.latent_generator(pg.config)
    variables, _ = pg.model.variables()
    target = jax.numpy.asarray(h.generate(pg, C, seed=1, num=1).images)
    options = dict(z_dim=pg.config.z_dim, features=pg.model.d_features, feature_variables=pg.model.d_variables(),
                   steps=h.INVERT_STEPS, restarts=h.INVERT_RESTARTS)  # the page's: compiled once for both
    reported = []
    ours = inversion.invert(g, variables, target, jax.random.PRNGKey(0), max_chunks=4,
                            on_progress=lambda done, steps: reported.append((done, steps)), **options)
    chunk = h.INVERT_STEPS // len(reported)
    assert 1 < len(reported) <= 4 and reported == [(chunk * (i + 1), h.INVERT_STEPS) for i in range(len(reported))]
    theirs = invert_with_progress(g, variables, target, jax.random.PRNGKey(0), **options)
    np.testing.assert_allclose(ours.latents, theirs.latents, atol=1e-6)
    np.testing.assert_allclose(ours.curves, theirs.curves, rtol=1e-6)


def test_uploads_of_another_size_or_channels_are_converted_and_the_page_says_so(pg, tmp_path):
    rgb = np.zeros((40, 56, 3), np.uint8)
    rgb[10:30, 20:36] = (255, 128, 0)
    image, notes = uploads.fit(rgb, 28, 1)
    assert image.shape == (28, 28, 1) and image.dtype == np.float32
    assert notes == ["converted RGB to greyscale", "resized from 56x40 to 28x28 (centre-cropped to a square)"]
    assert uploads.fit(np.zeros((28, 28, 1), np.uint8), 28, 1)[1] == []
    path = tmp_path / "big.png"
    Image.fromarray(rgb).save(path)
    found = h.invert(pg, C, str(path))
    assert found.target.shape == (28, 28, 1)
    assert "converted RGB to greyscale; resized from 56x40 to 28x28" in found.message
    grey, notes = uploads.fit_channels(np.zeros((900, 300, 1), np.uint8), 3, max_side=450)
    assert grey.shape == (450, 150, 3) and notes == ["converted greyscale to RGB", "shrunk from 300x900 to 150x450"]


def test_an_upload_that_is_not_an_image_is_a_clear_message(pg, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is text, not a PNG")
    with pytest.raises(UserError, match=r"upload notes.png: not an image \(UnidentifiedImageError\); expected an "
                       r"image file"):
        h.invert(pg, C, str(path))
    with pytest.raises(UserError, match="image: no image"):
        h.inpaint(pg, C, None, [])
    with pytest.raises(UserError, match=r"upload: an array of shape \[4\]"):
        h.model_input(pg, np.zeros(4))


def test_inpaint_fills_the_hole_only_and_an_empty_mask_changes_nothing(pg):
    image = h.generate(pg, C, seed=5, num=1).images[0]
    pixels = to_uint8(image)
    brush = np.zeros((28 * 9, 28 * 9, 4), np.uint8)  # the editor shows the image 9 times enlarged
    brush[9 * 8:9 * 20, 9 * 10:9 * 18, 3] = 255  # painted: rows 8..19, columns 10..17
    found = h.inpaint(pg, C, pixels, [brush], steps=100)
    hole = found.mask[..., 0] > 0.5
    assert hole.sum() == 12 * 8 and hole[8:20, 10:18].all()
    assert np.array_equal(found.filled[~hole], found.image[~hole])  # known pixels exactly as they were
    assert np.array_equal(found.baseline[~hole], found.image[~hole])
    assert np.abs(found.filled[hole] - found.baseline[hole]).max() > 1e-3
    assert "96 of 784 pixels filled by latent optimisation (100 steps)" in found.message
    empty = h.inpaint(pg, C, pixels, [np.zeros_like(brush)])
    assert np.array_equal(empty.filled, empty.image) and np.array_equal(empty.image, uploads.fit(pixels, 28, 1)[0])
    assert empty.message.startswith("the mask covers nothing")
    full = brush.copy()
    full[..., 3] = 255
    with pytest.raises(UserError, match="the mask covers everything"):
        h.inpaint(pg, C, pixels, [full])
    white = np.zeros((28, 28), np.uint8)
    white[:4] = 255  # a mask image without alpha: white = missing, as gan-jax inpaint --mask reads it
    assert uploads.brush_mask([white], (28, 28))[..., 0].sum() == 4 * 28


def test_no_checkpoint_yet_says_so_and_the_page_follows_the_run_once_it_trains(tmp_path):
    config = tiny_config(["steps=2", "checkpoint_every=2", "sample_every=2", "log_every=1"])
    workdir = config_only(tmp_path / "fresh", config)
    pg = h.Playground.open(workdir, str(tmp_path))
    seen = h.watch(pg)
    assert "no metrics logged yet" in seen.status and "no checkpoint yet (the page keeps watching)" in seen.status
    assert seen.grid is None and seen.checkpoints == ["latest"]
    with pytest.raises(NoCheckpointYet, match="no checkpoint yet in .*: the page keeps watching"):
        h.generate(pg, C)
    train_run(workdir, config)  # gan-jax train writes into the watched directory
    seen = h.watch(pg)
    assert seen.status.startswith("step 2 of 2") and seen.grid_step == 2 and seen.checkpoints == ["latest", "2"]
    assert h.generate(pg, C, num=2).step == 2


def test_a_class_out_of_range_is_a_clear_message(tmp_path):
    config = tiny_config(name="dcgan_cond_mnist")
    pg = h.Playground.open(config_only(tmp_path / "cond", config), str(tmp_path))
    for label in (10, -1, None):
        with pytest.raises(UserError, match=r"class .*: expected a class in 0..9"):
            h.generate(pg, h.Controls(label=label))
        with pytest.raises(UserError, match=r"expected a class in 0..9"):
            h.edit(pg, h.Controls(label=label), np.zeros(100, np.float32), [0.0] * 5)
    with pytest.raises(NoCheckpointYet):  # a valid class gets as far as the weights
        h.generate(pg, h.Controls(label=9))


def test_image_to_image_runs_translate_beside_the_plain_baseline(tmp_path):
    from gan_jax.play import baselines

    run = untrained_run(tmp_path / "srgan", configs.override(configs.get("srgan_x4"), SRGAN))
    pg = h.Playground.open(run, str(tmp_path))
    assert not pg.latent and h.translates(pg)
    rgb = np.random.default_rng(0).integers(0, 256, (20, 37, 3), np.uint8)
    found = h.translate(pg, C, rgb)
    assert found.output.shape == (40, 74, 3) and found.baseline.shape == (40, 74, 3)
    np.testing.assert_allclose(found.baseline, baselines.bicubic(found.source, 2))
    assert "srgan a2b, step 0; beside it bicubic x2" in found.message
    grey = h.translate(pg, C, rgb[..., :1])
    assert grey.source.shape == (20, 37, 3) and "converted greyscale to RGB" in grey.message
    with pytest.raises(UserError, match="has no latent space"):
        h.generate(pg, C)
    blurred = baselines.blur(np.full((8, 8, 1), 0.5, np.float32))
    np.testing.assert_allclose(blurred, 0.5, atol=1 / 127.5)  # a blur leaves a flat image flat


def test_a_classifier_adds_one_slider_per_class(run, tmp_path):
    from gan_jax.metrics.classifier import Classifier, ClassifierNet

    net = ClassifierNet(3, 16)  # an untrained 3-class classifier: its boundaries are directions all the same
    params = net.init(jax.random.PRNGKey(0), np.zeros((1, 28, 28, 1), np.float32))["params"]
    classifier = Classifier(net, params, {"num_classes": 3, "features": 16, "image_shape": [28, 28, 1]})
    pg = h.Playground.open(run, str(tmp_path), sefa=2, classifier=classifier)
    pg.model.classifier_samples = 128
    assert h.directions(pg, C) == ("SeFa 0", "SeFa 1", "towards class 0", "towards class 1", "towards class 2")
    vectors = pg.model.directions().vectors
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    z = h.latent(pg, C, 0, 0)
    moved = h.edit(pg, C, z, [0, 0, 0, 5.0, 0])
    np.testing.assert_allclose(moved.image, generate_latents(pg, (z + 5.0 * vectors[3])[None])[0], atol=1e-5)
    assert "towards class 1 +5" in moved.message


def test_a_run_trained_for_inpainting_fills_with_its_model(tmp_path):
    config = configs.override(configs.get("inpaint_fashion"), ["dataset=mnist5k", "holdout_dataset=mnist5k",
                                                               "g_width=4", "d_width=4", "fast_conv=false"])
    pg = h.Playground.open(untrained_run(tmp_path / "inpaint", config), str(tmp_path))
    assert not pg.latent and not h.translates(pg)
    image = np.random.default_rng(0).integers(0, 256, (30, 40, 1), np.uint8)  # any size: the model tiles
    brush = np.zeros((30, 40, 4), np.uint8)
    brush[10:20, 10:30, 3] = 255
    found = h.inpaint(pg, C, image, [brush])
    hole = found.mask[..., 0] > 0.5
    assert found.filled.shape == (30, 40, 1) and hole.sum() == 200
    assert np.array_equal(found.filled[~hole], found.image[~hole])
    assert "200 of 1200 pixels filled by the run's inpainting model, step 0" in found.message


def test_a_conditional_run_draws_the_class_asked_for_and_mixes_classes(tmp_path):
    pg = h.Playground.open(untrained_run(tmp_path / "cond", tiny_config(name="dcgan_cond_mnist")), str(tmp_path))
    three, five = h.Controls(label=3), h.Controls(label=5)
    z = h.latent(pg, three, 0, 0)
    as_three = h.image(pg, three, 0, 0).image
    as_five = h.image(pg, five, 0, 0).image
    assert np.abs(as_three - as_five).max() > 1e-4  # (untrained, but its per-class parameters differ)
    np.testing.assert_allclose(h.edit(pg, three, z, [0.0] * 5, target=5, mix=0.0).image, as_three, atol=1e-5)
    mixed = h.edit(pg, three, z, [0.0] * 5, target=5, mix=1.0)  # class 3's parameters replaced by class 5's
    np.testing.assert_allclose(mixed.image, as_five, atol=1e-5)
    assert "class 3 -> 5 by 1" in mixed.message
    with pytest.raises(UserError, match=r"class 10: expected a class in 0..9"):
        h.edit(pg, three, z, [0.0] * 5, target=10, mix=0.5)
    assert h.generate(pg, h.Controls(label=7), seed=0, num=3).message.startswith("3 images, seed 0, step 0 (EMA, "
                                                                                 "class 7")
