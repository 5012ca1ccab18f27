"""Tasks: what a run trains, one module each, found by name through :data:`TASKS`.

A :class:`Task` bundles everything that differs between tasks: which models it accepts
and the options it builds them with, how it initialises their variables, its pure train
step ``(state, batch) -> (state, metrics)``, its data source, its training sample grid,
its config checks and the inference operations a trained run offers (``sample``,
``translate``, ``upscale``, ``inpaint``). Everything else (the state, parallelism, the
training loop, checkpoints, the CLI) is the same for every task and asks the task.

Built in: ``generate`` (:mod:`.generate`), ``pix2pix``, ``inpaint`` and ``srgan``
(:mod:`.paired`), ``cyclegan`` (:mod:`.cycle`), ``style`` (:mod:`.style`: StyleGAN2's
regularisers, style mixing and ADA; work in progress). A new task is one module that builds a
:class:`Task` and one ``TASKS.register(name, task)`` line; ``config.task`` may also name it
by import path (``"my_pkg.tasks:my_task"``).
"""
from __future__ import annotations

from gan_jax.errors import UserError
from gan_jax.tasks.base import TASKS, Task, get, of, operation, register, supports
from gan_jax.tasks.init import INIT_COMPILER_OPTIONS, abstract_state, build_models, init_state, init_state_async


def make_train_step(config, axis_name: str | None = None, layout=None):
    """The pure train step ``(state, batch) -> (state, metrics)`` of ``config``'s task.

    ``axis_name``: the device axis inside pmap/shard_map (gradients, losses and BatchNorm
    statistics are averaged over it); ``layout`` (``parallel=sharding``) places arrays the
    step draws itself like the batch.
    """
    return of(config).make_step(config, axis_name, layout)


def data_source(config, split: str = "train"):
    """The data of ``config``'s task; ``split`` is "train" or "heldout"."""
    return of(config).data_source(config, split)


def sample_grid(config, state, z):
    """The images of a training sample grid [N, H, W, C] in [-1, 1] and its column count
    (None: square); ``z`` [N, Z] are the grid's latents (unused by tasks without latents)."""
    return of(config).sample_grid(config, state, z)


def validate(config) -> None:
    """UserError naming the first field of ``config`` that its loss, model or task rejects."""
    from gan_jax import losses, models

    losses.get(config.loss)
    task = of(config)
    if config.model not in task.models and config.task not in models.MODELS.get(config.model).tasks:
        fitting = [m for m in models.MODELS.names() if m in task.models or config.task in models.MODELS.get(m).tasks]
        raise UserError(f"model={config.model!r}: task={config.task} expects model={' or '.join(fitting)}")
    models.validate(config)
    task.validate(config)


def user_modules(config) -> list[str]:
    """The modules outside gan_jax that registered ``config``'s loss, model or task by name: a
    process that imports them can rebuild the run (``config.json`` records them)."""
    from gan_jax import losses, models

    found = (losses.LOSSES.origin(config.loss), models.MODELS.origin(config.model), TASKS.origin(config.task))
    return sorted({m for m in found if m})


def _register_builtins() -> None:
    from gan_jax.tasks import cycle, generate, paired, style

    register("generate", generate.TASK)
    for name, task in paired.TASKS.items():
        register(name, task)
    register("cyclegan", cycle.TASK)
    register("style", style.TASK)


_register_builtins()

__all__ = ["INIT_COMPILER_OPTIONS", "TASKS", "Task", "abstract_state", "build_models", "data_source", "get",
           "init_state", "init_state_async", "make_train_step", "of", "operation", "register", "sample_grid",
           "supports", "user_modules", "validate"]
