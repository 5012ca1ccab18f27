"""``lax.scan`` over several train steps per dispatch (a benchmark lever; the library's step is unchanged)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from gan_jax.step import make_train_step


def make_scan_step(config, steps_per_call: int, unroll: bool = False):
    """``fn(state, batches [K, B, ...]) -> (state, metrics [K])``: K train steps in one jitted call.

    The state is donated, as in ``gan_jax.parallel``. ``unroll=True`` unrolls the
    scan (K copies of the step in one program, no while loop).
    """
    step = make_train_step(config)

    def many(state, batches):
        return lax.scan(step, state, batches, length=steps_per_call, unroll=unroll)

    return jax.jit(many, donate_argnums=0)


def stack_batches(batch: dict, steps_per_call: int) -> dict:
    """The same batch K times along a new leading axis."""
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (steps_per_call,) + x.shape), batch)
