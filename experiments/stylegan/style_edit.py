"""Disentanglement: does a style edit keep the digit? (issue 26)

For each run, in its editing space (W for StyleGAN2, z for DCGAN), the direction along which a
style attribute of the digit grows **with the digit held fixed**
(:func:`gan_jax.edit.directions.within_class_direction`: the least-squares slope of the
attribute on ``--fit`` sampled latents, one intercept per class; the classes are ``cnn-a``'s
labels of the images). Then ``--num`` fresh latents (another key) are moved along it by
strengths s, in units of the latents' standard deviation along the direction, and for each s:

* the attribute's change: for ``ink`` (stroke thickness, :func:`gan_jax.metrics.digit_style.ink_mass`)
  the median relative change of each image's ink; for ``slant`` the median change in degrees;
* the share of images whose label each judge keeps (argmax at s = argmax at 0), for both
  judges of ``experiments/quality/judges.py`` (``cnn-a`` also found the direction; ``torch-b``
  took no part).

The reported strength is the smallest s of the grid (each way) whose median change reaches
``--target`` (default: 20 % more or less ink; 10 degrees of slant). With ``--keep-code``, a z whose first entries are a code (``selfcond_mnist``'s cluster)
is fitted and moved in its other entries only. In W+ (``RUN:w+``) the direction found in W moves only the rows
``--from-row`` .. L-1, the finer styles, as in StyleGAN's style mixing. A figure per run shows
``--rows`` images along the direction at -s*, -s*/2, 0, s*/2, s*.

    python experiments/stylegan/style_edit.py RUN[:SPACE] ... [--attribute ink|slant] \\
        [--num 1000] [--fit 5000] [--out experiments/stylegan] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import images as image_io, workdir as wd
from gan_jax.checkpoint import restore_run
from gan_jax.edit import latent_space, within_class_direction
from gan_jax.metrics.digit_style import ink_mass, slant

HERE = os.path.dirname(os.path.abspath(__file__))
STRENGTHS = np.round(np.arange(-6.0, 6.01, 0.25), 2)
ATTRIBUTES = {"ink": (ink_mass, 0.2), "slant": (slant, 10.0)}


def load_judges():
    """``experiments/quality/judges.py``'s two judges: {"cnn-a": ..., "torch-b": ...}."""
    sys.path.insert(0, os.path.join(HERE, "..", "quality"))
    import judges as J

    return {name: j for name, (j, _, _) in J.load_judges("mnist5k", "runs/judges").items()}


def generate(space, variables, latents, chunk=500) -> np.ndarray:
    g = jax.jit(space.generate)
    return np.concatenate([np.asarray(g(variables, latents[i:i + chunk])) for i in range(0, len(latents), chunk)])


def labels_of(judge, x: np.ndarray) -> np.ndarray:
    return judge.logits_and_features(x)[0].argmax(-1)


def change(attribute: str, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per image: the relative change of ink, or the change of slant in degrees."""
    return (after - before) / np.maximum(before, 1e-3) if attribute == "ink" else after - before


def measure(run: str, space_name: str | None, attribute: str, judges: dict, args) -> dict:
    config = wd.load_config(os.path.abspath(run))
    state, _ = restore_run(os.path.abspath(run), config)
    space = latent_space.get(config, space_name)
    variables = state.generator_variables(True)
    score, target = ATTRIBUTES[attribute]
    target = args.target if args.target is not None else target

    fit = np.asarray(space.fit.sample(variables, jax.random.PRNGKey(100), (args.fit,)))
    free = np.ones(fit.shape[-1], bool)
    if args.keep_code and space.codes:  # leave the code entries of z (and so the cluster) alone
        free[:space.codes] = False
    fit_images = generate(space, variables, fit)
    direction = np.zeros(fit.shape[-1], np.float32)
    direction[free] = within_class_direction(jnp.asarray(fit[:, free]), score(jnp.asarray(fit_images)),
                                             jnp.asarray(labels_of(judges["cnn-a"], fit_images)), 10)
    unit = float(np.std(fit @ np.asarray(direction)))  # s = 1: one standard deviation of the latents along it
    from_row = args.from_row if space.layers else None  # W+: the direction found in W, in rows K.. only
    latent_space.check_from_row(space, from_row, "--from-row")
    step = np.asarray(latent_space.rows_from(space, jnp.asarray(direction), from_row))

    z = np.asarray(space.sample(variables, jax.random.PRNGKey(200), (args.num,)))
    base = generate(space, variables, z)
    base_attr, base_labels = np.asarray(score(jnp.asarray(base))), {n: labels_of(j, base) for n, j in judges.items()}
    per_strength = {}
    for s in STRENGTHS:
        moved = base if s == 0 else generate(space, variables, z + s * unit * step)
        d = change(attribute, base_attr, np.asarray(score(jnp.asarray(moved))))
        per_strength[float(s)] = {"median_change": float(np.median(d)),
                                  **{f"kept_{n}": float(np.mean(labels_of(j, moved) == base_labels[n]))
                                     for n, j in judges.items()}}
    chosen = {}
    for sign, name in ((1, "more"), (-1, "less")):
        hits = [s for s in STRENGTHS if s * sign > 0 and per_strength[float(s)]["median_change"] * sign >= target]
        if hits:
            s = float(min(hits, key=abs))
            chosen[name] = {"strength": s, **per_strength[s]}
    row = {"run": run, "model": config.model, "space": space.name, "step": int(state.step), "attribute": attribute,
           "from_row": args.from_row if space.layers else None, "code_kept": bool(not free.all()),
           "target": target, "unit": unit, "chosen": chosen, "per_strength": per_strength}
    if chosen:
        s_star = max(abs(c["strength"]) for c in chosen.values())
        where = space.name.replace("+", "plus") + (f"_from{args.from_row}" if space.layers else "") + (
            "_code_kept" if row["code_kept"] else "")
        figure = os.path.join(args.out, f"style_{attribute}_{os.path.basename(os.path.normpath(run))}_{where}.png")
        shown = np.array([-s_star, -s_star / 2, 0.0, s_star / 2, s_star])
        strip = np.stack([generate(space, variables, z[:args.rows] + s * unit * step)
                          for s in shown], axis=1)
        image_io.save_grid(strip.reshape(-1, *strip.shape[2:]), figure, ncol=len(shown))
        row["figure"] = figure
    return row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", metavar="RUN[:SPACE]")
    ap.add_argument("--attribute", default="ink", choices=sorted(ATTRIBUTES))
    ap.add_argument("--target", type=float, default=None,
                    help="the change to reach (default: 0.2 relative for ink, 10 degrees for slant)")
    ap.add_argument("--from-row", type=int, default=0,
                    help="in w+: move only the rows FROM .. L-1 (the finer styles); default 0: every row")
    ap.add_argument("--keep-code", action="store_true",
                    help="in z with a code in its first entries (self-conditioning, InfoGAN): fit and move "
                         "only the other entries, so that the code stays")
    ap.add_argument("--num", type=int, default=1000)
    ap.add_argument("--fit", type=int, default=5000)
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)  # before the minutes of fitting, not after
    judges = load_judges()
    rows = []
    for text in args.runs:
        run, sep, space = text.rpartition(":") if text.endswith((":z", ":w", ":w+")) else (text, "", None)
        row = measure(run, space, args.attribute, judges, args)
        rows.append(row)
        where = row["space"] + (f", rows {row['from_row']}.." if row["from_row"] is not None else "") + (
            ", code kept" if row["code_kept"] else "")
        print(f"{run} ({row['model']}, step {row['step']}, in {where}), {args.attribute}:", flush=True)
        for name, c in row["chosen"].items():
            print(f"  {name}: strength {c['strength']:+.2f} -> median change {c['median_change']:+.3f}, "
                  f"label kept cnn-a {c['kept_cnn-a']:.1%}, torch-b {c['kept_torch-b']:.1%}", flush=True)
        if not row["chosen"]:
            print(f"  the target {row['target']} is not reached within strength {STRENGTHS.max()}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
