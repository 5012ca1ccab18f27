"""Does a class-conditional run draw the class it is asked for?

For every class K, draws ``--per-class`` samples with label K and reports the share
the digit classifier assigns to K (and overall).

    gan-jax train --config dcgan_cond_mnist --workdir runs/dcgan_cond_mnist
    python experiments/dcgan_mnist/check_conditional.py --workdir runs/dcgan_cond_mnist
"""
import argparse
import os

import numpy as np

from gan_jax import workdir as wd
from gan_jax.checkpoint import restore_run
from gan_jax.metrics.classifier import load_or_train
from gan_jax.metrics.evaluation import class_accuracy


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--classifier", default="runs/mnist5k_classifier", help="cache directory of the classifier")
    ap.add_argument("--per-class", type=int, default=100)
    args = ap.parse_args()
    clf = load_or_train(args.classifier)
    config = wd.load_config(os.path.abspath(args.workdir))
    state, _ = restore_run(os.path.abspath(args.workdir), config)
    print(f"classifier: {clf.info['name']}, held-out accuracy {clf.info['holdout_accuracy']:.3f}; "
          f"run {args.workdir} at step {int(state.step)}")
    hits = class_accuracy(config, state, clf, args.per_class)
    for k, hit in enumerate(hits):
        print(f"class {k}: {hit:.1%} recognised as {k}")
    print(f"overall: {np.mean(hits):.1%}, worst class: {min(hits):.1%}")


if __name__ == "__main__":
    main()
