"""Tests for gan_jax.data: sources (mnist5k, idx, folder, tfds, fashion_mnist),
to_float, batch_indices and the prefetching Batches iterator. No network."""
import gzip
import os
import struct
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from gan_jax.data import Batches, ImageSource, batch_indices, load_source, to_float
from gan_jax.data.idx import FASHION_MNIST_DIR
from gan_jax.errors import UserError

# One xdist worker runs this file: its module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("test_data")


def one_line(e) -> str:
    msg = str(e.value)
    assert "\n" not in msg, msg
    return msg


# --- mnist5k / to_float -------------------------------------------------------

def test_mnist5k_shape_labels_and_range():
    src = load_source("mnist5k", resolution=28, channels=1)
    assert len(src) == 5000 and (src.resolution, src.channels, src.num_classes) == (28, 1, 10)
    images, labels = src.get(np.arange(5000))
    assert images.shape == (5000, 28, 28, 1) and images.dtype == np.uint8
    assert labels.dtype == np.int32
    assert np.bincount(labels).tolist() == [500] * 10
    x = to_float(images)
    assert x.dtype == np.float32 and x.min() == -1.0 and x.max() == 1.0
    assert 0.05 < (x > 0).mean() < 0.3            # digits: mostly background


def test_mnist5k_held_out_split_is_every_tenth_digit_and_disjoint():
    full = load_source("mnist5k", resolution=28, channels=1).get(np.arange(5000))[0]
    test = load_source("mnist5k:test", resolution=28, channels=1)
    train = load_source("mnist5k:train", resolution=28, channels=1)
    assert (len(test), len(train)) == (500, 4500)
    assert np.bincount(test.labels).tolist() == [50] * 10  # the rows are sorted by class
    np.testing.assert_array_equal(test.get(np.arange(500))[0], full[::10])
    train_rows = {row.tobytes() for row in train.get(np.arange(4500))[0]}
    assert not any(row.tobytes() in train_rows for row in test.get(np.arange(500))[0])
    with pytest.raises(UserError, match=r"mnist5k\[:train\|test\]"):
        load_source("mnist5k:val", resolution=28, channels=1)


def test_mnist5k_resized_to_rgb32():
    src = load_source("mnist5k", resolution=32, channels=3)
    images, _ = src.get(np.array([0, 4999]))
    assert images.shape == (2, 32, 32, 3)
    assert (images[..., 0] == images[..., 2]).all()     # grey replicated
    assert images.max() > 200


def test_to_float_values():
    x = to_float(np.array([0, 127, 255], np.uint8))
    np.testing.assert_allclose(x, [-1.0, 127 / 127.5 - 1, 1.0], rtol=1e-6)


def test_unknown_spec_and_bad_target():
    with pytest.raises(UserError) as e:
        load_source("cifar10", resolution=32, channels=3)
    assert "tfds:NAME" in one_line(e) and "folder:PATH" in str(e.value)
    with pytest.raises(UserError, match="channels"):
        load_source("mnist5k", resolution=28, channels=2)
    with pytest.raises(UserError, match="resolution"):
        load_source("mnist5k", resolution=0, channels=1)


# --- idx -------------------------------------------------------------------------

def idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.uint8: 0x08, np.int32: 0x0C}[arr.dtype.type]
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx(path, arr, gz=False):
    data = idx_bytes(arr)
    with open(path, "wb") as f:
        f.write(gzip.compress(data) if gz else data)


@pytest.fixture
def idx_dir(tmp_path):
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (5, 6, 6), dtype=np.uint8)
    test = rng.integers(0, 256, (3, 6, 6), dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", train, gz=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(5, dtype=np.uint8), gz=True)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", test)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([7, 8, 9], np.uint8))
    return tmp_path, np.concatenate([train, test])[..., None]


def test_idx_directory_gz_and_plain(idx_dir):
    path, expected = idx_dir
    src = load_source(f"idx:{path}", resolution=6, channels=1)
    images, labels = src.get(np.arange(len(src)))
    np.testing.assert_array_equal(images, expected)         # train first, then t10k
    assert labels.tolist() == [0, 1, 2, 3, 4, 7, 8, 9] and src.num_classes == 10


def test_idx_single_file_resize_and_rgb(idx_dir):
    path, expected = idx_dir
    src = load_source(f"idx:{path / 't10k-images-idx3-ubyte'}", resolution=8, channels=3)
    assert len(src) == 3 and src.get(np.arange(3))[0].shape == (3, 8, 8, 3)
    assert src.get(np.arange(3))[1] is not None              # labels found beside it
    os.remove(path / "t10k-labels-idx1-ubyte")
    src = load_source(f"idx:{path / 't10k-images-idx3-ubyte'}", resolution=6, channels=1)
    assert src.get(np.arange(3))[1] is None and src.num_classes is None
    np.testing.assert_array_equal(src.images, expected[5:])


def test_idx_int32_labels_and_4d_images(tmp_path):
    imgs = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    write_idx(tmp_path / "x-images-idx3-ubyte", imgs)
    write_idx(tmp_path / "x-labels-idx1-ubyte", np.array([300, 1], np.int32))
    src = load_source(f"idx:{tmp_path}", resolution=4, channels=3)
    np.testing.assert_array_equal(src.images, imgs)
    assert src.labels.tolist() == [300, 1]


def test_idx_rgb_to_grey_is_luminance(tmp_path):
    imgs = np.random.default_rng(1).integers(0, 256, (3, 5, 5, 3), dtype=np.uint8)
    write_idx(tmp_path / "c-images-idx3-ubyte", imgs)
    src = load_source(f"idx:{tmp_path}", resolution=5, channels=1)
    pil = np.stack([np.asarray(Image.fromarray(im, "RGB").convert("L")) for im in imgs])
    assert src.images.shape == (3, 5, 5, 1)
    assert np.abs(src.images[..., 0].astype(int) - pil).max() <= 1


def test_idx_bad_magic(tmp_path):
    bad = tmp_path / "bad-images-idx3-ubyte"
    bad.write_bytes(b"\x12\x34\x08\x03" + b"\0" * 100)
    with pytest.raises(UserError) as e:
        load_source(f"idx:{bad}", resolution=28, channels=1)
    assert "magic" in one_line(e) and str(bad) in str(e.value)


def test_idx_truncated_plain_and_gz(tmp_path):
    data = idx_bytes(np.zeros((4, 5, 5), np.uint8))
    plain = tmp_path / "a-images-idx3-ubyte"
    plain.write_bytes(data[:-7])
    with pytest.raises(UserError) as e:
        load_source(f"idx:{plain}", resolution=5, channels=1)
    assert "truncated" in one_line(e) and str(plain) in str(e.value)
    gz = tmp_path / "b-images-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(data)[:-12])
    with pytest.raises(UserError) as e:
        load_source(f"idx:{gz}", resolution=5, channels=1)
    assert "truncated" in one_line(e) and str(gz) in str(e.value)


def test_idx_label_count_mismatch_and_missing(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 5, 5), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(UserError) as e:
        load_source(f"idx:{tmp_path}", resolution=5, channels=1)
    assert "3 labels" in one_line(e) and "4 images" in str(e.value)
    with pytest.raises(UserError, match="does not exist"):
        load_source(f"idx:{tmp_path / 'nope'}", resolution=5, channels=1)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no '\\*images-idx3-ubyte"):
        load_source(f"idx:{empty}", resolution=5, channels=1)


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_DIR),
                    reason=f"{FASHION_MNIST_DIR} absent (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist():
    src = load_source("fashion_mnist", resolution=28, channels=1)
    assert len(src) == 70000 and src.num_classes == 10
    images, labels = src.get(np.arange(len(src)))
    assert images.shape == (70000, 28, 28, 1)
    assert np.bincount(labels).tolist() == [7000] * 10


# --- folder ------------------------------------------------------------------------

def save(path, array, mode):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)


def test_folder_resize_and_channel_conversion(tmp_path):
    red = np.zeros((30, 40, 3), np.uint8)
    red[..., 0] = 200
    save(tmp_path / "a" / "red.png", red, "RGB")
    save(tmp_path / "b" / "grey.jpg", np.full((20, 20), 90, np.uint8), "L")
    save(tmp_path / "b" / "deep" / "blue.bmp", np.dstack([np.zeros((16, 16), np.uint8)] * 2
                                                        + [np.full((16, 16), 250, np.uint8)]),
         "RGB")
    (tmp_path / "notes.txt").write_text("not an image")
    src = load_source(f"folder:{tmp_path}", resolution=16, channels=3)
    images, labels = src.get(np.arange(len(src)))
    assert images.shape == (3, 16, 16, 3) and images.dtype == np.uint8
    # sorted: a/red.png, b/deep/blue.bmp, b/grey.jpg; labels from top-level folders
    assert labels.tolist() == [0, 1, 1] and src.num_classes == 2
    assert abs(int(images[0, 8, 8, 0]) - 200) <= 2 and images[0, ..., 1:].max() <= 2
    assert images[1, ..., 2].min() >= 245
    assert abs(int(images[2, 8, 8, 1]) - 90) <= 3 and (images[2, ..., 0] == images[2, ..., 2]).all()
    grey = load_source(f"folder:{tmp_path}", resolution=8, channels=1)
    assert grey.get(np.arange(3))[0].shape == (3, 8, 8, 1)
    assert abs(int(grey.images[0, 4, 4, 0]) - round(200 * 0.299)) <= 2   # luminance of red


def test_folder_without_subfolders_has_no_labels(tmp_path):
    for i in range(3):
        save(tmp_path / f"{i}.png", np.full((12, 12), i * 50, np.uint8), "L")
    src = load_source(f"folder:{tmp_path}", resolution=12, channels=1)
    assert src.num_classes is None and src.get(np.arange(3))[1] is None
    assert src.images[:, 0, 0, 0].tolist() == [0, 50, 100]


def test_folder_errors(tmp_path):
    with pytest.raises(UserError) as e:
        load_source(f"folder:{tmp_path / 'missing'}", resolution=8, channels=1)
    assert "missing" in one_line(e)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError) as e:
        load_source(f"folder:{tmp_path / 'empty'}", resolution=8, channels=1)
    assert "no images" in one_line(e)

    bad = tmp_path / "bad"
    save(bad / "ok.png", np.zeros((8, 8), np.uint8), "L")
    (bad / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    with pytest.raises(UserError) as e:
        load_source(f"folder:{bad}", resolution=8, channels=1)
    assert "broken.png" in one_line(e)

    small = tmp_path / "small"
    save(small / "tiny.png", np.zeros((10, 12, 3), np.uint8), "RGB")
    with pytest.raises(UserError) as e:
        load_source(f"folder:{small}", resolution=16, channels=3)
    assert "tiny.png" in one_line(e) and "16" in str(e.value)


# --- tfds ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    """A tiny array_record TFDS dataset 'gan_jax_tiny' (6 train / 2 test 8x8 RGB images)."""
    import tensorflow_datasets as tfds

    class GanJaxTiny(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(8, 8, 3)),
                "label": tfds.features.ClassLabel(num_classes=3)}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(0, 6),
                    "test": self._generate_examples(6, 8)}

        def _generate_examples(self, lo, hi):
            for i in range(lo, hi):
                # a PIL image is PNG-encoded by Pillow (a numpy array would need TensorFlow)
                yield i, {"image": Image.fromarray(np.full((8, 8, 3), 20 * i, np.uint8)),
                          "label": i % 3}

    data_dir = tmp_path_factory.mktemp("tfds")
    GanJaxTiny(data_dir=str(data_dir), file_format="array_record").download_and_prepare()
    return data_dir


def test_tfds_reads_local_dataset(tfds_dir):
    src = load_source("tfds:gan_jax_tiny", resolution=8, channels=3, tfds_data_dir=str(tfds_dir))
    assert len(src) == 6 and src.num_classes == 3 and src.name == "tfds:gan_jax_tiny:train"
    images, labels = src.get(np.arange(6))
    assert images.shape == (6, 8, 8, 3) and images.dtype == np.uint8
    values = images[:, 0, 0, 0].astype(int)          # TFDS shuffles the order on write
    assert sorted(values.tolist()) == [0, 20, 40, 60, 80, 100]
    assert labels.tolist() == [(v // 20) % 3 for v in values]
    test = load_source("tfds:gan_jax_tiny:test", resolution=16, channels=1,
                       tfds_data_dir=str(tfds_dir))
    images, _ = test.get(np.array([1, 0]))
    assert len(test) == 2 and images.shape == (2, 16, 16, 1)
    assert sorted(images[:, 3, 3, 0].tolist()) == [120, 140]
    assert "tensorflow" not in sys.modules


def test_tfds_through_batches(tfds_dir):
    src = load_source("tfds:gan_jax_tiny", resolution=8, channels=3, tfds_data_dir=str(tfds_dir))
    with Batches(src, 2, seed=1, start_step=4, with_labels=True) as it:
        batch = next(it)
    images, labels = src.get(batch_indices(6, 2, 1, 4))
    np.testing.assert_array_equal(batch["image"], to_float(images))
    np.testing.assert_array_equal(batch["label"], labels)


def test_tfds_missing_or_unknown_fails_fast(tmp_path, tfds_dir):
    t = time.perf_counter()
    with pytest.raises(UserError) as e:
        load_source("tfds:mnist", resolution=28, channels=1, tfds_data_dir=str(tmp_path))
    assert "not prepared" in one_line(e) and "tfds build mnist" in str(e.value)
    assert str(tmp_path) in str(e.value)
    with pytest.raises(UserError) as e:
        load_source("tfds:no_such_dataset_xyz", resolution=28, channels=1,
                    tfds_data_dir=str(tmp_path))
    assert "no_such_dataset_xyz" in one_line(e)
    with pytest.raises(UserError) as e:
        load_source("tfds:gan_jax_tiny:validation", resolution=8, channels=3,
                    tfds_data_dir=str(tfds_dir))
    assert "validation" in one_line(e)
    assert time.perf_counter() - t < 10


# --- batch_indices ----------------------------------------------------------------------

def test_batch_indices_deterministic_and_seeded():
    a = batch_indices(100, 8, seed=5, step=17)
    np.testing.assert_array_equal(a, batch_indices(100, 8, seed=5, step=17))
    assert a.shape == (8,) and len(set(a.tolist())) == 8
    assert not np.array_equal(a, batch_indices(100, 8, seed=6, step=17))
    # the documented formula: epoch 17 // 12 = 1, position 5 in it
    perm = np.random.default_rng([5, 1]).permutation(100)
    np.testing.assert_array_equal(a, perm[40:48])


def test_batch_indices_epochs_are_permutations():
    n, b = 12, 3
    epochs = [np.concatenate([batch_indices(n, b, 0, e * 4 + i) for i in range(4)])
              for e in range(3)]
    for ep in epochs:
        assert sorted(ep.tolist()) == list(range(n))
    assert not np.array_equal(epochs[0], epochs[1])
    # with a remainder: each epoch covers n // b * b distinct examples
    ep = np.concatenate([batch_indices(10, 3, 0, i) for i in range(3)])
    assert len(set(ep.tolist())) == 9
    with pytest.raises(UserError, match="batch_size"):
        batch_indices(10, 11, 0, 0)


# --- Batches ------------------------------------------------------------------------------

def indexed_source(n=20):
    """Image i is filled with the value i; its label is i % 4."""
    images = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None],
                             (n, 4, 4, 1)).copy()
    return ImageSource("indexed", images, np.arange(n) % 4)


def expected_batch(src, batch_size, seed, step):
    images, labels = src.get(batch_indices(len(src), batch_size, seed, step))
    return to_float(images), labels


def test_batches_match_direct_computation_and_resume():
    src = indexed_source()
    with Batches(src, 4, seed=3, start_step=7, with_labels=True) as it:
        got = [next(it) for _ in range(12)]           # crosses epoch boundaries (5 steps/epoch)
        assert it.step == 19
    for k, batch in enumerate(got):
        images, labels = expected_batch(src, 4, 3, 7 + k)
        assert batch["image"].dtype == np.float32 and batch["image"].shape == (4, 4, 4, 1)
        np.testing.assert_array_equal(batch["image"], images)
        np.testing.assert_array_equal(batch["label"], labels)
        assert batch["label"].dtype == np.int32
    with Batches(src, 4, seed=3, start_step=0, prefetch=0) as it:
        from_zero = [next(it) for _ in range(19)]
    assert "label" not in from_zero[0]
    for a, b in zip(from_zero[7:], got):
        np.testing.assert_array_equal(a["image"], b["image"])


def test_batches_shards_concatenate_to_global_batch():
    src = indexed_source()
    shards = [Batches(src, 6, seed=1, start_step=2, shard_index=i, shard_count=3,
                      with_labels=True) for i in range(3)]
    try:
        for step in range(2, 8):
            parts = [next(s) for s in shards]
            assert all(p["image"].shape == (2, 4, 4, 1) for p in parts)
            images, labels = expected_batch(src, 6, 1, step)
            np.testing.assert_array_equal(np.concatenate([p["image"] for p in parts]), images)
            np.testing.assert_array_equal(np.concatenate([p["label"] for p in parts]), labels)
    finally:
        for s in shards:
            s.close()
    with pytest.raises(UserError, match="multiple"):
        Batches(src, 5, seed=0, shard_count=2)


class SlowFlakySource(ImageSource):
    """Sleeps a random time per get (timing must not matter); fails on one index."""

    def __init__(self, fail_on=None):
        base = indexed_source()
        super().__init__("slow", base.images, base.labels)
        self.rng = np.random.default_rng()
        self.fail_on = fail_on

    def get(self, indices):
        time.sleep(self.rng.uniform(0, 0.005))
        if self.fail_on is not None and self.fail_on in np.asarray(indices).tolist():
            raise RuntimeError(f"boom at {self.fail_on}")
        return super().get(indices)


def test_batches_independent_of_timing():
    src = SlowFlakySource()
    with Batches(src, 4, seed=9, prefetch=3) as it:
        for step in range(10):
            np.testing.assert_array_equal(next(it)["image"], expected_batch(src, 4, 9, step)[0])


def test_batches_reraises_thread_errors_and_closes():
    src = SlowFlakySource(fail_on=int(batch_indices(20, 4, 0, 2)[0]))
    it = Batches(src, 4, seed=0)
    next(it), next(it)
    with pytest.raises(RuntimeError, match="boom"):
        next(it)
    it.close()
    with pytest.raises(StopIteration):
        next(it)

    it = Batches(indexed_source(), 4, seed=0, prefetch=2)
    next(it)
    thread = it._thread
    assert thread.is_alive()
    it.close()
    assert not thread.is_alive()
    assert not [t for t in threading.enumerate() if t.name == "gan_jax-batches"]


def test_batches_labels_required():
    src = ImageSource("nolabels", np.zeros((4, 2, 2, 1), np.uint8))
    with pytest.raises(UserError, match="labels"):
        Batches(src, 2, seed=0, with_labels=True)
