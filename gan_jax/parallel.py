"""Ways to run the one train step on devices: plain ``jit``, ``pmap`` and ``sharding``.

* ``jit``: one device.
* ``pmap``: the step mapped over local devices; it averages gradients and BatchNorm
  statistics over the ``batch`` axis itself.
* ``sharding``: the unchanged single-device step under ``jax.jit`` with the batch split
  over a 1-D device mesh (``NamedSharding``) and the state replicated; the compiler
  inserts the collectives, and BatchNorm sees the global batch by construction.

Each mode is a :class:`ParallelStep`: it moves a host state/batch into the
mode's layout, runs the compiled step, and brings the state back. The train
loop uses it without knowing which mode it got.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.errors import UserError
from gan_jax.step import make_train_step

MODES = ("auto", "none", "jit", "pmap", "sharding")
AXIS = "batch"


def resolve_mode(mode: str) -> str:
    """``auto`` -> ``pmap`` with several local devices, else ``jit`` (``none`` is an alias of ``jit``)."""
    if mode not in MODES:
        raise UserError(f"parallel={mode!r}: expected one of {', '.join(MODES)}")
    if mode == "auto":
        return "pmap" if jax.local_device_count() > 1 else "jit"
    return "jit" if mode == "none" else mode


def replicate(tree, n: int):
    """Stack ``n`` copies of every leaf along a new leading device axis."""
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (n,) + jnp.shape(x)), tree)


def unreplicate(tree):
    """The first device's copy of a replicated tree."""
    return jax.tree.map(lambda x: x[0], tree)


def split_batch(batch, n: int):
    """[B, ...] -> [n, B / n, ...] for every leaf."""
    return jax.tree.map(lambda x: np.reshape(x, (n, x.shape[0] // n) + x.shape[1:]), batch)


@dataclasses.dataclass
class ParallelStep:
    """A compiled train step plus the layout conversions it needs."""

    mode: str
    num_devices: int
    step: Callable[[Any, Any], tuple[Any, dict]]
    put_state: Callable[[Any], Any]
    put_batch: Callable[[Any], Any]
    get_state: Callable[[Any], Any]
    get_metrics: Callable[[dict], dict]

    def check_batch_size(self, batch_size: int) -> None:
        if batch_size % self.num_devices:
            raise UserError(f"batch_size={batch_size}: must be divisible by the number of devices "
                            f"({self.num_devices}) for parallel={self.mode}")


def make_parallel_step(config, mode: str | None = None) -> ParallelStep:
    """The train step of ``config`` compiled for ``mode`` (default: ``config.parallel``)."""
    mode = resolve_mode(mode or config.parallel)
    if mode == "jit":
        step = jax.jit(make_train_step(config), donate_argnums=0)
        return ParallelStep(mode, 1, step, put_state=jax.device_put, put_batch=jax.device_put,
                            get_state=lambda s: s, get_metrics=lambda m: m)
    if mode == "sharding":
        return _sharded_step(config)
    n = jax.local_device_count()
    step = jax.pmap(make_train_step(config, AXIS), axis_name=AXIS, donate_argnums=0)
    return ParallelStep(mode, n, step,
                        put_state=lambda s: replicate(s, n),
                        put_batch=lambda b: split_batch(b, n),
                        get_state=unreplicate, get_metrics=unreplicate)


def _sharded_step(config) -> ParallelStep:
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    devices = jax.devices()
    mesh = Mesh(np.asarray(devices), (AXIS,))
    replicated = NamedSharding(mesh, PartitionSpec())
    by_batch = NamedSharding(mesh, PartitionSpec(AXIS))
    step = jax.jit(make_train_step(config), donate_argnums=0, out_shardings=(replicated, replicated))
    return ParallelStep("sharding", len(devices), step,
                        put_state=lambda s: jax.device_put(s, replicated),
                        put_batch=lambda b: jax.device_put(b, by_batch),
                        get_state=lambda s: s, get_metrics=lambda m: m)
