import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.data import augment
from gan_jax.data.augment import diff_augment

B, H, W, C = 8, 16, 16, 3
KEY = jax.random.PRNGKey(0)
FILL = augment.FILL_VALUE


def _images(seed=0, shape=(B, H, W, C)):
    return jax.random.uniform(jax.random.PRNGKey(seed), shape, minval=-1.0, maxval=1.0)


def _unique_nonzero_images(shape):
    """Every value distinct and != FILL, so each output value names its source pixel."""
    n = int(np.prod(shape))
    return jnp.asarray((np.arange(n, dtype=np.float32) + 1.0) / n).reshape(shape)


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_shape_dtype_reproducible_and_key_dependent(policy):
    images = _images()
    out = diff_augment(images, KEY, policy)
    assert out.shape == images.shape and out.dtype == images.dtype
    np.testing.assert_array_equal(out, diff_augment(images, KEY, policy))
    assert not np.array_equal(out, diff_augment(images, jax.random.PRNGKey(1), policy))
    assert np.all(np.isfinite(out))


def test_bfloat16_dtype_kept():
    images = _images().astype(jnp.bfloat16)
    assert diff_augment(images, KEY).dtype == jnp.bfloat16


def test_jit_matches_eager():
    images = _images()
    jitted = jax.jit(diff_augment, static_argnames="policy")
    np.testing.assert_allclose(jitted(images, KEY, policy="color,translation,cutout"),
                               diff_augment(images, KEY, "color,translation,cutout"), atol=1e-6)


def test_parameters_are_per_sample():
    same = jnp.broadcast_to(_images(3, (1, H, W, C)), (B, H, W, C))
    for policy in ("color", "translation", "cutout"):
        out = np.asarray(diff_augment(same, KEY, policy))
        assert len({out[i].tobytes() for i in range(B)}) > 1, policy


def test_differentiable():
    images = _images()
    grad = jax.jit(jax.grad(lambda x: jnp.sum(diff_augment(x, KEY) ** 2)))(images)
    assert grad.shape == images.shape
    assert np.all(np.isfinite(grad)) and float(jnp.sum(jnp.abs(grad))) > 0
    # Plain sum: each translated/kept pixel passes gradient 1 * colour factors; cut pixels pass 0.
    grad_sum = jax.grad(lambda x: jnp.sum(diff_augment(x, KEY, "translation,cutout")))(images)
    assert set(np.unique(np.asarray(grad_sum))) <= {0.0, 1.0}
    assert float(jnp.sum(grad_sum)) > 0


@pytest.mark.parametrize("policy", ["", "   ", ","])
def test_empty_policy_is_identity(policy):
    images = _images()
    assert augment.parse_policy(policy) == ()
    np.testing.assert_array_equal(diff_augment(images, KEY, policy), images)


def test_parse_policy():
    assert augment.parse_policy("color, translation,cutout") == ("color", "translation", "cutout")
    with pytest.raises(ValueError, match=r"'colour'.*color, cutout, translation"):
        augment.parse_policy("colour,translation")
    with pytest.raises(ValueError, match="'flip'"):
        diff_augment(_images(), KEY, "flip")


# --- translation --------------------------------------------------------------------------------

def _shift_reference(image, dy, dx):
    """numpy: out[i, j] = image[i + dy, j + dx] inside the image, else FILL."""
    h, w = image.shape[:2]
    pad = max(h, w)
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), constant_values=FILL)
    return padded[pad + dy:pad + dy + h, pad + dx:pad + dx + w]


@pytest.mark.parametrize("shape", [(32, 16, 16, 2), (32, 8, 12, 1)])
def test_translation_is_a_pure_shift_with_zero_fill(shape):
    images = np.asarray(_unique_nonzero_images(shape))
    out = np.asarray(augment.random_translation(jnp.asarray(images), KEY))
    max_dy, max_dx = int(shape[1] * 0.125 + 0.5), int(shape[2] * 0.125 + 0.5)
    shifts = []
    for b in range(shape[0]):
        # Every output value is the fill value or a pixel of the same sample ...
        assert np.all(np.isin(out[b], images[b]) | (out[b] == FILL))
        # ... and the whole image is one integer shift within the allowed range.
        matches = [(dy, dx) for dy in range(-max_dy, max_dy + 1) for dx in range(-max_dx, max_dx + 1)
                   if np.array_equal(out[b], _shift_reference(images[b], dy, dx))]
        assert len(matches) == 1, b
        shifts.append(matches[0])
    assert len(set(shifts)) > 4  # really random per sample
    assert any(dy != 0 for dy, _ in shifts) and any(dx != 0 for _, dx in shifts)


# --- cutout -------------------------------------------------------------------------------------

@pytest.mark.parametrize("height, width", [(16, 16), (8, 12), (6, 6)])
def test_cutout_zeroes_one_clipped_square(height, width):
    batch = 256
    images = jnp.ones((batch, height, width, 2))
    out = np.asarray(augment.random_cutout(images, KEY))
    size_y, size_x = int(height * 0.5 + 0.5), int(width * 0.5 + 0.5)
    n_full = 0
    for b in range(batch):
        cut = out[b, :, :, 0] == FILL
        np.testing.assert_array_equal(cut, out[b, :, :, 1] == FILL)     # same square in every channel
        assert np.all((out[b] == FILL) | (out[b] == 1.0))               # everything else untouched
        rows, cols = np.nonzero(cut)
        top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        assert cut.sum() == (bottom - top) * (right - left)             # one filled rectangle
        # The reference clips the square at the borders: at least half of it stays inside,
        # and it is smaller than size only where it touches a border.
        assert size_y // 2 <= bottom - top <= size_y and size_x // 2 <= right - left <= size_x
        assert bottom - top == size_y or top == 0 or bottom == height
        assert right - left == size_x or left == 0 or right == width
        if 0 < top and bottom < height and 0 < left and right < width:  # away from every border
            assert cut.sum() == size_y * size_x
        n_full += int(cut.sum() == size_y * size_x)
    assert n_full > batch // 5  # about 30% of centres keep the whole square inside


def test_cutout_centre_range_matches_reference():
    # Even size: centre in [0, H] (can sit on the far border, leaving size/2 rows); odd: [0, H - 1].
    batch = 512
    out = np.asarray(augment.random_cutout(jnp.ones((batch, 8, 8, 1)), KEY))[..., 0] == FILL
    tops = {int(np.nonzero(o.any(axis=1))[0].min()) for o in out}
    bottoms = {int(np.nonzero(o.any(axis=1))[0].max()) + 1 for o in out}
    assert tops == set(range(0, 7))       # centre - 2 for centre in [0, 8], clipped at 0
    assert bottoms == set(range(2, 9))    # centre + 2, clipped at 8


# --- colour -------------------------------------------------------------------------------------

def test_colour_ops_on_a_constant_grey_image():
    grey = jnp.full((B, H, W, C), 0.2)
    np.testing.assert_allclose(augment.random_saturation(grey, KEY), grey, atol=1e-6)
    np.testing.assert_allclose(augment.random_contrast(grey, KEY), grey, atol=1e-6)
    shifted = np.asarray(augment.random_brightness(grey, KEY))
    offsets = shifted[:, 0, 0, 0] - 0.2
    np.testing.assert_allclose(shifted, np.broadcast_to((0.2 + offsets)[:, None, None, None], grey.shape),
                               atol=1e-6)
    assert np.all((offsets >= -0.5 - 1e-6) & (offsets < 0.5)) and np.std(offsets) > 0.05
    # The whole colour group on a constant image is just the brightness shift.
    coloured = np.asarray(diff_augment(grey, KEY, "color"))
    np.testing.assert_allclose(coloured, np.broadcast_to(coloured[:, :1, :1, :1], grey.shape), atol=1e-6)


def test_saturation_and_contrast_scale_deviations_from_the_right_mean():
    images = np.asarray(_images(5), np.float64)
    saturated = np.asarray(augment.random_saturation(jnp.asarray(images, jnp.float32), KEY), np.float64)
    pixel_mean = images.mean(axis=-1, keepdims=True)
    np.testing.assert_allclose(saturated.mean(axis=-1, keepdims=True), pixel_mean, atol=1e-5)
    factor = (saturated - pixel_mean) / (images - pixel_mean)
    np.testing.assert_allclose(factor, np.broadcast_to(factor[:, :1, :1, :1], factor.shape), rtol=1e-3)
    assert np.all((factor[:, 0, 0, 0] >= 0) & (factor[:, 0, 0, 0] < 2))

    contrasted = np.asarray(augment.random_contrast(jnp.asarray(images, jnp.float32), KEY), np.float64)
    image_mean = images.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(contrasted.mean(axis=(1, 2, 3), keepdims=True), image_mean, atol=1e-5)
    factor = (contrasted - image_mean) / (images - image_mean)
    np.testing.assert_allclose(factor, np.broadcast_to(factor[:, :1, :1, :1], factor.shape), rtol=1e-3)
    assert np.all((factor[:, 0, 0, 0] >= 0.5) & (factor[:, 0, 0, 0] < 1.5))


def test_saturation_is_a_no_op_for_one_channel():
    images = _images(6, (B, H, W, 1))
    np.testing.assert_allclose(augment.random_saturation(images, KEY), images, atol=1e-6)


def test_policy_order_and_keys():
    # The pipeline is the ops applied in order with keys split from the one key.
    images = _images(7)
    ops = [*augment.AUGMENTATIONS["translation"], *augment.AUGMENTATIONS["color"]]
    expected = functools.reduce(lambda x, op_key: op_key[0](x, op_key[1]),
                                zip(ops, jax.random.split(KEY, len(ops))), images)
    np.testing.assert_allclose(diff_augment(images, KEY, "translation,color"), expected, atol=1e-6)
