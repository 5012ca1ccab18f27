"""Named configs as code: ``gan_jax/configs/<name>.py`` defines ``get_config() -> Config``."""
from __future__ import annotations

import importlib
import pkgutil

from gan_jax.configs.base import Config, from_dict, override
from gan_jax.errors import UserError

DEFAULT = "dcgan_mnist"


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
    "model": ("dcgan", "resnet"),
    "d_norm": ("batch", "spectral", "none"),
    "nonfinite": ("stop", "skip"),
    "parallel": ("auto", "none", "jit", "pmap", "sharding"),
    "compute_dtype": ("float32", "bfloat16"),
}
_POSITIVE = ("batch_size", "z_dim", "g_width", "d_width", "n_critic", "log_every",
             "sample_every", "checkpoint_every", "keep_checkpoints", "grid_size")


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
    if config.model == "resnet" and (config.resolution != 32 or config.d_norm == "batch"):
        raise UserError(f"model=resnet: expected resolution=32 (got {config.resolution}) and "
                        f"d_norm=spectral or none (got {config.d_norm!r})")
    if config.num_classes < 0 or config.num_classes == 1:
        raise UserError(f"num_classes={config.num_classes}: expected 0 (unconditional) or at least 2")
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
    metrics = ("fd", "kid", "is", "precision", "recall")
    if config.eval_metric not in metrics:
        raise UserError(f"eval_metric={config.eval_metric!r}: expected one of {', '.join(metrics)}")
    return config


__all__ = ["Config", "DEFAULT", "from_dict", "get", "names", "override", "validate"]
