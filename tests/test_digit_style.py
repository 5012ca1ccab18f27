"""Style attributes of digits (gan_jax/metrics/digit_style.py) and the within-class direction
(gan_jax/edit/directions.py) that the disentanglement measurement of experiments/stylegan uses."""
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.edit import within_class_direction
from gan_jax.metrics.digit_style import ink_mass, slant


def _bar(slope: float, width: int = 2) -> np.ndarray:
    """A 28 x 28 image in [-1, 1]: a stroke over rows 4..23 whose column moves right by
    ``slope`` per row going up."""
    img = -np.ones((28, 28, 1), np.float32)
    for r in range(4, 24):
        c = 13 + int(round((14 - r) * slope))
        img[r, c:c + width] = 1.0
    return img


def test_ink_mass_is_the_share_of_ink():
    x = -np.ones((2, 28, 28, 1), np.float32)
    x[0, :14] = 1.0      # half the image
    x[1, :7] = 0.0       # a quarter of it at half intensity
    np.testing.assert_allclose(ink_mass(jnp.asarray(x)), [0.5, 0.125], rtol=1e-6)
    thin, thick = _bar(0.0, 1), _bar(0.0, 3)
    assert float(ink_mass(jnp.asarray(thick[None]))[0]) == pytest.approx(3 * float(ink_mass(jnp.asarray(thin[None]))[0]))


def test_slant_is_the_angle_of_the_stroke_from_upright():
    bars = jnp.asarray(np.stack([_bar(0.0), _bar(0.5), _bar(-0.5), _bar(1.0)]))
    angles = np.asarray(slant(bars))
    assert angles[0] == pytest.approx(0.0, abs=1e-4)
    np.testing.assert_allclose(angles[1:], [26.6, -26.6, 45.0], atol=1.5)  # atan(0.5), atan(1) in degrees
    assert float(slant(-jnp.ones((1, 28, 28, 1)))[0]) == 0.0  # blank: no NaN
    with pytest.raises(ValueError, match=r"greyscale images \[B, H, W, 1\]"):
        slant(jnp.zeros((1, 28, 28, 3)))


def test_within_class_direction_ignores_what_the_class_explains():
    # The attribute grows along e0 within each class, and the class itself moves latents along e1,
    # where the attribute's class means differ a lot more: a plain regression follows e1.
    rng = np.random.default_rng(0)
    n, d = 4000, 6
    classes = rng.integers(0, 3, n)
    z = rng.normal(size=(n, d)).astype(np.float32)
    z[:, 1] += 3.0 * classes
    attribute = 0.5 * z[:, 0] + 4.0 * classes + 0.05 * rng.normal(size=n)
    found = np.asarray(within_class_direction(jnp.asarray(z), jnp.asarray(attribute), jnp.asarray(classes), 3))
    assert np.linalg.norm(found) == pytest.approx(1.0, abs=1e-5)
    assert found[0] > 0.99  # e0, pointing to more of the attribute
    plain = np.linalg.lstsq(np.c_[z, np.ones(n)], attribute, rcond=None)[0][:d]
    assert abs(plain[1]) / np.linalg.norm(plain) > 0.7  # without the class intercepts: mostly e1
