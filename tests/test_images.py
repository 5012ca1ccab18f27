"""gan_jax.images: grids, GIF animations and loading images for a model."""
import numpy as np
import pytest
from PIL import Image

from gan_jax import images
from gan_jax.errors import UserError


def test_grid_frames_and_bounce():
    # 2 sequences of 4 images, 3 x 5 px, image t of every sequence filled with value t / 4.
    seq = np.broadcast_to((np.arange(4) / 4.0)[None, :, None, None, None], (2, 4, 3, 5, 1))
    frames = images.grid_frames(seq, ncol=2, pad=1)
    assert frames.shape == (4, 1 * 4 + 1, 2 * 6 + 1, 1) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames[:, 1, 1, 0], images.to_uint8(np.arange(4) / 4.0))  # one image per frame
    np.testing.assert_array_equal(frames[2], images.make_grid(seq[:, 2], ncol=2, pad=1))
    bounced = images.grid_frames(seq, ncol=2, pad=1, bounce=True)  # 0 1 2 3 2 1
    assert bounced.shape[0] == 6
    np.testing.assert_array_equal(bounced[[4, 5]], frames[[2, 1]])
    assert images.grid_frames(seq[:, :2], bounce=True).shape[0] == 2  # nothing to come back through
    with pytest.raises(ValueError, match=r"\[N, T, H, W, C\]"):
        images.grid_frames(seq[0])


@pytest.mark.parametrize("channels", [1, 3])
def test_save_gif_round_trip(tmp_path, channels):
    rng = np.random.default_rng(0)
    levels = np.array([0, 85, 170, 255], np.uint8)  # exact in a GIF palette
    frames = levels[rng.integers(0, 4, (5, 6, 7, channels))]
    path = str(tmp_path / "a.gif")
    images.save_gif(frames, path, duration_ms=40)
    with Image.open(path) as gif:
        assert gif.n_frames == 5 and gif.size == (7, 6) and gif.info["loop"] == 0
        assert gif.info["duration"] == 40
        for t in range(5):
            gif.seek(t)
            got = np.asarray(gif.convert("L" if channels == 1 else "RGB")).reshape(6, 7, channels)
            np.testing.assert_array_equal(got, frames[t])
    with pytest.raises(ValueError, match="uint8"):
        images.save_gif(frames.astype(np.float32), path)


def test_load_image_of_shape_and_channels(tmp_path):
    Image.new("L", (5, 4), 255).save(tmp_path / "grey.png")
    Image.new("RGB", (5, 4), (255, 0, 0)).save(tmp_path / "rgb.png")
    grey = images.load_image_of_shape(str(tmp_path / "grey.png"), (4, 5, 1))
    assert grey.shape == (4, 5, 1) and np.all(grey == 1.0)
    with pytest.raises(UserError, match=r"--image .*grey.png: 4x5 with 1 channel\(s\); expected 4x4 with 1"):
        images.load_image_of_shape(str(tmp_path / "grey.png"), (4, 4, 1))
    rgb_from_grey = images.load_image_with_channels(str(tmp_path / "grey.png"), 3)
    assert rgb_from_grey.shape == (4, 5, 3) and np.all(rgb_from_grey == 1.0)
    rgb = images.load_image_with_channels(str(tmp_path / "rgb.png"), 3)
    np.testing.assert_array_equal(rgb[0, 0], [1.0, -1.0, -1.0])
    with pytest.raises(UserError, match="has 3 channels; the model expects 1"):
        images.load_image_with_channels(str(tmp_path / "rgb.png"), 1, "--image")
