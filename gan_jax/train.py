"""The training loop: data -> parallel step -> logs, sample grids, checkpoints.

``train(config, workdir)`` resumes from the newest checkpoint in ``workdir``
and runs until ``config.steps`` completed steps. SIGTERM/SIGINT finish the
current step, write a checkpoint and return cleanly.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import time

import jax
import numpy as np

from gan_jax import configs, data, images, sampling, workdir as wd
from gan_jax.checkpoint import Checkpoints, signature
from gan_jax.errors import UserError
from gan_jax.logger import MetricsLog
from gan_jax.parallel import make_parallel_step
from gan_jax.state import NONFINITE_BITS, abstract_state, init_state


class TrainingDiverged(RuntimeError):
    """A loss or gradient became NaN/Inf (with ``nonfinite=stop``)."""


@dataclasses.dataclass
class TrainResult:
    step: int  # completed steps
    stopped_by_signal: str | None
    last_metrics: dict
    seconds: float


def describe_nonfinite(what: int) -> str:
    return ", ".join(name for bit, name in NONFINITE_BITS.items() if what & bit) or "unknown"


def _grid_latents(config) -> jax.Array:
    # Fixed for the whole run (and across resumes): derived from the seed alone.
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


def _print(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


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
    source = data.load_source(config.dataset, resolution=config.resolution,
                              channels=config.channels, tfds_data_dir=config.tfds_data_dir or None)
    runner = make_parallel_step(config)
    runner.check_batch_size(config.batch_size)
    if config.num_classes and (source.labels is None or source.num_classes > config.num_classes):
        raise UserError(f"num_classes={config.num_classes}: dataset {config.dataset!r} has "
                        f"{'no labels' if source.labels is None else f'{source.num_classes} classes'}")
    if config.batch_size > len(source):
        raise UserError(f"batch_size={config.batch_size}: larger than the dataset "
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
    if ckpts.steps():
        state, _ = ckpts.restore(abstract_state(config), sig)
        for moved in ckpts.quarantine_damaged():
            _print(f"warning: unreadable checkpoint moved to {moved}")
        _print(f"resuming {workdir} from step {int(state.step)}")
    else:
        state = init_state(config)
    start = int(state.step)
    wd.save_config(workdir, config)
    meta = {"signature": sig, "config": config.to_dict()}

    evaluate = _PeriodicEval(config, workdir, meta, extractor) if config.eval_every else None
    log = MetricsLog(workdir, start_step=start)
    grid_z = _grid_latents(config)

    def write_samples(host_state, step):
        imgs = sampling.generate_from(config, host_state, grid_z)
        path = os.path.join(workdir, "samples", f"step_{step:07d}.png")
        images.save_grid(imgs, path)
        log.image(step, "samples", images.make_grid(imgs))

    def check_finite(host_state):
        bad = int(host_state.nonfinite_step)
        if bad >= 0 and config.nonfinite == "stop":
            what = describe_nonfinite(int(host_state.nonfinite_what))
            saved = ckpts.steps()
            raise TrainingDiverged(
                f"non-finite {what} at step {bad}; training stopped (last good checkpoint: "
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
        log.close()
        return result

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=config.steps, initial=start, unit="step", dynamic_ncols=True,
                   file=sys.stderr, desc="train")
    pending: list[dict] = []
    t_log, step_log = time.time(), start
    device_state = runner.put_state(state)
    del state
    with contextlib.ExitStack() as stack:
        stack.callback(log.close)
        if bar is not None:
            stack.callback(bar.close)
        batches = stack.enter_context(data.Batches(source, config.batch_size, config.seed, start,
                                                   with_labels=config.num_classes > 0))
        batch = runner.put_batch(next(batches))
        step = start
        while step < config.steps and not stop.received:
            device_state, metrics = runner.step(device_state, batch)
            step += 1
            if step < config.steps:
                batch = runner.put_batch(next(batches))  # overlaps with the step in flight
            pending.append(metrics)
            if bar is not None:
                bar.update(1)
            if step % config.log_every == 0 or step == config.steps:
                host = [runner.get_metrics(m) for m in jax.device_get(pending)]
                means = {k: float(np.mean([m[k] for m in host])) for k in host[0] if k != "nonfinite"}
                now = time.time()
                means["steps_per_sec"] = (step - step_log) / max(now - t_log, 1e-9)
                means["images_per_sec"] = means["steps_per_sec"] * config.batch_size
                t_log, step_log, pending = now, step, []
                log.scalars(step, means)
                result.last_metrics = means
                if bar is not None:
                    bar.set_postfix({k: f"{means[k]:.3f}" for k in ("d_loss", "g_loss")})
                if config.nonfinite == "stop" and any(m["nonfinite"] for m in host):
                    check_finite(runner.get_state(device_state))
            if step % config.sample_every == 0 or step == config.steps:
                write_samples(runner.get_state(device_state), step)
            if evaluate is not None and (step % config.eval_every == 0 or step == config.steps):
                res = evaluate(runner.get_state(device_state), step, log)
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
        _print(f"done: {step} steps in {result.seconds:.0f}s; samples in {workdir}/samples")
    return result
