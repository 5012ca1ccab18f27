"""The GAN family on Fashion-MNIST at equal steps: DCGAN, SNGAN, WGAN-GP, LSGAN (and ACGAN).

Every config is trained for the same number of steps at the same batch size
(``--steps``, ``--batch-size``) with each seed, through the CLI, then evaluated
on ``--num`` samples in the features of two Fashion-MNIST classifiers:

* the *extractor* (``gan-jax train-classifier --seed 0``): the library's metric,
  the Fréchet classifier distance (FD) and KID of ``gan-jax evaluate``;
* the *judge* (``--seed 1``: other init, other held-out split), an independent
  second opinion: the same Fréchet distance in another network's features.

The real-data row compares 5,000 real images that the reference statistics did
not use (``evaluate`` builds them from the first 50,000 of a fixed permutation
of the 70,000 images; the other 20,000 are held out) with the same reference,
which anchors the scale. Writes ``table_STEPS.md`` (the table and every command),
``results_STEPS.json`` and one sample grid per config (seed 0) next to this file.
Calling it again with a larger ``--steps`` extends the same runs (``gan-jax train``
resumes); their wall-clock then adds up both calls.

    gan-jax train-classifier --dataset fashion_mnist --out runs/family/clf_seed0 --seed 0
    gan-jax train-classifier --dataset fashion_mnist --out runs/family/clf_seed1 --seed 1
    python experiments/family/run.py --steps 500 --runs runs/family \
        --configs dcgan_fashion wgan_gp_fashion sngan_fashion lsgan_fashion acgan_fashion \
        --set checkpoint_every=250 --set sample_every=250 --set keep_checkpoints=4

``--jobs`` runs at a time (default 2: the seeds of one config side by side; every
JAX process already uses all cores). A finished run (its ``family_STEPS.json``) is
not redone, so the script can be restarted.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONFIGS = ("dcgan_fashion", "wgan_gp_fashion", "sngan_fashion", "lsgan_fashion")
HELD_OUT_FROM = 50_000  # evaluation.real_reference's default max_real


def _env() -> dict:
    env = dict(os.environ)
    # This checkout, after any PYTHONPATH given (which wins: e.g. a frozen copy of the package).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH", ""), ROOT) if p)
    return env


def _run(cmd: list[str], log_path: str) -> float:
    """Run ``cmd``, its output appended to ``log_path``; return its wall-clock seconds."""
    with open(log_path, "a") as log:
        log.write(f"\n$ {shlex.join(cmd)}\n")
        log.flush()
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT, env=_env(), cwd=ROOT)
    return time.perf_counter() - t0


def _objective(config) -> str:
    parts = [config.loss]
    if config.gp_weight:
        parts.append(f"GP {config.gp_weight:g}")
    if config.r1_gamma:
        parts.append(f"R1 {config.r1_gamma:g}")
    parts.append(f"D norm {config.d_norm}")
    if config.n_critic > 1:
        parts.append(f"{config.n_critic} critic steps" + (", each on fresh reals" if config.fresh_reals else ""))
    if config.num_classes:
        parts.append(f"{getattr(config, 'conditioning', 'projection')}, {config.num_classes} classes")
    parts.append(f"Adam {config.lr_g:g}/{config.lr_d:g} ({config.beta1:g}, {config.beta2:g})")
    return ", ".join(parts)


def _steps_per_sec(workdir: str) -> float:
    """Median logged training speed, the first interval (compilation) left out."""
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    speeds = [r["steps_per_sec"] for r in rows[1:] if "steps_per_sec" in r]
    return statistics.median(speeds) if speeds else float("nan")


def train_and_evaluate(name, seed, args) -> dict:
    workdir = os.path.join(args.runs, f"{name}_seed{seed}")
    done = os.path.join(workdir, f"family_{args.steps}.json")
    if os.path.isfile(done):
        with open(done) as f:
            return json.load(f)
    # A run extended from an earlier, shorter call of this script: its time so far counts.
    earlier = sorted(glob.glob(os.path.join(workdir, "family_*.json")),
                     key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0]))
    seconds_before = 0.0
    if earlier:
        with open(earlier[-1]) as f:
            seconds_before = json.load(f)["train_seconds"]
    log = f"{workdir}.log"
    train = ["gan-jax", "train", "--config", name, "--workdir", workdir, "--steps", str(args.steps),
             "--batch-size", str(args.batch_size), "--seed", str(seed), "--no-progress"]
    for item in args.set:
        train += ["--set", item]
    row = {"config": name, "seed": seed, "steps": args.steps, "workdir": workdir, "train_cmd": shlex.join(train)}
    row["train_seconds"] = seconds_before + _run(train, log)
    row["steps_per_sec"] = _steps_per_sec(workdir)
    for role, clf in (("extractor", args.extractor), ("judge", args.judge)):
        while not os.path.isfile(os.path.join(clf, "info.json")):  # still being trained
            time.sleep(10)
        cmd = ["gan-jax", "evaluate", "--workdir", workdir, "--num", str(args.num),
               "--extractor", f"classifier:{clf}"]
        _run(cmd, log)
        with open(os.path.join(workdir, "eval.json")) as f:
            row[role] = json.load(f)
        row[f"{role}_cmd"] = shlex.join(cmd)
        shutil.copy(os.path.join(workdir, "eval.json"), os.path.join(workdir, f"eval_{role}_{args.steps}.json"))
    with open(done, "w") as f:
        json.dump(row, f, indent=1)
    return row


def real_row(args) -> dict:
    """FD/KID of 5,000 held-out real images against the evaluation reference, in both classifiers."""
    import numpy as np

    from gan_jax import configs, data
    from gan_jax.metrics import FeatureStats, frechet_distance, kernel_inception_distance
    from gan_jax.metrics.evaluation import real_reference
    from gan_jax.metrics.extractors import load_extractor

    config = configs.get(CONFIGS[0])
    source = data.load_source(config.dataset, resolution=config.resolution, channels=config.channels)
    held_out = np.random.default_rng(0).permutation(len(source))[HELD_OUT_FROM:][:args.num]
    images = data.to_float(source.get(np.sort(held_out))[0])
    row = {"config": "real (held-out)", "num": len(images)}
    for role, clf in (("extractor", args.extractor), ("judge", args.judge)):
        extractor = load_extractor(f"classifier:{clf}")
        ref = real_reference(config, extractor)
        feats = np.concatenate([extractor(images[i:i + 1000])[0] for i in range(0, len(images), 1000)])
        stats = FeatureStats().update(feats)
        kid, _ = kernel_inception_distance(ref.features, feats, num_subsets=100, subset_size=1000, seed=0)
        row[role] = {"fd": frechet_distance(ref.stats.mean, ref.stats.cov, stats.mean, stats.cov),
                     "kid": float(kid), "extractor": extractor.name}
    return row


def _spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    half = (max(values) - min(values)) / 2
    return f"{mean:.1f} ± {half:.1f}"


def write_results(rows, real, args) -> None:
    from gan_jax import configs

    by_config: dict[str, list[dict]] = {}
    for r in rows:
        by_config.setdefault(r["config"], []).append(r)
    lines = [
        f"| config | objective | steps × batch | FD ↓ (mean ± half-range) | FD per seed | judge FD ↓ per seed "
        f"| KID ↓ per seed | steps/s | wall-clock per run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rs in by_config.items():
        cfg = configs.get(name)
        fd = [r["extractor"]["fd"] for r in rs]
        judge = [r["judge"]["fd"] for r in rs]
        kid = [r["extractor"]["kid"] for r in rs]
        minutes = [r["train_seconds"] / 60 for r in rs]
        lines.append(
            f"| `{name}` | {_objective(cfg)} | {args.steps} × {args.batch_size} | {_spread(fd)} "
            f"| {', '.join(f'{v:.1f}' for v in fd)} | {', '.join(f'{v:.1f}' for v in judge)} "
            f"| {', '.join(f'{v:.4f}' for v in kid)} "
            f"| {statistics.fmean(r['steps_per_sec'] for r in rs):.2f} "
            f"| {', '.join(f'{m:.1f} min' for m in minutes)} |")
    if real:
        lines.append(f"| real (held-out) | {real['num']} real images not in the reference | – "
                     f"| {real['extractor']['fd']:.1f} | – | {real['judge']['fd']:.1f} "
                     f"| {real['extractor']['kid']:.4f} | – | – |")
    commands = []
    for r in rows:
        commands += [r["train_cmd"], r["extractor_cmd"], r["judge_cmd"]]
    with open(os.path.join(args.out, f"table_{args.steps}.md"), "w") as f:
        f.write("\n".join(lines) + "\n\n```bash\n" + "\n".join(commands) + "\n```\n")
    with open(os.path.join(args.out, f"results_{args.steps}.json"), "w") as f:
        json.dump({"steps": args.steps, "batch_size": args.batch_size, "num": args.num,
                   "runs": rows, "real": real}, f, indent=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=2000, help="train steps of every run (default: %(default)s)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="passed to every gan-jax train (run settings only, e.g. checkpoint_every=250)")
    ap.add_argument("--num", type=int, default=5000, help="samples per evaluation (default: %(default)s)")
    ap.add_argument("--runs", default="runs/family", help="parent of the run directories")
    ap.add_argument("--extractor", default="runs/family/clf_seed0", help="classifier directory (the metric)")
    ap.add_argument("--judge", default="runs/family/clf_seed1", help="classifier directory (the judge)")
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time: the seeds of one config together "
                    "(default: %(default)s)")
    ap.add_argument("--out", default=HERE, help="where tables, results and grids go (default: this folder)")
    args = ap.parse_args()
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    os.chdir(ROOT)
    sys.path.append(ROOT)
    os.makedirs(args.runs, exist_ok=True)
    rows, real = [], None
    # The seeds of one config run side by side: they share the machine alike, so the
    # wall-clock of the configs stays comparable on a machine shared with other jobs.
    with ThreadPoolExecutor(args.jobs) as pool:
        for name in args.configs:
            for row in pool.map(lambda seed: train_and_evaluate(name, seed, args), args.seeds):
                rows.append(row)
                print(f"{name} seed {row['seed']}: FD {row['extractor']['fd']:.2f}, judge FD "
                      f"{row['judge']['fd']:.2f}, {row['train_seconds']:.0f} s, {row['steps_per_sec']:.2f} steps/s",
                      flush=True)
            write_results(rows, real, args)
    real = real_row(args)
    print(f"real (held-out): FD {real['extractor']['fd']:.2f}, judge FD {real['judge']['fd']:.2f}", flush=True)
    for name in args.configs:  # one grid per config, from the first seed's run
        _run(["gan-jax", "sample", "--workdir", os.path.join(args.runs, f"{name}_seed{args.seeds[0]}"),
              "--num", "64", "--out", os.path.join(args.out, f"samples_{name}.png")],
             os.path.join(args.runs, "samples.log"))
    write_results(rows, real, args)
    print(f"wrote {os.path.join(args.out, f'table_{args.steps}.md')}")


if __name__ == "__main__":
    main()
