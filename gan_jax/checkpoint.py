"""Checkpoints of a :class:`~gan_jax.state.GANState`, through orbax.

* **Atomic**: orbax writes each step into a temporary directory and renames it when
  complete, so a crash never leaves a half-written checkpoint in place of a good one (a
  trainer's :class:`Checkpoints` removes the temporary directories a killed save left).
* **Checked**: each checkpoint carries a small JSON ``meta`` with the config's *signature*
  (the fields that determine the state's shapes; restoring into a different model is a
  clear error, not a shape error deep in Flax) and a CRC-32 of every array. Orbax stores
  the arrays zstd-compressed without a checksum: bytes overwritten inside a data file can
  decompress to wrong values without an error, which the CRCs catch.
* **The data position** goes in ``meta["data"]`` (the trainer's feeds' ``data_state``: Grain's
  iterator state, or just the step for the in-memory pipeline); checkpoints without it resume
  from the step alone, which gives the same batches.
* **Damage is survivable**: ``restore("latest")`` skips unreadable checkpoints (missing,
  truncated or overwritten files, wrong CRCs) and uses the newest readable one;
  :meth:`Checkpoints.quarantine_damaged` and :meth:`Checkpoints.move_aside` move unreadable
  ones to ``<directory>.damaged-<time>/``.
* **Asynchronous where asked** (``async_save=True``): :meth:`Checkpoints.save` copies the
  state and returns; one worker thread writes it while training goes on. Every other
  method, :meth:`Checkpoints.wait` and :meth:`Checkpoints.close` first wait for that write.
* **Quiet failures**: a restore that fails part-way no longer leaves orbax's reads running
  against a closed event loop (which printed "RuntimeError: Event loop is closed"
  tracebacks, sometimes dozens, after the error line); see :func:`_install_orbax_drain`.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import os
import shutil
import time
import zlib
from typing import Any

import jax
import numpy as np

from gan_jax.errors import UserError

log = logging.getLogger(__name__)

SIGNATURE_KEYS = ("model", "resolution", "channels", "z_dim", "g_width", "d_width", "d_norm", "num_classes",
                  "task", "scale", "pool_size", "conditioning", "population", "latent_code", "mapping_layers",
                  "label_input", "cluster_code")
"""Config fields that determine the shapes of the saved state (checked only where the saved
signature has the field, so checkpoints from before a field was added stay loadable)."""


def signature(config) -> dict:
    """The part of ``config`` a checkpoint must agree with to be restorable."""
    d = config.to_dict()
    sig = {k: d[k] for k in SIGNATURE_KEYS if k in d}
    sig["ema"] = config.ema_decay > 0  # the EMA copy exists or not
    sig["transition"] = config.transitional  # D's extra unconditional logit exists or not
    return sig


class NoReadableCheckpoint(UserError):
    """Every checkpoint of a directory is unreadable. ``directory`` and ``damaged``
    (``{step: reason}``, newest first) say which; :func:`gan_jax.train.train` turns it
    into a message that says how to go on."""

    def __init__(self, directory: str, damaged: dict[int, str]):
        self.directory, self.damaged = directory, dict(damaged)
        newest = next(iter(self.damaged))
        super().__init__(f"no readable checkpoint in {directory}: {len(self.damaged)} checkpoint(s), all "
                         f"unreadable (newest, step {newest}: {self.damaged[newest]})")


class _Damaged(Exception):
    """A checkpoint that orbax read without an error but whose arrays fail their CRCs."""


def damaged_dir(directory: str) -> str:
    """A new ``<directory>.damaged-<local time>`` path for checkpoints moved aside."""
    base = f"{directory}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while os.path.exists(path):
        n += 1
        path = f"{base}.{n}"
    return path


class Checkpoints:
    """Orbax checkpoint directory for one run: ``save``, ``restore``, ``steps``.

    ``keep``: the newest checkpoints kept. ``async_save``: ``save`` returns once the state
    is copied and a worker thread writes it (one write in flight at most; see the module
    docstring). ``cleanup``: remove the temporary directories of saves that were killed
    (only a run's trainer should: another process may be saving into the directory).
    """

    def __init__(self, directory: str, keep: int = 3, *, async_save: bool = False, cleanup: bool = False):
        self.directory = os.path.abspath(directory)
        self.keep = keep
        self.async_save = async_save
        self.cleanup = cleanup
        self._orbax_manager = None
        self._worker: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: concurrent.futures.Future | None = None
        self.damaged: dict[int, str] = {}  # {step: reason} found unreadable by restore(), newest first

    @property
    def _manager(self):
        """The orbax ``CheckpointManager``, made on first use: a fresh run needs none before
        its first save (importing orbax is ~0.1 s of start-up, 0.3 s on a slow machine)."""
        if self._orbax_manager is None:
            import orbax.checkpoint as ocp
            _install_orbax_drain()
            options = ocp.CheckpointManagerOptions(max_to_keep=self.keep, create=True,
                                                   enable_async_checkpointing=False,
                                                   cleanup_tmp_directories=self.cleanup)
            self._orbax_manager = ocp.CheckpointManager(self.directory, options=options)
        return self._orbax_manager

    def steps(self) -> list[int]:
        """Saved steps, oldest first (after any save in flight has finished)."""
        self.wait()
        if self._orbax_manager is None and not os.path.isdir(self.directory):
            return []
        self._manager.reload()
        return sorted(self._manager.all_steps())

    def meta(self, step: int) -> dict | None:
        """The JSON metadata saved with ``step`` (None if unreadable)."""
        self.wait()
        return self._read_meta(step)

    def save(self, state, meta: dict) -> bool:
        """Write ``state`` (a host pytree) at ``int(state.step)``; False (a no-op) if that step exists.

        With ``async_save`` the state is copied and written by the worker thread: this
        returns before it is on disk, and a failed write raises at the next ``save``,
        ``wait`` or ``close``.
        """
        step = int(np.ravel(jax.device_get(state.step))[0])  # a population: every member is at this step
        self.wait()
        if step in self._manager.all_steps():
            return False
        if not self.async_save:
            self._write(step, state, meta)
            return True
        # Our own copy: the caller's arrays may share the device buffers that the next,
        # donated train step overwrites.
        state = jax.tree.map(lambda x: np.array(x, copy=True), state)
        if self._worker is None:
            self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="gan_jax_checkpoint")
        self._pending = self._worker.submit(self._write, step, state, dict(meta))
        return True

    def _write(self, step: int, state, meta: dict) -> None:
        import orbax.checkpoint as ocp

        fields = _present_fields(state)
        meta = {**meta, "crc32": _checksums(fields)}
        self._manager.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(fields), meta=ocp.args.JsonSave(meta)))
        self._manager.wait_until_finished()

    @property
    def saving(self) -> bool:
        """True while an asynchronous save is in flight."""
        return self._pending is not None and not self._pending.done()

    def wait(self) -> None:
        """Wait for the save in flight (if any); raises what it raised."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def restore(self, abstract, expected_signature: dict, step: int | str = "latest",
                warn: bool = True) -> tuple[Any, dict]:
        """Restore ``(state, meta)`` shaped like ``abstract`` from ``step`` (``"latest"`` or an int).

        ``"latest"`` skips damaged checkpoints (a warning each with ``warn``; all are kept
        in :attr:`damaged`) and uses the newest readable one. Raises
        :class:`NoReadableCheckpoint` if every one is damaged, UserError if there is none,
        or if the checkpoint was written for a different model configuration.
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
        for s in candidates:
            meta = self._read_meta(s)
            if meta is not None:
                _check_signature(meta.get("signature", {}), expected_signature, self.directory, s)
            try:
                return self._restore_step(s, abstract)
            except Exception as e:  # noqa: BLE001 - orbax raises many types for damaged files
                first_line = str(e).splitlines()[0][:200] if str(e) else ""
                self.damaged[s] = f"{type(e).__name__}: {first_line}" if not isinstance(e, _Damaged) else first_line
                if warn:
                    log.warning("checkpoint %s/%d is unreadable (%s)%s", self.directory, s, self.damaged[s],
                                "; trying an older one" if s != candidates[-1] else "")
        if step != "latest":
            raise UserError(f"--checkpoint {step}: {self.directory}/{step} is unreadable ({self.damaged[int(step)]})")
        raise NoReadableCheckpoint(self.directory, {s: self.damaged[s] for s in candidates})

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
        meta = restored["meta"]
        expected = meta.get("crc32") if isinstance(meta, dict) else None
        if expected is not None:  # checkpoints written before the CRCs have none
            found = _checksums({k: v for k, v in restored["state"].items() if v is not None})
            bad = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
            if bad:
                raise _Damaged(f"CRC mismatch in {len(bad)} array(s), e.g. {bad[0]}")
        return dataclasses.replace(abstract, **restored["state"]), meta

    def quarantine_damaged(self) -> list[str]:
        """Move the checkpoints ``restore`` found unreadable to ``<directory>.damaged-<time>/``.

        A resumed run then writes fresh checkpoints at those steps instead of
        keeping the damaged ones. Returns the new locations. In a multi-process run
        process 0 moves them and the others wait for it.
        """
        moves = [(os.path.join(self.directory, str(s)), s) for s in self.damaged]
        moves = [(src, s) for src, s in moves if os.path.isdir(src)]
        dst_root = damaged_dir(self.directory) if moves else ""
        moved = [os.path.join(dst_root, str(s)) for _, s in moves]

        def move():
            if moves:
                os.makedirs(dst_root, exist_ok=True)
                for (src, _), dst in zip(moves, moved):
                    shutil.move(src, dst)
        _on_process_zero(move, "gan_jax_quarantine")
        self.damaged = {}
        self._manager.reload()
        return moved

    def move_aside(self) -> str:
        """Move the whole directory to a new ``<directory>.damaged-<time>`` and start empty;
        returns where it went (multi-process: process 0 moves it, the others wait)."""
        self.close()
        dst = damaged_dir(self.directory)
        _on_process_zero(lambda: os.rename(self.directory, dst), "gan_jax_move_aside")
        self._orbax_manager = None
        self.damaged = {}
        return dst

    def _read_meta(self, step: int) -> dict | None:
        import orbax.checkpoint as ocp

        try:
            return self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        except Exception:  # noqa: BLE001 - a damaged meta file is handled by the full restore
            return None

    def close(self) -> None:
        """Wait for the save in flight (logging, not raising, its error: call :meth:`wait`
        to get it), then close orbax's manager. The object can be used again afterwards."""
        try:
            self.wait()
        except Exception as e:  # noqa: BLE001 - close() also runs while another error propagates
            log.error("checkpoint save in %s failed: %s: %s", self.directory, type(e).__name__, e)
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None
        if self._orbax_manager is not None:
            self._orbax_manager.close()
            self._orbax_manager = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _present_fields(state) -> dict:
    """A state dataclass as ``{field: value}`` without its ``None`` fields (an optional part
    the run does not use, such as ``ema`` or ``pool``), so checkpoints written before an
    optional field existed restore unchanged."""
    return {f.name: getattr(state, f.name) for f in dataclasses.fields(state) if getattr(state, f.name) is not None}


def _checksums(fields: dict) -> dict[str, int]:
    """``{path: CRC-32}`` of every array of ``fields`` (its bytes; shape and dtype included).

    About 8 ms for the default model's 14 MB state on the 2-core CPU."""
    out = {}
    for path, x in jax.tree_util.tree_leaves_with_path(fields):
        a = np.ascontiguousarray(np.asarray(x))
        crc = zlib.crc32(f"{a.dtype.str}{a.shape}".encode())
        out[jax.tree_util.keystr(path)] = zlib.crc32(a.reshape(-1).view(np.uint8), crc)
    return out


def _on_process_zero(fn, barrier: str) -> None:
    """Run ``fn`` in process 0 only (the others skip it), then every process waits for it."""
    if jax.process_count() == 1:
        fn()
        return
    from jax.experimental import multihost_utils
    if jax.process_index() == 0:
        fn()
    multihost_utils.sync_global_devices(barrier)


_DRAIN_INSTALLED = False


def _install_orbax_drain() -> None:
    """Make orbax's synchronous calls wait for all their reads and writes before closing
    their event loop.

    Orbax runs each call's coroutines in a fresh event loop
    (``orbax.checkpoint._src.asyncio_utils._run_sync_via_new_loop``) and closes it when the
    call returns or raises. When one read of a damaged checkpoint fails, its siblings are
    still in flight in tensorstore's threads; when they complete, they post their results
    to the closed loop, and every one prints a "RuntimeError: Event loop is closed"
    traceback (0 to 50 of them after ``gan-jax sample``'s error line, 6 tries of 8). The
    replacement runs the loop until every task of the call has finished (their errors
    collected, not raised: the call's own error is what propagates), then closes it.
    Nothing changes for calls that succeed, which have no tasks left. Orbax versions
    without that function are left as they are (``tests/test_checkpoint.py`` would show
    the tracebacks again).
    """
    global _DRAIN_INSTALLED
    if _DRAIN_INSTALLED:
        return
    import asyncio

    try:
        from orbax.checkpoint._src import asyncio_utils
    except ImportError:
        return
    if not callable(getattr(asyncio_utils, "_run_sync_via_new_loop", None)):
        return

    def run_sync_via_new_loop(coro):
        loop = asyncio.new_event_loop()
        try:
            asyncio.set_event_loop(loop)
            return loop.run_until_complete(coro)
        finally:
            try:
                pending = asyncio.all_tasks(loop)
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    run_sync_via_new_loop.__doc__ = asyncio_utils._run_sync_via_new_loop.__doc__
    asyncio_utils._run_sync_via_new_loop = run_sync_via_new_loop
    _DRAIN_INSTALLED = True


def _check_signature(saved: dict, expected: dict, directory: str, step: int) -> None:
    diff = {k: (saved.get(k), v) for k, v in expected.items() if k in saved and saved[k] != v}
    if diff:
        parts = ", ".join(f"{k}: checkpoint has {a!r}, config has {b!r}" for k, (a, b) in diff.items())
        raise UserError(f"checkpoint {directory}/{step} was written for a different model ({parts})")


def restore_run(workdir: str, config, checkpoint: str = "latest") -> tuple[Any, dict]:
    """``(state, meta)`` of a run directory's checkpoint: ``latest``, ``best`` or a step number."""
    from gan_jax import workdir as wd
    from gan_jax.tasks import abstract_state

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
    with Checkpoints(directory) as ckpts:
        return ckpts.restore(abstract_state(config), signature(config), step)
