"""``GANState``: everything that determines the future of a training run, as one pytree.

Parameters and BatchNorm statistics of both networks, both optax states, the
EMA copy of the generator (``None`` when EMA is off), the step counter, the RNG
key and a sticky record of the first non-finite step. Models and optimisers
are *not* stored: they are rebuilt from the config, so the state is plain data
that jit, pmap, sharding and checkpoints all handle.
"""
from __future__ import annotations

import functools
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

from gan_jax import models

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

    def generator_variables(self, use_ema: bool = True) -> dict:
        """Flax variables of G for sampling: the EMA copy when present and asked for."""
        if use_ema and self.ema is not None:
            return self.ema
        return {"params": self.g_params, "batch_stats": self.g_stats}


def make_optimizers(config) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
    """Adam for G and D with the config's learning rates and betas (default 2e-4, 0.5, 0.999)."""
    g = optax.adam(config.lr_g, b1=config.beta1, b2=config.beta2)
    d = optax.adam(config.lr_d, b1=config.beta1, b2=config.beta2)
    return g, d


def _init(config, key) -> GANState:
    g, d = models.build(config)
    tx_g, tx_d = make_optimizers(config)
    key, kg, kd = jax.random.split(key, 3)
    z = jnp.zeros((1, config.z_dim), jnp.float32)
    x = jnp.zeros((1, config.resolution, config.resolution, config.channels), jnp.float32)
    y = jnp.zeros((1,), jnp.int32) if config.num_classes else None
    g_vars = g.init(kg, z, y, train=False)
    d_vars = d.init(kd, x, y, train=False)
    ema = {"params": g_vars["params"], "batch_stats": g_vars["batch_stats"]} if config.ema_decay > 0 else None
    return GANState(
        step=jnp.zeros((), jnp.int32),
        g_params=g_vars["params"], g_stats=g_vars["batch_stats"],
        d_params=d_vars["params"], d_stats=d_vars.get("batch_stats", {}),
        g_opt=tx_g.init(g_vars["params"]), d_opt=tx_d.init(d_vars["params"]),
        ema=ema, key=key,
        nonfinite_step=jnp.full((), -1, jnp.int32), nonfinite_what=jnp.zeros((), jnp.int32),
    )


@functools.lru_cache(maxsize=8)
def _jitted_init(config):
    return jax.jit(functools.partial(_init, config))


def init_state(config, seed: int | None = None) -> GANState:
    """A fresh state for ``config`` (jit-compiled init; ``seed`` defaults to ``config.seed``)."""
    seed = config.seed if seed is None else seed
    return _jitted_init(config)(jax.random.PRNGKey(seed))


def abstract_state(config) -> GANState:
    """Shapes and dtypes of ``init_state(config)`` without computing it (for restores)."""
    return jax.eval_shape(functools.partial(_init, config), jax.random.PRNGKey(0))
