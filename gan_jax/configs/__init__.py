"""Named configs as code: ``gan_jax/configs/<name>.py`` defines ``get_config() -> Config``."""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil

from gan_jax.configs.base import Config, from_dict, override
from gan_jax.errors import UserError

DEFAULT = "dcgan_mnist"
_TASK_MODELS = {"generate": ("dcgan", "sngan_cnn", "resnet"), "pix2pix": ("unet",), "inpaint": ("unet",),
                "srgan": ("srgan",), "cyclegan": ("unet",)}
MODELS = tuple(dict.fromkeys(m for models in _TASK_MODELS.values() for m in models))
"""Every ``model`` that :func:`gan_jax.models.build` knows (those of every task)."""


def names() -> list[str]:
    """Names of the configs shipped with the library."""
    import gan_jax.configs as pkg
    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name != "base")


def get(name: str = DEFAULT) -> Config:
    """The config called ``name``."""
    if name not in names():
        raise UserError(f"--config {name}: unknown config; expected one of: {', '.join(names())}")
    return importlib.import_module(f"gan_jax.configs.{name}").get_config()


_CHOICES = {
    "resolution": (28, 32, 64),
    "channels": (1, 3),
    "model": MODELS,
    "d_norm": ("batch", "spectral", "none", "instance"),
    "nonfinite": ("stop", "skip"),
    "parallel": ("auto", "none", "jit", "pmap", "sharding", "shard_map"),
    "compute_dtype": ("float32", "bfloat16"),
    "task": tuple(_TASK_MODELS),
    "conditioning": ("projection", "acgan"),
}
_DEGRADE = {"pix2pix": ("noise", "grey", "edges"), "inpaint": ("mask_center", "mask_box")}
_POSITIVE = ("batch_size", "z_dim", "g_width", "d_width", "n_critic", "log_every",
             "sample_every", "checkpoint_every", "keep_checkpoints", "grid_size", "steps_per_call",
             "population")


def validate(config: Config) -> Config:
    """Check every field's range; raise UserError naming the first bad one."""
    from gan_jax import losses

    for key, allowed in _CHOICES.items():
        if getattr(config, key) not in allowed:
            raise UserError(f"{key}={getattr(config, key)!r}: expected one of "
                            f"{', '.join(map(str, allowed))}")
    if config.loss not in losses.LOSSES:
        raise UserError(f"loss={config.loss!r}: expected one of {', '.join(sorted(losses.LOSSES))}")
    for key in _POSITIVE:
        if getattr(config, key) <= 0:
            raise UserError(f"{key}={getattr(config, key)}: expected a positive integer")
    if config.steps < 0:
        raise UserError(f"steps={config.steps}: expected a non-negative step count")
    if not 0.0 <= config.ema_decay < 1.0:
        raise UserError(f"ema_decay={config.ema_decay}: expected 0 (off) or a value in (0, 1)")
    for key in ("lr_g", "lr_d"):
        if not getattr(config, key) > 0:
            raise UserError(f"{key}={getattr(config, key)}: expected a positive learning rate")
    for key in ("beta1", "beta2"):
        if not 0.0 <= getattr(config, key) < 1.0:
            raise UserError(f"{key}={getattr(config, key)}: expected a value in [0, 1)")
    if config.model == "resnet":
        from gan_jax.models.resnet import generator_layout

        try:
            generator_layout(config.resolution)
        except ValueError as e:
            raise UserError(f"model=resnet, resolution={config.resolution}: {e}") from None
        if config.d_norm == "batch":
            raise UserError(f"model=resnet: expected d_norm=spectral or none (got {config.d_norm!r})")
    if config.model == "sngan_cnn" and (config.d_norm not in ("spectral", "none") or config.conditioning == "acgan"):
        raise UserError(f"model=sngan_cnn: expected d_norm=spectral or none (got {config.d_norm!r}) and "
                        f"conditioning=projection (got {config.conditioning!r})")
    if config.num_classes < 0 or config.num_classes == 1:
        raise UserError(f"num_classes={config.num_classes}: expected 0 (unconditional) or at least 2")
    if config.conditioning == "acgan" and not config.num_classes:
        raise UserError("conditioning=acgan: expected num_classes >= 2 (the classes of the auxiliary classifier)")
    if not config.aux_weight >= 0:
        raise UserError(f"aux_weight={config.aux_weight}: expected a weight >= 0")
    for key in ("log_every", "sample_every", "checkpoint_every", "eval_every"):
        if getattr(config, key) % config.steps_per_call:
            raise UserError(f"{key}={getattr(config, key)}: expected a multiple of steps_per_call="
                            f"{config.steps_per_call} (fused steps report only after whole calls)")
    if config.population > 1:
        member_configs(config)  # checks the per-member learning rates
        if config.eval_every:
            raise UserError(f"eval_every={config.eval_every}: not supported with population="
                            f"{config.population}; evaluate members after training instead")
    if config.eval_every < 0:
        raise UserError(f"eval_every={config.eval_every}: expected 0 (off) or a positive step interval")
    if config.eval_every and not config.eval_extractor:
        raise UserError(f"eval_every={config.eval_every}: needs eval_extractor=classifier:DIR or "
                        f"inception:FILE.npz")
    if config.eval_num < 2:
        raise UserError(f"eval_num={config.eval_num}: expected at least 2 samples")
    if config.gp_weight < 0 or config.r1_gamma < 0:
        raise UserError(f"gp_weight={config.gp_weight}, r1_gamma={config.r1_gamma}: expected values >= 0")
    if config.r1_every < 1:
        raise UserError(f"r1_every={config.r1_every}: expected a positive step interval")
    if (config.gp_weight or config.r1_gamma) and config.d_norm == "batch":
        raise UserError("gp_weight/r1_gamma need per-sample input gradients, which BatchNorm in D mixes "
                        "across the batch; expected d_norm=spectral or none with a gradient penalty")
    from gan_jax.data.augment import parse_policy
    try:
        parse_policy(config.augment)
    except ValueError as e:
        raise UserError(f"augment={config.augment!r}: {e}") from None
    _validate_task(config)
    metrics = ("fd", "kid", "is", "precision", "recall")
    if config.eval_metric not in metrics:
        raise UserError(f"eval_metric={config.eval_metric!r}: expected one of {', '.join(metrics)}")
    return config


def member_configs(config) -> list:
    """The configs of the ``config.population`` members: member ``i`` has seed ``seed + i``
    and the i-th entry of ``population_lr_g`` / ``population_lr_d`` (when given)."""
    p = config.population

    def rates(text, default, key):
        if not text:
            return [default] * p
        try:
            values = [float(v) for v in text.split(",")]
        except ValueError:
            raise UserError(f"{key}={text!r}: expected {p} comma-separated learning rates") from None
        if len(values) != p or not all(v > 0 for v in values):
            raise UserError(f"{key}={text!r}: expected {p} comma-separated positive learning rates "
                            f"(one per population member)")
        return values

    lr_g = rates(config.population_lr_g, config.lr_g, "population_lr_g")
    lr_d = rates(config.population_lr_d, config.lr_d, "population_lr_d")
    return [dataclasses.replace(config, population=1, population_lr_g="", population_lr_d="",
                                seed=config.seed + i, lr_g=lr_g[i], lr_d=lr_d[i]) for i in range(p)]


def _validate_task(config: Config) -> None:
    """The image-to-image fields: the model fits the task, weights are non-negative, ..."""
    task = config.task
    if config.model not in _TASK_MODELS[task]:
        raise UserError(f"model={config.model!r}: task={task} expects model="
                        f"{' or '.join(_TASK_MODELS[task])}")
    if task in _DEGRADE and config.degrade not in _DEGRADE[task]:
        raise UserError(f"degrade={config.degrade!r}: task={task} expects one of "
                        f"{', '.join(_DEGRADE[task])}")
    if task not in _DEGRADE and config.degrade:
        raise UserError(f"degrade={config.degrade!r}: only for task=pix2pix or inpaint (task={task})")
    for key in ("noise_sigma", "l1_weight", "feature_weight", "cycle_weight", "identity_weight"):
        if not getattr(config, key) >= 0:
            raise UserError(f"{key}={getattr(config, key)}: expected a value >= 0")
    if task == "pix2pix" and config.degrade == "noise" and not config.noise_sigma > 0:
        raise UserError(f"noise_sigma={config.noise_sigma}: degrade=noise needs a positive sigma")
    if config.scale not in (2, 4):
        raise UserError(f"scale={config.scale}: expected 2 or 4")
    if task == "srgan" and config.resolution % (2 * config.scale):
        raise UserError(f"resolution={config.resolution}: task=srgan needs a multiple of 2 * scale "
                        f"({2 * config.scale})")
    if config.pretrain_steps < 0 or config.pool_size < 0:
        raise UserError(f"pretrain_steps={config.pretrain_steps}, pool_size={config.pool_size}: "
                        "expected values >= 0")
    if task == "cyclegan" and not config.dataset_b:
        raise UserError("dataset_b='': task=cyclegan needs the spec of domain B, e.g. "
                        "dataset_b=tfds:cycle_gan/horse2zebra:trainB")
    if task != "generate" and (config.num_classes or config.n_critic != 1 or config.fresh_reals
                               or config.gp_weight or config.r1_gamma or config.augment):
        raise UserError(f"task={task}: num_classes, n_critic > 1, fresh_reals, gp_weight, r1_gamma and augment "
                        "are for task=generate only")
    if config.d_norm == "instance" and config.model != "unet":
        raise UserError(f"d_norm='instance': only for the PatchGAN D of model=unet (model={config.model!r})")


__all__ = ["Config", "DEFAULT", "from_dict", "get", "member_configs", "names", "override", "validate"]
