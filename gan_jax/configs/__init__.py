"""Named configs as code: ``gan_jax/configs/<name>.py`` defines ``get_config() -> Config``."""
from __future__ import annotations

import importlib
import pkgutil

from gan_jax.configs.base import MAX_TRUNCATION_PSI, Config, from_dict, override
from gan_jax.configs.population import member_configs
from gan_jax.data.pipeline import parse_pipeline
from gan_jax.errors import UserError

DEFAULT = "selfcond_mnist"
_NOT_CONFIGS = ("base", "population")  # the modules of this package that are not named configs


def names() -> list[str]:
    """Names of the configs shipped with the library."""
    import gan_jax.configs as pkg
    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name not in _NOT_CONFIGS)


def get(name: str = DEFAULT) -> Config:
    """The config called ``name``."""
    if name not in names():
        raise UserError(f"--config {name}: unknown config; expected one of: {', '.join(names())}")
    return importlib.import_module(f"gan_jax.configs.{name}").get_config()


_CHOICES = {
    "resolution": (28, 32, 64),
    "channels": (1, 3),
    "d_norm": ("batch", "spectral", "none", "instance"),
    "nonfinite": ("stop", "skip"),
    "parallel": ("auto", "none", "jit", "pmap", "sharding", "shard_map"),
    "compute_dtype": ("float32", "bfloat16"),
    "conditioning": ("projection", "acgan"),
    "truncation_center": ("mean", "cluster"),
}
_POSITIVE = ("batch_size", "z_dim", "g_width", "d_width", "n_critic", "log_every",
             "sample_every", "checkpoint_every", "keep_checkpoints", "grid_size", "steps_per_call",
             "population")


def validate(config: Config) -> Config:
    """Check every field's range; raise UserError naming the first bad one.

    The fields every run has are checked here; then the run's loss, model and task (found by
    name in their registries, :func:`gan_jax.tasks.validate`) check the fields they read."""
    for key, allowed in _CHOICES.items():
        if getattr(config, key) not in allowed:
            raise UserError(f"{key}={getattr(config, key)!r}: expected one of "
                            f"{', '.join(map(str, allowed))}")
    for key in _POSITIVE:
        if getattr(config, key) <= 0:
            raise UserError(f"{key}={getattr(config, key)}: expected a positive integer")
    if not config.checkpoint_minutes >= 0:
        raise UserError(f"checkpoint_minutes={config.checkpoint_minutes}: expected minutes >= 0 (0: off)")
    if config.steps < 0:
        raise UserError(f"steps={config.steps}: expected a non-negative step count")
    parse_pipeline(config.input_pipeline)  # UserError naming input_pipeline
    if not 0.0 <= config.lr_decay_start <= 1.0:
        raise UserError(f"lr_decay_start={config.lr_decay_start}: expected a fraction of the run in [0, 1] "
                        f"(1: constant learning rates)")
    if not 0.0 < config.truncation_psi <= MAX_TRUNCATION_PSI:
        raise UserError(f"truncation_psi={config.truncation_psi}: expected a value in (0, {MAX_TRUNCATION_PSI:g}] "
                        f"(1: none)")
    if config.truncation_center == "cluster" and config.model != "stylegan2":
        raise UserError(f"truncation_center=cluster: only StyleGAN2 truncates about cluster means "
                        f"(model=stylegan2 with cluster_code); got model={config.model!r}")
    if not 0.0 <= config.ema_decay < 1.0:
        raise UserError(f"ema_decay={config.ema_decay}: expected 0 (off) or a value in (0, 1)")
    for key in ("lr_g", "lr_d"):
        if not getattr(config, key) > 0:
            raise UserError(f"{key}={getattr(config, key)}: expected a positive learning rate")
    for key in ("beta1", "beta2"):
        if not 0.0 <= getattr(config, key) < 1.0:
            raise UserError(f"{key}={getattr(config, key)}: expected a value in [0, 1)")
    if config.num_classes < 0 or config.num_classes == 1:
        raise UserError(f"num_classes={config.num_classes}: expected 0 (unconditional) or at least 2")
    if config.latent_code:
        if config.model != "dcgan" or config.num_classes:
            raise UserError(f"latent_code={config.latent_code}: only for the unconditional DCGAN "
                            f"(model=dcgan, num_classes=0); got model={config.model!r}, "
                            f"num_classes={config.num_classes}")
        if not 2 <= config.latent_code <= config.z_dim:
            raise UserError(f"latent_code={config.latent_code}: expected 0 (off) or 2..z_dim ({config.z_dim}) "
                            f"categories")
    if config.cluster_code:
        if config.model not in ("dcgan", "stylegan2") or config.num_classes or config.latent_code:
            raise UserError(f"cluster_code={config.cluster_code}: only for the unconditional DCGAN or StyleGAN2 "
                            f"without latent_code (model=dcgan or stylegan2, num_classes=0, latent_code=0); "
                            f"got model={config.model!r}, "
                            f"num_classes={config.num_classes}, latent_code={config.latent_code} "
                            f"(the default config sets cluster_code: add --set cluster_code=0, or start from "
                            f"--config dcgan_mnist)")
        if not 2 <= config.cluster_code <= config.z_dim:
            raise UserError(f"cluster_code={config.cluster_code}: expected 0 (off) or 2..z_dim ({config.z_dim}) "
                            f"clusters")
    if config.transition_end or config.transition_start:
        if config.model != "stylegan2" or not config.cluster_code:
            raise UserError(f"transition_start={config.transition_start}, transition_end={config.transition_end}: "
                            f"only for the self-conditioned StyleGAN2 (model=stylegan2, cluster_code > 0); got "
                            f"model={config.model!r}, cluster_code={config.cluster_code}")
        if not 0 <= config.transition_start < config.transition_end:
            raise UserError(f"transition_start={config.transition_start}, transition_end={config.transition_end}: "
                            f"expected 0 <= transition_start < transition_end (steps)")
    if config.label_input and (config.model != "dcgan" or not config.num_classes):
        raise UserError(f"label_input=True: only for the class-conditional DCGAN (model=dcgan, num_classes >= 2); "
                        f"got model={config.model!r}, num_classes={config.num_classes}")
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
    if config.gp_weight < 0 or config.r1_gamma < 0 or config.r2_gamma < 0:
        raise UserError(f"gp_weight={config.gp_weight}, r1_gamma={config.r1_gamma}, r2_gamma={config.r2_gamma}: "
                        "expected values >= 0")
    if config.r1_every < 1:
        raise UserError(f"r1_every={config.r1_every}: expected a positive step interval")
    if (config.gp_weight or config.r1_gamma or config.r2_gamma) and config.d_norm == "batch":
        raise UserError("gp_weight/r1_gamma/r2_gamma need per-sample input gradients, which BatchNorm in D mixes "
                        "across the batch; expected d_norm=spectral or none with a gradient penalty")
    from gan_jax.data.augment import parse_policy
    from gan_jax.ops import parse_policy as parse_conv_policy
    try:
        parse_policy(config.augment)
    except ValueError as e:
        raise UserError(f"augment={config.augment!r}: {e}") from None
    if config.conv_policy.strip() != "auto":  # auto: the autotuned policy of this CPU (gan_jax.ops.autotune)
        try:
            parse_conv_policy(config.conv_policy)
        except ValueError as e:
            from gan_jax.ops.policy import SPEC_FORMS
            raise UserError(f"conv_policy={config.conv_policy!r}: {e} (conv_policy: expected {SPEC_FORMS})") from None
    for key in ("noise_sigma", "l1_weight", "feature_weight", "cycle_weight", "identity_weight"):
        if not getattr(config, key) >= 0:
            raise UserError(f"{key}={getattr(config, key)}: expected a value >= 0")
    if config.scale not in (2, 4):
        raise UserError(f"scale={config.scale}: expected 2 or 4")
    if config.pretrain_steps < 0 or config.pool_size < 0:
        raise UserError(f"pretrain_steps={config.pretrain_steps}, pool_size={config.pool_size}: "
                        "expected values >= 0")
    metrics = ("fd", "kid", "is", "precision", "recall")
    if config.eval_metric not in metrics:
        raise UserError(f"eval_metric={config.eval_metric!r}: expected one of {', '.join(metrics)}")
    from gan_jax import tasks  # the registries: the loss, model and task of the run check their fields

    tasks.validate(config)
    return config


__all__ = ["Config", "DEFAULT", "MAX_TRUNCATION_PSI", "from_dict", "get", "member_configs", "names", "override",
           "validate"]
