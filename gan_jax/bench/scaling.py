"""Scale-out benchmarks of ``gan_jax.parallel``: devices, population members, fused steps.

Usage (also ``python benchmarks/scaling.py ...``)::

    python benchmarks/scaling.py --part devices,population,fused --steps 10 --markdown out.md

* ``devices``: the same global batch under ``sharding``, ``shard_map`` and ``pmap`` on
  1, 2, 4, 8 devices; each device count is a fresh process (``--xla_force_host_platform_device_count``
  must be set before JAX starts). On a CPU the forced devices share the same cores, so
  the table reads as the *overhead* of splitting a batch, not a speed-up.
* ``population``: P = 1, 4, 8 independent GANs in one vmapped step (one device);
  total images/s and images/s per member.
* ``fused``: K = 1, 2, 4, 8 steps per call (``steps_per_call``; unrolled on CPU), steps/s.

Within a part, the variants run interleaved (one call each in turn, the order
rotating every round) after a warm-up, and the tables give medians with min–max.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from gan_jax.bench.timing import interleaved_times

SETTING = dict(resolution=28, channels=1, g_width=64, d_width=64, z_dim=100)


def _config(batch_size: int, **changes):
    from gan_jax.configs import Config
    return Config(batch_size=batch_size, **SETTING, **changes)


def _build(config, mode: str):
    """A zero-argument function that runs one call of ``config``'s step under ``mode``; compile seconds."""
    import jax
    import numpy as np

    from gan_jax.parallel import make_parallel_step
    from gan_jax.tasks import init_state

    runner = make_parallel_step(config, mode)
    rng = np.random.default_rng(0)
    lead = (config.population,) * (config.population > 1) + (config.steps_per_call,) * (config.steps_per_call > 1)
    shape = lead + (config.batch_size, config.resolution, config.resolution, config.channels)
    batch = runner.put_batch({"image": rng.uniform(-1, 1, shape).astype(np.float32)})
    box = {"state": runner.put_state(init_state(config))}
    t = time.perf_counter()
    box["state"], m = runner.step(box["state"], batch)
    jax.block_until_ready((box["state"], m))
    compile_s = time.perf_counter() - t

    def run():
        box["state"], metrics = runner.step(box["state"], batch)
        jax.block_until_ready((box["state"], metrics))

    return run, compile_s


def _stats(seconds: list[float], scale: float = 1.0) -> tuple[float, float, float]:
    """(median, min, max) of ``scale / seconds``: a rate."""
    rates = [scale / s for s in seconds]
    return statistics.median(rates), min(rates), max(rates)


def _one_device_count(args) -> dict:
    """Run inside a process with ``--devices`` forced CPU devices; the three modes interleaved."""
    import jax

    n = args._devices
    assert jax.device_count() == n, (jax.device_count(), n)
    modes = ["sharding", "shard_map", "pmap"] if n > 1 else ["jit"]
    runs, compile_s = {}, {}
    for mode in modes:
        runs[mode], compile_s[mode] = _build(_config(args.batch), mode)
    times = interleaved_times(runs, args.steps, args.warmup)
    return {mode: {"images_per_s": _stats(times[mode], args.batch), "compile_s": compile_s[mode]}
            for mode in modes}


def devices(args) -> list[str]:
    rows, base = [], None
    for n in (1, 2, 4, 8):
        flags = f"--xla_force_host_platform_device_count={n} --xla_cpu_collective_call_terminate_timeout_seconds=900"
        env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}
        cmd = [sys.executable, "-m", "gan_jax.bench.scaling", "--_devices", str(n), "--batch", str(args.batch),
               "--steps", str(args.steps), "--warmup", str(args.warmup)]
        try:
            out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True,
                                 timeout=args.timeout).stdout
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            # e.g. XLA:CPU's all-reduce rendezvous aborting with many forced devices on few cores
            tail = (e.stderr or "").strip().splitlines()[-1:] if isinstance(e.stderr, str) else []
            rows.append(f"| {n} | all | failed: {type(e).__name__} {' '.join(tail)[:120]} | – | – |")
            print(f"devices={n}: {type(e).__name__}", file=sys.stderr, flush=True)
            continue
        result = json.loads(out.strip().splitlines()[-1])
        for mode, r in result.items():
            med, lo, hi = r["images_per_s"]
            base = base or med
            rows.append(f"| {n} | {mode} | {med:.0f} ({lo:.0f}–{hi:.0f}) "
                        f"| {med / base:.2f} | {r['compile_s']:.1f} |")
        print(f"devices={n}: {result}", file=sys.stderr, flush=True)
    return [f"### Devices (CPU, forced host devices), global batch {args.batch}, {args.steps} interleaved rounds",
            "", "| devices | mode | images/s median (min–max) | × 1 device | first call (s) |",
            "|---|---|---|---|---|", *rows]


def population(args) -> list[str]:
    runs, compile_s, sizes = {}, {}, (1, 4, 8)
    for p in sizes:
        name = f"P={p}"
        runs[name], compile_s[name] = _build(_config(args.batch, population=p), "jit")
        print(f"{name}: first call {compile_s[name]:.1f} s", file=sys.stderr, flush=True)
    times = interleaved_times(runs, args.steps, args.warmup)
    rows, base = [], None
    for p in sizes:
        name = f"P={p}"
        med, lo, hi = _stats(times[name], args.batch * p)
        base = base or med
        rows.append(f"| {p} | {med:.0f} ({lo:.0f}–{hi:.0f}) | {med / p:.0f} | {med / base:.2f} "
                    f"| {compile_s[name]:.1f} |")
    return [f"### Population (one device, `jit`), batch {args.batch} per member, {args.steps} interleaved rounds",
            "", "| members P | total images/s median (min–max) | images/s per member | total × P=1 "
            "| first call (s) |", "|---|---|---|---|---|", *rows]


def fused(args) -> list[str]:
    runs, compile_s, ks = {}, {}, (1, 2, 4, 8)
    for k in ks:
        name = f"K={k}"
        runs[name], compile_s[name] = _build(_config(args.batch, steps_per_call=k, log_every=k,
                                                     sample_every=k, checkpoint_every=k), "jit")
        print(f"{name}: first call {compile_s[name]:.1f} s", file=sys.stderr, flush=True)
    times = interleaved_times(runs, args.steps, args.warmup)
    rows, base = [], None
    for k in ks:
        name = f"K={k}"
        med, lo, hi = _stats(times[name], k)
        base = base or med
        rows.append(f"| {k} | {med:.2f} ({lo:.2f}–{hi:.2f}) | {med / base:.2f} | {compile_s[name]:.1f} |")
    return [f"### Fused steps (one device, `jit`), batch {args.batch}, {args.steps} interleaved rounds",
            "", "| steps per call K | train steps/s median (min–max) | × K=1 | first call (s) |",
            "|---|---|---|---|", *rows]


PARTS = {"devices": devices, "population": population, "fused": fused}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--part", default="devices,population,fused", help="comma-separated: " + ", ".join(PARTS))
    p.add_argument("--batch", type=int, default=64, help="batch size (per member for population)")
    p.add_argument("--steps", type=int, default=10, help="interleaved rounds (calls per variant)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--markdown", help="also write the tables to this file")
    p.add_argument("--timeout", type=float, default=900, help="seconds per device-count process")
    p.add_argument("--_devices", type=int, help=argparse.SUPPRESS)  # internal: one device count
    args = p.parse_args(argv)
    if args._devices:
        print(json.dumps(_one_device_count(args)))
        return 0
    parts = args.part.split(",")
    unknown = [x for x in parts if x not in PARTS]
    if unknown:
        p.error(f"--part {','.join(unknown)}: expected some of {', '.join(PARTS)}")
    import jax
    lines = [f"DCGAN 28 px (widths 64, z 100), jax {jax.__version__}, backend {jax.default_backend()}, "
             f"{os.cpu_count()} CPU cores", ""]
    for part in parts:
        lines += PARTS[part](args) + [""]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
