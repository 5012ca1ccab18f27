"""Image-to-image tasks: paired/unpaired data, the pix2pix/inpaint/SRGAN/CycleGAN steps (history
pool, pmap and sharding equal to one device), tiled inference, configs."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from gan_jax import configs
from gan_jax.configs import Config
from gan_jax.data import Batches, load_source
from gan_jax.tasks import data_source as source_for
from gan_jax.data import paired
from gan_jax.data.photos import SPLITS, read_photo
from gan_jax.errors import UserError
from gan_jax.tasks.cycle import pool_query
from gan_jax.parallel import make_parallel_step
from gan_jax.tasks import init_state
from gan_jax.tasks import make_train_step
from gan_jax.translate import tiled
from treediff import rel_diff

# One xdist worker runs this file: its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("test_img2img")

PIX2PIX = Config(task="pix2pix", model="unet", degrade="noise", dataset="photos:train",
                 holdout_dataset="photos:heldout", resolution=32, channels=3, g_width=4, d_width=4, batch_size=8,
                 fast_conv=False, lr_g=1e-3)
# Width 8: at width 4 some instance-normalised channels are nearly constant, and dividing by their
# tiny spread amplifies float rounding to ~1e-3 between device layouts.
CYCLE = Config(task="cyclegan", model="unet", dataset="mnist5k#1", dataset_b="mnist5k#7", d_norm="instance",
               loss="least_squares", resolution=28, channels=1, g_width=8, d_width=8, batch_size=8, pool_size=4,
               fast_conv=False)

SRGAN = Config(task="srgan", model="srgan", dataset="photos:train", resolution=32, channels=3, scale=2, g_width=4,
               d_width=4, batch_size=8, feature_weight=1.0, fast_conv=False)


# --- data -----------------------------------------------------------------------------------

def test_heldout_photos_never_in_train_patches():
    assert not set(SPLITS["train"]) & set(SPLITS["heldout"])
    train = load_source("photos:train", resolution=32, channels=3)
    held = load_source("photos:heldout", resolution=32, channels=1)
    assert {id(p) for p in train.photos} == {id(read_photo(n)) for n in SPLITS["train"]}
    assert {id(p) for p in held.photos} == {id(read_photo(n)) for n in SPLITS["heldout"]}
    patches, labels = train.get(np.arange(5))
    assert patches.shape == (5, 32, 32, 3) and patches.dtype == np.uint8 and labels is None
    np.testing.assert_array_equal(train.get([3])[0], patches[3:4])  # item i is always the same patch
    assert held.get([0])[0].shape == (1, 32, 32, 1)
    with pytest.raises(UserError, match="photos:nope"):
        load_source("photos:nope", resolution=32, channels=3)


def test_degradations():
    rng = np.random.default_rng(0)
    x = np.clip(rng.normal(0, 0.5, (4, 16, 16, 3)), -1, 1).astype(np.float32)
    noisy = paired.add_noise(x, 0.1, np.random.default_rng(1))
    assert noisy.shape == x.shape and noisy.min() >= -1 and noisy.max() <= 1
    assert 0.15 < np.std(noisy - x) < 0.2  # 2 * sigma on [-1, 1], a little less after clipping
    grey = paired.greyscale(x)
    assert grey.shape == x.shape and np.all(grey[..., 0] == grey[..., 2])
    step = np.where(np.arange(16) < 8, -1.0, 1.0).astype(np.float32)
    edges = paired.sobel_edges(np.broadcast_to(step[None, None, :, None], (1, 16, 16, 1)))
    assert set(np.unique(edges)) == {-1.0, 1.0} and np.all(edges[0, :, 7:9] == -1) and np.all(edges[0, :, :6] == 1)
    flat = np.full((2, 16, 16, 3), 0.3, np.float32)
    small = paired.downscale(flat, 4)
    assert small.shape == (2, 4, 4, 3) and np.allclose(small, 0.3, atol=1e-5)
    m = paired.masks("mask_center", 3, 28, rng)
    assert m.shape == (3, 28, 28, 1) and m.sum() == 3 * 14 * 14
    src = paired.inpaint_source(np.full((3, 28, 28, 1), 0.5, np.float32), m)
    assert src.shape == (3, 28, 28, 2) and np.all(src[..., 0] == 0.5 * (1 - m[..., 0]))
    np.testing.assert_array_equal(src[..., 1:], m)
    boxes = paired.masks("mask_box", 2, 28, rng)
    assert boxes.shape == (2, 28, 28, 1) and 0 < boxes.mean() < 1


def test_paired_and_unpaired_batches_resume_exactly():
    source = source_for(PIX2PIX)
    with Batches(source, 4, seed=3, prefetch=0) as it:
        first = [next(it) for _ in range(2)]
    with Batches(source, 4, seed=3, start_step=1, prefetch=0) as it:
        resumed = next(it)
    for k in ("source", "target"):
        np.testing.assert_array_equal(resumed[k], first[1][k])
    assert first[0]["source"].shape == (4, 32, 32, 3) and not np.array_equal(first[0]["source"], first[0]["target"])
    sr = source_for(dataclasses.replace(PIX2PIX, task="srgan", model="srgan", degrade="", scale=4), "heldout")
    assert sr.make_batch([0, 1], np.random.default_rng(0))["source"].shape == (2, 8, 8, 3)
    unpaired = source_for(CYCLE)
    batch = Batches(unpaired, 4, seed=0, prefetch=0).batch(0)
    assert batch["a"].shape == batch["b"].shape == (4, 28, 28, 1)
    with pytest.raises(UserError, match="class"):
        paired.load_domain("mnist5k#12", resolution=28, channels=1)


@pytest.fixture(scope="module")
def cycle_tfds_dir(tmp_path_factory):
    """A tiny array_record TFDS dataset laid out like ``cycle_gan/*``: splits trainA and trainB."""
    import tensorflow_datasets as tfds

    class GanJaxCycleTiny(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(12, 12, 3)), "label": tfds.features.ClassLabel(num_classes=2)}))

        def _split_generators(self, dl_manager):
            return {"trainA": self._generate_examples(0, 3, 0), "trainB": self._generate_examples(3, 8, 1)}

        def _generate_examples(self, lo, hi, label):
            for i in range(lo, hi):
                yield i, {"image": Image.fromarray(np.full((12, 12, 3), 30 * i, np.uint8)), "label": label}

    data_dir = tmp_path_factory.mktemp("tfds_cycle")
    GanJaxCycleTiny(data_dir=str(data_dir), file_format="array_record").download_and_prepare()
    return data_dir


def test_cyclegan_tfds_domains(cycle_tfds_dir):
    config = dataclasses.replace(CYCLE, dataset="tfds:gan_jax_cycle_tiny:trainA", resolution=32, channels=3,
                                 dataset_b="tfds:gan_jax_cycle_tiny:trainB", tfds_data_dir=str(cycle_tfds_dir))
    source = source_for(config)
    assert len(source.a) == 3 and len(source.b) == 5
    batch = source.make_batch([0, 1, 2], np.random.default_rng(0))
    assert batch["a"].shape == (3, 32, 32, 3)
    a_values = sorted(np.round((batch["a"][:, 0, 0, 0] + 1) * 127.5).astype(int).tolist())
    assert a_values == [0, 30, 60] and np.all(np.round((batch["b"][:, 0, 0, 0] + 1) * 127.5) >= 90)


# --- steps ----------------------------------------------------------------------------------

def test_history_pool_semantics():
    fakes = jnp.arange(1.0, 4.0)[:, None]  # three fakes [3, 1]
    empty = jnp.zeros((2, 1))
    shown, pool, count = pool_query(empty, jnp.int32(0), fakes, jax.random.PRNGKey(0))
    # Not yet full: the first two are stored and shown; the third meets a full pool.
    assert int(count) == 2 and set(np.asarray(pool)[:, 0].tolist()) <= {1.0, 2.0, 3.0}
    assert np.asarray(shown)[:2, 0].tolist() == [1.0, 2.0]
    new = jnp.arange(10.0, 74.0)[:, None]
    outs = [pool_query(pool, count, new, jax.random.PRNGKey(k)) for k in (1, 1, 2)]
    for a, b in zip(outs[0], outs[1]):
        np.testing.assert_array_equal(a, b)  # the same key gives the same result
    shown, new_pool, _ = outs[0]
    s, fresh = np.asarray(shown)[:, 0], np.asarray(new)[:, 0]
    reused = s != fresh
    assert 16 < reused.sum() < 48  # about half are stored fakes, the others the new fakes themselves
    for i in np.flatnonzero(reused):  # a stored fake: one of the old pool or a new fake stored before it
        assert s[i] in set(np.asarray(pool)[:, 0].tolist()) | set(fresh[:i].tolist())
    # The pool only ever holds fakes; each reuse stored the new fake in its place.
    assert set(np.asarray(new_pool)[:, 0].tolist()) <= set(np.asarray(pool)[:, 0].tolist()) | set(fresh.tolist())
    assert not np.array_equal(np.asarray(outs[2][0]), np.asarray(shown))


def test_pix2pix_step_reduces_l1_on_a_tiny_batch():
    config = PIX2PIX  # the same step as the pmap test's single-device one: compiled once per session
    batch = Batches(source_for(config), config.batch_size, seed=0, prefetch=0).batch(0)
    step = jax.jit(make_train_step(config))
    state = init_state(config)
    l1 = []
    for _ in range(25):
        state, metrics = step(state, batch)
        l1.append(float(metrics["l1"]))
    assert int(state.step) == 25 and int(metrics["nonfinite"]) == 0
    assert np.all(np.diff(l1[::4]) < 0) and np.mean(l1[-3:]) < 0.85 * l1[0], l1  # from the noisy input's L1


@pytest.mark.parametrize("config", [PIX2PIX, CYCLE, pytest.param(SRGAN, marks=pytest.mark.slow)],
                         ids=["pix2pix", "cyclegan", "srgan"])  # srgan: the paired step again, ~35 s: -m slow
def test_pmap_and_sharding_over_4_devices_equal_single_device(config):
    assert jax.local_device_count() == 4, "conftest sets 4 virtual CPU devices"
    batch = Batches(source_for(config), config.batch_size, seed=0, prefetch=0).batch(0)
    state = init_state(config)
    if config.task == "cyclegan":  # a full pool, so the step both stores and reuses fakes
        state = state.replace(pool={**state.pool, "count": jnp.int32(config.pool_size)})
    single, m_single = jax.jit(make_train_step(config))(state, batch)
    # (The CLI tests train all three with parallel=auto, i.e. sharding over the 4 devices.)
    modes = ("pmap", "sharding") if config.task == "pix2pix" else ("pmap",)
    for mode in modes:
        runner = make_parallel_step(config, mode)
        out, m = runner.step(runner.put_state(state), runner.put_batch(batch))
        out, m = runner.get_state(out), runner.get_metrics(m)
        for name in ("g_params", "d_params", "g_opt", "d_opt", "g_stats", "d_stats", "pool"):
            assert rel_diff(getattr(out, name), getattr(single, name), allow_empty=True) <= 1e-5, (mode, name)
        np.testing.assert_allclose(float(m["d_loss"]), float(m_single["d_loss"]), rtol=1e-5)
    if config.task == "cyclegan":
        assert rel_diff(single.pool["a"], state.pool["a"]) > 0  # the pool took some of this step's fakes


def test_tiled_inference_equals_whole_image_for_a_pointwise_function():
    image = np.random.default_rng(0).uniform(-1, 1, (37, 50, 2)).astype(np.float32)
    fn = lambda t: np.repeat(np.repeat(t[..., :1] * 0.5, 2, 1), 2, 2)  # noqa: E731 - pointwise, x2
    out = tiled(fn, image, tile=16, overlap=4, scale=2, chunk=3)
    np.testing.assert_allclose(out, fn(image[None])[0], atol=1e-6)
    small = tiled(fn, image[:5, :7], tile=16, overlap=4, scale=2)  # smaller than a tile: padded, cropped back
    np.testing.assert_allclose(small, fn(image[None, :5, :7])[0], atol=1e-6)


def test_img2img_configs_validate():
    for name in ("pix2pix_denoise", "pix2pix_colorize", "pix2pix_edges_fashion", "inpaint_fashion", "srgan_x4",
                 "cyclegan_fashion"):
        configs.validate(configs.get(name))
    bad = [(PIX2PIX, ["degrade=blur"], "degrade"), (PIX2PIX, ["model=dcgan"], "model"),
           (PIX2PIX, ["scale=3"], "scale"), (CYCLE, ["dataset_b="], "dataset_b"),
           (PIX2PIX, ["l1_weight=-1"], "l1_weight"), (PIX2PIX, ["n_critic=2"], "task=pix2pix"), (PIX2PIX, ["fresh_reals=true"], "fresh_reals"),
           (Config(), ["d_norm=instance"], "instance"), (Config(), ["degrade=noise"], "degrade")]
    for config, sets, culprit in bad:
        with pytest.raises(UserError, match=culprit):
            configs.validate(configs.override(config, sets))
