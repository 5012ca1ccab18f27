"""What every task's train step shares: device means, optimiser updates, EMA, the commit.

All pure functions of arrays and pytrees, usable inside ``jit``/``pmap``/``shard_map``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax import lax

from gan_jax.state import GANState


def device_mean(tree, axis_name: str | None):
    """``tree`` averaged over the device axis ``axis_name`` (unchanged outside pmap/shard_map)."""
    return tree if axis_name is None else lax.pmean(tree, axis_name)


def is_finite(tree) -> jax.Array:
    """bool []: every leaf of ``tree`` is finite."""
    return jnp.isfinite(optax.tree.norm(tree))


def apply_optimizer(tx: optax.GradientTransformation, grads, opt_state, params):
    """One optimiser update: ``(new params, new optimiser state)``."""
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def nonfinite_bits(d_loss, g_loss, d_grads_ok, g_grads_ok) -> jax.Array:
    """int32 []: the ``state.NONFINITE_BITS`` of one update (0 when everything is finite).

    ``d_grads_ok`` / ``g_grads_ok`` are bool [] (see :func:`is_finite`)."""
    return ((~jnp.isfinite(d_loss)) * 1 + (~jnp.isfinite(g_loss)) * 2 + (~d_grads_ok) * 4
            + (~g_grads_ok) * 8).astype(jnp.int32)


def ema_decay_at(step: jax.Array, decay: float) -> jax.Array:
    """EMA decay with warm-up, ``min(decay, (1 + t) / (10 + t))``: early weights fade fast."""
    t = step.astype(jnp.float32)
    return jnp.minimum(decay, (1.0 + t) / (10.0 + t))


def update_ema(config, state: GANState, g_params, g_stats):
    """The generator's EMA after this step (``{"params", "batch_stats"}``), None without EMA."""
    if state.ema is None:
        return None
    decay = ema_decay_at(state.step, config.ema_decay)
    new = {"params": g_params, "batch_stats": g_stats}
    return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, state.ema, new)


def commit(state: GANState, updated: dict, what: jax.Array, key: jax.Array) -> GANState:
    """The state after one step: the ``updated`` fields, the step counter and ``key``.

    ``what`` holds the NONFINITE_BITS of this step's update; a non-finite step changes
    nothing but the counters (the last good state survives) and is recorded if first.
    """
    ok = what == 0
    kept = {k: jax.tree.map(lambda new, old: jnp.where(ok, new, old), v, getattr(state, k))
            for k, v in updated.items()}
    first_bad = (state.nonfinite_step < 0) & ~ok
    return state.replace(
        **kept,
        step=state.step + 1,
        key=key,
        nonfinite_step=jnp.where(first_bad, state.step, state.nonfinite_step),
        nonfinite_what=jnp.where(first_bad, what, state.nonfinite_what),
    )


def probabilities(real_logits, fake_logits) -> dict:
    """D's mean output probability on reals and fakes, ``{"d_real", "d_fake"}`` (for the logs)."""
    return {"d_real": jnp.mean(jax.nn.sigmoid(real_logits)), "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits))}


def l1(x, y) -> jax.Array:
    """Mean absolute difference of two image batches."""
    return jnp.mean(jnp.abs(x - y))


__all__ = ["apply_optimizer", "commit", "device_mean", "ema_decay_at", "is_finite", "l1", "nonfinite_bits",
           "probabilities", "update_ema"]
