"""Latency of the playground (``gan-jax play``) on this machine: median and p95 of a slider update, a generate
and an inpaint, each measured twice: the handler alone (gan_jax.play.handlers, in this process, the image made
ready for the page) and through the page (``gan-jax play`` in its own process on 127.0.0.1, called with
gradio_client as a browser would: queue, transfer and the image's download included). Also the page's
inversion of generated images (PSNR and time), the number the README documents. Compilation is excluded (one
warm-up call each; the page warms the slider program up at start).

    python benchmarks/play_latency.py                        # the default run, runs/dcgan_mnist
    python benchmarks/play_latency.py --workdir DIR --repeats 50

Without a trained run at --workdir it first trains a short one of the default config there (--train-steps;
the latency does not depend on how long a run trained).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np


def cpu_model() -> str:
    """``lscpu``'s model name, and whether the CPU has AVX-512 (the project's machines differ in that)."""
    name = platform.processor() or "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                name = line.split(":", 1)[1].strip()
        flags = next((line for line in out.splitlines() if line.startswith("Flags:")), "")
        name += ", AVX-512" if "avx512f" in flags else ", AVX2" if "avx2" in flags else ""
    except (OSError, subprocess.CalledProcessError):
        pass
    return name


def times(fn, repeats: int) -> np.ndarray:
    """Seconds of ``repeats`` calls of ``fn(i)`` after one warm-up call."""
    fn(-1)
    out = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - start)
    return np.array(out)


def row(name: str, seconds: np.ndarray) -> str:
    ms = seconds * 1000
    return f"| {name} | {np.median(ms):.0f} | {np.percentile(ms, 95):.0f} | {len(ms)} |"


def ensure_run(workdir: str, steps: int) -> str:
    if os.path.isdir(os.path.join(workdir, "checkpoints")):
        return workdir
    from gan_jax import configs
    from gan_jax.train import train

    print(f"no trained run in {workdir}: training the default config for {steps} steps there", flush=True)
    train(configs.override(configs.get(), [f"steps={steps}", f"checkpoint_every={steps}"]), workdir, progress=False)
    return workdir


def measure(workdir: str, args, scratch: str):
    """``(rows, inversion PSNRs, playground)``: the timings of the handlers, then of the page."""
    from gradio_client import Client, handle_file
    from PIL import Image

    from gan_jax.images import to_uint8
    from gan_jax.play import handlers as h

    # The handlers, in this process.
    pg, c = h.Playground.open(workdir, scratch), h.Controls()
    k = len(h.directions(pg, c))
    z = h.latent(pg, c, 0, 0)
    strengths = np.random.default_rng(0).uniform(-3, 3, (max(args.repeats, 1) + 1, k)).round(1)
    image = to_uint8(h.generate(pg, c, seed=1234, num=1).images[0])
    r = pg.config.resolution
    brush = np.zeros((r, r, 4), np.uint8)
    brush[r // 4: 3 * r // 4, r // 4: 3 * r // 4, 3] = 255  # the centre box: a quarter of the image
    handlers = [
        ("slider update (handler)", lambda i: h.display(h.edit(pg, c, z, strengths[i]).image), args.repeats),
        ("generate 16 images (handler)", lambda i: h.display(h.generate(pg, c, seed=i + 1, num=16).grid),
         args.repeats),
        (f"inpaint, latent optimisation {h.INPAINT_STEPS} steps (handler)",
         lambda i: h.display(h.inpaint(pg, c, image, [brush], seed=max(i, 0)).filled), args.inpaint_repeats),
    ]
    results = [(name, times(fn, n)) for name, fn, n in handlers]
    targets = h.generate(pg, c, seed=4321, num=args.inversions).images
    h.invert(pg, c, to_uint8(targets[0]))  # compile
    psnrs, seconds = [], []
    for target in targets:
        start = time.perf_counter()
        psnrs.append(h.invert(pg, c, to_uint8(target)).psnr)
        seconds.append(time.perf_counter() - start)
    results.append((f"invert ({h.INVERT_STEPS} steps x {h.INVERT_RESTARTS} restarts, handler)", np.array(seconds)))

    # The page: gan-jax play in its own process, called from this one as a browser would.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(os.path.join(scratch, "play.log"), "w+")
    command = [sys.executable, "-m", "gan_jax.cli", "play", "--workdir", workdir, "--port", str(port)]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        for _ in range(600):
            log.seek(0)
            if "serving" in log.read() or server.poll() is not None:
                break
            time.sleep(0.5)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=scratch)
        controls = ("latest", True, 1.0) if not pg.config.num_classes else ("latest", True, 0, 1.0)
        client.predict(*controls, 0, 0, api_name="/load_latent")
        scale = max(1, 256 // r)  # the editor shows the image enlarged; the brush layer is that size
        big = np.repeat(np.repeat(image, scale, 0), scale, 1)
        Image.fromarray(big[..., 0] if big.shape[-1] == 1 else big).save(os.path.join(scratch, "bg.png"))
        Image.fromarray(np.repeat(np.repeat(brush, scale, 0), scale, 1)).save(os.path.join(scratch, "brush.png"))
        editor = {"background": handle_file(os.path.join(scratch, "bg.png")),
                  "layers": [handle_file(os.path.join(scratch, "brush.png"))], "composite": None, "id": None}
        page = [
            ("a page round trip that computes nothing (Watch, unchanged)",
             lambda i: client.predict(None, api_name="/watch"), args.repeats),
            ("slider update (page round trip)",
             lambda i: client.predict(*controls, *strengths[i].tolist(), api_name="/edit"), args.repeats),
            ("generate 16 images (page round trip)",
             lambda i: client.predict(*controls, i + 1, 16, api_name="/generate"), args.repeats),
            ("inpaint (page round trip)", lambda i: client.predict(*controls, editor, h.INPAINT_STEPS,
                                                                   api_name="/inpaint"), args.inpaint_repeats),
        ]
        results += [(name, times(fn, n)) for name, fn, n in page]
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)

    return results, psnrs, pg


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="runs/dcgan_mnist")
    parser.add_argument("--repeats", type=int, default=40, help="calls of the slider and generate (default 40)")
    parser.add_argument("--inpaint-repeats", type=int, default=10, help="calls of inpaint (default 10)")
    parser.add_argument("--inversions", type=int, default=10, help="generated images inverted (default 10)")
    parser.add_argument("--train-steps", type=int, default=300)
    args = parser.parse_args(argv)

    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    workdir = ensure_run(os.path.abspath(args.workdir), args.train_steps)
    with tempfile.TemporaryDirectory(prefix="play_latency_") as scratch:
        results, psnrs, pg = measure(workdir, args, scratch)
    import jax


    print(f"\n{datetime.date.today()}, {cpu_model()}, {os.cpu_count()} cores, jax {jax.__version__}, "
          f"python {platform.python_version()}; run: {workdir} ({pg.config.resolution} px, {pg.config.model})")
    print("\n| what | median ms | p95 ms | calls |\n|---|---|---|---|")
    for name, seconds in results:
        print(row(name, seconds))
    print(f"\ninversion of {len(psnrs)} generated images (page defaults): PSNR mean {np.mean(psnrs):.1f} dB, "
          f"worst {np.min(psnrs):.1f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
