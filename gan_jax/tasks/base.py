"""The :class:`Task` interface and the ``TASKS`` registry (see :mod:`gan_jax.tasks`)."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

from gan_jax.errors import UserError
from gan_jax.registry import Registry


def _no_options(config) -> dict:
    return {}


def _no_extra(config) -> Any:
    return None


def _no_checks(config) -> None:
    return None


@dataclasses.dataclass(frozen=True, eq=False)
class Task:
    """One task's implementation. Every callable takes the run's ``Config`` first.

    * ``models``: the ``config.model`` names it accepts (empty: any registered model).
    * ``model_options(config) -> dict``: keyword options for the model's ``build``.
    * ``init_variables(config, g, d, key_g, key_d) -> (g_variables, d_variables)``: Flax variables.
    * ``make_step(config, axis_name, layout) -> step``: the pure train step ``(state, batch) ->
      (state, metrics)``; ``axis_name`` names the device axis inside pmap/shard_map (None
      otherwise), ``layout`` places arrays the step draws itself like the batch (sharding).
    * ``data_source(config, split) -> source``: ``split`` is ``"train"`` or ``"heldout"``.
    * ``sample_grid(config, state, z) -> (images [N, H, W, C] in [-1, 1], columns | None)``.
    * ``validate(config)``: raise UserError naming the first bad field of this task.
    * ``init_extra(config)``: task state kept beside the networks (``GANState.pool``), or None.
    * ``operations``: inference on a trained run by name, e.g. ``{"translate": fn}``.
    """
    name: str
    init_variables: Callable
    make_step: Callable
    data_source: Callable
    sample_grid: Callable
    models: tuple[str, ...] = ()
    model_options: Callable[[Any], dict] = _no_options
    validate: Callable[[Any], None] = _no_checks
    init_extra: Callable[[Any], Any] = _no_extra
    operations: Mapping[str, Callable] = dataclasses.field(default_factory=dict)


def _as_task(obj) -> Task:
    if not isinstance(obj, Task):
        raise TypeError(f"expected a gan_jax.tasks.Task, got {type(obj).__name__}")
    return obj


TASKS: Registry[Task] = Registry("task", _as_task)
register = TASKS.register


def get(name: str) -> Task:
    """The task registered as ``name`` (or at the import path ``"module:attr"``)."""
    return TASKS.get(name)


def of(config) -> Task:
    """The task of ``config`` (``config.task``)."""
    return get(config.task)


def supports(config, operation: str) -> bool:
    """Whether runs of ``config``'s task offer the inference ``operation``."""
    return operation in of(config).operations


def operation(config, name: str, option: str = "--workdir") -> Callable:
    """The task's implementation of the inference operation ``name``.

    UserError (naming ``option``) when the run's task has no such operation, listing the
    tasks that have it."""
    task = of(config)
    if name in task.operations:
        return task.operations[name]
    offering = [t for t in TASKS.names() if name in TASKS.get(t).operations]
    raise UserError(f"{option}: a task={config.task} run cannot {name}; expected a "
                    f"{' or '.join(offering) or 'different'} run")
