"""Do the metrics rank real < well-trained < barely-trained < noise, like an independent judge?

The real MNIST-5k digits are split in two halves (even / odd rows; the rows are
sorted by label, so both halves hold every class). The reference statistics
come from the first half. Four sample sets of 2,500 images are compared with it:
the other real half, a well-trained and a barely-trained checkpoint, and
uniform noise. The metrics are computed in the features of a domain
classifier (``--extractor``, from ``gan-jax train-classifier``); the judge is a
second classifier trained with another seed (other init, other held-out split),
trained on the reference half only, reporting the share of images it
recognises with confidence >= 0.9.

    gan-jax train-classifier --out runs/clf_seed0 --seed 0
    gan-jax train --workdir runs/dcgan_mnist           # checkpoints at 500, 1000, ...
    python experiments/eval_ranking/run.py --extractor runs/clf_seed0 \\
        --well runs/dcgan_mnist:latest --barely runs/dcgan_mnist:500
"""
from __future__ import annotations

import argparse

import numpy as np

from gan_jax import data, sampling, workdir as wd
from gan_jax.checkpoint import restore_run
from gan_jax.metrics import FeatureStats, frechet_distance, kernel_inception_distance, precision_recall
from gan_jax.metrics.classifier import Classifier, train_classifier


def _samples(spec: str, num: int) -> np.ndarray:
    workdir, _, checkpoint = spec.rpartition(":")
    config = wd.load_config(workdir)
    state, _ = restore_run(workdir, config, checkpoint)
    return sampling.generate(config, state, num, seed=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--extractor", required=True, help="classifier directory (gan-jax train-classifier)")
    ap.add_argument("--well", required=True, help="WORKDIR:CHECKPOINT of a well-trained run")
    ap.add_argument("--barely", required=True, help="WORKDIR:CHECKPOINT of a barely-trained run")
    ap.add_argument("--judge-seed", type=int, default=1)
    args = ap.parse_args()

    src = data.load_source("mnist5k", resolution=28, channels=1)
    images, labels = src.get(np.arange(len(src)))
    images = data.to_float(images)
    reference, held_out = images[0::2], images[1::2]
    n = len(held_out)
    sets = {
        "real (other half)": held_out,
        "well-trained": _samples(args.well, n),
        "barely-trained": _samples(args.barely, n),
        "noise": np.random.default_rng(0).uniform(-1, 1, held_out.shape).astype(np.float32),
    }
    extractor = Classifier.load(args.extractor)
    # The judge never sees the other real half, so its verdict on it is a held-out accuracy.
    judge = train_classifier(reference, labels[0::2], num_classes=10, seed=args.judge_seed, name="judge",
                             progress=True)
    print(f"judge: classifier seed {args.judge_seed}, held-out accuracy {judge.info['holdout_accuracy']:.3f}")

    ref_feats = extractor.logits_and_features(reference)[1]
    ref = FeatureStats().update(ref_feats)
    print(f"\nreference: {len(reference)} real digits; features: {extractor.info['name']} "
          f"(classifier, seed {extractor.info['seed']})\n")
    print("| set | Fréchet classifier distance | KID | precision | recall | judge: recognised (conf >= 0.9) |")
    print("|---|---|---|---|---|---|")
    for name, x in sets.items():
        feats = extractor.logits_and_features(x)[1]
        st = FeatureStats().update(feats)
        fd = frechet_distance(ref.mean, ref.cov, st.mean, st.cov)
        kid, _ = kernel_inception_distance(ref_feats, feats, num_subsets=50, subset_size=1000)
        p, r = precision_recall(ref_feats, feats, k=3)
        _, conf = judge.predict(x)
        print(f"| {name} | {fd:.2f} | {kid:.3f} | {p:.3f} | {r:.3f} | {np.mean(conf >= 0.9):.1%} |")


if __name__ == "__main__":
    main()
