"""Two judges of sample quality that share nothing: neither data, code nor architecture.

* ``cnn-a``: the project's own classifier (:class:`gan_jax.metrics.classifier.ClassifierNet`,
  JAX, 3x3 convolutions with stride, dropout), trained on **half A** of the real images
  (the even indices). This is the judge the recipes were tuned against.
* ``torch-b``: a different network in a different framework (PyTorch: 5x5 convolutions,
  BatchNorm, max-pooling, label-free random shifts of up to 2 px), trained on **half B**
  (the odd indices). Never used to choose anything; it only reports.

Each judge gives, for samples ``[N, H, W, C]`` in [-1, 1]: the share recognised with
softmax confidence >= 0.9, the share of each predicted class, and the Fréchet distance
between its penultimate features of the samples and of the half it did **not** train on
(so "real vs real" is a held-out number, printed as the reference).

    gan-jax sample --workdir runs/selfcond_mnist --num 1000 --out s.npy
    python experiments/quality/judges.py s.npy [more.npy ...] [--dataset mnist5k] [--json out.json]

Judges are trained on first use (about a minute each on 2 cores) and cached under
``--cache`` (default ``runs/judges``). Needs torch (``pip install -e ".[bench]"``).
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import tqdm

from gan_jax import data
from gan_jax.metrics.classifier import Classifier, train_classifier
from gan_jax.metrics.frechet import FeatureStats, frechet_distance

CONFIDENT = 0.9


def real_halves(dataset: str):
    """(images float32 [N, H, W, C] in [-1, 1], labels [N]) of halves A (even) and B (odd).
    For Fashion-MNIST the 60k training images are halved and each half cut to 15k."""
    spec = "fashion_mnist:train" if dataset == "fashion_mnist" else dataset
    source = data.load_source(spec, resolution=28, channels=1)
    images, labels = source.get(np.arange(len(source)))
    images = data.to_float(images).astype(np.float32)
    limit = 15000 if dataset == "fashion_mnist" else None
    a, b = np.arange(0, len(images), 2)[:limit], np.arange(1, len(images), 2)[:limit]
    return (images[a], labels[a]), (images[b], labels[b])


class TorchJudge:
    """PyTorch CNN: conv5-BN-ReLU-pool x2, dense 256 (features), dense 10."""

    def __init__(self, directory: str, images=None, labels=None, steps: int = 1200, seed: int = 1):
        import torch
        from torch import nn

        self.torch = torch
        torch.set_num_threads(1)  # small convs: one thread is as fast, and never spins against other work
        torch.manual_seed(seed)
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 256), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.4), nn.Linear(256, 10))
        path = os.path.join(directory, "torch_b.pt")
        if os.path.isfile(path):
            state = torch.load(path)
            self.body.load_state_dict(state["body"])
            self.head.load_state_dict(state["head"])
            self.info = state["info"]
        else:
            self.info = self._train(images, labels, steps, seed)
            os.makedirs(directory, exist_ok=True)
            torch.save({"body": self.body.state_dict(), "head": self.head.state_dict(), "info": self.info},
                       path + ".tmp")
            os.replace(path + ".tmp", path)
        self.body.eval()
        self.head.eval()

    def _train(self, images, labels, steps, seed):
        torch = self.torch
        rng = np.random.default_rng(seed)
        params = list(self.body.parameters()) + list(self.head.parameters())
        opt = torch.optim.AdamW(params, 1e-3, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps)
        x_all = torch.from_numpy(np.transpose(images, (0, 3, 1, 2)).copy())
        y_all = torch.from_numpy(labels.astype(np.int64))
        for _ in tqdm.trange(steps, desc="train torch-b", dynamic_ncols=True):
            idx = torch.from_numpy(rng.integers(0, len(x_all), 128))
            x = x_all[idx]
            dx, dy = rng.integers(-2, 3, 2)
            x = torch.roll(torch.nn.functional.pad(x, (2, 2, 2, 2), value=-1.0), (int(dy), int(dx)), (2, 3))
            x = x[:, :, 2:30, 2:30]
            loss = torch.nn.functional.cross_entropy(self.head(self.body(x)), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        return {"name": "torch-b", "steps": steps, "seed": seed, "train_images": int(len(images))}

    def logits_and_features(self, images: np.ndarray):
        torch = self.torch
        outs, feats = [], []
        with torch.no_grad():
            for i in range(0, len(images), 500):
                x = torch.from_numpy(np.transpose(images[i:i + 500], (0, 3, 1, 2)).astype(np.float32).copy())
                f = self.body(x)
                feats.append(f.numpy())
                outs.append(self.head(f).numpy())
        return np.concatenate(outs), np.concatenate(feats)


def load_judges(dataset: str, cache: str):
    """{"cnn-a": (judge, held-out images), "torch-b": (judge, held-out images)}; trains on first use."""
    (xa, ya), (xb, yb) = real_halves(dataset)
    directory = os.path.join(cache, dataset)
    a_dir = os.path.join(directory, "cnn_a")
    if os.path.isfile(os.path.join(a_dir, "info.json")):
        cnn_a = Classifier.load(a_dir)
    else:
        cnn_a = train_classifier(xa, ya, num_classes=10, steps=2000, seed=0, holdout=0.0, name="cnn-a",
                                 progress=True)
        cnn_a.save(a_dir)
    torch_b = TorchJudge(directory, xb, yb)
    return {"cnn-a": (cnn_a, xb, yb), "torch-b": (torch_b, xa, ya)}


def _softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def judge(samples: np.ndarray, judge_, real: FeatureStats, labels: np.ndarray | None = None) -> dict:
    """The numbers of one judge for samples [N, H, W, C] in [-1, 1], against ``real``, the
    statistics of its held-out half (:func:`reference`); ``labels``: the class each sample was
    asked to be, for conditional models."""
    logits, feats = judge_.logits_and_features(samples)
    p = _softmax(logits)
    pred, conf = p.argmax(-1), p.max(-1)
    shares = np.bincount(pred, minlength=10) / len(samples)
    s, r = FeatureStats().update(feats), real
    out = {"recognised": float(np.mean(conf >= CONFIDENT)), "smallest_class": float(shares.min()),
           "smallest_class_id": int(shares.argmin()), "shares": [round(float(v), 4) for v in shares],
           "frechet": float(frechet_distance(s.mean, s.cov, r.mean, r.cov))}
    if labels is not None:
        out["class_match"] = float(np.mean(pred == labels))
        out["class_match_per_class"] = [round(float(np.mean(pred[labels == k] == k)), 4) for k in range(10)]
    return out


def reference(judges) -> dict:
    """Each judge on the real half it did not train on: recognised share and accuracy, and the
    Fréchet distance between 1,000 random images of that half and the rest of it; ``stats``:
    the feature statistics of the whole half, what :func:`judge` compares samples with."""
    out = {}
    for name, (j, real, labels) in judges.items():
        logits, feats = j.logits_and_features(real)
        p = _softmax(logits)
        order = np.random.default_rng(0).permutation(len(real))  # the digits are sorted by label
        s, r = FeatureStats().update(feats[order[:1000]]), FeatureStats().update(feats[order[1000:]])
        out[name] = {"recognised": float(np.mean(p.max(-1) >= CONFIDENT)),
                     "accuracy": float(np.mean(p.argmax(-1) == labels)),
                     "frechet_1000_vs_rest": float(frechet_distance(s.mean, s.cov, r.mean, r.cov)),
                     "stats": FeatureStats().update(feats)}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("samples", nargs="*", help=".npy files of images [N, 28, 28, 1] in [-1, 1]")
    ap.add_argument("--dataset", default="mnist5k", choices=["mnist5k", "fashion_mnist"])
    ap.add_argument("--cache", default="runs/judges")
    ap.add_argument("--labels", help=".npy of the class each sample was asked for (conditional models)")
    ap.add_argument("--json", help="append one JSON line per samples file here")
    args = ap.parse_args()
    judges = load_judges(args.dataset, args.cache)
    refs = reference(judges)
    for name, ref in refs.items():
        print(f"[real, held out] {name}: recognised {ref['recognised']:.1%}, accuracy {ref['accuracy']:.1%}, "
              f"FD 1000-vs-rest {ref['frechet_1000_vs_rest']:.2f}")
    labels = np.load(args.labels) if args.labels else None
    for path in args.samples:
        x = np.load(path)
        row = {"samples": path, "n": int(len(x))}
        for name, (j, _, _) in judges.items():
            r = judge(x, j, refs[name]["stats"], labels)
            row[name] = r
            extra = f", class match {r['class_match']:.1%}" if "class_match" in r else ""
            print(f"{path} {name}: recognised {r['recognised']:.1%}, smallest class {r['smallest_class']:.1%} "
                  f"({r['smallest_class_id']}), FD {r['frechet']:.2f}{extra}")
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
