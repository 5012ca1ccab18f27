"""``GANState``: everything that determines the future of a training run, as one pytree.

Parameters and BatchNorm statistics of both networks, both optax states, the
EMA copy of the generator (``None`` when EMA is off), the step counter, the RNG
key, a sticky record of the first non-finite step, and CycleGAN's history pools of
generated images (``None`` for other tasks). CycleGAN keeps both generators in
``g_params`` as ``{"a2b", "b2a"}`` (both discriminators in ``d_params`` as ``{"a", "b"}``). Models and optimisers
are *not* stored: they are rebuilt from the config, so the state is plain data
that jit, pmap, sharding and checkpoints all handle. A fresh state comes from the run's
task: :func:`gan_jax.tasks.init_state`.
"""
from __future__ import annotations

from typing import Any

import flax
import jax
import optax

# Bits of ``GANState.nonfinite_what``: which quantity first went NaN/Inf.
NONFINITE_BITS = {1: "discriminator loss", 2: "generator loss",
                  4: "discriminator gradients", 8: "generator gradients"}


@flax.struct.dataclass
class GANState:
    step: jax.Array  # int32 []: number of completed train steps
    g_params: Any
    g_stats: Any  # generator BatchNorm statistics
    d_params: Any
    d_stats: Any
    g_opt: Any  # optax state of the generator optimiser
    d_opt: Any
    ema: Any  # {"params", "batch_stats"} EMA of the generator, or None when ema_decay == 0
    key: jax.Array  # uint32 [2]: split once per step
    nonfinite_step: jax.Array  # int32 []: first step whose update was non-finite, -1 if none
    nonfinite_what: jax.Array  # int32 []: NONFINITE_BITS of that step
    pool: Any = None  # CycleGAN history pools {"a", "b": [P, R, R, C], "count": int32 []}, or None

    def generator_variables(self, use_ema: bool = True) -> dict:
        """Flax variables of G for sampling: the EMA copy when present and asked for."""
        if use_ema and self.ema is not None:
            return self.ema
        return {"params": self.g_params, "batch_stats": self.g_stats}


def learning_rate(rate, updates: int, decay_start: float):
    """``rate`` (a float, or a traced value for population members), or, when ``decay_start``
    < 1, a schedule that holds it for the first ``decay_start`` x ``updates`` updates and then
    falls linearly to 0 at ``updates``."""
    if decay_start >= 1.0:
        return rate
    hold = int(decay_start * updates)
    return optax.join_schedules([optax.constant_schedule(rate), optax.linear_schedule(rate, 0.0, updates - hold)],
                                [hold])


def make_optimizers(config) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
    """Adam for G and D with the config's learning rates and betas (default 2e-4, 0.5, 0.999),
    constant or decaying to 0 after ``lr_decay_start`` of the run (D counts its ``n_critic``
    updates per step)."""
    g_rate = learning_rate(config.lr_g, config.steps, config.lr_decay_start)
    d_rate = learning_rate(config.lr_d, config.steps * config.n_critic, config.lr_decay_start)
    g = optax.adam(g_rate, b1=config.beta1, b2=config.beta2)
    d = optax.adam(d_rate, b1=config.beta1, b2=config.beta2)
    return g, d
