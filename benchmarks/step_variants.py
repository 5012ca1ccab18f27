"""One named config's train step under a few ``--set`` variants, timed side by side.

Usage::

    python benchmarks/step_variants.py --config stylegan2_ada_transition_mnist \\
        --variant "p=0.01:ada_p=0.01,ada_target=0" --variant "p=0:ada_p=0,ada_target=0" --variant "no ADA:ada="

Each variant is ``NAME:KEY=VALUE,KEY=VALUE`` (the overrides of ``gan-jax train --set``; an empty
list after the colon is the config itself). Every variant's step is ``jax.jit(make_train_step(config),
donate_argnums=0)`` from its own fresh state on one fixed random batch
(:func:`gan_jax.bench.autotune.synthetic_batch`); the variants run one unit
of ``--steps`` steps each in turn for ``--rounds`` rounds after one untimed unit
(:func:`gan_jax.bench.timing.interleaved_times`), and the table gives the median ms per step.
"""
from __future__ import annotations

import argparse
import statistics


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``NAME:K=V,K=V`` -> (NAME, ["K=V", ...]); ValueError naming the expected form."""
    name, sep, sets = text.partition(":")
    if not sep or not name.strip():
        raise ValueError(f"--variant {text!r}: expected NAME:KEY=VALUE,KEY=VALUE (the list may be empty)")
    return name.strip(), [s.strip() for s in sets.split(",") if s.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="a named config (gan-jax configs)")
    parser.add_argument("--variant", action="append", required=True, help="NAME:KEY=VALUE,... (repeatable)")
    parser.add_argument("--steps", type=int, default=16, help="steps per timed unit (default 16)")
    parser.add_argument("--rounds", type=int, default=6, help="timed rounds (default 6)")
    args = parser.parse_args(argv)
    try:
        variants = [parse_variant(text) for text in args.variant]
    except ValueError as e:
        parser.error(str(e))

    import jax

    from gan_jax.bench.autotune import synthetic_batch
    from gan_jax.bench.timing import interleaved_times
    from gan_jax.configs import get, override, validate
    from gan_jax.errors import UserError
    from gan_jax.tasks import init_state, make_train_step

    try:
        configs = {name: validate(override(get(args.config), sets)) for name, sets in variants}
    except UserError as e:
        parser.error(str(e))
    units = {}
    for name, config in configs.items():
        step = jax.jit(make_train_step(config), donate_argnums=0)
        batch = jax.device_put(synthetic_batch(config))
        box = [init_state(config)]

        def unit(step=step, batch=batch, box=box):
            state = box[0]
            for _ in range(args.steps):
                state, _ = step(state, batch)
            box[0] = jax.block_until_ready(state)

        units[name] = unit
    times = interleaved_times(units, rounds=args.rounds, warmup=1)
    print(f"{args.config}: {args.rounds} interleaved rounds of {args.steps} steps")
    print("| variant | ms/step (median) | min–max |\n|---|---|---|")
    for name, ts in times.items():
        ms = [1e3 * t / args.steps for t in ts]
        print(f"| {name} | {statistics.median(ms):.1f} | {min(ms):.1f}–{max(ms):.1f} |")


if __name__ == "__main__":
    main()
