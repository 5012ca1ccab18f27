"""The timing behind ``conv_policy="auto"``: each candidate policy's real jitted train step, interleaved.

:func:`measure_steps` is the ``measure`` of :func:`gan_jax.ops.autotune.resolve` (which keeps
the cache and the choice; it lives in ``ops`` and cannot build a train step itself).
:func:`resolve_config` is what ``gan-jax train`` calls for ``conv_policy=auto``, and
:func:`main` is ``gan-jax bench --autotune``: it measures afresh, stores the choice and
prints what each candidate measured::

    gan-jax bench --autotune --settings dcgan28:64
    python benchmarks/throughput.py --autotune --settings dcgan28:64,dcgan64:64 --json autotune.json

Every candidate is compiled first, then the candidates run one step each in turn (the order
rotating each round, as in :func:`gan_jax.bench.timing.interleaved_times`), so machine
noise hits them alike: ``rounds`` rounds, fewer (but at least ``min_rounds``) once the timed
rounds have taken ``budget_s`` seconds. Compiling dominates: about 3 s per candidate at 28 px
on 2 quiet cores (more on a loaded machine, and at 64 px).
"""
from __future__ import annotations

import dataclasses
import json
import statistics
import sys
import time
from typing import Callable, Sequence

def synthetic_batch(config) -> dict:
    """A batch of uniform images in [-1, 1] [real_batch_size, R, R, C] (and int32 labels [B]
    wherever D reads them: a class-conditional or self-conditioned config,
    :func:`gan_jax.tasks.generate.d_classes`), as the data pipeline gives the train step."""
    import numpy as np

    from gan_jax.tasks.generate import d_classes

    rng = np.random.default_rng(0)
    shape = (config.real_batch_size, config.resolution, config.resolution, config.channels)
    batch = {"image": rng.uniform(-1.0, 1.0, shape).astype(np.float32)}
    classes = d_classes(config)
    if classes:
        batch["label"] = rng.integers(0, classes, config.real_batch_size).astype(np.int32)
    return batch


def measure_steps(config, specs: Sequence[str], *, rounds: int = 15, min_rounds: int = 5, warmup: int = 1,
                  budget_s: float = 6.0, log: Callable[[str], None] | None = None
                  ) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Seconds per train step of ``config`` under each policy spec (``conv_policy=spec``), and the
    specs that failed to build (spec -> reason). One device, one step per call, donated state.

    Each candidate is traced and lowered here and compiled in one of two worker threads (XLA
    compiles without the GIL), so the next candidate's tracing overlaps the last one's compile.
    Then ``warmup`` calls each, then up to ``rounds`` interleaved rounds, stopping after
    ``min_rounds`` once the rounds have taken ``budget_s`` seconds."""
    import concurrent.futures

    import jax
    import jax.numpy as jnp

    from gan_jax.bench.timing import interleaved_times
    from gan_jax.tasks import init_state, make_train_step

    def reason(e: Exception) -> str:
        return f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"

    base = dataclasses.replace(config, steps_per_call=1, population=1, fast_conv=True, conv_policy="")
    runs, failed, pending = {}, {}, {}
    try:
        batch = jax.device_put(synthetic_batch(base))
        state = init_state(base)
    except Exception as e:  # noqa: BLE001 - nothing to time: resolve() falls back to the default
        return {}, dict.fromkeys(specs, f"init: {reason(e)}")
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="autotune") as pool:
        for spec in specs:
            try:
                step = jax.jit(make_train_step(dataclasses.replace(base, conv_policy=spec)), donate_argnums=0)
                own = jax.tree.map(jnp.copy, state)
                pending[spec] = (pool.submit(step.lower(own, batch).compile), own)
            except Exception as e:  # noqa: BLE001 - a candidate that does not build is skipped, not fatal
                failed[spec] = reason(e)
        for spec, (future, own) in pending.items():
            try:
                runs[spec] = _runner(future.result(), own, batch)
            except Exception as e:  # noqa: BLE001
                failed[spec] = reason(e)
    if log:
        log(f"  compiled {len(runs)} candidates in {time.perf_counter() - t0:.1f} s"
            + "".join(f"; {s or 'default'!r} FAILED: {why}" for s, why in failed.items()))
    if not runs:
        return {}, failed
    return interleaved_times(runs, rounds, warmup, min_rounds=min_rounds, budget_s=budget_s), failed


def _runner(compiled, state, batch) -> Callable[[], None]:
    import jax

    box = {"state": state}

    def run():
        box["state"], metrics = compiled(box["state"], batch)
        jax.block_until_ready((box["state"], metrics))

    return run


def resolve_spec(config, *, force: bool = False, candidates: Sequence[str] | None = None,
                 log: Callable[[str], None] | None = None, measure=None):
    """``(spec, result)``: :func:`gan_jax.ops.autotune.resolve` with :func:`measure_steps`. A
    step that no candidate could build (e.g. a task whose batch is not one of images: the
    batch here is synthetic) gives the default (``""``, None) and a log line."""
    from gan_jax.ops import autotune

    log = log or _log
    kwargs = {} if candidates is None else {"candidates": tuple(candidates)}
    measure = measure or (lambda c, specs: measure_steps(c, specs))
    try:
        return autotune.resolve(config, measure, force=force, log=log, **kwargs)
    except autotune.NothingTimed as e:
        log(f"{e}; using the default policy")
        return "", None


def resolve_config(config, **kwargs):
    """``config`` itself when its ``conv_policy`` is not ``auto``; else the same config after
    making sure that this CPU has a choice for its setting (timed now if not cached), so that
    :func:`gan_jax.ops.policy_for` finds it. The config keeps ``auto``."""
    if config.conv_policy.strip() != "auto" or not config.fast_conv:
        return config
    resolve_spec(config, **kwargs)
    return config


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def table(setting: str, result, cpu) -> str:
    """Markdown: each candidate's median ms per step (min-max), its speed against the default,
    and which was chosen."""
    default = statistics.median(result.times[""]) if result.times.get("") else None
    lines = [f"{setting} on {cpu.key()}: {max(map(len, result.times.values()))} interleaved rounds, "
             f"{result.seconds:.1f} s in all (compiles included)", "",
             "| candidate (conv_policy) | ms per step, median (min–max) | × default | chosen |",
             "|---|---|---|---|"]
    for spec, t in result.times.items():
        med = statistics.median(t)
        speed = f"{default / med:.2f}" if default else "–"
        lines.append(f"| {spec or '(default)'} | {1e3 * med:.1f} ({1e3 * min(t):.1f}–{1e3 * max(t):.1f}) "
                     f"| {speed} | {'**yes**' if spec == result.spec else ''} |")
    for spec, why in result.failed.items():
        lines.append(f"| {spec or '(default)'} | failed: {why} | – | |")
    return "\n".join(lines)


def main(args, settings: list) -> int:
    """``gan-jax bench --autotune`` (``args`` from :func:`gan_jax.bench.throughput.main`, ``settings``
    its ``(name, Config)`` pairs): measure afresh for each setting, store the choice in the cache,
    print a table per setting."""
    import jax

    from gan_jax.ops import autotune

    candidates = None if args.candidates is None else [c.strip() for c in args.candidates.split(";")]
    if candidates is not None:
        from gan_jax.ops import parse_policy
        for c in candidates:
            try:
                parse_policy(c)
            except ValueError as e:
                raise SystemExit(f"--candidates: {c!r}: {e}") from None
    if not autotune.applies():
        print(f"conv_policy=auto does nothing on this backend ({jax.default_backend()}, "
              f"{jax.process_count()} processes): the default policy is used.")
        return 0
    cpu = autotune.cpu_id()
    out = {"cpu": dataclasses.asdict(cpu), "jax": jax.__version__, "cache": autotune.cache_path(), "settings": {}}
    for spec, config in settings:
        _, result = resolve_spec(config, force=True, candidates=candidates,
                                 measure=lambda c, specs: measure_steps(c, specs, log=_log))
        if result is None:  # no candidate could be timed: resolve_spec said why
            out["settings"][spec] = {"key": autotune.cache_key(config, cpu), "chosen": "", "times_s": {}}
            continue
        print("\n" + table(spec, result, cpu))
        out["settings"][spec] = {"key": autotune.cache_key(config, cpu), "chosen": result.spec,
                                 "seconds": result.seconds, "times_s": result.times, "failed": result.failed}
    print(f"\nChoices stored in {autotune.cache_path()}: conv_policy=auto uses them for these settings on this CPU.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {args.json}")
    return 0
