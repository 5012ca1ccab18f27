"""Inversion of held-out digits: StyleGAN2's projector in W and W+ against DCGAN's z inversion.

Issue 26's floor: W+ inversion of digits no run trained on reaches >= 3 dB higher PSNR than z
inversion of the DCGAN at equal steps. Every inversion here sees the same targets (random
digits, numpy seed 0, of ``--real``: by default ``mnist5k:test``, which runs trained on
``mnist5k:train`` never saw; a run that did see them is flagged in the output) with the same
number of Adam steps, restarts and discriminator-feature weight; only the generator and the
latent space differ. PSNR is on images mapped to [0, 1].

    gan-jax train --workdir runs/selfcond_mnist_train --set dataset=mnist5k:train
    gan-jax train --config stylegan2_ada_mnist --workdir runs/sg2_train --set dataset=mnist5k:train
    python experiments/stylegan/invert_heldout.py runs/selfcond_mnist_train:z runs/sg2_train:w runs/sg2_train:w+ \\
        [--num 20] [--steps 1000] [--restarts 4] [--json out.json]
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import data, models, workdir as wd
from gan_jax.checkpoint import restore_run
from gan_jax.edit import discriminator_features, latent_space, psnr


@functools.lru_cache(maxsize=1)
def _edit_experiment():
    """``experiments/edit/run.py``, for its check by pixels that the targets are held out."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "edit", "run.py")
    spec = importlib.util.spec_from_file_location("edit_experiment", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_target(text: str) -> tuple[str, str]:
    run, sep, space = text.rpartition(":")
    if not sep or space not in ("z", "w", "w+"):
        raise SystemExit(f"{text!r}: expected RUN:SPACE with SPACE one of z, w, w+")
    return run, space


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("targets", nargs="+", metavar="RUN:SPACE", help="a run directory and the space to invert in")
    ap.add_argument("--real", default="mnist5k:test", help="held-out digits to invert (default: %(default)s)")
    ap.add_argument("--num", type=int, default=20, help="number of digits (default: %(default)s)")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--restarts", type=int, default=4)
    ap.add_argument("--feature-weight", type=float, default=0.1)
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)
    results = {"settings": vars(args), "rows": []}
    for run, space_name in map(parse_target, args.targets):
        config = wd.load_config(os.path.abspath(run))
        state, _ = restore_run(os.path.abspath(run), config)
        source = data.load_source(args.real, resolution=config.resolution, channels=config.channels)
        real, _ = source.get(np.random.default_rng(0).choice(len(source), args.num, replace=False))
        held_out = _edit_experiment().held_out_report(config, args.real, real)
        targets = jnp.asarray(data.to_float(real))
        space = latent_space.get(config, space_name)
        features = discriminator_features(models.build(config)[1]) if args.feature_weight else None
        d_vars = {"params": state.d_params, "batch_stats": state.d_stats} if features else None
        t = time.time()
        found = jax.device_get(latent_space.invert(
            space, state.generator_variables(True), targets, jax.random.PRNGKey(1), features=features,
            feature_variables=d_vars, feature_weight=args.feature_weight, steps=args.steps,
            restarts=args.restarts, progress=True))
        db = np.asarray(psnr(jnp.asarray(found.images), targets))
        row = {"run": run, "model": config.model, "space": space_name, "step": int(state.step),
               "psnr_mean": float(db.mean()), "psnr_std": float(db.std()), "psnr_min": float(db.min()),
               "seconds": time.time() - t, "held_out": held_out["held_out"]}
        results["rows"].append(row)
        print(f"{run} ({config.model}, step {row['step']}) in {space_name}: PSNR {db.mean():.2f} +- {db.std():.2f} dB "
              f"(min {db.min():.2f}) on {args.num} digits of {args.real}"
              f"{'' if row['held_out'] else ' (NOT held out)'}, {row['seconds']:.0f} s", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
