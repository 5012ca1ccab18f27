"""A run's models and its fresh :class:`~gan_jax.state.GANState`, as its task makes them."""
from __future__ import annotations

import concurrent.futures
import functools

import jax
import jax.numpy as jnp

from gan_jax import models, registry
from gan_jax.state import GANState, make_optimizers
from gan_jax.tasks.base import of


def build_models(config, axis_name: str | None = None):
    """(generator, discriminator) Flax modules of ``config.model`` with the task's options."""
    return models.build(config, axis_name, **of(config).model_options(config))


def _init(config, key) -> GANState:
    task = of(config)
    g, d = build_models(config)
    tx_g, tx_d = make_optimizers(config)
    key, kg, kd = jax.random.split(key, 3)
    g_vars, d_vars = task.init_variables(config, g, d, kg, kd)
    g_stats = g_vars.get("batch_stats", {})
    ema = {"params": g_vars["params"], "batch_stats": g_stats} if config.ema_decay > 0 else None
    return GANState(
        step=jnp.zeros((), jnp.int32),
        g_params=g_vars["params"], g_stats=g_stats,
        d_params=d_vars["params"], d_stats=d_vars.get("batch_stats", {}),
        g_opt=tx_g.init(g_vars["params"]), d_opt=tx_d.init(d_vars["params"]),
        ema=ema, key=key,
        nonfinite_step=jnp.full((), -1, jnp.int32), nonfinite_what=jnp.zeros((), jnp.int32),
        pool=task.init_extra(config),
    )


INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}
"""The init runs once: compiled without LLVM optimisation it compiles 4x faster (the
threefry + erf_inv code of its random draws dominates), and runs in ~0.1 s instead of
~0.03 s. Normal draws can differ from the optimised build's in the last bit."""


@functools.lru_cache(maxsize=8)
def _cached_init(config, registry_version: int):
    return jax.jit(functools.partial(_init, config), compiler_options=INIT_COMPILER_OPTIONS)


def _jitted_init(config):
    """The jitted init of ``config``; cached per config and registry state (a model or task
    registered later under a used name gets a new program, never a stale one)."""
    return _cached_init(config, registry.version())


def init_state(config, seed: int | None = None) -> GANState:
    """A fresh state for ``config`` (jit-compiled init; ``seed`` defaults to ``config.seed``).

    With ``config.population = P > 1``: the P members' states (member i from seed
    ``seed + i``) stacked along a new leading axis of every leaf.
    """
    if config.population > 1:
        from gan_jax.configs.population import member_configs
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
        from gan_jax.configs.population import member_configs
        member = abstract_state(member_configs(config)[0])
        return jax.tree.map(lambda a: jax.ShapeDtypeStruct((config.population,) + a.shape, a.dtype), member)
    return jax.eval_shape(functools.partial(_init, config), jax.random.PRNGKey(0))
