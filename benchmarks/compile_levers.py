"""Compile time of the dcgan_mnist train step under start-up levers, interleaved in one process.

Each round traces, lowers and compiles a fresh copy of the step per variant (so nothing is
cached), then times a few steps of it; medians over rounds. Variants:

* ``default``  the library's step
* ``O1`` / ``O2``  LLVM optimisation level 1 / 2 (default 3)
* ``noemit``  XLA's legacy loop emitters (``xla_cpu_use_fusion_emitters=false``)
* ``lax``  every conv as the plain lax op (``fast_conv=False``)
* ``gather``  the kernel-gradient patches (``gan_jax.ops.conv_patches``) as one gather

    python benchmarks/compile_levers.py --variants default,O2,noemit,gather --rounds 5
"""
import argparse
import dataclasses
import contextlib
import statistics
import time
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import configs
from gan_jax.ops import formulations
from gan_jax.tasks import init_state
from gan_jax.tasks import make_train_step


def conv_patches_gather(u, kh, kw, stride, padding):
    """``gan_jax.ops.conv_patches`` as one gather: [B, H, W, C] -> [B, H', W', kh*kw*C]."""
    b, h, w, c = u.shape
    ho, wo = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    up = jnp.pad(u, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    rows = (stride * np.arange(ho))[:, None, None, None] + np.arange(kh)[None, None, :, None]
    cols = (stride * np.arange(wo))[None, :, None, None] + np.arange(kw)[None, None, None, :]
    return up[:, rows, cols, :].reshape(b, ho, wo, kh * kw * c)


# name -> (context the step is built in, XLA compiler options, config changes)
VARIANTS = {
    "default": (contextlib.nullcontext, None, {}),
    "O1": (contextlib.nullcontext, {"xla_backend_optimization_level": 1}, {}),
    "O2": (contextlib.nullcontext, {"xla_backend_optimization_level": 2}, {}),
    "noemit": (contextlib.nullcontext, {"xla_cpu_use_fusion_emitters": False}, {}),
    "lax": (contextlib.nullcontext, None, {"fast_conv": False}),
    "gather": (lambda: mock.patch.object(formulations, "conv_patches", conv_patches_gather), None, {}),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", default="default,O2,noemit,gather")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=8, help="timed steps per variant and round")
    args = p.parse_args(argv)
    config = configs.get("dcgan_mnist")
    state = init_state(config)
    batch = {"image": np.random.default_rng(0).uniform(-1, 1, (config.batch_size, 28, 28, 1)).astype(np.float32)}
    names = args.variants.split(",")
    res = {k: {"lower": [], "compile": [], "compile_cpu": [], "step_ms": []} for k in names}
    for r in range(args.rounds):
        for k in names:
            ctx, opts, changes = VARIANTS[k]
            with ctx():
                t0 = time.perf_counter()
                low = jax.jit(make_train_step(dataclasses.replace(config, **changes)), donate_argnums=0).lower(state, batch)
                t1, c0 = time.perf_counter(), time.process_time()
                compiled = low.compile(compiler_options=opts) if opts else low.compile()
                t2, c1 = time.perf_counter(), time.process_time()
            hlo = compiled.as_text()
            fusions = hlo[hlo.index("ENTRY"):].count(" fusion(")
            s = jax.tree.map(lambda x: x.copy(), state)
            times = []
            for _ in range(args.steps + 1):
                a = time.perf_counter()
                s, _ = compiled(s, batch)
                jax.block_until_ready(s)
                times.append(time.perf_counter() - a)
            row = res[k]
            row["lower"].append(t1 - t0)
            row["compile"].append(t2 - t1)
            row["compile_cpu"].append(c1 - c0)
            row["step_ms"].append(1000 * statistics.median(times[1:]))
            print(f"round {r} {k}: {fusions} fusions, lower {t1 - t0:.2f} s, compile {t2 - t1:.2f} s "
                  f"({c1 - c0:.2f} s CPU), step {row['step_ms'][-1]:.1f} ms", flush=True)
    print("\n| variant | lower (s) | compile (s) | compile CPU (s) | step (ms) |\n|---|---|---|---|---|")
    for k, row in res.items():
        print(f"| {k} | " + " | ".join(f"{statistics.median(v):.2f}" for v in row.values()) + " |")
    print(f"\nmedians of {args.rounds} rounds; step times are sequential per variant, not interleaved "
          "(for those use benchmarks/compile_options_step.py)")


if __name__ == "__main__":
    main()
