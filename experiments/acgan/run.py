"""Train an ACGAN run (optional) and measure whether it draws the class it is asked for.

For every class K it draws ``--per-class`` samples exactly as
``gan-jax sample --workdir W --class K --seed K --num 100`` does (EMA generator, BatchNorm in
eval mode) and reports the share that a CNN trained on the real data assigns to K
(class match), and the share assigned to K with softmax confidence >= 0.9. As a diagnosis
it also reports what the run's own auxiliary head (D's class logits) says about real images
and about the samples. Writes ``--out`` (JSON, with the commands) and a grid with one row
per class (``--grid``).

    python experiments/acgan/run.py --config acgan_mnist --workdir runs/acgan/acgan_mnist_s0 \
        --steps 3000 --seed 0 --classifier runs/acgan/clf_mnist5k \
        --out experiments/acgan/acgan_mnist_s0.json --grid experiments/acgan/samples_acgan_mnist.png

Without ``--steps`` it only measures the run in ``--workdir``; with it, it first runs (or
resumes up to that step) ``gan-jax train --config C --workdir W --steps N --seed S
--no-progress [--set ...]`` and records its wall-clock.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

import jax
import numpy as np


def train(args) -> tuple[str, float]:
    cmd = ["gan-jax", "train", "--config", args.config, "--workdir", args.workdir, "--steps", str(args.steps),
           "--seed", str(args.seed), "--no-progress"]
    for s in args.set:
        cmd += ["--set", s]
    line = " ".join(shlex.quote(c) for c in cmd)
    print(f"$ {line}", flush=True)
    t0 = time.time()
    subprocess.run(cmd, check=True)
    return line, time.time() - t0


def measure(workdir: str, classifier_dir: str, per_class: int) -> dict:
    from gan_jax import data, models, sampling
    from gan_jax import workdir as wd
    from gan_jax.checkpoint import restore_run
    from gan_jax.metrics.classifier import load_or_train

    config = wd.load_config(workdir)
    state, _ = restore_run(workdir, config)
    clf = load_or_train(classifier_dir, config.dataset)
    out = {"workdir": workdir, "step": int(state.step), "dataset": config.dataset,
           "classifier": classifier_dir, "classifier_holdout_accuracy": clf.info.get("holdout_accuracy"),
           "per_class": [], "grid_rows": []}
    # D's class head (diagnosis): on real images and on the samples.
    _, d = models.build(config)
    d_vars = {"params": state.d_params, "batch_stats": state.d_stats}
    head = jax.jit(lambda x: d.apply(d_vars, x, None, train=False)[1]) if config.conditioning == "acgan" else None
    head_hits = []
    for k in range(config.num_classes):
        # = gan-jax sample --workdir W --class K --seed K --num per_class (EMA generator)
        images = sampling.generate(config, state, per_class, seed=k, labels=k)
        pred, conf = clf.predict(images)
        row = {"class": k, "match": float(np.mean(pred == k)),
               "match_conf90": float(np.mean((pred == k) & (conf >= 0.9))),
               "conf90": float(np.mean(conf >= 0.9)),
               "predicted": np.bincount(pred, minlength=config.num_classes).tolist()}
        if head is not None:
            row["head_match"] = float(np.mean(np.argmax(np.asarray(head(images)), -1) == k))
            head_hits.append(row["head_match"])
        out["per_class"].append(row)
        out["grid_rows"].append(images[:10])
    out["match"] = float(np.mean([r["match"] for r in out["per_class"]]))
    out["match_conf90"] = float(np.mean([r["match_conf90"] for r in out["per_class"]]))
    out["worst_class"] = float(min(r["match"] for r in out["per_class"]))
    if head is not None:
        out["head_match_on_samples"] = float(np.mean(head_hits))
        source = data.load_source(config.dataset, resolution=config.resolution, channels=config.channels)
        idx = np.sort(np.random.default_rng(0).permutation(len(source))[:2000])
        real, labels = source.get(idx)
        out["head_accuracy_on_real"] = float(np.mean(np.argmax(np.asarray(head(data.to_float(real))), -1) == labels))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--config", default=None, help="named config (with --steps)")
    ap.add_argument("--steps", type=int, default=None, help="train (or resume) the run up to this step first")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], help="config override for gan-jax train (repeatable)")
    ap.add_argument("--classifier", required=True, help="classifier directory (trained on the run's dataset "
                    "on first use and cached there)")
    ap.add_argument("--per-class", type=int, default=100)
    ap.add_argument("--out", default=None, help="JSON file for the results")
    ap.add_argument("--grid", default=None, help="PNG: 10 samples per class, one row per class")
    args = ap.parse_args()
    args.workdir = os.path.abspath(args.workdir)

    train_cmd, wall = None, None
    if args.steps is not None:
        if not args.config:
            ap.error("--steps needs --config")
        train_cmd, wall = train(args)
    result = measure(args.workdir, args.classifier, args.per_class)
    rows = result.pop("grid_rows")
    result.update(train_command=train_cmd, train_wall_clock_s=wall,
                  measure_command=" ".join(shlex.quote(a) for a in [sys.executable.split("/")[-1]] + sys.argv))
    for r in result["per_class"]:
        head = f", D's head {r['head_match']:.0%}" if "head_match" in r else ""
        print(f"class {r['class']}: match {r['match']:.0%}, match with conf>=0.9 {r['match_conf90']:.0%}{head}; "
              f"predicted {r['predicted']}")
    print(f"step {result['step']}: class match {result['match']:.1%} (worst class {result['worst_class']:.0%}), "
          f"with conf>=0.9 {result['match_conf90']:.1%}"
          + (f"; D's head: {result['head_match_on_samples']:.1%} of samples, {result['head_accuracy_on_real']:.1%}"
             f" of 2,000 real images" if "head_match_on_samples" in result else "")
          + (f"; training wall-clock {wall / 60:.1f} min" if wall else ""))
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    if args.grid:
        from gan_jax import images
        images.save_grid(np.concatenate(rows), args.grid, ncol=10)


if __name__ == "__main__":
    main()
