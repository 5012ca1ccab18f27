"""Population runs: P independent GANs trained at once, each with its own seed and rates."""
from __future__ import annotations

import dataclasses

from gan_jax.errors import UserError


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
