"""Input pipelines on an image folder: images/s delivered, time to the first batch, peak RSS.

Makes folders of generated PNGs (smooth colour fields with noise, so they compress like
photos rather than like white noise) in a temporary directory, one per ``--sizes`` entry,
then measures each pipeline in a fresh process of its own (its peak RSS is its own):

* ``memory``: ``load_source(..., pipeline="memory")`` decodes the whole folder, then
  :class:`gan_jax.data.Batches` (one prefetch thread) serves the batches;
* ``grain:N``: the folder only listed (:class:`gan_jax.data.folder.FolderSource`), batches
  decoded by :class:`gan_jax.data.grain_pipeline.GrainBatches` with N worker processes
  (``grain:0``: Grain's reading threads in the main process).

Per repeat: **first batch** = seconds from opening the folder to holding the first batch
(the memory pipeline decodes everything first; Grain starts its workers); **images/s** = the
``--batches`` batches after two more per worker (every worker started), nothing else running:
the rate a train step slower than this never waits on. Per pipeline: **peak RSS** of the main
process (ru_maxrss), and its growth over the RSS after the imports; with workers, the largest
worker's peak. The table shows the medians of ``--repeats`` repeats (min–max for images/s)
and the ``lscpu`` model name. The run recorded in ``benchmarks/NOTES.md`` ("Input pipelines"):

    python benchmarks/input_pipeline.py --sizes 64,256 --num 800 --batches 8 --repeats 3
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

PIPELINES = ("memory", "grain:0", "grain:1", "grain:2")


def make_folder(root: str, num: int, size: int, seed: int = 0) -> None:
    """``num`` RGB PNGs of ``size`` px: a random smooth colour field plus a little noise."""
    from PIL import Image

    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    for i in range(num):
        f = rng.uniform(1, 6, (3, 2))
        phase = rng.uniform(0, 2 * np.pi, (3,))
        field = np.stack([np.sin(2 * np.pi * (f[c, 0] * x + f[c, 1] * y) + phase[c]) for c in range(3)], -1)
        img = 127.5 + 100 * field + rng.normal(0, 8, field.shape)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB").save(os.path.join(root, f"{i:05d}.png"))


def rss_mb() -> float:
    """This process's resident set now (MB)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(folder: str, size: int, pipeline: str, batch_size: int, batches: int, repeats: int) -> dict:
    """One pipeline, ``repeats`` times, in this process: the numbers of one table row."""
    from gan_jax.data.batches import Batches
    from gan_jax.data.load import load_source
    if pipeline != "memory":
        from gan_jax.data.grain_pipeline import GrainBatches, shard_options
    base = rss_mb()
    first, rates = [], []
    warmup = 2 * max(1, int(pipeline.split(":")[1]) if ":" in pipeline else 1)
    for r in range(repeats):
        t0 = time.perf_counter()
        if pipeline == "memory":
            source = load_source(f"folder:{folder}", resolution=size, channels=3, pipeline="memory")
            feed = Batches(source, batch_size, seed=r)
        else:
            source = load_source(f"folder:{folder}", resolution=size, channels=3, pipeline="grain")
            feed = GrainBatches(source, batch_size, seed=r, workers=int(pipeline.split(":")[1]),
                                shard=shard_options(0, 1))
        with feed:
            batch = next(feed)
            first.append(time.perf_counter() - t0)
            assert batch["image"].shape == (batch_size, size, size, 3)
            for _ in range(warmup):  # every worker started and its buffer filled once
                next(feed)
            t1 = time.perf_counter()
            for _ in range(batches):
                next(feed)
            rates.append(batches * batch_size / (time.perf_counter() - t1))
        del source, feed, batch
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"size": size, "pipeline": pipeline, "first_batch_s": first, "images_per_s": rates,
            "peak_rss_mb": peak, "rss_after_imports_mb": base, "worker_peak_rss_mb": workers}


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no lscpu)"
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return f"{fields.get('Model name', '?').strip()}, {os.cpu_count()} cores"


def table(rows: list[dict], num: int) -> str:
    out = ["| size | pipeline | images/s median (min–max) | first batch (s) | peak RSS (MB) | "
           "RSS growth (MB) | worker peak RSS (MB) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        rate, decoded = r["images_per_s"], num * r["size"] ** 2 * 3 / 2**20
        workers = f"{r['worker_peak_rss_mb']:.0f}" if r["pipeline"] not in ("memory", "grain:0") else "–"
        out.append(f"| {r['size']} px ({decoded:.0f} MB decoded) | {r['pipeline']} | {statistics.median(rate):.0f} "
                   f"({min(rate):.0f}–{max(rate):.0f}) | {statistics.median(r['first_batch_s']):.2f} | "
                   f"{r['peak_rss_mb']:.0f} | {r['peak_rss_mb'] - r['rss_after_imports_mb']:.0f} | {workers} |")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="64,256", help="image sizes in px, comma-separated")
    p.add_argument("--num", type=int, default=2000, help="PNG files per folder")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--batches", type=int, default=20, help="batches timed after the first")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--pipelines", default=",".join(PIPELINES))
    p.add_argument("--json", help="also write the raw numbers here")
    p.add_argument("--child", help=argparse.SUPPRESS)  # internal: FOLDER,SIZE,PIPELINE
    a = p.parse_args(argv)
    if a.child:
        folder, size, pipeline = a.child.rsplit(",", 2)
        print(json.dumps(child(folder, int(size), pipeline, a.batch_size, a.batches, a.repeats)))
        return 0
    print(f"CPU: {cpu_model()}; {a.num} PNGs per folder, batch {a.batch_size}, {a.batches} batches timed, "
          f"{a.repeats} repeats", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="gan_jax_input_bench_") as tmp:
        for size in (int(s) for s in a.sizes.split(",")):
            folder = os.path.join(tmp, f"px{size}")
            t = time.perf_counter()
            make_folder(folder, a.num, size)
            mb = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)) / 2**20
            print(f"{size} px: {a.num} PNGs, {mb:.0f} MB on disk, made in {time.perf_counter() - t:.0f} s", flush=True)
            for pipeline in a.pipelines.split(","):
                cmd = [sys.executable, os.path.abspath(__file__), "--child", f"{folder},{size},{pipeline}",
                       "--batch-size", str(a.batch_size), "--batches", str(a.batches), "--repeats", str(a.repeats)]
                out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode:
                    print(out.stderr[-3000:], file=sys.stderr)
                    return 1
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                r = rows[-1]
                print(f"  {pipeline}: {statistics.median(r['images_per_s']):.0f} images/s, first batch "
                      f"{statistics.median(r['first_batch_s']):.2f} s", flush=True)
    print()
    print(table(rows, a.num))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"cpu": cpu_model(), "args": vars(a), "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
