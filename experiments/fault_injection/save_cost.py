"""What a checkpoint costs the train loop: synchronous against asynchronous saves.

1. ``Checkpoints`` alone: the default model's state (``dcgan_mnist``, 14 MB with Adam and
   EMA) saved ``--saves`` times each way; the time ``save()`` blocks its caller, and for
   asynchronous saves the time until the write is on disk (``wait()``).
2. ``train()`` on the default config: ``--steps`` steps with a checkpoint every
   ``--every`` steps, asynchronous, synchronous, and without checkpoints (only the last),
   interleaved ``--rounds`` times; the loop's blocking time per save
   (``TrainResult.checkpoint_seconds / checkpoints``) and the loop's steps/s.

    python experiments/fault_injection/save_cost.py --saves 10 --steps 200 --every 25 --rounds 2
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time

import jax
import numpy as np


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        name = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
        return f"{name}, {'AVX-512' if 'avx512f' in out else 'AVX2'}, {os.cpu_count()} cores"
    except Exception:  # noqa: BLE001
        return platform.processor()


def direct(config, saves: int, base: str) -> None:
    from gan_jax.checkpoint import Checkpoints, signature
    from gan_jax.tasks import init_state

    state = jax.device_get(init_state(config))
    mb = sum(np.asarray(x).nbytes for x in jax.tree.leaves(state)) / 1e6
    print(f"1. Checkpoints.save of the {config.model} state ({mb:.1f} MB), {saves} saves each, interleaved:")
    times = {"sync": [], "async": [], "async, to disk": []}
    dirs = {m: Checkpoints(os.path.join(base, m), keep=2, async_save=m == "async") for m in ("sync", "async")}
    for i in range(saves + 1):  # the first save of each (orbax set-up) is not counted
        for mode, ckpts in dirs.items():
            s = state.replace(step=np.asarray(i, np.int32))
            t0 = time.perf_counter()
            ckpts.save(s, {"signature": signature(config)})
            t1 = time.perf_counter()
            ckpts.wait()
            t2 = time.perf_counter()
            if i:
                times[mode].append(t1 - t0)
                if mode == "async":
                    times["async, to disk"].append(t2 - t0)
    for ckpts in dirs.values():
        ckpts.close()
    for mode, ts in times.items():
        print(f"   {mode:15s} median {1e3 * statistics.median(ts):6.1f} ms  (min {1e3 * min(ts):6.1f}, "
              f"max {1e3 * max(ts):6.1f})")


def in_train(config, steps: int, every: int, rounds: int, base: str) -> None:
    from gan_jax.train import train

    modes = {"async": dict(checkpoint_async=True, checkpoint_every=every),
             "sync": dict(checkpoint_async=False, checkpoint_every=every),
             "none": dict(checkpoint_async=False, checkpoint_every=steps)}
    print(f"2. train(): {config.model} batch {config.batch_size}, {steps} steps, a checkpoint every {every} "
          f"(none: only the last), {rounds} interleaved rounds:")
    rows = {m: [] for m in modes}
    for r in range(rounds + 1):  # round 0 compiles and fills the caches; not counted
        for mode, fields in modes.items():
            workdir = os.path.join(base, f"train_{mode}")
            shutil.rmtree(workdir, ignore_errors=True)
            c = dataclasses.replace(config, steps=steps, checkpoint_minutes=0, sample_every=steps,
                                    log_every=every, **fields)
            result = train(c, workdir, progress=False)
            loop = time.time() - result.first_step_at
            if r:
                rows[mode].append((result.checkpoint_seconds / max(result.checkpoints, 1), result.checkpoints,
                                   (steps - 1) / loop))
    for mode, rs in rows.items():
        per_save = statistics.median(x[0] for x in rs)
        rate = statistics.median(x[2] for x in rs)
        print(f"   {mode:6s} {rs[0][1]:2d} saves, loop blocked {1e3 * per_save:6.1f} ms per save (median); "
              f"{rate:5.2f} steps/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="dcgan_mnist")
    ap.add_argument("--saves", type=int, default=10)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--every", type=int, default=25)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    from gan_jax import configs

    base = tempfile.mkdtemp(prefix="gan_jax_save_cost_")
    jax.config.update("jax_compilation_cache_dir", os.path.join(base, "xla"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    config = configs.get(args.config)
    print(f"{cpu_name()}; jax {jax.__version__}, {jax.default_backend()}; {time.strftime('%Y-%m-%d')}")
    try:
        direct(config, args.saves, base)
        in_train(config, args.steps, args.every, args.rounds, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
