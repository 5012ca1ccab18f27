"""Several train steps per dispatch for the benchmarks (``steps_per_call`` in the library)."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from gan_jax.parallel import fuse_steps
from gan_jax.tasks import make_train_step


def make_scan_step(config, steps_per_call: int, unroll: bool = False):
    """``fn(state, batches [K, B, ...]) -> (state, metrics [K])``: K train steps in one jitted call.

    The state is donated, as in ``gan_jax.parallel``. ``unroll=True`` unrolls the
    scan (K copies of the step in one program, no while loop).
    """
    return jax.jit(fuse_steps(make_train_step(config), steps_per_call, unroll), donate_argnums=0)


def stack_batches(batch: dict, steps_per_call: int) -> dict:
    """The same batch K times along a new leading axis."""
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (steps_per_call,) + x.shape), batch)
