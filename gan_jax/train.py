"""The training loop: data -> parallel step -> logs, sample grids, checkpoints.

``train(config, workdir)`` resumes from the newest readable checkpoint in ``workdir``
and runs until ``config.steps`` completed steps. SIGTERM/SIGINT finish the
current step, write a checkpoint and return cleanly. Checkpoints are written every
``checkpoint_every`` steps and at least every ``checkpoint_minutes``, by a worker thread
in one-process runs (``checkpoint_async``); every exit waits for the save in flight.

Fused steps (``steps_per_call`` K > 1) start warm in one-process ``jit``/``sharding``/``shard_map``
runs without a population (:func:`gan_jax.parallel.fused_warm_start`): the run starts at once
with the one-step program (whose compile is the first step's cost), compiles the K-step
program in a background thread ahead of time, and switches to it at the first step that is a
multiple of K once it is ready. Both programs run the same steps on the same batches, so the
run ends where single steps all along would (to float tolerance). Elsewhere every call is fused.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import signal
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterator

import jax
import numpy as np

from gan_jax import configs, data, images, tasks, workdir as wd
from gan_jax.checkpoint import Checkpoints, NoReadableCheckpoint, signature
from gan_jax.errors import UserError
from gan_jax.logger import MetricsLog
from gan_jax.parallel import fused_warm_start, make_parallel_step, member_state, stack_trees
from gan_jax.state import NONFINITE_BITS, GANState
from gan_jax.tasks import abstract_state, init_state, init_state_async, make_train_step
from gan_jax.tasks.generate import d_classes


class TrainingDiverged(RuntimeError):
    """A loss or gradient became NaN/Inf (with ``nonfinite=stop``)."""


class ProcessLost(UserError):
    """A run of several processes lost one (a collective failed): one line that says to start
    them all again, instead of a traceback from inside the collective."""

    exit_at_once = True
    """The command line exits right after the line: ``jax.distributed``'s shutdown at
    interpreter exit would wait for the lost process (300 s), then abort."""


@dataclasses.dataclass
class TrainResult:
    step: int  # completed steps
    stopped_by_signal: str | None
    last_metrics: dict
    seconds: float
    first_step_at: float | None = None  # time.time() when this run's first call finished (compile included)
    checkpoints: int = 0  # checkpoints this run wrote
    checkpoint_seconds: float = 0.0  # time the train loop spent in them (the write itself, when asynchronous, not)
    fused_from: int | None = None  # the step the first fused call (steps_per_call > 1) started at; None: none ran


FUSED_MIN_STEPS = 500
"""A warm-started fused run (see the module's docstring) compiles its K-step program only when
at least this many steps remain after its first call: the compile takes a core for 1.5-2.5x
the one-step compile (seconds), which a short run would not win back at +5-15 % per step."""


def _fused_ready(future: Future, step: int) -> bool:
    """True once the background compile of the fused program has ended (the loop asks before
    each call that starts at a multiple of K). A seam for the tests, which force the switch."""
    return future.done()


def describe_nonfinite(what: int) -> str:
    return ", ".join(name for bit, name in NONFINITE_BITS.items() if what & bit) or "unknown"


@functools.lru_cache(maxsize=16)
def _grid_latents(config) -> jax.Array:
    # Fixed for the whole run (and across resumes): derived from the seed alone. Drawn at the
    # first sample grid, not at start-up: the draw compiles a program (~0.3 s).
    return jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(config.seed), 0x5A4D),
                             (config.grid_size, config.z_dim))


class _StopSignals:
    """Turns SIGTERM/SIGINT into a flag checked between steps (main thread only).

    Nested, the inner one is the outer one (see :func:`stop_signals`). ``pending``: names of
    signals a caller's own handler kept before this one took over; the first one counts as
    received.
    """

    _active: list["_StopSignals"] = []

    def __init__(self, pending: list[str] | None = None):
        self.received: str | None = None
        self._pending = pending
        self._previous = {}
        self._outer: _StopSignals | None = None

    def __enter__(self):
        import threading
        if _StopSignals._active:
            self._outer = _StopSignals._active[-1]
            return self._outer
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        if self._pending:  # read after our handler is in place: no signal falls in between
            self.received = self.received or self._pending[0]
        _StopSignals._active.append(self)
        return self

    def _handle(self, signum, frame):
        self.received = self.received or signal.Signals(signum).name

    def __exit__(self, *exc):
        if self._outer is not None:
            self._outer = None
            return
        _StopSignals._active.remove(self)
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


def stop_signals(pending: list[str] | None = None) -> _StopSignals:
    """``with stop_signals(pending) as stop:``: SIGTERM/SIGINT set ``stop.received`` (their
    name) instead of interrupting, and :func:`train` inside the block shares ``stop``: a
    signal that came before ``train`` makes it return at once, saving nothing.

    For a command line. ``gan-jax train`` must not raise from a signal handler during its
    start-up: Python prints and drops an exception raised inside a garbage-collection
    callback ("Exception ignored in: <function _xla_gc_callback ...>"), and the run went on
    as if no signal had come. So its own light handler only appends the signal's name to a
    list, and it passes that list here as ``pending`` before it calls :func:`train`.
    """
    return _StopSignals(pending)


class _PeriodicEval:
    """Evaluation every ``config.eval_every`` steps, and the ``best`` checkpoint it keeps.

    The extractor and the real-data reference are loaded once, before training,
    so a bad ``eval_extractor`` fails at start-up. The best value so far is read
    back from the best checkpoint's metadata on resume.
    """

    def __init__(self, config, workdir: str, meta: dict, extractor=None):
        from gan_jax.metrics import evaluation as ev
        from gan_jax.metrics.extractors import load_extractor

        self.config, self.meta, self._ev = config, meta, ev
        self.extractor = extractor or load_extractor(config.eval_extractor)
        self.reference = ev.real_reference(config, self.extractor)
        self.best = Checkpoints(wd.best_checkpoint_dir(workdir), keep=1)
        steps = self.best.steps()
        saved = self.best.meta(steps[-1]) if steps else None
        self.best_value = (saved or {}).get("eval", {}).get(config.eval_metric)

    def __call__(self, host_state, step: int, log: MetricsLog) -> dict:
        c = self.config
        result = self._ev.evaluate(c, host_state, self.extractor, num=c.eval_num, reference=self.reference)
        log.scalars(step, {f"eval/{k}": v for k, v in result.items() if isinstance(v, float)})
        value = result[c.eval_metric]
        lower = self._ev.LOWER_IS_BETTER[c.eval_metric]
        if self.best_value is None or (value < self.best_value if lower else value > self.best_value):
            self.best_value = value
            self.best.save(jax.device_get(host_state), {**self.meta, "eval": {**result, "step": step}})
        return result


class _NoLog:
    """The metrics log of a process that does not write (all but process 0 of a multi-host run)."""

    def scalars(self, step, values):
        pass

    def image(self, step, tag, grid):
        pass

    def close(self):
        pass


def _member_means(host_metrics: list[dict], member: int | None) -> dict:
    """Mean of every metric over the steps since the last log (of one population member): the
    calls may mix single steps (scalars) and fused ones (``[K]``)."""
    pick = (lambda v: np.ravel(v)) if member is None else (lambda v: np.ravel(np.asarray(v)[member]))
    return {k: float(np.mean(np.concatenate([pick(m[k]) for m in host_metrics])))
            for k in host_metrics[0] if k != "nonfinite"}


def _print(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def train_in_memory(config, source, stop_at) -> Iterator[tuple[int, GANState, float]]:
    """Train ``config`` on ``source`` in this process, without a run directory.

    One device, the jitted step with the state donated, the data order of ``train`` (the
    loader of :class:`data.Batches` seeded by ``config.seed``). Yields ``(step, state,
    seconds)`` after each step in ``stop_at`` (positive ints, in ascending order), ``seconds`` the
    training time so far (what the caller does between yields is not counted). The state is
    valid until the generator resumes: the next step takes over its buffers. For experiments
    that evaluate many short runs (``experiments/family/long_run.py``); ``train`` is the
    checkpointed, logged, multi-device loop. With ``cluster_code`` the source's images are
    labelled by their clusters first, as ``train`` does (:func:`data.with_cluster_labels`).
    """
    stop_at = sorted(set(int(t) for t in stop_at))
    if not stop_at or stop_at[0] < 1:
        raise ValueError(f"stop_at={stop_at}: expected positive step counts")
    configs.validate(config)
    if config.population != 1 or config.steps_per_call != 1:
        raise ValueError(f"population={config.population}, steps_per_call={config.steps_per_call}: "
                         "train_in_memory runs one GAN one step per call; use train for these")
    if config.cluster_code:
        source = data.with_cluster_labels(source, config.cluster_code, f"cluster_code={config.cluster_code}")
    return _train_in_memory(config, source, stop_at)


def _train_in_memory(config, source, stop_at: list[int]) -> Iterator[tuple[int, GANState, float]]:
    stops = set(stop_at)
    step_fn = jax.jit(make_train_step(config), donate_argnums=0)
    state, seconds = init_state(config), 0.0
    with data.Batches(source, config.real_batch_size, seed=config.seed,
                      with_labels=d_classes(config) > 0) as batches:
        t0 = time.perf_counter()
        for t in range(1, stop_at[-1] + 1):
            state, _ = step_fn(state, next(batches))
            if t in stops:
                jax.block_until_ready(state)
                seconds += time.perf_counter() - t0
                yield t, state, seconds
                t0 = time.perf_counter()


def train(config, workdir: str, *, progress: bool = True, restart: bool = False) -> TrainResult:
    """Train (or resume) the run in ``workdir`` up to ``config.steps`` steps.

    SIGTERM/SIGINT (also during set-up and compilation) end the run after the
    current step with a checkpoint; running again continues from it.

    Unreadable checkpoints are skipped: the run resumes from the newest readable one and
    moves the others to ``checkpoints.damaged-<time>/``. When *every* checkpoint is
    unreadable the run stops with a UserError that says how to go on, unless ``restart``:
    then they are moved to ``checkpoints.damaged-<time>/`` and the run starts afresh from
    step 0 (``gan-jax train --restart``). ``restart`` changes nothing for a workdir with a
    readable checkpoint or none.
    """
    async_save = config.checkpoint_async and jax.process_count() == 1
    directory = wd.checkpoint_dir(os.path.abspath(workdir))
    try:
        with _StopSignals() as stop, Checkpoints(directory, keep=config.keep_checkpoints, async_save=async_save,
                                                 cleanup=True) as ckpts:
            return _train(config, workdir, progress, stop, ckpts, restart)
    except jax.errors.JaxRuntimeError as e:
        if jax.process_count() == 1:
            raise
        saved = sorted(int(n) for n in os.listdir(directory) if n.isdigit()) if os.path.isdir(directory) else []
        raise ProcessLost(
            f"process {jax.process_index()} of {jax.process_count()}: a collective failed "
            f"({str(e).splitlines()[0][:200] if str(e) else type(e).__name__}), most likely because another "
            f"process of this run stopped; start every process again with the same command to resume from "
            f"the last checkpoint ({saved[-1] if saved else 'none yet: from step 0'})") from None


def _resume(ckpts: Checkpoints, config, sig: dict, workdir: str,
            restart: bool) -> tuple[GANState | None, dict]:
    """The state to resume ``workdir`` from and its checkpoint's metadata, past unreadable
    checkpoints (moved aside, each named on stderr); (None, {}) when it starts afresh
    (``restart`` with none readable)."""
    try:
        state, meta = ckpts.restore(abstract_state(config), sig, warn=False)
    except NoReadableCheckpoint as e:
        newest = next(iter(e.damaged))
        if not restart:
            raise UserError(
                f"no readable checkpoint in {e.directory}: all {len(e.damaged)} are damaged (newest, step "
                f"{newest}: {e.damaged[newest]}); to train this run again from step 0, run gan-jax train "
                f"with --restart (in Python: train(..., restart=True)), which moves them to "
                f"{e.directory}.damaged-<time>/, or move {e.directory} away yourself") from None
        moved = ckpts.move_aside()
        _print(f"warning: all {len(e.damaged)} checkpoints in {e.directory} are unreadable (newest, step "
               f"{newest}: {e.damaged[newest]}); moved them to {moved}; restarting {workdir} from step 0")
        return None, {}
    start = int(np.ravel(state.step)[0])
    damaged = dict(ckpts.damaged)
    for s, reason in damaged.items():
        _print(f"warning: checkpoint {ckpts.directory}/{s} is unreadable ({reason})")
    for moved in ckpts.quarantine_damaged():
        _print(f"warning: unreadable checkpoint moved to {moved}")
    _print(f"resuming {workdir} from step {start}"
           + (f" (checkpoint {ckpts.directory}/{start}, the newest readable one)" if damaged else ""))
    return state, meta if isinstance(meta, dict) else {}


def _process_zero_says(flag: bool) -> bool:
    """Process 0's ``flag`` in every process (a broadcast; ``flag`` itself in a one-process run)."""
    if jax.process_count() == 1:
        return flag
    from jax.experimental import multihost_utils
    return bool(multihost_utils.broadcast_one_to_all(np.asarray(flag, np.int32)))


def _any_process_says(flag: bool) -> bool:
    """True in every process if ``flag`` is true in any (``flag`` itself in a one-process run)."""
    if jax.process_count() == 1:
        return flag
    from jax.experimental import multihost_utils
    return bool(np.max(multihost_utils.process_allgather(np.asarray(flag, np.int32))))


def _train(config, workdir: str, progress: bool, stop: _StopSignals, ckpts: Checkpoints,
           restart: bool) -> TrainResult:
    if stop.received and jax.process_count() == 1:  # before this call (a command line's start-up)
        _print(f"stopped by {stop.received} during start-up; nothing to save")
        return TrainResult(0, stop.received, {}, 0.0)
    configs.validate(config)
    data.parse_pipeline(config.input_pipeline)  # a bad input_pipeline fails before the data loads
    wd.check(workdir)
    t_start = time.time()
    source = tasks.data_source(config)
    pipeline, workers = data.choose_pipeline(config.input_pipeline, source)
    if pipeline == "memory":
        source = data.in_memory(source)  # an image folder opened lazily is decoded now
    k = config.steps_per_call
    # Warm start (see the module's docstring): `runner` runs single steps, `fused` the K-step
    # program once compiled in the background. Otherwise `runner` runs every call, fused or not.
    warm = fused_warm_start(config) is None
    runner = make_parallel_step(dataclasses.replace(config, steps_per_call=1) if warm else config)
    fused = make_parallel_step(config) if warm else None
    runner.check_batch_size(config.batch_size)
    if config.steps % k and not warm:
        raise UserError(f"steps={config.steps}: expected a multiple of steps_per_call={k}")
    members = configs.member_configs(config) if config.population > 1 else [config]
    primary = jax.process_index() == 0  # the one process that writes logs, samples and config.json
    if config.num_classes and (source.labels is None or source.num_classes > config.num_classes):
        raise UserError(f"num_classes={config.num_classes}: dataset {config.dataset!r} has "
                        f"{'no labels' if source.labels is None else f'{source.num_classes} classes'}")
    if config.real_batch_size > len(source):
        fresh = f" (x n_critic={config.n_critic}: fresh_reals)" if config.real_batch_size > config.batch_size else ""
        raise UserError(f"batch_size={config.batch_size}{fresh}: larger than the dataset "
                        f"{config.dataset!r} ({len(source)} images)")
    extractor = None
    if config.eval_every:
        from gan_jax.metrics.extractors import check_extractor
        from gan_jax.metrics.extractors import load_extractor
        extractor = load_extractor(config.eval_extractor)
        check_extractor(config, extractor)
    workdir = wd.prepare(workdir)  # only now: bad input above leaves no directory behind

    sig = signature(config)
    fresh_state = None
    state, resumed_meta = _resume(ckpts, config, sig, workdir, restart) if ckpts.steps() else (None, {})
    if state is not None:
        start = int(np.ravel(state.step)[0])
    else:
        # Built in a thread while the rest of the set-up runs; `state` is its shapes until then.
        fresh_state, state = init_state_async(config)
        start = 0
    if start % k and not warm:
        raise UserError(f"steps_per_call={k}: the run in {workdir} is at step {start}, not a multiple of it")
    if primary:
        wd.save_config(workdir, config)
    meta = {"signature": sig, "config": config.to_dict()}

    evaluate = _PeriodicEval(config, workdir, meta, extractor) if config.eval_every else None
    # One output directory per population member (the run directory itself without a population).
    out_dirs = [workdir] if len(members) == 1 else [wd.prepare(os.path.join(workdir, "members", str(i)))
                                                   for i in range(len(members))]
    logs = [MetricsLog(d, start_step=start) if primary else _NoLog() for d in out_dirs]

    def write_samples(host_state, step):
        if not primary:
            return
        if len(members) > 1:
            # Members are split over the devices: copy them to the host first, so that taking
            # one is numpy indexing, not an eager program over every (forced CPU) device.
            host_state = jax.device_get(host_state)
        for i, log in enumerate(logs):
            imgs, ncol = tasks.sample_grid(members[i], member_state(host_state, i, len(members)),
                                       _grid_latents(members[i]))
            images.save_grid(imgs, os.path.join(out_dirs[i], "samples", f"step_{step:07d}.png"), ncol)
            log.image(step, "samples", images.make_grid(imgs, ncol))

    def check_finite(host_state):
        bad_steps = np.ravel(host_state.nonfinite_step)
        if (bad_steps >= 0).any() and config.nonfinite == "stop":
            i = int(np.argmax(bad_steps >= 0))  # the first diverged population member
            bad, what = int(bad_steps[i]), describe_nonfinite(int(np.ravel(host_state.nonfinite_what)[i]))
            saved = ckpts.steps()
            who = f" in population member {i}" if len(members) > 1 else ""
            raise TrainingDiverged(
                f"non-finite {what}{who} at step {bad}; training stopped (last good checkpoint: "
                f"{saved[-1] if saved else 'none'}; --set nonfinite=skip drops such updates instead)")

    last_save = [time.monotonic()]  # the loop's start, then each save: for checkpoint_minutes

    def save(device_state):
        host_state = runner.get_state(device_state)
        check_finite(host_state)
        jax.block_until_ready(host_state)  # the step's own time is not the checkpoint's
        t0 = time.perf_counter()
        # The data position: each member's feed at this step (Grain's iterator state, or the step).
        data_states = [f.data_state(int(np.ravel(host_state.step)[0])) for f in feeds]
        result.checkpoints += ckpts.save(jax.device_get(host_state), {**meta, "data": data_states})
        result.checkpoint_seconds += time.perf_counter() - t0
        last_save[0] = time.monotonic()
        return host_state

    def checkpoint_due(step: int) -> bool:
        """Every ``checkpoint_every`` steps, at the end, and once ``checkpoint_minutes`` have
        passed since the last save. Several processes must save at the same step: process 0's
        clock decides for all, at the steps that are multiples of ``log_every``."""
        if step % config.checkpoint_every == 0 or step == config.steps:
            return True
        if config.checkpoint_minutes <= 0 or (jax.process_count() > 1 and step % config.log_every):
            return False
        return _process_zero_says(time.monotonic() - last_save[0] >= 60 * config.checkpoint_minutes)

    result = TrainResult(start, None, {}, 0.0)
    if start >= config.steps:
        _print(f"{workdir} already has {start} of {config.steps} steps; nothing to do "
               f"(raise --steps to continue)")
        for log in logs:
            log.close()
        return result

    bar = None
    if progress and primary:
        from tqdm import tqdm
        bar = tqdm(total=config.steps, initial=start, unit="step", dynamic_ncols=True,
                   file=sys.stderr, desc="train")
    pending: list[dict] = []
    t_log, step_log = time.time(), start
    with contextlib.ExitStack() as stack:
        for log in logs:
            stack.callback(log.close)
        if bar is not None:
            stack.callback(bar.close)
        # Each member reads its own data order; each process only its rows of every global batch.
        # A checkpoint's data states (none in checkpoints from before them) resume Grain's iterators.
        saved = resumed_meta.get("data") or []
        feeds = [stack.enter_context(data.make_batches(
            source, config.real_batch_size, m.seed, start, pipeline=pipeline, workers=workers,
            shard_index=jax.process_index(), shard_count=jax.process_count(), with_labels=d_classes(config) > 0,
            resume=saved[i] if len(saved) == len(members) else None)) for i, m in enumerate(members)]
        if pipeline == "grain" and primary:
            _print(f"input pipeline: grain, {feeds[0].workers} worker process(es), {len(source)} images "
                   f"decoded as they are needed")

        # The program of each call size: `runner` alone, or (warm start) single steps and, once
        # compiled, the fused program. `compiling`: the background compile (None: not started).
        programs = {runner.steps_per_call: runner}
        compiling: list[Future | None] = [None]
        executor = None
        if warm:
            executor = ThreadPoolExecutor(1, thread_name_prefix="gan_jax-fused-compile")
            # Every exit waits for a compile in flight (at most its length): no thread is left
            # compiling while the interpreter shuts down.
            stack.callback(executor.shutdown, wait=True, cancel_futures=True)

        def call_size(s: int) -> int:
            """Steps in the call that starts at step ``s``: K once the fused program is ready, at
            multiples of K, where the whole call fits in the run and crosses no log, sample,
            checkpoint or evaluation step (validate makes those multiples of K); else 1. Without
            a warm start: K (every call is fused)."""
            if not warm:
                return k
            if k not in programs:
                future = compiling[0]
                if future is None or s % k or s + k > config.steps or not _fused_ready(future, s):
                    return 1
                try:
                    programs[k] = future.result()
                except Exception as e:  # noqa: BLE001 - the single steps go on
                    compiling[0] = None
                    _print(f"warning: steps_per_call={k}: compiling the fused program failed "
                           f"({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}); "
                           f"going on with single steps")
                    return 1
                say = bar.write if bar is not None else _print
                say(f"steps_per_call={k}: fused program compiled in the background; {k} steps per call "
                    f"from step {s}")
            if s % k or s + k > config.steps:
                return 1
            every = [config.log_every, config.sample_every, config.checkpoint_every, config.eval_every]
            return k if all((s + k - 1) // n == s // n for n in every if n > 0) else 1

        def start_compile(device_state, device_batch) -> None:
            """The fused program, compiled in the background thread for states like
            ``device_state`` and [K]-stacked batches like ``device_batch`` (one step's)."""
            state_like = jax.tree.map(
                lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, weak_type=x.aval.weak_type), device_state)
            batch_like = jax.tree.map(lambda x: jax.ShapeDtypeStruct((k,) + tuple(x.shape), x.dtype), device_batch)
            compiling[0] = executor.submit(fused.compile_ahead, state_like, batch_like)

        def next_call(n: int):
            """This process's data for one call of ``n`` steps: [B, ...], [K, B, ...] fused, [P, ...]
            per member. The feeds yield one step's batch at a time, so the data of every step is
            the same whichever calls run them (and a checkpoint keeps each step's data state)."""
            per_member = [stack_trees([next(f) for _ in range(n)]) if n > 1 else next(f) for f in feeds]
            return programs[n].put_batch(stack_trees(per_member) if len(members) > 1 else per_member[0])

        n = call_size(start)
        batch = next_call(n)
        if fresh_state is not None:
            runner.lower_ahead(state, batch)  # traces the step (Python) while the init compiles (XLA)
            state = fresh_state.result()
        device_state = runner.put_state(state)
        del state
        step = start
        last_save[0] = time.monotonic()  # checkpoint_minutes count from the first step

        def stopping(first: bool = False) -> bool:
            """A signal came. Several processes must stop after the same step (the stop's
            checkpoint is collective): they agree at the start and at multiples of
            ``log_every``, stopping if any process got one."""
            if jax.process_count() == 1:
                return stop.received is not None
            return (first or step % config.log_every == 0) and _any_process_says(stop.received is not None)

        stop_now = stopping(first=True)
        while step < config.steps and not stop_now:
            if n > 1 and result.fused_from is None:
                result.fused_from = step
            device_state, metrics = programs[n].step(device_state, batch)
            step += n
            called = n
            if step < config.steps:
                n = call_size(step)
                batch = next_call(n)  # overlaps with the step in flight
            if runner.one_call_in_flight or result.first_step_at is None:
                jax.block_until_ready(metrics)
                if result.first_step_at is None:
                    result.first_step_at = time.time()
                    if warm and compiling[0] is None and config.steps - step >= FUSED_MIN_STEPS:
                        start_compile(device_state, batch)  # only now: the first step compiles alone
            pending.append(metrics)
            if bar is not None:
                bar.update(called)
            if step % config.log_every == 0 or step == config.steps:
                host = [runner.get_metrics(m) for m in jax.device_get(pending)]
                now = time.time()
                rate = (step - step_log) / max(now - t_log, 1e-9)
                t_log, step_log, pending = now, step, []
                for i, log in enumerate(logs):
                    means = _member_means(host, i if len(members) > 1 else None)
                    means.update(steps_per_sec=rate, images_per_sec=rate * config.batch_size)
                    log.scalars(step, means)
                    if i == 0:
                        result.last_metrics = means
                if bar is not None:
                    bar.set_postfix({k: f"{result.last_metrics[k]:.3f}" for k in ("d_loss", "g_loss")})
                if config.nonfinite == "stop" and any(np.any(m["nonfinite"]) for m in host):
                    check_finite(runner.get_state(device_state))
            if step % config.sample_every == 0 or step == config.steps:
                write_samples(runner.get_state(device_state), step)
            if evaluate is not None and (step % config.eval_every == 0 or step == config.steps):
                res = evaluate(runner.get_state(device_state), step, logs[0])
                if bar is not None:
                    bar.write(f"step {step}: {config.eval_metric} = {res[config.eval_metric]:.4f} "
                              f"({res['extractor']}); best {evaluate.best_value:.4f}")
            if checkpoint_due(step):
                save(device_state)
            stop_now = stopping()
        if stop_now:
            save(device_state)
            result.stopped_by_signal = stop.received or "a signal to another process"
        ckpts.wait()  # the last save is on disk before anything says so
    result.step = step
    result.seconds = time.time() - t_start
    if result.stopped_by_signal:
        _print(f"stopped by {result.stopped_by_signal} after step {step}; checkpoint saved in "
               f"{wd.checkpoint_dir(workdir)}; run the same command again to continue")
    else:
        first = (f" (the first after {result.first_step_at - t_start:.1f}s: set-up and compilation)"
                 if result.first_step_at else "")
        _print(f"done: {step} steps in {result.seconds:.0f}s{first}; samples in {workdir}/samples")
    return result
