"""The PyTorch reference DCGAN: pytorch/examples ``dcgan/main.py``'s recipe on gan_jax's data.

The quality table compares gan_jax's DCGAN with this loop at equal steps and at equal
wall-clock (issue 25). The networks are :mod:`gan_jax.bench.torch_ref`'s
``TorchGenerator`` / ``TorchDiscriminator`` (the same network as ``gan_jax.models.dcgan``,
equivalence-checked there), built for a gan_jax config; the train step is
``TorchDCGAN.step`` (the example's: D on the real batch, then on the detached fake, one D
update; then G's loss through the updated D on the same fake, one G update).

    python experiments/quality/torch_reference.py --config dcgan_mnist --steps 6000 \\
        --save-at 1000,2000,4000,6000 --out runs/torch_ref/mnist_s0 --seed 0 \\
        [--set lr_g=...] [--threads N] [--max-seconds S] [--config-lr] [--overwrite]

Recipe (the example's defaults, checked against pytorch/examples ``dcgan/main.py``):

* Init: every conv and transposed conv weight ~ N(0, 0.02); BatchNorm weight ~ N(1, 0.02),
  bias 0 (the example's ``weights_init``; BatchNorm eps 1e-5, momentum 0.1).
* Loss: binary cross-entropy, D on real = 1 / fake = 0, G the non-saturating loss (its fakes
  labelled 1). The example ends D with a Sigmoid and uses ``BCELoss``; here D outputs the
  logit and the loss is ``binary_cross_entropy_with_logits``: the same function, computed
  stably (``BCELoss`` clamps log at -100, which only matters once D saturates).
* Adam(lr 2e-4, betas (0.5, 0.999)) for both nets: the example's, **not** the config's
  learning rates (dcgan_mnist tunes 5e-4 / 1e-4 for gan_jax). ``--set lr_g=... lr_d=...
  beta1=... beta2=...`` change them explicitly; ``--config-lr`` takes the config's lr_g/lr_d.
* Batch size: the config's ``batch_size`` (dcgan_mnist 64 = the example's default;
  dcgan_fashion 128), so that a step here and a step of gan_jax see equally many images.
* z ~ N(0, 1), z_dim / widths / resolution / channels from the config (100 / 64 / 28 / 1).
* Data: the same real images gan_jax trains on (``gan_jax.data.load_source(config.dataset)``,
  all of it, ``to_float``: [-1, 1]); epoch shuffles without replacement, the incomplete last
  batch of each epoch dropped: the order is ``gan_jax.data.batches.epoch_permutation(n, seed,
  epoch)``, i.e. the very batch order of a gan_jax run whose ``seed`` equals ``--seed``. (The
  example's DataLoader also shuffles per epoch, but keeps the short last batch.)
* Seeds: ``torch.manual_seed(seed)`` for the init and the training latents; the fixed
  sampling latents are ``torch.randn(1000, z_dim)`` from a generator seeded ``seed + 1000``.

Sampling: at each save step the generator is put in **eval mode** (BatchNorm running
statistics, like gan_jax's ``sample``), not train mode as the example samples its
``fixed_noise`` (batch statistics of the sampling batch); then back to train mode.
No EMA of G weights (the example has none).

Writes into ``--out``:

* ``samples_<step>.npy``: float32 ``[1000, R, R, C]`` in [-1, 1] from the fixed latents;
* ``samples_<step>.png``: a grid of the first ``config.grid_size`` of them;
* ``log.jsonl``: one line per save: step, ``train_seconds`` (training wall-clock so far,
  data batches included, sample saving excluded), ``steps_per_s``, ``d_loss`` / ``g_loss``
  at that step and their means since the previous save, and ``reason`` (``save_at``,
  ``last_step`` or ``max_seconds``);
* ``run.json``: the args, the config, the recipe, torch version, threads and CPU model.

Threads: torch's default here is 2 (the cores); on a machine shared with other jobs
``--threads 1`` was 4-7x faster (OpenMP threads spinning against the other work): with load
average ~6.5 on 2 cores, dcgan_mnist ran 4.2-5.2 steps/s with 1 thread, 0.7-1.1 with 2.
Compare wall-clock only between runs with the same thread count and load.

``--max-seconds S`` stops at the first step whose training wall-clock exceeds S and saves
there too (equal wall-clock comparisons). The last step run is always saved.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np
import tqdm

NUM_SAMPLES = 1000
EXAMPLE_LR = 2e-4
EXAMPLE_BETAS = (0.5, 0.999)


def cpu_model() -> str:
    """The ``Model name`` line of ``lscpu`` (or platform's processor string)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.strip().startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or "unknown"


def reference_config(name: str, assignments: list[str], config_lr: bool):
    """The gan_jax config with the example's Adam settings, then the ``--set`` assignments."""
    from gan_jax import configs

    config = configs.get(name)
    if not config_lr:
        config = dataclasses.replace(config, lr_g=EXAMPLE_LR, lr_d=EXAMPLE_LR,
                                     beta1=EXAMPLE_BETAS[0], beta2=EXAMPLE_BETAS[1])
    config = configs.validate(configs.override(config, assignments))
    problems = [f"{k}={getattr(config, k)!r} (expected {v!r})"
                for k, v in (("model", "dcgan"), ("loss", "minimax"), ("n_critic", 1), ("d_norm", "batch"),
                             ("num_classes", 0), ("augment", ""), ("gp_weight", 0.0), ("r1_gamma", 0.0),
                             ("r2_gamma", 0.0), ("lr_decay_start", 1.0))
                if getattr(config, k) != v]
    if problems:
        raise SystemExit("torch_reference: the reference DCGAN does not implement " + ", ".join(problems))
    return config


def weights_init(module) -> None:
    """pytorch/examples dcgan's init: convs N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0."""
    import torch.nn as tnn

    if isinstance(module, (tnn.Conv2d, tnn.ConvTranspose2d)):
        tnn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            tnn.init.zeros_(module.bias)
    elif isinstance(module, tnn.BatchNorm2d):
        tnn.init.normal_(module.weight, 1.0, 0.02)
        tnn.init.zeros_(module.bias)


def parse_steps(text: str) -> list[int]:
    steps = sorted({int(s) for s in text.split(",") if s.strip()}) if text else []
    if any(s < 1 for s in steps):
        raise SystemExit(f"--save-at {text}: expected positive step numbers")
    return steps


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="dcgan_mnist", help="gan_jax config name (dcgan_mnist, dcgan_fashion)")
    p.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                   help="config override (repeatable), applied after the example's Adam settings")
    p.add_argument("--steps", type=int, default=None, help="train steps (default: the config's steps)")
    p.add_argument("--save-at", default="", help="comma-separated steps to save samples at "
                                                 "(the last step run is always saved)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    p.add_argument("--max-seconds", type=float, default=0.0,
                   help="stop at the first step whose training wall-clock exceeds this (0: off)")
    p.add_argument("--config-lr", action="store_true",
                   help="use the config's lr_g/lr_d/beta1/beta2 instead of the example's 2e-4, (0.5, 0.999)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing log.jsonl in --out")
    args = p.parse_args(argv)

    import torch

    from gan_jax import data
    from gan_jax.bench.torch_ref import TorchDCGAN
    from gan_jax.data.batches import epoch_permutation
    from gan_jax.images import save_array, save_grid

    config = reference_config(args.config, args.assignments, args.config_lr)
    steps = config.steps if args.steps is None else args.steps
    save_at = parse_steps(args.save_at)
    if steps < 1:
        raise SystemExit(f"--steps {steps}: expected a positive step count")
    if save_at and save_at[-1] > steps:
        raise SystemExit(f"--save-at {args.save_at}: steps beyond --steps {steps}")

    os.makedirs(args.out, exist_ok=True)
    log_path = os.path.join(args.out, "log.jsonl")
    if os.path.exists(log_path) and not args.overwrite:
        raise SystemExit(f"{log_path} exists; pass --overwrite to replace it")

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    threads, model_name = torch.get_num_threads(), cpu_model()
    print(f"torch {torch.__version__}: {threads} threads; CPU: {model_name}", flush=True)

    # Data: all real images of the config's dataset, float32 [N, R, R, C] in [-1, 1].
    source = data.load_source(config.dataset, resolution=config.resolution, channels=config.channels,
                              tfds_data_dir=config.tfds_data_dir or None)
    images, _ = source.get(np.arange(len(source)))
    images = data.to_float(images)
    n, batch = len(images), config.batch_size
    if batch > n:
        raise SystemExit(f"batch_size={batch}: larger than the dataset ({n} images)")
    per_epoch = n // batch
    # NCHW once, so a batch is one gather.
    images_nchw = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    print(f"data: {config.dataset} {images.shape} in [{images.min():.2f}, {images.max():.2f}]; "
          f"batch {batch}, {per_epoch} steps per epoch; lr_g {config.lr_g} lr_d {config.lr_d} "
          f"betas ({config.beta1}, {config.beta2})", flush=True)
    del images

    torch.manual_seed(args.seed)
    gan = TorchDCGAN(config)
    gan.g.apply(weights_init)
    gan.d.apply(weights_init)
    fixed_z = torch.randn(NUM_SAMPLES, config.z_dim, generator=torch.Generator().manual_seed(args.seed + 1000))

    with open(os.path.join(args.out, "run.json"), "w") as f:
        json.dump({"args": vars(args), "config": config.to_dict(), "torch": torch.__version__,
                   "threads": threads, "cpu": model_name, "python": sys.version.split()[0],
                   "num_examples": n, "recipe": {
                       "init": "conv N(0,0.02); BatchNorm weight N(1,0.02), bias 0",
                       "loss": "BCE with logits, non-saturating G", "optimizer": "Adam",
                       "lr_g": config.lr_g, "lr_d": config.lr_d, "betas": [config.beta1, config.beta2],
                       "batches": "epoch shuffles (gan_jax epoch_permutation), remainder dropped",
                       "sampling": "G in eval mode, fixed latents seed+1000"}}, f, indent=1)
    open(log_path, "w").close()

    def save(step: int, train_seconds: float, last: dict, window: list, reason: str) -> None:
        gan.g.eval()
        with torch.inference_mode():
            samples = gan.g(fixed_z).permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)
        gan.g.train()
        save_array(samples, os.path.join(args.out, f"samples_{step}.npy"))
        save_grid(samples[:config.grid_size], os.path.join(args.out, f"samples_{step}.png"))
        window_mean = np.mean(np.asarray(window), axis=0) if window else (float("nan"),) * 2
        line = {"step": step, "train_seconds": round(train_seconds, 3),
                "steps_per_s": round(step / train_seconds, 3) if train_seconds > 0 else None,
                "d_loss": last["d_loss"], "g_loss": last["g_loss"],
                "d_loss_mean": float(window_mean[0]), "g_loss_mean": float(window_mean[1]),
                "reason": reason, "threads": threads}
        with open(log_path, "a") as f:
            f.write(json.dumps(line) + "\n")
        tqdm.tqdm.write(json.dumps(line))

    pending = set(save_at)
    train_seconds, window, perm, perm_epoch = 0.0, [], None, -1
    bar = tqdm.tqdm(total=steps, desc=f"torch_ref {args.config}", unit="step", dynamic_ncols=True)
    step = 0
    while step < steps:
        t0 = time.perf_counter()
        epoch, i = divmod(step, per_epoch)
        if epoch != perm_epoch:
            perm, perm_epoch = torch.from_numpy(epoch_permutation(n, args.seed, epoch)), epoch
        real = images_nchw[perm[i * batch:(i + 1) * batch]]
        z = torch.randn(batch, config.z_dim)
        out = gan.step(real, z)
        last = {"d_loss": float(out["d_loss"]), "g_loss": float(out["g_loss"])}
        train_seconds += time.perf_counter() - t0
        step += 1
        window.append((last["d_loss"], last["g_loss"]))
        bar.update(1)
        if step % 20 == 0 or step == steps:
            bar.set_postfix(d=f"{last['d_loss']:.3f}", g=f"{last['g_loss']:.3f}",
                            sps=f"{step / train_seconds:.1f}")
        over = args.max_seconds > 0 and train_seconds > args.max_seconds
        if step in pending or step == steps or over:
            reason = "save_at" if step in pending else ("max_seconds" if over else "last_step")
            pending.discard(step)
            save(step, train_seconds, last, window, reason)
            window = []
        if over:
            tqdm.tqdm.write(f"stopping: training wall-clock {train_seconds:.1f} s > --max-seconds "
                            f"{args.max_seconds} at step {step}")
            break
    bar.close()
    print(f"done: {step} steps in {train_seconds:.1f} s of training ({step / train_seconds:.2f} steps/s, "
          f"{threads} threads); wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
