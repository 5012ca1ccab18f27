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


@pytest.mark.parametrize("size", [28, 32])
def test_unet_without_skips_shapes_and_parameters(size):
    """``skips=False``: same output shape; the decoder's convs take no encoder features and the last
    conv no input channels (``width`` inputs, not ``width + C``); ``blocks`` residual pairs."""
    x = jax.ShapeDtypeStruct((2, size, size, 1), jnp.float32)
    key = jax.random.PRNGKey(0)
    with_skips = jax.eval_shape(lambda x: UNet(1, width=4).init(key, x, train=False), x)["params"]
    g = UNet(1, width=4, skips=False, blocks=3)
    v = jax.eval_shape(lambda x: g.init(key, x, train=False), x)
    assert jax.eval_shape(lambda v, x: g.apply(v, x, train=False), v, x).shape == (2, size, size, 1)
    p = v["params"]
    kernel_in = lambda layer: [a.shape[2] for a in jax.tree_util.tree_leaves(layer) if a.ndim == 4][0]  # noqa: E731
    last = lambda params: params[max((k for k in params if k.startswith("Conv_")), key=lambda k: int(k[5:]))]  # noqa: E731
    assert kernel_in(last(p)) == 4 and kernel_in(last(with_skips)) == 4 + 1  # width (+ the input's channel)
    decoder_in = lambda params: [kernel_in(params[k]) for k in sorted(params) if k.startswith("ConvTranspose")]  # noqa: E731
    assert decoder_in(p) != decoder_in(with_skips)  # the skip concatenations are gone
    n_convs = lambda params: sum(k.startswith("Conv_") for k in params)  # noqa: E731
    assert n_convs(p) == n_convs(with_skips) + 2 * 2  # two more residual pairs


def _cut_bottleneck(variables):
    """The same variables with the deepest decoder layer (the bottleneck's only way out) zeroed."""
    params = jax.tree_util.tree_map(lambda a: a, variables["params"])
    params["ConvTranspose_0"] = jax.tree_util.tree_map(jnp.zeros_like, params["ConvTranspose_0"])
    return {**variables, "params": params}


@pytest.mark.parametrize("skips", [True, False])
def test_unet_skips_are_the_only_path_around_the_bottleneck(skips):
    """With the bottleneck cut, a U-Net's output still follows its input (through the long skips
    and the full-resolution input skip); without skips it is the same image for every input."""
    rng = np.random.default_rng(0)
    x1, x2 = (jnp.asarray(rng.uniform(-1, 1, (2, 28, 28, 1)), jnp.float32) for _ in range(2))
    g = UNet(1, width=4, norm="instance", skips=skips)
    variables = _cut_bottleneck(g.init(jax.random.PRNGKey(0), x1, train=False))
    y1, y2 = (np.asarray(g.apply(variables, x, train=False)) for x in (x1, x2))
    if skips:
        assert np.abs(y1 - y2).max() > 1e-3
    else:
        np.testing.assert_allclose(y1, y2, atol=1e-6)
        # ...while uncut, it does depend on its input (through the bottleneck)
        uncut = g.init(jax.random.PRNGKey(0), x1, train=False)
        assert np.abs(np.asarray(g.apply(uncut, x1, train=False)) - np.asarray(g.apply(uncut, x2, train=False))).max() > 1e-3


def test_unet_noskip_model_for_cyclegan():
    """``model=unet_noskip``: the cyclegan task builds a skip-free, instance-norm U-Net; other tasks
    refuse it with a UserError naming the model field."""
    from gan_jax.errors import UserError
    from gan_jax.models.unet import NOSKIP_BLOCKS
    from gan_jax.tasks import build_models, validate

    config = Config(task="cyclegan", model="unet_noskip", dataset_b="x", d_norm="instance")
    validate(config)
    g, d = build_models(config)
    assert isinstance(g, UNet) and not g.skips and g.blocks == NOSKIP_BLOCKS and g.norm == "instance"
    assert isinstance(d, PatchGAN) and d.norm == "instance"
    assert build_models(Config(task="cyclegan", model="unet", dataset_b="x"))[0].skips  # unet keeps them
    with pytest.raises(UserError, match="model"):
        validate(Config(task="pix2pix", model="unet_noskip", degrade="edges"))
    with pytest.raises(ValueError, match="correction"):
        build(config, residual=True)
