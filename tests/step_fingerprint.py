"""Three train steps of a shipped config on fixed synthetic batches, and their fingerprint.

Used two ways:

* ``tests/test_fingerprint.py`` compares today's code with the fingerprint recorded from the
  code before the tasks/ redesign (``tests/data/step_fingerprints.json``), to ~1e-6 relative;
* side by side, bit for bit, against another checkout (it only uses the public API)::

      git worktree add /tmp/base 586a9ae                                       # the other tree
      python tests/step_fingerprint.py --out new.npz                           # this tree
      (cp tests/step_fingerprint.py /tmp/fp.py && cd /tmp && PYTHONPATH=/tmp/base python fp.py --out old.npz)
      python tests/step_fingerprint.py --compare /tmp/old.npz new.npz          # exit 1 unless equal bits
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

CONFIGS = ("dcgan_mnist", "pix2pix_denoise", "cyclegan_fashion")
STEPS = 3
RECIPE_AS_RECORDED = {
    "cyclegan_fashion": ("model=unet", "cycle_weight=10", "identity_weight=0.5", "lr_decay_start=1"),
}
"""Recipe changes made after the fingerprints were recorded, undone here so that the recorded
numbers still check the step's code (``cyclegan_fashion`` now uses the no-skip U-Net:
``experiments/img2img/results.md``)."""


def _batch(config, rng: np.random.RandomState) -> dict:
    r, c, b = config.resolution, config.channels, config.batch_size
    img = lambda: rng.uniform(-1, 1, (b, r, r, c)).astype(np.float32)  # noqa: E731
    if config.task == "cyclegan":
        return {"a": img(), "b": img()}
    if config.task == "generate":
        return {"image": img()}
    target = img()
    return {"source": np.clip(target + 0.2 * rng.standard_normal(target.shape), -1, 1).astype(np.float32),
            "target": target}


def run(name: str) -> tuple[dict, dict]:
    """(state after STEPS steps as a flat dict of numpy leaves, last metrics) for config ``name``."""
    import jax

    from gan_jax import configs, init_state, make_train_step

    config = configs.override(configs.get(name), RECIPE_AS_RECORDED.get(name, ()))
    step = jax.jit(make_train_step(config))
    state = init_state(config, seed=0)
    rng = np.random.RandomState(0)
    metrics = {}
    for _ in range(STEPS):
        state, metrics = step(state, {k: jax.numpy.asarray(v) for k, v in _batch(config, rng).items()})
    flat = {}
    for field in ("g_params", "g_stats", "d_params", "d_stats", "g_opt", "d_opt", "ema"):
        for path, leaf in jax.tree_util.tree_flatten_with_path(getattr(state, field))[0]:
            flat[f"{field}{jax.tree_util.keystr(path)}"] = np.asarray(leaf)
    return flat, {k: float(v) for k, v in metrics.items()}


def fingerprint(flat: dict) -> dict:
    """Per field: the float64 sums of |x| and x^2 over its float leaves (order-independent)."""
    out: dict = {}
    for key, leaf in flat.items():
        if not np.issubdtype(leaf.dtype, np.floating):
            continue
        field = key.split("[", 1)[0].split(".", 1)[0]
        x = leaf.astype(np.float64)
        s = out.setdefault(field, [0.0, 0.0])
        s[0] += float(np.abs(x).sum())
        s[1] += float(np.square(x).sum())
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="write every leaf of the three runs to this .npz")
    p.add_argument("--json", help="write the fingerprints (and last metrics) to this .json")
    p.add_argument("--compare", nargs=2, metavar=("A.npz", "B.npz"), help="exit 1 unless A and B are equal bits")
    args = p.parse_args(argv)
    if args.compare:
        a, b = (np.load(f) for f in args.compare)
        if sorted(a.files) != sorted(b.files):
            print(f"different leaves: {sorted(set(a.files) ^ set(b.files))[:5]}")
            return 1
        bad = [k for k in a.files if a[k].tobytes() != b[k].tobytes() or a[k].dtype != b[k].dtype]
        print(f"{len(a.files)} leaves compared, {len(bad)} differ" + (f": {bad[:5]}" if bad else " (bit-identical)"))
        return 1 if bad else 0
    everything, prints = {}, {}
    for name in CONFIGS:
        flat, metrics = run(name)
        everything.update({f"{name}/{k}": v for k, v in flat.items()})
        prints[name] = {"fingerprint": fingerprint(flat), "metrics": metrics}
        print(name, json.dumps(prints[name]["fingerprint"]))
    if args.out:
        np.savez(args.out, **everything)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(prints, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
