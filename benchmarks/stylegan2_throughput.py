"""StyleGAN2 train-step throughput: the gan_jax step against its PyTorch reference, interleaved in one process.

Usage::

    python benchmarks/stylegan2_throughput.py --rounds 10 --json stylegan2_throughput.json
    python benchmarks/stylegan2_throughput.py --rounds 2 --variants jax,torch-eager   # a smoke run
    python benchmarks/stylegan2_throughput.py --max-autotune    # adds torch.compile(mode="max-autotune")

The compared step is StyleGAN2's step **without ADA**: ``stylegan2_ada_mnist`` with ``ada=""``
(:func:`gan_jax.bench.torch_stylegan2.bench_config`; 28 px, 1 channel, z = w = 64, 4 mapping
layers, widths 16, batch 32, R1 every 16 steps, path length every 4 on half the batch, style
mixing 0.9, EMA). Variants:

* ``jax``                 ``jax.jit(make_train_step(config), donate_argnums=0)``, what ``gan-jax train``
                          runs on one device (gan_jax/train.py), XLA's default CPU threading
* ``torch-eager``         :class:`gan_jax.bench.torch_stylegan2.TorchStyleGAN2` (modulation conv(x * s) * d)
* ``torch-compile``       the same, mapping, synthesis and D under ``torch.compile`` (default mode; the
                          lazy R1 / path-length passes differentiate twice and stay eager)
* ``torch-channels-last`` eager, channels-last memory
* ``torch-grouped``       eager, the grouped-conv modulation (not in the default list)
* ``torch-max-autotune``  ``torch.compile(mode="max-autotune")`` (only with ``--max-autotune``: its
                          compile can take very long on a CPU)

A timed unit is ``--steps-per-round`` steps (default 16: one R1 and four path-length steps in
every unit, on both sides, whatever step it starts at); the variants run one unit each in turn,
the order rotating every round (:func:`gan_jax.bench.timing.interleaved_times`), after
``--warmup`` untimed units. Before timing, the very JAX program that is timed and every torch
variant are checked (:func:`gan_jax.bench.torch_stylegan2.check`, state steps 0, 1, 16 and 17): the
JAX program against torch-eager (``STYLE_TOLERANCE``), the other torch variants against the JAX
program (``STYLE_LOOSE``: the same step code in another float32 arithmetic); a failure exits 1
unless ``--no-check``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

VARIANTS_DEFAULT = ("jax", "torch-eager", "torch-compile", "torch-channels-last")
VARIANTS_ALL = VARIANTS_DEFAULT + ("torch-grouped", "torch-max-autotune")
CHECK_STEPS = (0, 1, 16, 17)


def cpu_info() -> dict:
    """The CPU's model name (``/proc/cpuinfo``, as ``lscpu`` shows it), its ISA flags of note,
    usable cores, and whether it has AVX-512 (AVX-512F) / AVX2: :func:`gan_jax.ops.autotune.cpu_id`."""
    from gan_jax.ops.autotune import cpu_id

    cpu = cpu_id()
    return {"model_name": cpu.model, "isa": list(cpu.isa), "cores": cpu.cores, "avx512": "avx512f" in cpu.isa,
            "avx2": "avx2" in cpu.isa}


def jax_variant(config, steps: int):
    """(run a unit of ``steps`` steps, the compiled program, compile s, first unit s)."""
    import jax

    from gan_jax.bench.equivalence import reference_inputs
    from gan_jax.tasks import make_train_step

    state, real = reference_inputs(config)
    batch = {"image": real}
    t = time.perf_counter()
    compiled = jax.jit(make_train_step(config), donate_argnums=0).lower(state, batch).compile()
    compile_s = time.perf_counter() - t
    box = {"state": state}

    def run():
        s = box["state"]
        for _ in range(steps):
            s, metrics = compiled(s, batch)
        box["state"] = jax.block_until_ready(s)

    t = time.perf_counter()
    run()
    return run, compiled, compile_s, time.perf_counter() - t


def torch_variant(name: str, config, steps: int):
    """(run a unit of ``steps`` steps, the trainer, first unit s)."""
    import torch

    from gan_jax.bench import torch_stylegan2 as ts
    from gan_jax.bench.equivalence import reference_inputs

    kw = {"torch-eager": {}, "torch-compile": {"compile": True}, "torch-channels-last": {"channels_last": True},
          "torch-grouped": {"modulation": "grouped"},
          "torch-max-autotune": {"compile": True, "compile_mode": "max-autotune"}}[name]
    trainer = ts.TorchStyleGAN2(config, **kw)
    state, real = reference_inputs(config)
    trainer.load_state(state)
    x = trainer.to_input(real)
    gen = torch.Generator().manual_seed(0)

    def run():
        for _ in range(steps):
            trainer.step(x, ts.random_draws(config, gen))

    t = time.perf_counter()
    run()
    return run, trainer, time.perf_counter() - t


def summarise(times: dict, images_per_unit: int) -> dict:
    rows = {}
    for name, ts_ in times.items():
        ips = [images_per_unit / t for t in ts_]
        rows[name] = {"images_per_s_median": statistics.median(ips), "images_per_s_min": min(ips),
                      "images_per_s_max": max(ips), "unit_s_median": statistics.median(ts_), "times_s": ts_}
    torch_rows = {n: r for n, r in rows.items() if n.startswith("torch")}
    if "jax" in rows:
        jax_ips = rows["jax"]["images_per_s_median"]
        for n, r in torch_rows.items():
            rows["jax"][f"ratio_to_{n}"] = jax_ips / r["images_per_s_median"]
        if torch_rows:
            fastest = max(torch_rows, key=lambda n: torch_rows[n]["images_per_s_median"])
            rows["jax"]["fastest_torch"] = fastest
            rows["jax"]["ratio_to_fastest_torch"] = jax_ips / torch_rows[fastest]["images_per_s_median"]
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=10, help="timed rounds (default 10)")
    p.add_argument("--steps-per-round", type=int, default=16,
                   help="train steps per timed unit (default 16 = r1_every: the lazy penalties amortised alike)")
    p.add_argument("--warmup", type=int, default=1, help="untimed units per variant after the first (default 1)")
    p.add_argument("--variants", default=",".join(VARIANTS_DEFAULT),
                   help=f"comma-separated, from {','.join(VARIANTS_ALL)}")
    p.add_argument("--max-autotune", action="store_true", help="add torch-max-autotune (slow to compile on a CPU)")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: the usable cores)")
    p.add_argument("--batch", type=int, default=0, help="batch size (default: the config's, 32)")
    p.add_argument("--no-check", action="store_true", help="skip the equivalence check (the output says so)")
    p.add_argument("--json", help="write the results (per-unit times included) here")
    args = p.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    if args.max_autotune and "torch-max-autotune" not in variants:
        variants.append("torch-max-autotune")
    unknown = [v for v in variants if v not in VARIANTS_ALL]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; expected some of {', '.join(VARIANTS_ALL)}")

    import dataclasses

    import jax
    import torch

    from gan_jax.bench import torch_stylegan2 as ts
    from gan_jax.bench.timing import interleaved_times

    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    cpu = cpu_info()
    cores = cpu["cores"]
    torch.set_num_threads(args.threads or cores)
    config = ts.bench_config()
    if args.batch:
        config = dataclasses.replace(config, batch_size=args.batch)
    env = {**cpu, "jax": jax.__version__, "jax_backend": jax.default_backend(),
           "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
           "torch_interop_threads": torch.get_num_interop_threads(), "python": platform.python_version(),
           "xla_flags": os.environ.get("XLA_FLAGS", ""),
           "jax_threads": "XLA:CPU default (one intra-op pool, all cores)",
           "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    print(f"CPU: {env['model_name']} ({cores} cores), AVX-512: {'yes' if env['avx512'] else 'no'}; jax {env['jax']} "
          f"({env['jax_threads']}; XLA_FLAGS={env['xla_flags']!r}), torch {env['torch']} "
          f"({env['torch_threads']} threads, {env['torch_interop_threads']} interop); load average "
          f"{env['load_average_1min'] or 0:.1f}")
    if env["load_average_1min"] and env["load_average_1min"] > 0.75 * cores:
        print(f"WARNING: load average {env['load_average_1min']:.1f} on {cores} cores: the machine is busy. torch's "
              "OpenMP threads then wait on each other (an eager step measured 4-5 s instead of 0.1 s with 2 threads "
              "beside two training runs on 2 cores); these figures are not representative.")
    print(f"StyleGAN2 step WITHOUT ADA (stylegan2_ada_mnist, ada=''): {config.resolution} px, batch "
          f"{config.batch_size}, widths {config.g_width}/{config.d_width}, R1 every {config.r1_every}, PL every "
          f"{config.pl_every}, EMA {config.ema_decay}; {args.steps_per_round} steps per timed unit")

    built, trainers, first, compile_s, failed = {}, {}, {}, {}, {}
    compiled = None
    for name in variants:
        log(f"building {name} ...")
        try:
            if name == "jax":
                run, compiled, compile_s[name], first[name] = jax_variant(config, args.steps_per_round)
            else:
                run, trainers[name], first[name] = torch_variant(name, config, args.steps_per_round)
        except Exception as e:  # noqa: BLE001 - e.g. a torch.compile failure: report it, time the rest
            failed[name] = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
            log(f"{name} FAILED: {failed[name]}")
            continue
        built[name] = run
        log(f"  {name}: first unit ({args.steps_per_round} steps, compile included) {first[name]:.1f} s")

    checks = {}
    if not args.no_check:
        import jax.numpy as jnp

        from gan_jax.tasks import make_train_step
        step_fn = compiled or jax.jit(make_train_step(config))
        donating = compiled is not None
        reference = trainers.get("torch-eager") or ts.TorchStyleGAN2(config)
        # The JAX program against the eager reference (tight limits); the other torch variants, the same
        # step code in another float32 arithmetic, against the JAX program (loose limits: ts.STYLE_LOOSE).
        to_check = {"jax (the timed program) vs torch-eager": (reference, ts.STYLE_TOLERANCE),
                    **{f"{n} vs jax": (t, ts.STYLE_LOOSE) for n, t in trainers.items() if n != "torch-eager"}}
        fn = (lambda s, b: step_fn(jax.tree.map(jnp.copy, s), b)) if donating else step_fn  # keep the state
        for what, (trainer, tol) in to_check.items():
            log(f"checking {what} at state steps {CHECK_STEPS} ...")
            diff = ts.check(config, steps=CHECK_STEPS, step_fn=fn, trainer=trainer)
            bad = ts.check_failures(diff, tol)
            checks[what] = {"ok": not bad, "failures": bad, "diff": diff,
                            "limits": "tight" if tol is ts.STYLE_TOLERANCE else "loose"}
            worst = {k: max(v for kk, v in diff.items() if kk.split("@")[0] == k)
                     for k in ("d_loss", "g_loss", "g_params", "d_params", "g_update_median", "d_update_median")}
            print(f"Equivalence {what} ({checks[what]['limits']} limits): worst over steps "
                  + ", ".join(f"{k} {v:.1e}" for k, v in worst.items())
                  + (" — OK" if not bad else " — FAILED: " + "; ".join(bad)))
        if any(not c["ok"] for c in checks.values()):
            print("EQUIVALENCE CHECK FAILED: nothing timed.", file=sys.stderr)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump({"env": env, "args": vars(args), "equivalence": checks, "timed": False}, f, indent=1)
            return 1
    else:
        print("WARNING: --no-check: the steps timed here were NOT checked against each other.")

    log(f"timing {len(built)} variants: {args.rounds} interleaved rounds of {args.steps_per_round} steps ...")
    times = interleaved_times(built, args.rounds, args.warmup)
    images = args.steps_per_round * config.batch_size
    rows = summarise(times, images)
    for name, r in rows.items():
        r["first_unit_s"] = first[name]
        if name in compile_s:
            r["compile_s"] = compile_s[name]

    print(f"\n{args.rounds} interleaved rounds of {args.steps_per_round} steps after {args.warmup} warm-up unit(s)\n")
    print("| variant | images/s median (min–max) | ms/step median | jax ÷ this | first unit (s) |")
    print("|---|---|---|---|---|")
    jax_ips = rows.get("jax", {}).get("images_per_s_median")
    for name, r in rows.items():
        ratio = f"{jax_ips / r['images_per_s_median']:.2f}" if jax_ips else "–"
        print(f"| {name} | {r['images_per_s_median']:.0f} ({r['images_per_s_min']:.0f}–{r['images_per_s_max']:.0f}) "
              f"| {1e3 * r['unit_s_median'] / args.steps_per_round:.1f} | {ratio} | {r['first_unit_s']:.1f} |")
    for name, why in failed.items():
        print(f"\n{name} failed: {why}")
    if "ratio_to_fastest_torch" in rows.get("jax", {}):
        print(f"\njax / fastest torch ({rows['jax']['fastest_torch']}): {rows['jax']['ratio_to_fastest_torch']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": env, "args": vars(args), "config": dataclasses.asdict(config), "equivalence": checks,
                       "checked": not args.no_check, "failed": failed, "timed": True, "results": rows}, f, indent=1,
                      default=str)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
