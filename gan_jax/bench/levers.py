"""Side-by-side measurements of the performance levers of the JAX train step (see benchmarks/NOTES.md).

Every variant is the same train step with its models under a different conv policy
(a ``gan_jax.ops.ConvPolicy`` value), or run ``K`` steps per dispatch under
``lax.scan``; they run interleaved in one process, and optionally beside the
PyTorch eager step as an anchor::

    python benchmarks/levers.py --setting dcgan64:64 --variants plain,prev,subpixel,auto --steps 10
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time

ALL_LAX = {"forward": "lax", "transpose": "lax", "wgrad": "lax"}

# name -> (description, the ConvPolicy fields that differ from the default (None: ops.PLAIN, the plain
#          lax ops), steps per call: K > 1 a rolled lax.scan, -K an unrolled one, 0 one step without
#          buffer donation)
VARIANTS = {
    "plain": ("every conv the plain lax op (fast_conv=False)", None, 1),
    "prev": ("previous default: transposed-conv gradients via the adjoint strided conv, all else lax",
             ALL_LAX, 1),
    "subpixel": ("prev + sub-pixel transposed convs (forward, and strided-conv data gradients)",
                 {**ALL_LAX, "transpose": "subpixel"}, 1),
    "winograd": ("Winograd F(2x2,2x2) on space-to-depth for every stride-2 op",
                 {"forward": "winograd", "transpose": "winograd", "wgrad": "winograd"}, 1),
    "winograd-fwd": ("prev + Winograd strided-conv forwards only", {**ALL_LAX, "forward": "winograd"}, 1),
    "winograd-wgrad": ("prev + Winograd kernel gradients only", {**ALL_LAX, "wgrad": "winograd"}, 1),
    "winograd-transpose": ("prev + Winograd sub-pixel transposed convs only", {**ALL_LAX, "transpose": "winograd"}, 1),
    "im2col": ("space-to-depth + shifted matmuls for every stride-2 op",
               {"forward": "im2col", "transpose": "im2col", "wgrad": "im2col"}, 1),
    "auto": ("library default: per-shape choice (ConvPolicy.choose)", {}, 1),
    "wino-min8": ("Winograd where min(I, O) >= 8, else lax", {"winograd_min_channels": 8}, 1),
    "small-lax": ("auto, the plain lax ops for the layers with < 8 channels on a side (default at 28/32 px "
                  "before 2026-11-27)", {"small": "lax"}, 1),
    "small-patches": ("auto, one patches matmul for every op of the layers with < 8 channels on a side (not only "
                      "the kernel gradient)",
                      {"small": "patches"}, 1),
    "small-im2col": ("auto, im2col (shifted matmuls) for the layers with < 8 channels on a side (default at "
                     "64 px on 2026-11-27)",
                     {"small": "im2col"}, 1),
    "small-subpixel": ("auto, s2d + lax stride-1 conv for the layers with < 8 channels on a side",
                       {"small": "subpixel"}, 1),
    "wino-min1": ("Winograd for every stride-2 op, small-channel ones too", {"winograd_min_channels": 1}, 1),
    "wino-min64": ("Winograd where min(I, O) >= 64, else lax", {"winograd_min_channels": 64}, 1),
    "wino-min128": ("Winograd where min(I, O) >= 128, else lax", {"winograd_min_channels": 128}, 1),
    "auto-noreuse": ("auto without keeping the Winograd tiles for the backward pass",
                     {"reuse_tiles": False}, 1),
    "wino-adjoint": ("auto, transposed convs as the exact transpose of the Winograd strided conv",
                     {"transpose": "adjoint"}, 1),
    "wino-phase": ("auto, transposed convs split into s*s output phases (no tile padding)",
                   {"transpose": "phase"}, 1),
    "wino-m2": ("Winograd everywhere, F(2x2, 2x2) tiles", {"winograd_tile": 2}, 1),
    "wino-m4": ("Winograd everywhere, F(4x4, 2x2) tiles", {"winograd_tile": 4}, 1),
    "auto-scan2": ("library default, 2 steps per call under lax.scan", {}, 2),
    "auto-scan4": ("library default, 4 steps per call under lax.scan", {}, 4),
    "auto-unroll2": ("library default, 2 steps per call, scan unrolled", {}, -2),
    "auto-unroll4": ("library default, 4 steps per call, scan unrolled", {}, -4),
    "auto-split2": ("auto, every fast conv on two independent halves of the batch", {"batch_split": 2}, 1),
    "auto-split4": ("auto, every fast conv on four independent quarters of the batch", {"batch_split": 4}, 1),
    "fullwin-lax": ("auto, D's last layer (kernel = whole input) the lax conv instead of one matmul",
                    {"full_window_matmul": False}, 1),
    "auto-nodonate": ("library default without donating the state buffers", {}, 0),
}


def build(name: str, config):
    import jax

    from gan_jax.bench.scan import make_scan_step, stack_batches
    from gan_jax.ops import DEFAULT_POLICY, PLAIN, policy_spec
    from gan_jax.tasks import init_state, make_train_step

    _, choices, k = VARIANTS[name]
    policy = PLAIN if choices is None else dataclasses.replace(DEFAULT_POLICY, **choices)
    config = dataclasses.replace(config, conv_policy=policy_spec(policy), fast_conv=policy.fast)
    donate = k != 0
    unroll, k = k < 0, max(1, abs(k))
    state = init_state(config)
    real = jax.random.uniform(jax.random.PRNGKey(1), (config.batch_size, config.resolution,
                                                      config.resolution, config.channels),
                              minval=-1.0, maxval=1.0)
    batch = {"image": real}
    t = time.perf_counter()
    if k > 1:
        fn, batch = make_scan_step(config, k, unroll), stack_batches(batch, k)
    else:
        fn = jax.jit(make_train_step(config), donate_argnums=0 if donate else ())
    compiled = fn.lower(state, batch).compile()
    compile_s = time.perf_counter() - t
    box = {"state": state}

    def run():
        box["state"], m = compiled(box["state"], batch)
        jax.block_until_ready((box["state"], m))

    return run, k, compile_s


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--setting", default="dcgan64:64")
    p.add_argument("--variants", default="plain,prev,subpixel,winograd,auto")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--torch", action="store_true", help="add the PyTorch eager step as an anchor")
    p.add_argument("--json")
    args = p.parse_args(argv)

    from gan_jax.bench.throughput import _torch_variant, parse_setting
    from gan_jax.bench.timing import interleaved_times

    spec, config = parse_setting(args.setting, 64, "float32")
    runs = {}
    for name in args.variants.split(","):
        run, k, c = build(name, config)
        runs[name] = (run, k)
        print(f"{name}: compiled in {c:.1f} s — {VARIANTS[name][0]}", file=sys.stderr, flush=True)
    if args.torch:
        import os

        import torch
        torch.set_num_threads(len(os.sched_getaffinity(0)))
        v = _torch_variant("torch-eager", config, compile=False)
        runs["torch-eager"] = (v.run, 1)
    calls = interleaved_times({n: run for n, (run, _) in runs.items()}, args.steps, args.warmup)
    times = {n: [t / runs[n][1] for t in calls[n]] for n in runs}  # seconds per train step
    names = list(runs)
    base = statistics.median(times[names[0]])
    print(f"\n{spec}, {args.steps} interleaved rounds; ms per train step (median, min–max); "
          f"speed-up vs {names[0]}" + (", ratio to torch eager" if args.torch else ""))
    print("| variant | ms/step | speed-up | × torch eager |\n|---|---|---|---|")
    tor = statistics.median(times["torch-eager"]) if args.torch else None
    for n in names:
        med = statistics.median(times[n])
        print(f"| {n} | {1e3 * med:.0f} ({1e3 * min(times[n]):.0f}–{1e3 * max(times[n]):.0f}) "
              f"| {base / med:.2f} | {tor / med:.2f} |" if tor else
              f"| {n} | {1e3 * med:.0f} ({1e3 * min(times[n]):.0f}–{1e3 * max(times[n]):.0f}) "
              f"| {base / med:.2f} | – |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"setting": spec, "times_s": times}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
