"""The input pipelines (gan_jax.data.pipeline, gan_jax.data.grain_pipeline): Grain yields the
in-memory pipeline's batches, shards by process, resumes exactly from its checkpointed
iterator state; ``auto`` picks by size; a bad ``input_pipeline`` is a clear error."""
import dataclasses
import json
import os
import pickle

import jax
import numpy as np
import pytest
from PIL import Image

from gan_jax import data
from gan_jax.checkpoint import Checkpoints, signature
from gan_jax.configs import Config
from gan_jax.data import pipeline
from gan_jax.data.batches import Batches
from gan_jax.data.folder import FolderSource
from gan_jax.data.grain_pipeline import GrainBatches, shard_options
from gan_jax.data.load import load_source
from gan_jax.errors import UserError
from gan_jax.tasks import abstract_state
from gan_jax.train import train

pytestmark = pytest.mark.xdist_group("test_grain_pipeline")  # module-scoped fixtures: built once

N, B, R = 24, 8, 8  # images, batch, resolution: 3 steps an epoch


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """24 distinct PNGs (12 in each of two class folders), not square and larger than R."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(N):
        d = root / ("cats" if i % 2 else "dogs")
        d.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(d / f"{i:02d}.png")
    return str(root)


def _lazy(folder, channels=3):
    return load_source(f"folder:{folder}", resolution=R, channels=channels, pipeline="grain")


def _take(feed, n):
    return [next(feed) for _ in range(n)]


def _assert_same(batches_a, batches_b):
    assert len(batches_a) == len(batches_b)
    for a, b in zip(batches_a, batches_b):
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


def test_grain_yields_the_memory_pipelines_batches(folder):
    memory, lazy = load_source(f"folder:{folder}", resolution=R, channels=3, pipeline="memory"), _lazy(folder)
    assert not pipeline.is_lazy(memory) and isinstance(lazy, FolderSource) and pipeline.is_lazy(lazy)
    with Batches(memory, B, seed=5, with_labels=True) as m, \
            GrainBatches(lazy, B, seed=5, workers=0, shard=shard_options(0, 1), with_labels=True) as g:
        want, got = _take(m, 2 * N // B), _take(g, 2 * N // B)
    _assert_same(got, want)
    for batch in got:
        x = batch["image"]
        assert x.shape == (B, R, R, 3) and x.dtype == np.float32
        assert -1.0 <= x.min() and x.max() <= 1.0 and x.std() > 0.1
    # Each epoch shows every image once: the multiset of an epoch's images is the data set's.
    all_images = memory.get(np.arange(N))[0].astype(np.float32) / 127.5 - 1.0
    for epoch in (got[:3], got[3:]):
        shown = np.concatenate([b["image"] for b in epoch]).reshape(N, -1)
        np.testing.assert_array_equal(np.unique(shown, axis=0), np.unique(all_images.reshape(N, -1), axis=0))
    assert sorted(np.concatenate([b["label"] for b in got[:3]]).tolist()) == [0] * 12 + [1] * 12
    assert not np.array_equal(got[0]["image"], got[3]["image"])  # epochs are shuffled differently


def test_two_processes_get_disjoint_shards_covering_the_set(folder):
    lazy = _lazy(folder, channels=1)
    shards = []
    for i in range(2):
        with GrainBatches(lazy, B, seed=1, workers=0, shard=shard_options(i, 2)) as g:
            shards.append(_take(g, N // B))
    with Batches(lazy, B, seed=1) as m:
        whole = _take(m, N // B)
    seen = []
    for step in range(N // B):
        a, b = shards[0][step]["image"], shards[1][step]["image"]
        assert a.shape == b.shape == (B // 2, R, R, 1)
        np.testing.assert_array_equal(np.concatenate([a, b]), whole[step]["image"])  # process 0's rows, then 1's
        seen += [x.tobytes() for x in np.concatenate([a, b])]
    assert len(set(seen)) == len(seen) == N  # disjoint, and together the whole epoch
    # Grain's ShardByJaxProcess: this (one) JAX process is shard 0 of 1.
    default = shard_options()
    assert (default.shard_index, default.shard_count) == (jax.process_index(), jax.process_count())


def test_resume_from_the_checkpointed_iterator_state_is_exact(folder):
    lazy = _lazy(folder)
    with GrainBatches(lazy, B, seed=2, workers=0, shard=shard_options(0, 1)) as g:
        uninterrupted = _take(g, 7)
        state = json.loads(json.dumps(g.data_state(4)))  # the loop is past step 4: kept anyway
    assert state["pipeline"] == "grain" and state["step"] == 4 and state["iterator"]
    with GrainBatches(lazy, B, seed=2, start_step=4, workers=0, shard=shard_options(0, 1), resume=state) as g:
        assert g.resumed
        _assert_same(_take(g, 3), uninterrupted[4:])
    # A state that does not fit (another seed) is not used: the position is the step, same batches.
    with GrainBatches(lazy, B, seed=2, start_step=4, workers=0, shard=shard_options(0, 1),
                      resume={**state, "seed": 3}) as g:
        assert not g.resumed
        _assert_same(_take(g, 3), uninterrupted[4:])


def test_worker_processes_decode_the_same_batches_and_resume(folder):
    lazy = _lazy(folder)
    with Batches(lazy, B, seed=4) as m:
        want = _take(m, 6)
    with GrainBatches(lazy, B, seed=4, workers=1, shard=shard_options(0, 1)) as g:
        _assert_same(_take(g, 4), want[:4])
        state = json.loads(json.dumps(g.data_state(2)))
    assert state["workers"] == 1
    with GrainBatches(lazy, B, seed=4, start_step=2, workers=1, shard=shard_options(0, 1), resume=state) as g:
        assert g.resumed
        _assert_same(_take(g, 4), want[2:])


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    """A tiny array_record TFDS dataset 'gan_jax_grain_tiny' (12 8x8 RGB images, 3 classes)."""
    import tensorflow_datasets as tfds

    class GanJaxGrainTiny(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(8, 8, 3)), "label": tfds.features.ClassLabel(num_classes=3)}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples()}

        def _generate_examples(self):
            for i in range(12):
                yield i, {"image": Image.fromarray(np.full((8, 8, 3), 20 * i, np.uint8)), "label": i % 3}

    data_dir = tmp_path_factory.mktemp("tfds")
    GanJaxGrainTiny(data_dir=str(data_dir), file_format="array_record").download_and_prepare()
    return str(data_dir)


def test_grain_over_the_tfds_data_source(tfds_dir):
    src = load_source("tfds:gan_jax_grain_tiny", resolution=8, channels=3, tfds_data_dir=tfds_dir)
    assert pipeline.is_lazy(src) and data.choose_pipeline("auto", src, limit=12 * 8 * 8 * 3 - 1)[0] == "grain"
    with Batches(src, 4, seed=0, with_labels=True) as m, \
            GrainBatches(src, 4, seed=0, workers=0, shard=shard_options(0, 1), with_labels=True) as g:
        _assert_same(_take(g, 6), _take(m, 6))
    # What a worker process receives: the source pickled, reading the same records.
    again = pickle.loads(pickle.dumps(src))
    for a, b in zip(again.get([3, 0, 7]), src.get([3, 0, 7])):
        np.testing.assert_array_equal(a, b)


def test_a_broken_file_fails_when_read_naming_it(tmp_path):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\nnot a png")
    lazy = load_source(f"folder:{tmp_path}", resolution=8, channels=1, pipeline="grain")  # only listed
    with GrainBatches(lazy, 2, seed=0, workers=0, shard=shard_options(0, 1)) as g:
        with pytest.raises(UserError, match="b.png"):
            next(g)


def test_auto_keeps_a_small_set_in_memory_and_streams_a_large_one(folder, monkeypatch):
    small = load_source(f"folder:{folder}", resolution=R, channels=3)  # auto: 24 x 8 x 8 x 3 bytes
    assert not pipeline.is_lazy(small) and small.images.shape == (N, R, R, 3)
    assert data.choose_pipeline("auto", small) == ("memory", None)
    lazy = _lazy(folder)
    assert pipeline.decoded_nbytes(lazy) == N * R * R * 3
    assert data.choose_pipeline("auto", lazy) == ("memory", None)  # lazy but small
    assert data.choose_pipeline("auto", lazy, limit=N * R * R * 3 - 1) == ("grain", None)
    assert data.choose_pipeline("memory", lazy) == ("memory", None)
    assert data.choose_pipeline("grain:2", small) == ("grain", 2)
    # Above the threshold a folder is only listed, and training would read it through Grain.
    monkeypatch.setattr(pipeline, "MEMORY_LIMIT_BYTES", N * R * R * 3 - 1)
    large = load_source(f"folder:{folder}", resolution=R, channels=3)
    assert isinstance(large, FolderSource) and "images" not in vars(large)
    assert data.choose_pipeline("auto", large) == ("grain", None)
    # The memory pipeline decodes a lazy folder whole (paired sources: their base).
    assert not pipeline.is_lazy(data.in_memory(large))
    paired = data.in_memory(data.PairedSource(large, "grey"))
    assert not pipeline.is_lazy(paired) and paired.base.images.shape == (N, R, R, 3)


@pytest.mark.parametrize("bad", ["fast", "Grain", "grain:two", "memory:1", ""])
def test_a_bad_input_pipeline_is_an_error_naming_the_option(bad, tmp_path):
    with pytest.raises(UserError, match="input_pipeline=") as e:
        data.parse_pipeline(bad)
    assert "auto, memory, grain" in str(e.value)
    with pytest.raises(UserError, match="input_pipeline="):
        load_source("mnist5k", resolution=28, channels=1, pipeline=bad)
    with pytest.raises(UserError, match="input_pipeline="):
        train(Config(input_pipeline=bad), str(tmp_path / "run"), progress=False)
    assert not (tmp_path / "run").exists()


def test_training_through_grain_resumes_exactly_and_matches_memory(tiny_config, tmp_path):
    """dcgan at 28 px grey on a folder: Grain (checkpointed iterator state, a resume at step 2)
    ends bit for bit where an uninterrupted in-memory run ends."""
    root = tmp_path / "digits"
    root.mkdir()
    rng = np.random.default_rng(1)
    for i in range(N):
        Image.fromarray(rng.integers(0, 256, (30, 28), dtype=np.uint8)).save(root / f"{i:02d}.png")
    config = dataclasses.replace(tiny_config, dataset=f"folder:{root}", parallel="jit", steps=4,
                                 checkpoint_every=2, checkpoint_async=False)
    train(dataclasses.replace(config, input_pipeline="memory"), str(tmp_path / "memory"), progress=False)
    grain_run = str(tmp_path / "grain")
    train(dataclasses.replace(config, input_pipeline="grain:0", steps=2), grain_run, progress=False)
    ckpts = Checkpoints(os.path.join(grain_run, "checkpoints"))
    (saved,) = ckpts.meta(2)["data"]
    assert saved["pipeline"] == "grain" and saved["step"] == 2 and saved["iterator"] == {"next_index": 2}
    train(dataclasses.replace(config, input_pipeline="grain:0"), grain_run, progress=False)

    def final(workdir):
        return Checkpoints(os.path.join(workdir, "checkpoints")).restore(
            abstract_state(config), signature(config))[0]
    a, b = final(str(tmp_path / "memory")), final(grain_run)
    assert int(a.step) == int(b.step) == 4
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert Checkpoints(os.path.join(str(tmp_path / "memory"), "checkpoints")).meta(4)["data"] == [
        {"pipeline": "memory", "step": 4}]
