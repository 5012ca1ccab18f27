"""Class-conditional runs judged by both judges (issue 25, floors 4 and 6): the share of
samples that are the class asked for, and how far the class-morph edit moves a digit.

For each class K it draws ``--per-class`` samples exactly as
``gan-jax sample --workdir W --class K --seed K --num N`` does (EMA generator) and asks
``cnn-a`` and ``torch-b`` (``judges.py``) which class each is: **class match**. Then the
class-morph edit (``gan-jax edit --direction class:A-B``, strength 1, its documented end):
``--per-class`` latents of class A (latent seed 1000 + A), each sent to one class B != A
(B = A + 1 + i mod 9 for the i-th latent, so every ordered pair gets about the same share);
**morph changed** is the share whose judged label differs from the label of the same
latent at strength 0, **morph to B** the share judged B.

    python experiments/quality/conditional.py runs/cond [more runs] --json out.jsonl [--grid g.png]

The judges are cached under ``--cache`` (``judges.py`` trains them on first use).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import judges as J  # noqa: E402  (this folder's judges.py)


def class_samples(config, state, per_class: int):
    """(images [10 * per_class, H, W, C], labels asked for [10 * per_class])."""
    from gan_jax import sampling

    images = [sampling.generate(config, state, per_class, seed=k, labels=k) for k in range(config.num_classes)]
    return np.concatenate(images), np.repeat(np.arange(config.num_classes), per_class)


def morph_pairs(config, state, per_class: int):
    """(images at strength 0 [N, ...], at strength 1 [N, ...], source [N], target [N])."""
    from gan_jax import edit, sampling
    from gan_jax.models.dcgan import takes_label_input

    variables = state.generator_variables()
    starts, ends, sources, targets = [], [], [], []
    for a in range(config.num_classes):
        z = jax.random.normal(jax.random.PRNGKey(1000 + a), (per_class, config.z_dim))
        b = (a + 1 + np.arange(per_class) % (config.num_classes - 1)) % config.num_classes
        g = sampling.latent_generator(config, a)
        for target in np.unique(b):
            rows = np.flatnonzero(b == target)
            strip = np.asarray(edit.class_morph(g, variables, z[rows], a, int(target), jnp.array([0.0, 1.0]),
                                                label_input=takes_label_input(config)))
            starts.append(strip[:, 0])
            ends.append(strip[:, 1])
            sources.append(np.full(len(rows), a))
            targets.append(np.full(len(rows), target))
    return (np.concatenate(starts), np.concatenate(ends), np.concatenate(sources), np.concatenate(targets))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workdirs", nargs="+", help="class-conditional runs (gan-jax train --workdir)")
    ap.add_argument("--per-class", type=int, default=100)
    ap.add_argument("--cache", default="runs/judges")
    ap.add_argument("--json", help="append one JSON line per run here")
    ap.add_argument("--grid", help="PNG of the first run: row K = 10 samples of class K")
    ap.add_argument("--morph-grid", help="PNG of the first run: class morph 0 -> 1 in 7 steps, rows 3->8, 1->7, "
                    "4->9, 0->6 (8 latents each)")
    args = ap.parse_args()
    from gan_jax import workdir as wd
    from gan_jax.checkpoint import restore_run

    loaded = {}  # dataset -> (judges, their held-out references)
    for i, workdir in enumerate(args.workdirs):
        config = wd.load_config(workdir)
        state, _ = restore_run(workdir, config)
        dataset = config.dataset.split(":")[0]
        if dataset not in loaded:
            judges = J.load_judges(dataset, args.cache)
            loaded[dataset] = judges, J.reference(judges)
        judges, refs = loaded[dataset]
        images, labels = class_samples(config, state, args.per_class)
        start, end, source, target = morph_pairs(config, state, args.per_class)
        row = {"workdir": workdir, "step": int(state.step), "per_class": args.per_class,
               "command": " ".join([os.path.basename(sys.executable)] + sys.argv)}
        for name, (j, _, _) in judges.items():
            r = J.judge(images, j, refs[name]["stats"], labels)
            p0 = J._softmax(j.logits_and_features(start)[0]).argmax(-1)
            p1 = J._softmax(j.logits_and_features(end)[0]).argmax(-1)
            r["morph_changed"] = float(np.mean(p1 != p0))
            r["morph_to_target"] = float(np.mean(p1 == target))
            r["morph_start_is_source"] = float(np.mean(p0 == source))
            r.pop("shares")
            row[name] = r
            print(f"{workdir} step {row['step']} {name}: class match {r['class_match']:.1%} "
                  f"(worst class {min(r['class_match_per_class']):.0%}), recognised {r['recognised']:.1%}, "
                  f"FD {r['frechet']:.2f}; class morph: label changed {r['morph_changed']:.1%}, "
                  f"to B {r['morph_to_target']:.1%} (start read as A {r['morph_start_is_source']:.1%})")
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(row) + "\n")
        if i == 0 and (args.grid or args.morph_grid):
            from gan_jax import edit, images as img, sampling
            from gan_jax.models.dcgan import takes_label_input
            if args.grid:
                rows = images.reshape(config.num_classes, args.per_class, *images.shape[1:])[:, :10]
                img.save_grid(rows.reshape(-1, *images.shape[1:]), args.grid, ncol=10)
            if args.morph_grid:
                variables = state.generator_variables()
                strips = []
                for a, b in ((3, 8), (1, 7), (4, 9), (0, 6)):
                    z = jax.random.normal(jax.random.PRNGKey(2000 + a), (8, config.z_dim))
                    strips.append(np.asarray(edit.class_morph(sampling.latent_generator(config, a), variables, z,
                                                              a, b, jnp.linspace(0, 1, 7),
                                                              label_input=takes_label_input(config)))[:2])
                strip = np.concatenate(strips)  # [8, 7, H, W, C]
                img.save_grid(strip.reshape(-1, *strip.shape[2:]), args.morph_grid, ncol=7)


if __name__ == "__main__":
    from gan_jax.errors import UserError

    try:
        main()
    except UserError as e:
        sys.exit(f"error: {e}")
