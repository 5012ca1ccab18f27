"""Where a train step's time goes on this backend: the costliest XLA ops of one step.

Traces a few calls of the library's jitted step (``jax.profiler``), sums each compiled op's
time over the worker threads, and prints the top ones per step with their output shape and the
JAX source op they came from (the HLO's ``op_name`` metadata). This is how the slow
kernel gradient of the 1-channel layers was found (benchmarks/NOTES.md).

    python benchmarks/profile_step.py --setting dcgan28:128 --top 15
    python benchmarks/profile_step.py --config stylegan2_ada_mnist --set ada= --set ada_target=0   # any named config
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import glob
import gzip
import json
import os
import re
import sys
import tempfile


def op_table(hlo_text: str) -> dict[str, tuple[str, str]]:
    """Instruction name -> (output shape, op_name metadata) of an optimised HLO module's text."""
    out = {}
    for m in re.finditer(r"^\s*%?(\S+) = (\S+?) (?:fusion|custom-call|convolution|dot|copy|transpose)\(.*$",
                         hlo_text, re.M):
        meta = re.search(r'op_name="([^"]*)"', m.group(0))
        out[m.group(1)] = (m.group(2), meta.group(1) if meta else "")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--setting", default="dcgan28:128", help="dcganR:B, as in benchmarks/throughput.py")
    p.add_argument("--steps", type=int, default=5, help="traced steps (after 3 untraced)")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--plain", action="store_true", help="every conv the plain lax op")
    p.add_argument("--config", help="profile this named config's step instead of --setting")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a field of --config")
    args = p.parse_args(argv)

    import jax

    from gan_jax.bench.throughput import parse_setting
    from gan_jax.tasks import init_state
    from gan_jax.tasks import make_train_step

    if args.config:
        from gan_jax.configs import get, override, validate
        config = validate(override(get(args.config), args.set))
        spec = args.config + "".join(f" {kv}" for kv in args.set)
    else:
        spec, config = parse_setting(args.setting, 64, "float32")
    if args.plain:  # every conv the plain lax op (ops.policy_for: ops.PLAIN)
        config = dataclasses.replace(config, fast_conv=False)
    state = init_state(config)
    batch = {"image": jax.random.uniform(jax.random.PRNGKey(1), (config.batch_size, config.resolution,
                                                                 config.resolution, config.channels),
                                         minval=-1.0, maxval=1.0)}
    step = jax.jit(make_train_step(config), donate_argnums=0).lower(state, batch).compile()
    for _ in range(3):
        state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp):
            for _ in range(args.steps):
                state, metrics = step(state, batch)
                jax.block_until_ready(metrics)
        traces = glob.glob(os.path.join(tmp, "plugins", "profile", "*", "*.trace.json.gz"))
        if not traces:
            raise SystemExit(f"no trace written under {tmp}")
        events = json.load(gzip.open(traces[0]))["traceEvents"]

    ops = op_table(step.as_text())
    total = collections.Counter()
    wall = 0.0
    for e in events:
        if e.get("ph") != "X":
            continue
        if e["name"] == "ThunkExecutor::Execute (wait for completion)":
            wall += e["dur"]
        elif e["name"] in ops:
            total[e["name"]] += e["dur"]
    busy = sum(total.values())
    n = args.steps
    print(f"{spec} on {jax.devices()[0].device_kind}, {n} traced steps: {wall / n / 1e3:.1f} ms per step (wall), "
          f"{busy / n / 1e3:.1f} ms of op time summed over threads\n")
    print("| ms per step | % of op time | op | output | from |\n|---|---|---|---|---|")
    for name, us in total.most_common(args.top):
        shape, source = ops[name]
        print(f"| {us / n / 1e3:.1f} | {100 * us / busy:.0f} % | `{name}` | `{shape}` | {source[-90:]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
