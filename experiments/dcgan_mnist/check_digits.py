"""Are the default run's samples real digits?

Trains a small CNN on the 5,000 real MNIST digits (held-out accuracy printed),
then classifies generated samples: the share recognised with confidence >= 0.9
and the share of each predicted class.

    gan-jax sample --workdir runs/dcgan_mnist --num 1000 --out s.npy
    python experiments/dcgan_mnist/check_digits.py s.npy [more.npy ...]
"""
import argparse

import numpy as np

from gan_jax.metrics.classifier import load_or_train


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("samples", nargs="+", help=".npy files of images [N, 28, 28, 1] in [-1, 1]")
    ap.add_argument("--classifier", default="runs/mnist5k_classifier", help="cache directory of the classifier")
    args = ap.parse_args()
    clf = load_or_train(args.classifier)
    print(f"classifier: {clf.info['name']}, held-out accuracy {clf.info['holdout_accuracy']:.3f}")
    for path in args.samples:
        x = np.load(path)
        pred, conf = clf.predict(x)
        shares = np.bincount(pred, minlength=10) / len(x)
        print(f"{path}: {len(x)} samples, confident (>= 0.9): {np.mean(conf >= 0.9):.1%}, "
              f"smallest class share: {shares.min():.1%} (class {shares.argmin()}), "
              f"shares: {' '.join(f'{s:.3f}' for s in shares)}")


if __name__ == "__main__":
    main()
