"""``GANState``: everything that determines the future of a training run, as one pytree.

Parameters and BatchNorm statistics of both networks, both optax states, the
EMA copy of the generator (``None`` when EMA is off), the step counter, the RNG
key, a sticky record of the first non-finite step, and CycleGAN's history pools of
generated images (``None`` for other tasks). CycleGAN keeps both generators in
``g_params`` as ``{"a2b", "b2a"}`` (both discriminators in ``d_params`` as ``{"a", "b"}``). Models and optimisers
are *not* stored: they are rebuilt from the config, so the state is plain data
that jit, pmap, sharding and checkpoints all handle.
"""
from __future__ import annotations

import concurrent.futures
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
    pool: Any = None  # CycleGAN history pools {"a", "b": [P, R, R, C], "count": int32 []}, or None

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


def _init_variables(config, g, d, kg, kd) -> tuple[dict, dict]:
    """Flax variables of G and D for ``config.task`` (CycleGAN: ``{"a2b", "b2a"}`` of each)."""
    r, c = config.resolution, config.channels
    x = jnp.zeros((1, r, r, c), jnp.float32)
    task = config.task
    if task == "generate":
        z = jnp.zeros((1, config.z_dim), jnp.float32)
        y = jnp.zeros((1,), jnp.int32) if config.num_classes else None
        return g.init(kg, z, y, train=False), d.init(kd, x, y, train=False)
    if task == "cyclegan":
        def pair(net, key, names):
            variables = dict(zip(names, (net.init(k, x, train=False) for k in jax.random.split(key))))
            return {col: {n: v.get(col, {}) for n, v in variables.items()} for col in ("params", "batch_stats")}
        return pair(g, kg, ("a2b", "b2a")), pair(d, kd, ("a", "b"))
    if task == "srgan":
        return g.init(kg, jnp.zeros((1, r // config.scale, r // config.scale, c)), train=False), \
            d.init(kd, x, train=False)
    source = jnp.zeros((1, r, r, c + (task == "inpaint")), jnp.float32)  # inpaint: + the mask
    return g.init(kg, source, train=False), d.init(kd, jnp.concatenate([source, x], -1), train=False)


def _init_pool(config):
    """Empty CycleGAN history pools of fakes (None without a pool)."""
    if config.task != "cyclegan" or not config.pool_size:
        return None
    shape = (config.pool_size, config.resolution, config.resolution, config.channels)
    return {"a": jnp.zeros(shape), "b": jnp.zeros(shape), "count": jnp.zeros((), jnp.int32)}


def _init(config, key) -> GANState:
    g, d = models.build(config)
    tx_g, tx_d = make_optimizers(config)
    key, kg, kd = jax.random.split(key, 3)
    g_vars, d_vars = _init_variables(config, g, d, kg, kd)
    g_stats = g_vars.get("batch_stats", {})
    ema = {"params": g_vars["params"], "batch_stats": g_stats} if config.ema_decay > 0 else None
    return GANState(
        step=jnp.zeros((), jnp.int32),
        g_params=g_vars["params"], g_stats=g_stats,
        d_params=d_vars["params"], d_stats=d_vars.get("batch_stats", {}),
        g_opt=tx_g.init(g_vars["params"]), d_opt=tx_d.init(d_vars["params"]),
        ema=ema, key=key,
        nonfinite_step=jnp.full((), -1, jnp.int32), nonfinite_what=jnp.zeros((), jnp.int32),
        pool=_init_pool(config),
    )


INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}
"""The init runs once: compiled without LLVM optimisation it compiles 4x faster (the
threefry + erf_inv code of its random draws dominates), and runs in ~0.1 s instead of
~0.03 s. Normal draws can differ from the optimised build's in the last bit."""


@functools.lru_cache(maxsize=8)
def _jitted_init(config):
    return jax.jit(functools.partial(_init, config), compiler_options=INIT_COMPILER_OPTIONS)


def init_state(config, seed: int | None = None) -> GANState:
    """A fresh state for ``config`` (jit-compiled init; ``seed`` defaults to ``config.seed``).

    With ``config.population = P > 1``: the P members' states (member i from seed
    ``seed + i``) stacked along a new leading axis of every leaf.
    """
    if config.population > 1:
        from gan_jax.configs import member_configs
        members = member_configs(config)
        return jax.tree.map(lambda *xs: jnp.stack(xs), *(init_state(members[0], m.seed) for m in members))
    seed = config.seed if seed is None else seed
    return _jitted_init(config)(jax.random.PRNGKey(seed))


def init_state_async(config, seed: int | None = None) -> tuple[concurrent.futures.Future, GANState]:
    """``init_state(config, seed)`` finishing in a worker thread, and its shapes (``abstract_state``).

    The init is traced and lowered in the calling thread, then compiled and run in the
    worker. XLA compiles without holding the GIL, so the caller can meanwhile trace other
    programs, as ``gan-jax train`` does with the train step (see ``benchmarks/NOTES.md``).
    """
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="init_state")
    try:
        if config.population > 1:
            return pool.submit(init_state, config, seed), abstract_state(config)
        key = jax.random.PRNGKey(config.seed if seed is None else seed)
        init = _jitted_init(config)
        lowered = init.lower(key)
        return pool.submit(lambda: lowered.compile()(key)), jax.eval_shape(init, key)
    finally:
        pool.shutdown(wait=False)  # the submitted init still runs to the end


def abstract_state(config) -> GANState:
    """Shapes and dtypes of ``init_state(config)`` without computing it (for restores)."""
    if config.population > 1:
        from gan_jax.configs import member_configs
        member = abstract_state(member_configs(config)[0])
        return jax.tree.map(lambda a: jax.ShapeDtypeStruct((config.population,) + a.shape, a.dtype), member)
    return jax.eval_shape(functools.partial(_init, config), jax.random.PRNGKey(0))
