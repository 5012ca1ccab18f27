"""The GAN family at equal steps, trained longer than the CPU allows: one process, any backend.

Trains each ``--configs`` x ``--seeds`` run with the library's train step (``jax.jit``,
batch ``--batch-size``) on the dataset ``--dataset`` (default: the configs' own), and at
each ``--eval-at`` step evaluates ``--num`` EMA samples in the features of the metric's
classifier (``--extractor``) and of the independent judge (``--judge``), as
``experiments/family/run.py`` does through the CLI; for class-conditional configs it also
reports the share of samples drawn for class K that the judge classifies as K. One JSON
line per (config, seed, step) goes to ``--out`` as soon as it is measured, so a run cut
short keeps what it finished. Runs are taken seed-major (every config's seed 0 first).

    python experiments/family/long_run.py --extractor runs/family/clf_seed0 --judge runs/family/clf_seed1 \\
        --configs sngan_fashion dcgan_fashion --seeds 0 1 --eval-at 2000 5000 --out long.jsonl

(Off the project's machine, where the Debian Fashion-MNIST files are missing, pass
``--dataset idx:DIR`` with a copy of them: the same 70,000 images in the same order.)
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile

import jax
import numpy as np

from gan_jax import configs, data
from gan_jax.metrics.classifier import Classifier
from gan_jax.metrics.evaluation import class_accuracy, evaluate, real_reference
from gan_jax.metrics.extractors import load_extractor
from gan_jax.train import train_in_memory


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="+", default=["sngan_fashion", "dcgan_fashion", "wgan_gp_fashion"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--setting", action="append", default=[],
                    help="comma-separated key=value overrides of every config ('' = none); repeatable")
    ap.add_argument("--eval-at", type=int, nargs="+", default=[2000, 5000])
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--num", type=int, default=5000, help="samples per evaluation (default: %(default)s)")
    ap.add_argument("--dataset", default="", help="dataset spec for every run ('' = each config's own)")
    ap.add_argument("--extractor", required=True, help="classifier directory (the metric)")
    ap.add_argument("--judge", required=True, help="classifier directory (the judge)")
    ap.add_argument("--out", required=True, help="JSON-lines file the results are appended to")
    args = ap.parse_args(argv)
    eval_at = sorted(set(args.eval_at))
    if eval_at[0] <= 0:
        ap.error("--eval-at: expected positive step counts")
    extractors = {"extractor": load_extractor(f"classifier:{args.extractor}"),
                  "judge": load_extractor(f"classifier:{args.judge}")}
    judge_clf = Classifier.load(args.judge)
    cache = tempfile.mkdtemp(prefix="gan_jax_long_")
    print(f"backend {jax.default_backend()}, devices {jax.devices()}", flush=True)
    references = {}
    runs = [(seed, name, setting) for seed in args.seeds for name in args.configs for setting in args.setting or [""]]
    for seed, name, setting in runs:
        overrides = [kv for kv in setting.split(",") if kv]
        overrides += [f"seed={seed}", f"steps={eval_at[-1]}", f"batch_size={args.batch_size}"]
        overrides += [f"dataset={args.dataset}"] if args.dataset else []
        config = configs.validate(configs.override(configs.get(name), overrides))
        source = data.load_source(config.dataset, resolution=config.resolution, channels=config.channels)
        for t, state, trained in train_in_memory(config, source, eval_at):
            row = {"config": name, "setting": setting, "seed": seed, "step": t, "batch_size": config.batch_size,
                   "train_seconds": round(trained, 1), "backend": jax.default_backend()}
            for role, ext in extractors.items():
                key = (config.dataset, role)
                if key not in references:
                    references[key] = real_reference(config, ext, cache_dir=cache)
                row[role] = evaluate(config, state, ext, num=args.num, reference=references[key])
            if config.num_classes:
                row["judge_class_accuracy"] = class_accuracy(config, state, judge_clf, per_class=200)
            print(f"{name} {setting} seed {seed} step {t}: FD {row['extractor']['fd']:.1f}, judge FD "
                  f"{row['judge']['fd']:.1f}"
                  + (f", judge class accuracy {np.mean(row['judge_class_accuracy']):.1%}"
                     if config.num_classes else "") + f" ({trained:.0f} s training)", flush=True)
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
