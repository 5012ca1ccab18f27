"""The training loop: data -> parallel step -> logs, sample grids, checkpoints.

``train(config, workdir)`` resumes from the newest checkpoint in ``workdir``
and runs until ``config.steps`` completed steps. SIGTERM/SIGINT finish the
current step, write a checkpoint and return cleanly.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import signal
import sys
import time
from typing import Iterator

import jax
import numpy as np

from gan_jax import configs, data, images, sampling, workdir as wd
from gan_jax.checkpoint import Checkpoints, signature
from gan_jax.errors import UserError
from gan_jax.logger import MetricsLog
from gan_jax.parallel import make_parallel_step, member_state, stack_trees
from gan_jax.state import NONFINITE_BITS, GANState, abstract_state, init_state, init_state_async
from gan_jax.step import make_train_step


class TrainingDiverged(RuntimeError):
    """A loss or gradient became NaN/Inf (with ``nonfinite=stop``)."""


@dataclasses.dataclass
class TrainResult:
    step: int  # completed steps
    stopped_by_signal: str | None
    last_metrics: dict
    seconds: float
    first_step_at: float | None = None  # time.time() when this run's first call finished (compile included)


def describe_nonfinite(what: int) -> str:
    return ", ".join(name for bit, name in NONFINITE_BITS.items() if what & bit) or "unknown"


@functools.lru_cache(maxsize=16)
def _grid_latents(config) -> jax.Array:
    # Fixed for the whole run (and across resumes): derived from the seed alone. Drawn at the
    # first sample grid, not at start-up: the draw compiles a program (~0.3 s).
    return jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(config.seed), 0x5A4D),
                             (config.grid_size, config.z_dim))


class _StopSignals:
    """Turns SIGTERM/SIGINT into a flag checked between steps (main thread only)."""

    def __init__(self):
        self.received: str | None = None
        self._previous = {}

    def __enter__(self):
        import threading
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.received = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


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
    """Mean of every metric over the calls since the last log (of one population member)."""
    pick = (lambda v: np.asarray(v)) if member is None else (lambda v: np.asarray(v)[member])
    return {k: float(np.mean([pick(m[k]) for m in host_metrics])) for k in host_metrics[0] if k != "nonfinite"}


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
    checkpointed, logged, multi-device loop.
    """
    stop_at = sorted(set(int(t) for t in stop_at))
    if not stop_at or stop_at[0] < 1:
        raise ValueError(f"stop_at={stop_at}: expected positive step counts")
    configs.validate(config)
    if config.population != 1 or config.steps_per_call != 1:
        raise ValueError(f"population={config.population}, steps_per_call={config.steps_per_call}: "
                         "train_in_memory runs one GAN one step per call; use train for these")
    return _train_in_memory(config, source, stop_at)


def _train_in_memory(config, source, stop_at: list[int]) -> Iterator[tuple[int, GANState, float]]:
    stops = set(stop_at)
    step_fn = jax.jit(make_train_step(config), donate_argnums=0)
    state, seconds = init_state(config), 0.0
    with data.Batches(source, config.real_batch_size, seed=config.seed,
                      with_labels=config.num_classes > 0) as batches:
        t0 = time.perf_counter()
        for t in range(1, stop_at[-1] + 1):
            state, _ = step_fn(state, next(batches))
            if t in stops:
                jax.block_until_ready(state)
                seconds += time.perf_counter() - t0
                yield t, state, seconds
                t0 = time.perf_counter()


def train(config, workdir: str, *, progress: bool = True) -> TrainResult:
    """Train (or resume) the run in ``workdir`` up to ``config.steps`` steps.

    SIGTERM/SIGINT (also during set-up and compilation) end the run after the
    current step with a checkpoint; running again continues from it.
    """
    with _StopSignals() as stop:
        return _train(config, workdir, progress, stop)


def _train(config, workdir: str, progress: bool, stop: _StopSignals) -> TrainResult:
    configs.validate(config)
    wd.check(workdir)
    t_start = time.time()
    source = data.source_for(config)
    runner = make_parallel_step(config)
    runner.check_batch_size(config.batch_size)
    k = config.steps_per_call
    if config.steps % k:
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
        from gan_jax.metrics.evaluation import check_extractor
        from gan_jax.metrics.extractors import load_extractor
        extractor = load_extractor(config.eval_extractor)
        check_extractor(config, extractor)
    workdir = wd.prepare(workdir)  # only now: bad input above leaves no directory behind

    ckpts = Checkpoints(wd.checkpoint_dir(workdir), keep=config.keep_checkpoints)
    sig = signature(config)
    fresh_state = None
    if ckpts.steps():
        state, _ = ckpts.restore(abstract_state(config), sig)
        for moved in ckpts.quarantine_damaged():
            _print(f"warning: unreadable checkpoint moved to {moved}")
        _print(f"resuming {workdir} from step {int(np.ravel(state.step)[0])}")
        start = int(np.ravel(state.step)[0])
    else:
        # Built in a thread while the rest of the set-up runs; `state` is its shapes until then.
        fresh_state, state = init_state_async(config)
        start = 0
    if start % k:
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
            imgs, ncol = sampling.grid(members[i], member_state(host_state, i, len(members)),
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

    def save(device_state):
        host_state = runner.get_state(device_state)
        check_finite(host_state)
        ckpts.save(jax.device_get(host_state), meta)
        return host_state

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
        feeds = [stack.enter_context(data.Batches(source, config.real_batch_size, m.seed, start,
                                                  shard_index=jax.process_index(),
                                                  shard_count=jax.process_count(),
                                                  with_labels=config.num_classes > 0)) for m in members]

        def next_call():
            """This process's data for one call: [B, ...], [K, B, ...] fused, [P, ...] per member."""
            per_member = [stack_trees([next(f) for _ in range(k)]) if k > 1 else next(f) for f in feeds]
            return runner.put_batch(stack_trees(per_member) if len(members) > 1 else per_member[0])

        batch = next_call()
        if fresh_state is not None:
            runner.lower_ahead(state, batch)  # traces the step (Python) while the init compiles (XLA)
            state = fresh_state.result()
        device_state = runner.put_state(state)
        del state
        step = start
        while step < config.steps and not stop.received:
            device_state, metrics = runner.step(device_state, batch)
            step += k
            if step < config.steps:
                batch = next_call()  # overlaps with the step in flight
            if runner.one_call_in_flight or result.first_step_at is None:
                jax.block_until_ready(metrics)
                result.first_step_at = result.first_step_at or time.time()
            pending.append(metrics)
            if bar is not None:
                bar.update(k)
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
            if step % config.checkpoint_every == 0 or step == config.steps:
                save(device_state)
        if stop.received:
            save(device_state)
            result.stopped_by_signal = stop.received
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
