"""Image-to-image networks: pixel shuffle, U-Net, PatchGAN, SRGAN G/D."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.configs import Config
from gan_jax.models import PatchGAN, SRDiscriminator, SRGenerator, UNet, bicubic_upscale, build, pixel_shuffle
from gan_jax.models.unet import unet_depth
from gan_jax.ops import space_to_depth


def _pixel_shuffle_reference(x, r):
    b, h, w, c = x.shape
    k = c // (r * r)  # output channels
    out = np.zeros((b, h * r, w * r, k), x.dtype)
    for i in range(h):
        for j in range(w):
            for a in range(r):
                for q in range(r):
                    out[:, r * i + a, r * j + q, :] = x[:, i, j, (a * r + q) * k:(a * r + q + 1) * k]
    return out


@pytest.mark.parametrize("r,c", [(2, 8), (4, 32), (2, 4)])
def test_pixel_shuffle_matches_reference_and_inverts_space_to_depth(r, c):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, c)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(pixel_shuffle(jnp.asarray(x), r)), _pixel_shuffle_reference(x, r))
    y = np.random.default_rng(1).standard_normal((2, 3 * r, 5 * r, c // (r * r))).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(pixel_shuffle(space_to_depth(jnp.asarray(y), r), r)), y)
    with pytest.raises(ValueError, match="multiple of r"):
        pixel_shuffle(jnp.zeros((1, 2, 2, 3)), 2)


def test_unet_depth():
    assert [unet_depth(s, 5) for s in (28, 32, 64, 256)] == [2, 3, 4, 5]


@pytest.mark.parametrize("size,c_in,c_out", [(28, 2, 1), (32, 3, 3), (64, 3, 3)])
def test_unet_and_patchgan_shapes(size, c_in, c_out):
    x = jax.ShapeDtypeStruct((2, size, size, c_in), jnp.float32)
    key = jax.random.PRNGKey(0)
    g = UNet(c_out, width=4)
    v = jax.eval_shape(lambda x: g.init(key, x, train=False), x)
    assert jax.eval_shape(lambda v, x: g.apply(v, x, train=False), v, x).shape == (2, size, size, c_out)
    d = PatchGAN(width=4, n_layers=2 if size <= 32 else 3, norm="instance")
    dv = jax.eval_shape(lambda x: d.init(key, x, train=False), x)
    logits = jax.eval_shape(lambda v, x: d.apply(v, x, train=False), dv, x)
    assert logits.ndim == 3 and logits.shape[0] == 2 and logits.shape[1] > 1  # one logit per patch
    assert "batch_stats" not in dv  # instance norm keeps no statistics


@pytest.mark.parametrize("scale", [2, 4])
def test_srgan_shapes(scale):
    lr = jax.ShapeDtypeStruct((2, 8, 8, 3), jnp.float32)
    key = jax.random.PRNGKey(0)
    g = SRGenerator(3, scale, width=8, blocks=1)
    v = jax.eval_shape(lambda x: g.init(key, x), lr)
    sr = jax.eval_shape(g.apply, v, lr)
    assert sr.shape == (2, 8 * scale, 8 * scale, 3)
    d = SRDiscriminator(width=4)
    dv = jax.eval_shape(lambda x: d.init(key, x, train=False), sr)
    logits, feats = jax.eval_shape(lambda v, x: d.apply(v, x, train=False, features=True), dv, sr)
    assert logits.shape == (2,) and len(feats) == 2


def test_srgan_starts_at_bicubic():
    lr = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (2, 8, 8, 3)), jnp.float32)
    g = SRGenerator(3, 2, width=8, blocks=1)
    sr = jax.jit(lambda x: g.apply(g.init(jax.random.PRNGKey(0), x), x))(lr)
    # The last conv starts at zero: the untrained generator is bicubic interpolation.
    np.testing.assert_allclose(np.asarray(sr), np.asarray(bicubic_upscale(lr, 2)), atol=1e-6)


def test_build_dispatches_on_model():
    """``config.model`` picks the pair; the task picks the U-Net's options (tasks.build_models)."""
    from gan_jax.tasks import build_models as build

    g, d = build(Config(task="srgan", model="srgan", resolution=32, channels=3, scale=2))
    assert isinstance(g, SRGenerator) and isinstance(d, SRDiscriminator) and g.scale == 2
    g, d = build(Config(task="cyclegan", model="unet", dataset_b="x", d_norm="instance"))
    assert isinstance(g, UNet) and g.norm == "instance" and isinstance(d, PatchGAN) and d.norm == "instance"
    assert build(Config(task="pix2pix", model="unet", degrade="noise"))[0].residual  # a correction of the input
    assert not build(Config(task="pix2pix", model="unet", degrade="edges"))[0].residual


def test_models_build_alone_takes_the_task_options_as_arguments():
    g, _ = build(Config(task="cyclegan", model="unet", dataset_b="x"), norm="instance", residual=True)
    assert g.norm == "instance" and g.residual
    assert build(Config(task="cyclegan", model="unet", dataset_b="x"))[0].norm == "batch"  # the builder's default
