"""The registries of models and tasks: lookup, checks, and caches that never go stale."""
import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import configs, models, registry, tasks
from gan_jax.errors import UserError


class _TinyG(nn.Module):
    width: int

    @nn.compact
    def __call__(self, z, labels=None, train=True):
        return jnp.tanh(nn.Dense(28 * 28)(nn.Dense(self.width)(z))).reshape(-1, 28, 28, 1)


class _TinyD(nn.Module):
    @nn.compact
    def __call__(self, x, labels=None, train=True):
        return nn.Dense(1)(x.reshape(x.shape[0], -1))[:, 0]


@pytest.fixture
def temporary_model():
    names = []

    def register(name, family, **kw):
        models.register(name, family, **kw)
        names.append(name)

    yield register
    for name in names:
        models.MODELS.unregister(name)


def test_builtin_names():
    assert set(models.MODELS.names()) >= {"dcgan", "sngan_cnn", "resnet", "unet", "srgan"}
    assert set(tasks.TASKS.names()) >= {"cyclegan", "generate", "inpaint", "pix2pix", "srgan"}


def test_replacing_a_model_gives_a_new_state_not_a_stale_one(tiny_config, temporary_model):
    """init_state and the sampler are cached per config: registering another model under the
    same name must change what they build (the cache keys on the registry's version)."""
    config = dataclasses.replace(tiny_config, model="test_only_mlp")
    temporary_model("test_only_mlp", lambda c, axis_name=None: (_TinyG(8), _TinyD()))
    first = tasks.init_state(config)
    assert first.g_params["Dense_1"]["kernel"].shape == (16, 8)
    temporary_model("test_only_mlp", lambda c, axis_name=None: (_TinyG(12), _TinyD()), replace=True)
    second = tasks.init_state(config)
    assert second.g_params["Dense_1"]["kernel"].shape == (16, 12)
    images = tasks.generate.generate(config, second, 3)
    assert images.shape == (3, 28, 28, 1)


def test_model_checks_run_in_config_validation(tiny_config, temporary_model):
    def strict(config):
        if config.g_width != 8:
            raise UserError(f"g_width={config.g_width}: model=test_only_strict expects 8")

    temporary_model("test_only_strict", models.ModelFamily(lambda c, axis_name=None: (_TinyG(8), _TinyD()), strict))
    configs.validate(dataclasses.replace(tiny_config, model="test_only_strict"))
    with pytest.raises(UserError, match="model=test_only_strict expects 8"):
        configs.validate(dataclasses.replace(tiny_config, model="test_only_strict", g_width=9))


def test_model_and_task_must_fit():
    with pytest.raises(UserError, match=r"model='unet': task=generate expects model=.*dcgan.*resnet"):
        configs.validate(dataclasses.replace(configs.get("dcgan_mnist"), model="unet"))
    with pytest.raises(UserError, match=r"model='dcgan': task=pix2pix expects model=unet"):
        configs.validate(dataclasses.replace(configs.get("pix2pix_denoise"), model="dcgan"))
    with pytest.raises(UserError, match=r"model='nope': unknown model; expected one of .*dcgan"):
        configs.validate(dataclasses.replace(configs.get("dcgan_mnist"), model="nope"))
    with pytest.raises(UserError, match=r"task='nope': unknown task"):
        configs.validate(dataclasses.replace(configs.get(), task="nope"))


def test_model_by_import_path_and_missing_module():
    config = dataclasses.replace(configs.get(), model="gan_jax.models.dcgan:build")
    g, d = models.build(config)
    assert type(g).__name__ == "Generator" and type(d).__name__ == "Discriminator"
    with pytest.raises(UserError, match="cannot import module 'not_a_module_anywhere'"):
        models.build(dataclasses.replace(config, model="not_a_module_anywhere:build"))


def test_operations_by_task():
    gan, pix2pix = configs.get(), configs.get("pix2pix_denoise")
    assert tasks.supports(gan, "sample") and not tasks.supports(gan, "translate")
    assert tasks.operation(pix2pix, "translate") is tasks.paired.translate
    with pytest.raises(UserError, match="--workdir runs/x: a task=generate run cannot upscale; expected a srgan run"):
        tasks.operation(gan, "upscale", "--workdir runs/x")
    with pytest.raises(UserError, match="cannot translate; expected a cyclegan or pix2pix run"):
        tasks.operation(configs.get("srgan_x4"), "translate")


def test_register_rejects_bad_names_and_objects():
    with pytest.raises(ValueError, match="without ':'"):
        models.register("a:b", lambda c, a=None: None)
    with pytest.raises(TypeError, match="Task"):
        tasks.register("test_only_bad", object())
    assert "test_only_bad" not in tasks.TASKS


def test_user_modules_name_outside_registrations_only(tiny_config, temporary_model):
    assert tasks.user_modules(tiny_config) == []
    temporary_model("test_only_origin", lambda c, axis_name=None: (_TinyG(8), _TinyD()))
    # registered from this test module: it is recorded so another process can import it
    assert tasks.user_modules(dataclasses.replace(tiny_config, model="test_only_origin")) == [__name__]


def test_version_counts_every_registration():
    before = registry.version()
    tasks.register("test_only_task", tasks.get("generate"), replace=True)
    tasks.TASKS.unregister("test_only_task")
    assert registry.version() == before + 2


def test_tiny_model_trains_through_the_generate_step(tiny_config, temporary_model):
    """A model without BatchNorm (no batch_stats collection) runs the GAN step."""
    temporary_model("test_only_nobn", lambda c, axis_name=None: (_TinyG(8), _TinyD()))
    config = dataclasses.replace(tiny_config, model="test_only_nobn")
    state = tasks.init_state(config)
    batch = {"image": jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)), jnp.float32)}
    new, metrics = jax.jit(tasks.make_train_step(config))(state, batch)
    assert int(new.step) == 1 and int(metrics["nonfinite"]) == 0
    assert not np.allclose(new.g_params["Dense_0"]["kernel"], state.g_params["Dense_0"]["kernel"])
