"""Checkpoints of a :class:`~gan_jax.state.GANState`, through orbax.

Orbax writes each step into a temporary directory and renames it when
complete, so a crash never leaves a half-written checkpoint in place of a
good one. Each checkpoint carries a small JSON ``meta`` with the config's
*signature* (the fields that determine the state's shapes); restoring into a
different model gives a clear error instead of a shape error deep in Flax.
A damaged latest checkpoint falls back to the newest readable one.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import time
from typing import Any

import jax
import numpy as np

from gan_jax.errors import UserError

log = logging.getLogger(__name__)

SIGNATURE_KEYS = ("model", "resolution", "channels", "z_dim", "g_width", "d_width", "d_norm", "num_classes",
                  "task", "scale", "pool_size", "conditioning", "population")
"""Config fields that determine the shapes of the saved state."""


def signature(config) -> dict:
    """The part of ``config`` a checkpoint must agree with to be restorable."""
    d = config.to_dict()
    sig = {k: d[k] for k in SIGNATURE_KEYS if k in d}
    sig["ema"] = config.ema_decay > 0  # the EMA copy exists or not
    return sig


class Checkpoints:
    """Orbax checkpoint directory for one run: ``save``, ``restore``, ``steps``."""

    def __init__(self, directory: str, keep: int = 3):
        self.directory = os.path.abspath(directory)
        self.keep = keep
        self._orbax_manager = None
        self.damaged: list[int] = []  # steps found unreadable by restore()

    @property
    def _manager(self):
        """The orbax ``CheckpointManager``, made on first use: a fresh run needs none before
        its first save (importing orbax is ~0.1 s of start-up, 0.3 s on a slow machine)."""
        if self._orbax_manager is None:
            import orbax.checkpoint as ocp
            options = ocp.CheckpointManagerOptions(max_to_keep=self.keep, create=True,
                                                   enable_async_checkpointing=False)
            self._orbax_manager = ocp.CheckpointManager(self.directory, options=options)
        return self._orbax_manager

    def steps(self) -> list[int]:
        """Saved steps, oldest first."""
        if self._orbax_manager is None and not os.path.isdir(self.directory):
            return []
        self._manager.reload()
        return sorted(self._manager.all_steps())

    def meta(self, step: int) -> dict | None:
        """The JSON metadata saved with ``step`` (None if unreadable)."""
        return self._read_meta(step)

    def save(self, state, meta: dict) -> None:
        """Write ``state`` (a host pytree) at ``int(state.step)``; a no-op if that step exists."""
        import orbax.checkpoint as ocp

        step = int(np.ravel(jax.device_get(state.step))[0])  # a population: every member is at this step
        if step in self._manager.all_steps():
            return
        self._manager.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(_present_fields(state)), meta=ocp.args.JsonSave(meta)))
        self._manager.wait_until_finished()

    def restore(self, abstract, expected_signature: dict, step: int | str = "latest") -> tuple[Any, dict]:
        """Restore ``(state, meta)`` shaped like ``abstract`` from ``step`` (``"latest"`` or an int).

        ``"latest"`` skips damaged checkpoints (with a warning) and uses the
        newest readable one. Raises UserError if there is none, or if the
        checkpoint was written for a different model configuration.
        """
        available = self.steps()
        if not available:
            raise UserError(f"no checkpoint in {self.directory}: train first (gan-jax train --workdir ...)")
        if step == "latest":
            candidates = available[::-1]
        else:
            if int(step) not in available:
                raise UserError(f"--checkpoint {step}: no such step in {self.directory}; "
                                f"available: {', '.join(map(str, available))}")
            candidates = [int(step)]
        errors = []
        for s in candidates:
            meta = self._read_meta(s)
            if meta is not None:
                _check_signature(meta.get("signature", {}), expected_signature, self.directory, s)
            try:
                state, meta = self._restore_step(s, abstract)
            except Exception as e:  # noqa: BLE001 - orbax raises many types for damaged files
                first_line = str(e).splitlines()[0][:200] if str(e) else ""
                errors.append(f"step {s}: {type(e).__name__}: {first_line}")
                log.warning("checkpoint %s/%d is unreadable (%s); trying an older one",
                            self.directory, s, errors[-1])
                self.damaged.append(s)
                continue
            return state, meta
        raise UserError(f"no readable checkpoint in {self.directory} ({'; '.join(errors)})")

    def _restore_step(self, step: int, abstract) -> tuple[Any, dict]:
        import orbax.checkpoint as ocp

        def restore(fields):
            return self._manager.restore(step, args=ocp.args.Composite(
                state=ocp.args.StandardRestore(fields), meta=ocp.args.JsonRestore()))
        try:
            restored = restore(_present_fields(abstract))
        except ValueError as e:  # written with its None fields as empty nodes (before _present_fields)
            if "tree structures do not match" not in str(e):
                raise
            restored = restore({f.name: getattr(abstract, f.name) for f in dataclasses.fields(abstract)})
        return dataclasses.replace(abstract, **restored["state"]), restored["meta"]

    def quarantine_damaged(self) -> list[str]:
        """Move the checkpoints ``restore`` found unreadable to ``<directory>.damaged/``.

        A resumed run then writes fresh checkpoints at those steps instead of
        keeping the damaged ones. Returns the new locations.
        """
        moved = []
        for s in self.damaged:
            src = os.path.join(self.directory, str(s))
            if os.path.isdir(src):
                dst = os.path.join(self.directory + ".damaged", f"{s}-{int(time.time())}")
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.move(src, dst)
                moved.append(dst)
        self.damaged = []
        self._manager.reload()
        return moved

    def _read_meta(self, step: int) -> dict | None:
        import orbax.checkpoint as ocp

        try:
            return self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        except Exception:  # noqa: BLE001 - a damaged meta file is handled by the full restore
            return None

    def close(self) -> None:
        if self._orbax_manager is not None:
            self._orbax_manager.close()


def _present_fields(state) -> dict:
    """A state dataclass as ``{field: value}`` without its ``None`` fields (an optional part
    the run does not use, such as ``ema`` or ``pool``), so checkpoints written before an
    optional field existed restore unchanged."""
    return {f.name: getattr(state, f.name) for f in dataclasses.fields(state) if getattr(state, f.name) is not None}


def _check_signature(saved: dict, expected: dict, directory: str, step: int) -> None:
    diff = {k: (saved.get(k), v) for k, v in expected.items() if k in saved and saved[k] != v}
    if diff:
        parts = ", ".join(f"{k}: checkpoint has {a!r}, config has {b!r}" for k, (a, b) in diff.items())
        raise UserError(f"checkpoint {directory}/{step} was written for a different model ({parts})")


def restore_run(workdir: str, config, checkpoint: str = "latest") -> tuple[Any, dict]:
    """``(state, meta)`` of a run directory's checkpoint: ``latest``, ``best`` or a step number."""
    from gan_jax import workdir as wd
    from gan_jax.state import abstract_state

    if checkpoint == "best":
        directory = wd.best_checkpoint_dir(workdir)
        if not os.path.isdir(directory):
            raise UserError(f"--checkpoint best: {workdir} has no best checkpoint; it is kept when the "
                            f"run evaluates during training (--set eval_every=K --set eval_extractor=...)")
        step: int | str = "latest"
    else:
        directory = wd.checkpoint_dir(workdir)
        if checkpoint == "latest":
            step = "latest"
        else:
            try:
                step = int(checkpoint)
            except ValueError:
                raise UserError(f"--checkpoint {checkpoint}: expected latest, best or a step number") from None
    return Checkpoints(directory).restore(abstract_state(config), signature(config), step)
