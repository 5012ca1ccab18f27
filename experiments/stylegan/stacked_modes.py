"""Mode coverage on Stacked MNIST, judged by both of the quality issue's judges.

Each channel of each sample is labelled by ``cnn-a`` and by ``torch-b``
(`experiments/quality/judges.py`, the same cached MNIST-5k judges); a mode (one of 1,000
digit triples) is covered when at least one sample falls in it
(:func:`gan_jax.metrics.mode_coverage`). Also printed: the KL divergence of the samples' mode
histogram to uniform, and the share of channels the judge recognises with confidence >= 0.9
(a blurred channel still gets *some* label, so coverage alone flatters a bad generator).

    gan-jax sample --workdir RUN --num 10000 --out RUN.npy
    python experiments/stylegan/stacked_modes.py RUN.npy [more.npy ...] [--json out.jsonl]
    python experiments/stylegan/stacked_modes.py --real 10000      # the same numbers for real images

(With 10,000 samples even labels drawn at random would cover nearly every mode; the KL and
the share recognised are what separate a good generator from a noisy one.)
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from gan_jax.metrics import channel_classes, mode_coverage

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "quality"))
import judges as J  # noqa: E402  (experiments/quality/judges.py)


def coverage(samples: np.ndarray, judge) -> dict:
    """Mode coverage of ``samples`` [N, 28, 28, 3] in [-1, 1] by one judge, plus the share of
    channels it recognises with confidence >= 0.9."""
    confident = []

    def predict(planes):
        p = J._softmax(judge.logits_and_features(planes)[0])
        confident.append(p.max(-1) >= J.CONFIDENT)
        return p.argmax(-1)

    out = mode_coverage(channel_classes(predict, samples))
    out["channels_recognised"] = float(np.mean(np.concatenate(confident)))
    return out


def _real(n: int) -> np.ndarray:
    """``n`` real Stacked MNIST images [n, 28, 28, 3] in [-1, 1], the first ``n`` of the source
    (its triples are drawn at random)."""
    from gan_jax import data

    source = data.load_source("stacked_mnist", resolution=28, channels=3)
    return data.to_float(source.get(np.arange(n))[0]).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("samples", nargs="*", help=".npy files of Stacked MNIST samples [N, 28, 28, 3] in [-1, 1]")
    ap.add_argument("--real", type=int, default=0, help="also judge this many real Stacked MNIST images")
    ap.add_argument("--cache", default="runs/judges", help="where the judges are cached (trained on first use)")
    ap.add_argument("--json", help="append one JSON line per samples file here")
    args = ap.parse_args()
    judges = J.load_judges("mnist5k", args.cache)
    inputs = list(args.samples)
    if args.real:
        inputs.append(f"real:{args.real}")
    for path in inputs:
        samples = _real(args.real) if path.startswith("real:") else np.load(path)
        if samples.ndim != 4 or samples.shape[-1] != 3:
            raise SystemExit(f"{path}: expected Stacked MNIST samples [N, H, W, 3], got shape {samples.shape}")
        row = {"samples": path, "n": int(len(samples))}
        for name, (judge, _, _) in judges.items():
            row[name] = coverage(samples, judge)
        print(f"{path}: " + "; ".join(
            f"{name} {row[name]['modes']} / 1000 modes, KL {row[name]['kl']:.3f}, "
            f"channels recognised {100 * row[name]['channels_recognised']:.1f} %" for name in judges))
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
