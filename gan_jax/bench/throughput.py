"""Train-step throughput: gan_jax DCGAN against the PyTorch reference step, interleaved in one process.

Usage (also ``gan-jax bench ...`` and ``python benchmarks/throughput.py ...``)::

    python benchmarks/throughput.py --settings dcgan28:128,dcgan64:64 --steps 30 \
        --json benchmarks/throughput.json --plot benchmarks/throughput.png
    gan-jax bench --settings dcgan28:64 --variants jax,jax-unroll --scan 2,4   # 1, 2 and 4 steps per call
    gan-jax bench --autotune --settings dcgan28:64   # conv_policy=auto: what it chose, what each option measured

A setting ``dcganR:B`` is the DCGAN of ``gan_jax.models.dcgan`` at R px (28: 1
channel, 32/64: 3 channels), width ``--width`` (default 64; at 64 px this is
exactly pytorch/examples dcgan) and batch B. Variants:

* ``jax``        the library default (``jit`` + donated state, fast conv paths)
* ``jax-lax``    the same step with every conv the plain ``lax`` op (``fast_conv=False``)
* ``jax-unrollK`` the library default, K steps per dispatch (``lax.scan`` unrolled: one
                 program, consecutive steps overlap); ``jax-scanK`` the same with a rolled
                 scan (a while loop: slower on XLA:CPU)
* ``torch-eager``, ``torch-compile``  the PyTorch reference (``gan_jax.bench.torch_ref``)

Before timing, every JAX variant is checked on the setting it times, with the very
program it times: one step from the weights, batch and latents of its first timed step
against one step of the PyTorch reference from the same (weights copied over); a
variant with K steps per call, one call against K calls of the one-step program
(``gan_jax.bench.equivalence``: what is compared and the tolerances). A check that fails
its tolerance stops the benchmark with exit status 1, before anything more is timed.
``--no-check`` skips it and puts a WARNING row in the table (and ``"checked": false`` in
the JSON); the "= PyTorch" column says what each row was checked against.

After a warm-up the variants run one step each in turn (the order rotates each
round), so machine noise hits them alike; the table gives the median and the
min-max of images/s. FLOPs are counted analytically (the conv/matmul
multiply-adds one step needs: forward, data gradients where needed, weight
gradients where needed; BatchNorm, activations and Adam are left out), so every
variant is credited the same work; XLA's ``cost_analysis`` figure for the
compiled default step is printed beside it. The peak is a float32 2048^3
``jnp`` matmul timed in the same run.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from typing import Callable

from gan_jax.bench.timing import interleaved_times


CUDA_INDUCTOR_DEFAULT = {"layout_optimization": False}
"""torch.compile options on CUDA unless ``--inductor`` is given: with inductor's layout optimisation
(or channels_last models) the reference step fails a stride assertion in ``convolution_backward``
(torch 2.11, H100 and H200); NCHW without it runs and agrees with eager
(``benchmarks/torch_compile_probe.py``)."""
VARIANTS_DEFAULT = ("jax", "jax-lax", "jax-unroll", "torch-eager", "torch-compile")
VARIANTS_ALL = VARIANTS_DEFAULT + ("jax-scan",)


# --------------------------------------------------------------------------- settings and FLOPs

def parse_setting(spec: str, width: int, dtype: str):
    """``dcgan28:128`` -> (name, Config)."""
    from gan_jax.configs import Config

    name, _, batch = spec.partition(":")
    if not name.startswith("dcgan") or not batch:
        raise SystemExit(f"--settings: expected dcganR:B (e.g. dcgan28:128), got {spec!r}")
    resolution = int(name[len("dcgan"):])
    channels = 1 if resolution == 28 else 3
    config = Config(resolution=resolution, channels=channels, g_width=width, d_width=width,
                    batch_size=int(batch), compute_dtype=dtype, ema_decay=0.0)
    return spec, config


def conv_layers(config) -> tuple[list[int], list[int]]:
    """Multiply-adds of each conv layer's forward pass: (generator layers, discriminator layers)."""
    from gan_jax.models.dcgan import base_and_stages

    b = config.batch_size
    base, stages = base_and_stages(config.resolution)
    f = config.g_width * 2 ** (stages - 1)
    g = [b * base * base * config.z_dim * f]  # 1x1 -> base x base projection
    size = base
    for _ in range(stages - 1):  # every input pixel scatters a 4x4 tap
        g.append(b * size * size * 16 * f * (f // 2))
        f //= 2
        size *= 2
    g.append(b * size * size * 16 * f * config.channels)
    d, size, f = [], config.resolution // 2, config.d_width
    d.append(b * size * size * 16 * config.channels * f)
    for _ in range(stages - 1):
        size //= 2
        d.append(b * size * size * 16 * f * 2 * f)
        f *= 2
    d.append(b * base * base * f)  # final valid conv -> 1 logit
    return g, d


def step_flops(config) -> float:
    """Conv/matmul FLOPs of one train step (n_critic=1), counted analytically (2 per multiply-add).

    D update: forward on real and on fake, weight gradients of both, data
    gradients of all but the first layer (the images need none). G update: one
    G forward, D forward on the fake, D data gradients through every layer
    (no D weight gradients), G weight gradients and G data gradients of all but
    the first layer.
    """
    g, d = conv_layers(config)
    macs = sum(g) + (sum(g) - g[0]) + sum(g)  # forward, data grads (not for z), weight grads
    macs += 2 * (sum(d) + sum(d) + (sum(d) - d[0]))  # D update, real and fake passes
    macs += sum(d) + sum(d)  # G update through D: forward + data grads
    return 2.0 * macs


# --------------------------------------------------------------------------- timing helpers

def compiled_flops(compiled) -> float:
    """XLA's FLOP count of a compiled computation (its ``cost_analysis()``; NaN when absent)."""
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost.get("flops", float("nan")))


def matmul_peak_gflops(n: int = 2048, repeats: int = 10, dtype: str = "float32") -> float:
    """Best GFLOP/s of an n^3 jnp matmul (the machine's practical peak for this process)."""
    import jax

    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), dtype)
    b = jax.random.normal(jax.random.PRNGKey(1), (n, n), dtype)
    mm = jax.jit(lambda x, y: x @ y)
    mm(a, b).block_until_ready()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        mm(a, b).block_until_ready()
        times.append(time.perf_counter() - t)
    return 2.0 * n ** 3 / min(times) / 1e9


@dataclasses.dataclass
class Variant:
    name: str
    run: Callable[[], None]  # one timed unit (blocks until done)
    images_per_run: int
    compile_s: float | None = None  # ahead-of-time compile (JAX)
    first_step_s: float | None = None  # first call, compile included
    times: list = dataclasses.field(default_factory=list)
    note: str = ""
    compiled: Callable | None = None  # JAX: the timed program, (state, batch) -> (state, metrics)
    config: object = None  # JAX: the config the program was built for
    steps_per_call: int = 1


def perturbed_step(step: Callable, scale: float) -> Callable:
    """``step`` with every parameter update (new - old, G and D) multiplied by ``scale``: a
    deliberately wrong step, to show that the equivalence check catches one (``--perturb-jax-step``)."""
    import jax

    def wrong(state, batch):
        new, metrics = step(state, batch)
        scaled = lambda n, o: o + scale * (n - o)  # noqa: E731
        return new.replace(g_params=jax.tree.map(scaled, new.g_params, state.g_params),
                           d_params=jax.tree.map(scaled, new.d_params, state.d_params)), metrics

    return wrong


def _jax_variant(name: str, config, scan: int = 1, plain_convs: bool = False, unroll: bool = False,
                 perturb: float | None = None) -> Variant:
    import jax

    from gan_jax.bench.equivalence import reference_inputs
    from gan_jax.bench.scan import stack_batches
    from gan_jax.parallel import fuse_steps
    from gan_jax.tasks import make_train_step

    if plain_convs:  # every conv the plain lax op (ops.policy_for: ops.PLAIN)
        config = dataclasses.replace(config, fast_conv=False)
    # The state and batch the equivalence check starts from (init_state(config, 0), PRNGKey(1)).
    state, real = reference_inputs(config)
    batch = {"image": real}
    step = make_train_step(config)
    if perturb is not None:
        step = perturbed_step(step, perturb)
    t0 = time.perf_counter()
    if scan > 1:  # as gan_jax.bench.scan.make_scan_step, with this step
        fn = jax.jit(fuse_steps(step, scan, unroll), donate_argnums=0)
        batch = stack_batches(batch, scan)
    else:
        fn = jax.jit(step, donate_argnums=0)
    compiled = fn.lower(state, batch).compile()
    compile_s = time.perf_counter() - t0
    box = {"state": state}

    def run():
        box["state"], metrics = compiled(box["state"], batch)
        jax.block_until_ready((box["state"], metrics))

    t = time.perf_counter()
    run()
    first = compile_s + time.perf_counter() - t
    return Variant(name, run, config.batch_size * scan, compile_s, first, compiled=compiled, config=config,
                   steps_per_call=scan)


def _torch_variant(name: str, config, compile: bool, device: str = "cpu",
                   compile_options: dict | None = None, layout: str = "nchw") -> Variant:
    import torch

    from gan_jax.bench.torch_ref import TorchDCGAN
    from gan_jax.tasks import init_state

    autocast = torch.bfloat16 if config.compute_dtype == "bfloat16" else None
    channels_last = layout == "channels_last"
    ref = TorchDCGAN(config, compile=compile, device=device, autocast_dtype=autocast, channels_last=channels_last,
                     compile_options=compile_options)
    ref.load_state(init_state(config))
    gen = torch.Generator(device=device).manual_seed(0)
    real = torch.rand(config.batch_size, config.channels, config.resolution, config.resolution,
                      generator=gen, device=device) * 2 - 1
    if channels_last:
        real = real.contiguous(memory_format=torch.channels_last)
    sync = torch.cuda.synchronize if ref.device.type == "cuda" else (lambda: None)

    def run():
        ref.step(real, torch.randn(config.batch_size, config.z_dim, generator=gen, device=device))
        sync()

    t = time.perf_counter()
    run()
    return Variant(name, run, config.batch_size, None, time.perf_counter() - t)


# --------------------------------------------------------------------------- the benchmark

def bench_setting(spec: str, config, variants: list[str], steps: int, warmup: int, scan: int | tuple[int, ...],
                  peak: float, log=print, torch_device: str = "cpu", inductor: dict | None = None,
                  torch_layout: str = "nchw", check: bool = False, perturb: float | None = None) -> dict:
    """Build the variants of one setting, check every JAX variant against PyTorch (``check``),
    then time them. A failed check stops there: nothing is timed (``result["timed"]`` False).
    ``scan``: the K (or several) of the ``jax-unroll``/``jax-scan`` variants, one variant per K."""
    built: list[Variant] = []
    failed: dict[str, str] = {}
    for name in variants:
        log(f"  [{spec}] building {name} ...")
        before = len(built)
        try:
            _build(name, config, scan, torch_device, built, inductor, torch_layout, perturb)
        except Exception as e:  # noqa: BLE001 - e.g. a torch.compile bug: report it, time the rest
            failed[name] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
            log(f"  [{spec}] {name} FAILED: {failed[name]}")
            continue
        for v in built[before:]:
            log(f"  [{spec}] {v.name}: first step {v.first_step_s:.2f} s")
    checks = {}
    if check:
        one_step = next((v for v in built if v.name == "jax"), None)
        for v in built:
            if v.compiled is not None:
                checks[v.name] = check_variant(spec, v, log, one_step)
    if any(not c["ok"] for c in checks.values()):
        return {"setting": spec, "resolution": config.resolution, "channels": config.channels,
                "width": config.g_width, "batch": config.batch_size, "dtype": config.compute_dtype,
                "variants": {}, "failed": failed, "equivalence": checks, "timed": False}
    result = _time_and_summarise(spec, config, built, failed, steps, warmup, peak)
    result.update(equivalence=checks, timed=True)
    return result


def check_variant(spec: str, v: Variant, log=print, one_step: Variant | None = None) -> dict:
    """Check the very program ``v`` times (its compiled step and its config: network, width,
    batch, resolution, dtype), from the weights and batch it starts from.

    A one-step program: one step against one PyTorch step from identical weights and latents
    (:func:`gan_jax.bench.equivalence.check`). A K-steps-per-call program: one call against K
    calls of the one-step program ``one_step`` (the ``jax`` variant, checked against PyTorch
    itself; compiled here when not timed), since K steps of Adam amplify float32 rounding
    too much for a tight comparison with PyTorch (:func:`~gan_jax.bench.equivalence.check_fused`).

    Returns ``{"ok", "steps", "against", "diff", "tolerance", "failures"}``.
    """
    import jax

    from gan_jax.bench.equivalence import check, check_fused, failures, tolerances

    tol = tolerances(jax.default_backend(), v.config.compute_dtype, fused=v.steps_per_call > 1)
    if v.steps_per_call == 1:
        log(f"  [{spec}] checking {v.name} against PyTorch (steps 1 and 2, each from identical weights) ...")
        diff, against = check(v.config, step_fn=v.compiled), "torch"
    else:
        if one_step is None:
            from gan_jax.tasks import make_train_step
            step = jax.jit(make_train_step(v.config))
            ref = check_variant(spec, Variant("jax (one step, for the check)", lambda: None, 0, compiled=step,
                                              config=v.config), log)
            if not ref["ok"]:
                return dict(ref, steps=v.steps_per_call, against="torch (its one-step program)")
            one_step_fn = step
        else:
            one_step_fn = one_step.compiled
        log(f"  [{spec}] checking {v.name} against {v.steps_per_call} calls of the one-step jax program ...")
        diff = check_fused(v.config, v.compiled, one_step_fn, v.steps_per_call)
        against = f"{v.steps_per_call} x jax"
    bad = failures(diff, tol)
    return {"ok": not bad, "steps": v.steps_per_call, "against": against, "diff": diff,
            "tolerance": {k: t for k, t in tol.items() if k in diff}, "failures": bad}  # limits of name and name@i


def _build(name: str, config, scan: int | tuple[int, ...], torch_device: str, built: list,
           inductor: dict | None = None, torch_layout: str = "nchw", perturb: float | None = None) -> None:
    scans = (scan,) if isinstance(scan, int) else tuple(scan)
    if name == "jax":
        built.append(_jax_variant(name, config, perturb=perturb))
    elif name == "jax-lax":
        built.append(_jax_variant(name, config, plain_convs=True, perturb=perturb))
    elif name == "jax-scan":
        built.extend(_jax_variant(f"jax-scan{k}", config, scan=k, perturb=perturb) for k in scans)
    elif name == "jax-unroll":
        built.extend(_jax_variant(f"jax-unroll{k}", config, scan=k, unroll=True, perturb=perturb) for k in scans)
    elif name in ("torch-eager", "torch-compile"):
        built.append(_torch_variant(name, config, compile=name == "torch-compile", device=torch_device,
                                    compile_options=inductor, layout=torch_layout))
    else:
        raise SystemExit(f"unknown variant {name!r}; expected some of {', '.join(VARIANTS_ALL)}")


def _time_and_summarise(spec, config, built, failed, steps, warmup, peak) -> dict:
    import jax

    times = interleaved_times({v.name: v.run for v in built}, steps, warmup)
    for v in built:
        v.times.extend(times[v.name])

    flops = step_flops(config)
    xla_flops = None
    jax_default = next((v for v in built if v.name == "jax"), None)
    if jax_default is not None:
        try:
            xla_flops = compiled_flops(jax_default.compiled)
        except Exception:  # noqa: BLE001 - cost analysis is optional
            xla_flops = None

    rows = {}
    for v in built:
        per_img = [t / v.images_per_run for t in v.times]
        ips = [1.0 / t for t in per_img]
        med = statistics.median(ips)
        gflops = med / config.batch_size * flops / 1e9
        rows[v.name] = {
            "images_per_s_median": med, "images_per_s_min": min(ips), "images_per_s_max": max(ips),
            "step_ms_median": 1e3 * config.batch_size / med,
            "gflops": gflops, "percent_of_peak": 100.0 * gflops / peak if peak else None,
            "compile_s": v.compile_s, "first_step_s": v.first_step_s,
            "steps_per_call": v.images_per_run // config.batch_size,
            "times_s": v.times,
        }
    for ref in ("torch-eager", "torch-compile"):
        if ref in rows:
            for r in rows.values():
                r[f"ratio_to_{ref}"] = r["images_per_s_median"] / rows[ref]["images_per_s_median"]
    return {"setting": spec, "resolution": config.resolution, "channels": config.channels,
            "width": config.g_width, "batch": config.batch_size, "dtype": config.compute_dtype,
            "flops_per_step_analytic": flops, "flops_per_step_xla_cost_analysis": xla_flops,
            "variants": rows, "failed": failed, "backend": jax.default_backend()}


def check_cell(res: dict, name: str) -> str:
    """The "= PyTorch" cell of a variant: OK / FAILED with the check's size, "reference" for
    PyTorch, **NOT CHECKED** for a JAX variant that was not checked."""
    if name.startswith("torch"):
        return "reference"
    c = res.get("equivalence", {}).get(name)
    if c is None:
        return "**NOT CHECKED**"
    how = f"{c['steps']} steps = {c['against']}" if c["steps"] > 1 else "steps 1, 2"
    return f"OK ({how})" if c["ok"] else f"**FAILED** ({how})"


def markdown_table(results: list[dict], peak: float, warning: str | None = None) -> str:
    """The results as one markdown table; ``warning`` (e.g. the check was skipped) is its first row."""
    lines = ["| setting | variant | images/s median (min–max) | × torch eager | × torch.compile "
             "| GFLOP/s | % of matmul peak | compile / first step (s) | = PyTorch |",
             "|---|---|---|---|---|---|---|---|---|"]
    if warning:
        lines.append(f"| **WARNING** | {warning} | | | | | | | **NOT CHECKED** |")
    fmt_ratio = lambda r, k: f"{r[k]:.2f}" if k in r else "–"  # noqa: E731
    for res in results:
        for name, r in res["variants"].items():
            comp = f"{r['compile_s']:.1f} / " if r["compile_s"] is not None else "– / "
            lines.append(
                f"| {res['setting']} | {name} | {r['images_per_s_median']:.0f} "
                f"({r['images_per_s_min']:.0f}–{r['images_per_s_max']:.0f}) "
                f"| {fmt_ratio(r, 'ratio_to_torch-eager')} | {fmt_ratio(r, 'ratio_to_torch-compile')} "
                f"| {r['gflops']:.1f} | {r['percent_of_peak']:.0f} % | {comp}{r['first_step_s']:.1f} "
                f"| {check_cell(res, name)} |")
        if not res.get("timed", True):
            for name in res.get("equivalence", {}):
                lines.append(f"| {res['setting']} | {name} | not timed | – | – | – | – | – "
                             f"| {check_cell(res, name)} |")
    return "\n".join(lines)


def format_check(spec: str, name: str, c: dict) -> str:
    """One line per checked variant: every difference, and what failed its tolerance."""
    from gan_jax.bench.equivalence import limit

    diffs = ", ".join(f"{k} {v:.1e}" + (f" (≤ {limit(c['tolerance'], k):.0e})" if limit(c["tolerance"], k) else "")
                      for k, v in c["diff"].items())
    what = ("vs PyTorch, steps 1 and 2 (@2) each from identical weights and Adam state" if c["steps"] == 1
            else f"one call ({c['steps']} steps) vs {c['against']}")
    verdict = "OK" if c["ok"] else "FAILED: " + "; ".join(c["failures"])
    return f"Equivalence {spec} {name} {what}: {diffs} — {verdict}"


def plot(results: list[dict], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4), squeeze=False)
    for ax, res in zip(axes[0], results):
        names = list(res["variants"])
        med = [res["variants"][n]["images_per_s_median"] for n in names]
        lo = [m - res["variants"][n]["images_per_s_min"] for m, n in zip(med, names)]
        hi = [res["variants"][n]["images_per_s_max"] - m for m, n in zip(med, names)]
        colors = ["tab:blue" if n.startswith("jax") else "tab:orange" for n in names]
        ax.bar(names, med, yerr=[lo, hi], color=colors, capsize=4)
        ax.set_title(f"{res['setting']} ({res['backend']}, {res['dtype']})")
        ax.set_ylabel("images / s (median, min–max)")
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _have_torch() -> bool:
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


def parse_inductor_options(items: list[str]) -> dict:
    """``["layout_optimization=False", "size_asserts=0"]`` -> {"layout_optimization": False, "size_asserts": 0}."""
    import ast

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--inductor: expected KEY=VALUE (e.g. layout_optimization=False), got {item!r}")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="gan-jax bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--settings", default="dcgan28:128,dcgan64:64",
                   help="comma-separated dcganR:B (resolution 28/32/64, batch B)")
    p.add_argument("--steps", type=int, default=20, help="timed rounds per variant (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per variant after the first")
    p.add_argument("--width", type=int, default=64, help="G and D width (default 64)")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"),
                   help="gan_jax compute dtype (PyTorch always runs float32)")
    p.add_argument("--scan", default="4", help="steps per call K of the jax-unroll/jax-scan variants; several, "
                   "comma-separated (e.g. 2,4), give one variant per K (default 4)")
    p.add_argument("--autotune", action="store_true",
                   help="instead of the throughput table: run the conv-policy autotune for each setting "
                        "(gan_jax.ops.autotune), store its choice in the per-CPU cache that "
                        "conv_policy=auto reads, and print what each candidate measured")
    p.add_argument("--candidates", default=None,
                   help="with --autotune: the policy specs to try, separated by ';' (default: "
                        "gan_jax.ops.autotune.CANDIDATES; '' is the library default)")
    p.add_argument("--variants", default=",".join(VARIANTS_DEFAULT),
                   help=f"comma-separated, from {','.join(VARIANTS_ALL)}")
    p.add_argument("--torch-device", default="auto",
                   help="cpu, cuda or auto (cuda when JAX runs on a GPU and torch sees one)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch.set_num_threads (default: the number of usable cores)")
    p.add_argument("--inductor", action="append", default=[], metavar="KEY=VALUE",
                   help="an inductor setting for torch-compile (torch.compile(options=...)); repeatable. "
                        f"Default on CUDA: {CUDA_INDUCTOR_DEFAULT} (inductor's own layout choice breaks "
                        "its conv backward there, benchmarks/RESULTS.md)")
    p.add_argument("--torch-layout", default="nchw", choices=("nchw", "channels_last"),
                   help="PyTorch memory layout (default nchw; channels_last breaks torch.compile's conv "
                        "backward on CUDA, benchmarks/RESULTS.md)")
    p.add_argument("--no-check", action="store_true",
                   help="skip the equivalence check (by default every JAX variant is checked against the PyTorch "
                        "reference on the setting it times, before timing; a failure exits 1). The table then "
                        "carries a WARNING row")
    p.add_argument("--perturb-jax-step", type=float, default=None, metavar="SCALE",
                   help="testing the check: scale every JAX parameter update by SCALE (e.g. 1.01), a "
                        "deliberately wrong step; the check must then fail")
    p.add_argument("--json", help="write all results (per-step times included) here")
    p.add_argument("--plot", help="write a bar chart (PNG) here")
    args = p.parse_args(argv)
    try:
        args.scan = tuple(int(k) for k in args.scan.split(",") if k.strip())
    except ValueError:
        raise SystemExit(f"--scan {args.scan}: expected comma-separated steps per call, e.g. 4 or 2,4") from None
    from gan_jax.errors import UserError
    from gan_jax.files import check_output_file
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        try:
            if path:
                check_output_file(path, option)  # before minutes of timing, not after
        except UserError as e:
            raise SystemExit(f"error: {e}") from None
    if args.autotune:
        from gan_jax.bench.autotune import main as autotune_main
        return autotune_main(args, [parse_setting(s.strip(), args.width, args.dtype) for s in args.settings.split(",")])
    inductor = parse_inductor_options(args.inductor)

    import jax

    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    variants = [v for v in args.variants.split(",") if v]
    have_torch = _have_torch()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = args.threads or cores
    env = {"jax": jax.__version__, "backend": jax.default_backend(),
           "device": str(jax.devices()[0].device_kind), "cores": cores, "python": platform.python_version(),
           "machine": platform.machine(), "xla_flags": os.environ.get("XLA_FLAGS", "")}
    env["torch_layout"] = args.torch_layout
    torch_device = "cpu"
    if have_torch:
        import torch
        torch.set_num_threads(threads)
        torch_device = args.torch_device
        if torch_device == "auto":
            torch_device = "cuda" if env["backend"] == "gpu" and torch.cuda.is_available() else "cpu"
        env.update(torch=torch.__version__, torch_threads=torch.get_num_threads(), torch_device=torch_device)
        if torch_device == "cuda":
            env["torch_device_name"] = torch.cuda.get_device_name()
            if not args.inductor:
                inductor = dict(CUDA_INDUCTOR_DEFAULT)
    else:
        print("PyTorch is missing (pip install 'gan_jax[bench]'): running the JAX variants only.")
        variants = [v for v in variants if not v.startswith("torch")]
    args.scan = tuple(k for k in args.scan if k > 1)
    if not args.scan:
        variants = [v for v in variants if v not in ("jax-scan", "jax-unroll")]

    check = have_torch and not args.no_check
    warning = None
    if args.no_check:
        warning = ("--no-check: the JAX steps timed here were NOT checked against the PyTorch reference; "
                   "these figures may time a step that computes something else")
    elif not have_torch:
        warning = "PyTorch is missing: the JAX steps timed here were NOT checked against the PyTorch reference"
    if warning:
        print(f"WARNING: {warning}.")
    if args.perturb_jax_step is not None:
        print(f"WARNING: --perturb-jax-step {args.perturb_jax_step}: every JAX parameter update is scaled by "
              f"{args.perturb_jax_step} (a deliberately wrong step, to test the check).")

    if inductor:
        env["torch_compile_options"] = inductor
    n = 2048 if env["backend"] == "cpu" else 8192
    log(f"timing a {args.dtype} {n}^3 matmul for the peak ...")
    peak = matmul_peak_gflops(n, dtype=args.dtype)
    env["peak_matmul"] = f"{args.dtype} {n}^3 jnp matmul"
    results = []
    for spec in args.settings.split(","):
        spec, config = parse_setting(spec.strip(), args.width, args.dtype)
        results.append(bench_setting(spec, config, variants, args.steps, args.warmup, args.scan, peak, log,
                                     torch_device, inductor or None, args.torch_layout, check=check,
                                     perturb=args.perturb_jax_step))
        for name, c in results[-1]["equivalence"].items():
            print(format_check(spec, name, c))
        if not results[-1]["timed"]:
            break  # a step that differs from the reference: time nothing more
    check_failed = [f"{r['setting']} {name}" for r in results for name, c in r["equivalence"].items()
                    if not c["ok"]]

    torch_where = (f"{env.get('torch_device_name', 'cpu')}" if torch_device == "cuda"
                   else f"{env.get('torch_threads')} threads")
    print(f"\nDCGAN train step, {env['backend']} ({env['device']}, {cores} cores), jax {env['jax']}"
          + (f", torch {env['torch']} ({torch_where})" if have_torch else ", no torch")
          + f"; {args.dtype}; {args.steps} interleaved rounds after {args.warmup} warm-up steps; "
          f"{env['peak_matmul']} peak {peak:.0f} GFLOP/s"
          + (f"; torch layout {args.torch_layout}" if have_torch else "")
          + (f"; torch.compile options {inductor}" if inductor else "")
          + ("; every JAX variant checked against PyTorch on the setting it times (= PyTorch column)"
             if check else "") + ".\n")
    print(markdown_table(results, peak, warning))
    for res in results:
        xla = res.get("flops_per_step_xla_cost_analysis")
        for name, why in res.get("failed", {}).items():
            print(f"\n{res['setting']}: {name} failed: {why}")
        if res["timed"]:
            print(f"\n{res['setting']}: {res['flops_per_step_analytic'] / 1e9:.2f} GFLOP per step (analytic, conv "
                  f"multiply-adds x2)" + (f"; XLA cost_analysis of the jax step: {xla / 1e9:.2f} GFLOP" if xla else ""))

    equivalence = {"checked": check, "warning": warning, "failed": check_failed,
                   "results": {r["setting"]: r["equivalence"] for r in results}}
    out = {"env": env, "args": vars(args), "matmul_peak_gflops": peak, "equivalence": equivalence,
           "results": results}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"\nwrote {args.json}")
    if args.plot and any(r["timed"] for r in results):
        plot([r for r in results if r["timed"]], args.plot)
        print(f"wrote {args.plot}")
    if check_failed:
        print(f"\nEQUIVALENCE CHECK FAILED ({', '.join(check_failed)}): the JAX step differs from the PyTorch "
              f"reference beyond its tolerance; the settings after it were not timed.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
