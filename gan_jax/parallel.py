"""Ways to run the one train step on devices: ``jit``, ``pmap``, ``sharding``, ``shard_map``.

* ``jit``: one device.
* ``pmap``: the step mapped over the local devices (one process); it averages
  gradients and BatchNorm statistics over the ``batch`` axis itself.
* ``sharding``: the unchanged single-device step under ``jax.jit`` with the batch
  split over a 1-D device mesh (``NamedSharding``) and the state replicated; the
  compiler inserts the collectives, and BatchNorm sees the global batch by construction.
* ``shard_map``: the step written for one shard (``axis_name`` set: explicit
  ``pmean`` of gradients, losses and BatchNorm statistics) under ``jax.shard_map``
  over the same mesh.

The mesh spans every device of every process, so after :func:`initialize_distributed`
the same code trains across hosts: each process feeds only its rows of the global
batch (``jax.make_array_from_process_local_data``).

Two orthogonal options wrap any mode:

* ``steps_per_call = K``: K steps fused into one compiled call with ``lax.scan``
  (the batch gets a leading ``[K]`` axis, the metrics too). ``gan-jax train`` starts such a
  run with single steps and compiles the fused program in the background where
  :func:`fused_warm_start` allows (:meth:`ParallelStep.compile_ahead`).
* ``population = P``: P independent GANs in one step with ``jax.vmap`` (state,
  batch and metrics get a leading ``[P]`` axis, before the ``[K]`` one; member ``i``
  has its own seed and learning rates, see :func:`gan_jax.configs.member_configs`).
  Under ``sharding`` the members are spread over the devices with ``shard_map``.

Each combination is a :class:`ParallelStep`: it moves a host state/batch into its
layout, runs the compiled step, and brings the state back. The train loop uses
it without knowing which one it got.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from gan_jax.configs.population import member_configs
from gan_jax.errors import UserError
from gan_jax.tasks import make_train_step

MODES = ("auto", "none", "jit", "pmap", "sharding", "shard_map")
AXIS = "batch"


def initialize_distributed(coordinator: str, num_processes: int, process_id: int) -> None:
    """Join a multi-process run through ``jax.distributed`` (call before anything uses JAX devices).

    ``coordinator`` is ``HOST:PORT`` of process 0. On CPU the processes exchange
    data with gloo, so two processes on 127.0.0.1 make a working two-host test.
    """
    if num_processes < 1 or not 0 <= process_id < num_processes:
        raise UserError(f"--process-id {process_id}: expected 0 <= id < --num-processes ({num_processes})")
    host, _, port = coordinator.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--coordinator {coordinator!r}: expected HOST:PORT, e.g. 127.0.0.1:12355")
    jax.distributed.initialize(coordinator, num_processes=num_processes, process_id=process_id)


def resolve_mode(mode: str) -> str:
    """``auto`` -> ``sharding`` with several devices, else ``jit`` (``none`` is an alias of ``jit``)."""
    if mode not in MODES:
        raise UserError(f"parallel={mode!r}: expected one of {', '.join(MODES)}")
    if mode == "auto":
        mode = "sharding" if jax.device_count() > 1 else "jit"
    mode = "jit" if mode == "none" else mode
    if mode in ("jit", "pmap") and jax.process_count() > 1:
        raise UserError(f"parallel={mode}: runs in one process, but this run has {jax.process_count()} "
                        f"processes; expected parallel=sharding or shard_map")
    return mode


def replicate(tree, n: int):
    """Stack ``n`` copies of every leaf along a new leading device axis."""
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (n,) + jnp.shape(x)), tree)


def unreplicate(tree):
    """The first device's copy of a replicated tree."""
    return jax.tree.map(lambda x: x[0], tree)


def split_batch(batch, n: int, axis: int = 0):
    """Move a new leading device axis out of ``axis``: [..., B, ...] -> [n, ..., B / n, ...]."""
    def split(x):
        x = np.asarray(x)
        shape = x.shape[:axis] + (n, x.shape[axis] // n) + x.shape[axis + 1:]
        return np.moveaxis(x.reshape(shape), axis, 0)
    return jax.tree.map(split, batch)


def stack_trees(trees):
    """A list of equally-shaped pytrees -> one pytree with a new leading axis."""
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)


def member_state(state, member: int, population: int):
    """Population member ``member``'s state (the state itself when ``population`` is 1)."""
    return state if population == 1 else jax.tree.map(lambda x: x[member], state)


def fuse_steps(step: Callable, steps_per_call: int, unroll: bool | None = None) -> Callable:
    """``step`` K times in one call with ``lax.scan``: batches [K, ...] -> metrics [K, ...].

    ``unroll`` (default: on CPU only) unrolls the scan into one program without a while
    loop, so consecutive steps can overlap: 12 % faster per step on the 2-core CPU for the
    28 px DCGAN (``benchmarks/results/levers_dcgan28.md``), K times the compile time.
    """
    if steps_per_call == 1:
        return step
    if unroll is None:
        unroll = jax.default_backend() == "cpu"
    return lambda state, batches: lax.scan(step, state, batches, length=steps_per_call, unroll=unroll)


def population_step(config) -> tuple[Callable, dict]:
    """``(fn, rates)``: ``fn(state, batch, rates)`` runs one call (``steps_per_call`` steps) of
    every population member at once, ``jax.vmap`` over the leading [P] axis of state, batch
    and ``rates`` (the members' learning rates, ``{"lr_g": [P], "lr_d": [P]}``, traced values)."""
    members = member_configs(config)
    rates = {"lr_g": np.asarray([c.lr_g for c in members], np.float32),
             "lr_d": np.asarray([c.lr_d for c in members], np.float32)}

    def member(state, batch, rate):
        step = make_train_step(dataclasses.replace(config, lr_g=rate["lr_g"], lr_d=rate["lr_d"]))
        return fuse_steps(step, config.steps_per_call)(state, batch)

    return jax.vmap(member), rates


@dataclasses.dataclass
class ParallelStep:
    """A compiled train step plus the layout conversions it needs.

    ``step(device_state, device_batch) -> (device_state, metrics)``. ``put_batch`` takes
    this process's rows of the global batch for one call: ``[B, ...]``, ``[K, B, ...]``
    when fused, ``[P, (K,) B, ...]`` for a population; the metrics have the same
    leading ``[P]`` and ``[K]`` axes.
    """

    mode: str
    num_devices: int
    step: Callable[[Any, Any], tuple[Any, dict]]
    put_state: Callable[[Any], Any]
    put_batch: Callable[[Any], Any]
    get_state: Callable[[Any], Any]
    get_metrics: Callable[[dict], dict]
    steps_per_call: int = 1
    population: int = 1
    # Wait for each call before dispatching the next (see :func:`_one_call_in_flight`).
    one_call_in_flight: bool = False
    # The device state's sharding under sharding/shard_map (None: one device, or pmap).
    state_sharding: Any = None
    # The device batch's sharding under sharding/shard_map (None: one device, or pmap).
    batch_sharding: Any = None

    def lower_ahead(self, abstract_state, device_batch) -> None:
        """Trace and lower ``step`` for a state of these shapes before the state exists, so
        that the first call only compiles (``jit``, ``sharding``, ``shard_map``; nothing under
        ``pmap``). ``gan-jax train`` does this while the init compiles in another thread."""
        if self.mode == "pmap":
            return
        if self.state_sharding is not None:
            abstract_state = jax.tree.map(
                lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=self.state_sharding), abstract_state)
        self.step.lower(abstract_state, device_batch)

    def compile_ahead(self, state, batch) -> "ParallelStep":
        """This step compiled now, ahead of its first call (``jit(...).lower(...).compile()``), for
        states shaped like ``state`` and device batches of one call shaped like ``batch`` (arrays
        or ``jax.ShapeDtypeStruct``; ``[K, B, ...]`` when fused): a copy whose ``step`` is the
        compiled executable (``jit``, ``sharding``, ``shard_map``; not ``pmap``).

        Only shapes, dtypes and weak types are read, so it may run in another thread while the
        arrays it was given are donated to other calls. ``gan-jax train`` compiles its fused
        program this way in a thread while it runs single steps (XLA releases the GIL)."""
        if self.mode == "pmap":
            raise ValueError("compile_ahead: not under pmap")
        state = _abstract(state, self.state_sharding)
        batch = _abstract(batch, self.batch_sharding)
        return dataclasses.replace(self, step=self.step.lower(state, batch).compile())

    def check_batch_size(self, batch_size: int) -> None:
        if self.population > 1:
            if self.population % self.num_devices:
                raise UserError(f"population={self.population}: must be divisible by the number of "
                                f"devices ({self.num_devices}) for parallel={self.mode}")
        elif batch_size % self.num_devices:
            raise UserError(f"batch_size={batch_size}: must be divisible by the number of devices "
                            f"({self.num_devices}) for parallel={self.mode}")


def _compute(config, mode: str, mesh: Mesh | None) -> Callable:
    """The uncompiled step for ``mode``: fused over ``steps_per_call``, vmapped over the population;
    ``mesh`` (``sharding`` and ``shard_map``) is the device mesh the step will run on."""
    if config.population > 1:
        if mode in ("pmap", "shard_map") or jax.process_count() > 1:
            raise UserError(f"population={config.population}: runs under parallel=jit or sharding in one "
                            f"process (members are spread over the devices); got parallel={mode}")
        members, rates = population_step(config)
        if mode == "sharding":  # each device runs its own members: no communication at all
            members = jax.shard_map(members, mesh=mesh, in_specs=P(AXIS), out_specs=P(AXIS), check_vma=False)
        return lambda state, batch: members(state, batch, rates)
    axis_name = AXIS if mode in ("pmap", "shard_map") else None
    layout = None
    if mode == "sharding":  # what the step draws itself is split like the batch
        layout = lambda x: lax.with_sharding_constraint(x, NamedSharding(mesh, P(AXIS)))  # noqa: E731
    return fuse_steps(make_train_step(config, axis_name, layout), config.steps_per_call)


def make_parallel_step(config, mode: str | None = None) -> ParallelStep:
    """The train step of ``config`` compiled for ``mode`` (default: ``config.parallel``),
    fused over ``config.steps_per_call`` steps and vmapped over ``config.population`` members."""
    mode = resolve_mode(mode or config.parallel)
    k, p = config.steps_per_call, config.population
    mesh = _mesh() if mode in ("sharding", "shard_map") else None
    step = _compute(config, mode, mesh)
    if mode == "jit":
        return ParallelStep(mode, 1, jax.jit(step, donate_argnums=0), put_state=jax.device_put,
                            put_batch=jax.device_put, get_state=lambda s: s, get_metrics=lambda m: m,
                            steps_per_call=k, population=p)
    if mode == "pmap":
        n = jax.local_device_count()
        return ParallelStep(mode, jax.device_count(), jax.pmap(step, axis_name=AXIS, donate_argnums=0),
                            put_state=lambda s: replicate(s, n),
                            put_batch=lambda b: split_batch(b, n, axis=int(k > 1)),
                            get_state=unreplicate, get_metrics=unreplicate, steps_per_call=k,
                            one_call_in_flight=_one_call_in_flight())

    if p > 1:  # the leading member axis of state, batch and metrics is split
        state_spec, batch_spec, metric_spec = P(AXIS), P(AXIS), P(AXIS)
    else:  # the state is replicated, the batch axis split (after the [K] axis of fused steps)
        state_spec, batch_spec, metric_spec = P(), P(*(None,) * (k > 1), AXIS), P()
    if mode == "shard_map":
        # check_vma=False: with it, autodiff of the replicated parameters would already psum
        # the gradients (the transpose of the implicit pvary), and the step's own pmean would
        # then average a sum. Unchecked, the step's collectives are exactly those of pmap.
        step = jax.shard_map(step, mesh=mesh, in_specs=(P(), batch_spec), out_specs=(P(), P()),
                             check_vma=False)
    state_sharding, batch_sharding = NamedSharding(mesh, state_spec), NamedSharding(mesh, batch_spec)
    step = jax.jit(step, donate_argnums=0, out_shardings=(state_sharding, NamedSharding(mesh, metric_spec)))
    return ParallelStep(mode, mesh.devices.size, step,
                        put_state=lambda s: _put_global(s, state_sharding),
                        put_batch=lambda b: _put_local_rows(b, batch_sharding),
                        get_state=_to_host, get_metrics=_to_host, steps_per_call=k, population=p,
                        one_call_in_flight=_one_call_in_flight(), state_sharding=state_sharding,
                        batch_sharding=batch_sharding)


def fused_warm_start(config, mode: str | None = None) -> str | None:
    """Whether ``gan-jax train`` may start a fused run (``steps_per_call`` K > 1) with single
    steps while the K-step program compiles in the background, switching to it at a step
    that is a multiple of K: None if so, else why not (then every call is fused from the
    first, as before). Supported: one process, ``jit``, ``sharding`` or ``shard_map``, no
    population. Several processes would have to agree on the switch's step (a collective per
    step); a population's members and ``pmap`` are left as they were."""
    if config.steps_per_call == 1:
        return "steps_per_call=1: nothing to fuse"
    if jax.process_count() > 1:
        return f"{jax.process_count()} processes (they would have to agree on the step of the switch)"
    if config.population > 1:
        return f"population={config.population}"
    mode = resolve_mode(mode or config.parallel)
    if mode == "pmap":
        return "parallel=pmap"
    return None


def _abstract(tree, sharding):
    """``jax.ShapeDtypeStruct`` of every leaf of ``tree`` (arrays or structs), laid out by ``sharding``
    (None: as ``jit`` places uncommitted arguments)."""
    def spec(x):
        weak = getattr(x, "weak_type", None)
        if weak is None:
            weak = getattr(getattr(x, "aval", None), "weak_type", False)
        return jax.ShapeDtypeStruct(np.shape(x), x.dtype, sharding=sharding, weak_type=bool(weak))
    return jax.tree.map(spec, tree)


def _one_call_in_flight() -> bool:
    """True for several CPU devices in one process (forced host devices).

    A full-size ``dcgan_mnist`` run over 4 forced devices on 2 cores, with calls queued
    asynchronously, aborted after 5,097 steps in an all-reduce ("Expected 4 threads to
    join the rendezvous, but only 3 of them arrived"); waiting for each call before
    dispatching the next, the same run finished. The likely cause: XLA:CPU runs every
    device's part of a call on one shared thread pool, and devices that start call N + 1
    early block pool threads in its first all-reduce while a device is still in call N.
    """
    return jax.default_backend() == "cpu" and jax.local_device_count() > 1


def _mesh() -> Mesh:
    """A 1-D mesh over every device of every process."""
    return Mesh(np.asarray(jax.devices()), (AXIS,))


def _put_global(tree, sharding):
    """A host tree that is the same in every process -> global arrays laid out by ``sharding``."""
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)
    return jax.tree.map(lambda x: jax.make_array_from_callback(np.shape(x), sharding,
                                                               lambda idx, x=np.asarray(x): x[idx]), tree)


def _put_local_rows(batch, sharding):
    """This process's rows of the global batch -> global arrays split by ``sharding``."""
    if jax.process_count() == 1:
        return jax.device_put(batch, sharding)
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), batch)


def _to_host(tree):
    """Replicated device arrays -> arrays this process can read (as they are with one process)."""
    if jax.process_count() == 1:
        return tree
    from jax.experimental import multihost_utils
    return multihost_utils.process_allgather(tree, tiled=True)
