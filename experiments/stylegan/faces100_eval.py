"""The 100-shot faces: Fréchet distances, the memorisation check and nearest-face grids.

For each samples file (``gan-jax sample --workdir RUN --num 1000 --out RUN.npy`` of a
``faces100`` run, 32 x 32 greyscale in [-1, 1]):

* **Fréchet distance against the 100 faces** in two extractors that share nothing with each
  other: the quality issue's Fashion-MNIST judges (``cnn-a``: JAX, trained on half A of the
  60k training images; ``torch-b``: PyTorch, another design, half B;
  `experiments/quality/judges.py`). No face extractor can be had offline (no InceptionV3
  weights), so both are greyscale-clothing features, and the faces are resized 32 -> 28 px for
  them (bilinear, antialiased). With 100 real images the distance is noisy: the script prints
  two references in the same features, the 50 faces of one half against the other 50, and
  the 100 non-face crops that follow the faces in ``lfw_subset`` against the 100 faces.
* **Memorisation** (:func:`gan_jax.metrics.memorised_share`, in 32 x 32 pixels): the share of
  samples nearer to a training face than the two closest distinct training faces are to each
  other, the median nearest distance and how many of the 100 faces are someone's nearest.
* ``--grid DIR``: the first 24 samples, each beside its nearest training face, as
  ``DIR/<name>_nearest.png`` (pairs left to right: sample, nearest face).

    python experiments/stylegan/faces100_eval.py A.npy B.npy --grid experiments/stylegan [--json out.jsonl]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import jax
import numpy as np

from gan_jax import data
from gan_jax.data.faces100 import NUM_FACES, lfw_subset_path
from gan_jax.images import save_grid
from gan_jax.metrics import FeatureStats, frechet_distance, memorised_share, nearest_training

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "quality"))
import judges as J  # noqa: E402  (experiments/quality/judges.py)


def to_28(images: np.ndarray) -> np.ndarray:
    """[N, H, W, 1] in [-1, 1] -> [N, 28, 28, 1], bilinear with antialiasing."""
    return np.asarray(jax.image.resize(images, (len(images), 28, 28, images.shape[-1]), "bilinear", antialias=True))


def faces_32() -> np.ndarray:
    """The 100 training faces as the runs see them: [100, 32, 32, 1] in [-1, 1]."""
    source = data.load_source("faces100", resolution=32, channels=1)
    return data.to_float(source.get(np.arange(len(source)))[0]).astype(np.float32)


def non_faces_32() -> np.ndarray:
    """The 100 non-face crops after the faces in ``lfw_subset``, [100, 32, 32, 1] in [-1, 1]."""
    crops = np.clip(np.load(lfw_subset_path())[NUM_FACES:2 * NUM_FACES], 0.0, 1.0)[..., None].astype(np.float32)
    return np.asarray(jax.image.resize(crops * 2.0 - 1.0, (len(crops), 32, 32, 1), "bilinear", antialias=True))


def frechet(judge, a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between images a and b in ``judge``'s penultimate features."""
    fa, fb = (FeatureStats().update(judge.logits_and_features(to_28(x))[1]) for x in (a, b))
    return float(frechet_distance(fa.mean, fa.cov, fb.mean, fb.cov))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("samples", nargs="*", help=".npy files of faces100 samples [N, 32, 32, 1] in [-1, 1]")
    ap.add_argument("--cache", default="runs/judges", help="where the judges are cached (trained on first use)")
    ap.add_argument("--grid", help="write <name>_nearest.png grids into this directory")
    ap.add_argument("--json", help="append one JSON line per samples file here")
    args = ap.parse_args()
    judges = J.load_judges("fashion_mnist", args.cache)
    faces, non_faces = faces_32(), non_faces_32()
    halves = np.random.default_rng(0).permutation(len(faces))
    for name, (judge, _, _) in judges.items():
        print(f"reference, {name}: faces 50 vs 50 FD {frechet(judge, faces[halves[:50]], faces[halves[50:]]):.1f}; "
              f"100 non-faces vs the faces FD {frechet(judge, non_faces, faces):.1f}")
    for path in args.samples:
        samples = np.load(path)
        if samples.shape[1:] != faces.shape[1:]:
            raise SystemExit(f"{path}: expected faces100 samples [N, 32, 32, 1], got shape {samples.shape}")
        row = {"samples": path, "n": int(len(samples)), **{f"fd_{n}": frechet(j, samples, faces)
                                                           for n, (j, _, _) in judges.items()},
               "memorisation": memorised_share(samples, faces)}
        m = row["memorisation"]
        print(f"{path}: FD " + " / ".join(f"{row['fd_' + n]:.1f} ({n})" for n in judges)
              + f"; memorised {100 * m['share']:.1f} % (threshold {m['threshold']:.2f}, median nearest "
              f"{m['median_distance']:.2f}, {m['distinct_nearest']} distinct nearest faces)")
        if args.grid:
            first = samples[:24]
            nearest = faces[nearest_training(first, faces)["index"]]
            pairs = np.stack([first, nearest], axis=1).reshape(-1, *faces.shape[1:])
            out = os.path.join(args.grid, os.path.splitext(os.path.basename(path))[0] + "_nearest.png")
            save_grid(pairs, out, ncol=8)
            print(f"  grid: {out}")
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
