"""Evaluate the image-to-image runs against their baselines on held-out data.

    python experiments/img2img/evaluate.py sr       --workdir runs/img2img/srgan_x4 --pretrained-step 3000
    python experiments/img2img/evaluate.py denoise  --workdir runs/img2img/pix2pix_denoise
    python experiments/img2img/evaluate.py inpaint  --workdir runs/img2img/inpaint_fashion [--num 10000]
    python experiments/img2img/evaluate.py cyclegan --workdir runs/img2img/cyclegan_fashion --classifier CLF_DIR
    python experiments/img2img/evaluate.py grid     --workdir DIR --out FIGURE.png   (a training-style grid)

Photo tasks use the held-out photo (``photos:heldout``: matplotlib's grace_hopper, never in
the training patches), whole, through the same tiled inference as ``gan-jax translate`` /
``gan-jax upscale``. PSNR and SSIM are computed on [0, 1] RGB (SSIM: Gaussian window
sigma 1.5 on the luminance, the usual constants), with a border of ``scale`` pixels
cropped for SR. Each command prints a markdown table row and writes
``experiments/img2img/<task>.json`` and a figure.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
from scipy import ndimage

from gan_jax import images, translate, workdir as wd
from gan_jax.checkpoint import restore_run
from gan_jax.data.paired import add_noise, downscale, inpaint_source, masks
from gan_jax.data.photos import SPLITS, read_split
from gan_jax.models import bicubic_upscale

HERE = os.path.dirname(os.path.abspath(__file__))


def psnr(x, y, border: int = 0) -> float:
    """PSNR (dB) of images in [-1, 1], measured on [0, 1]."""
    if border:
        x, y = x[border:-border, border:-border], y[border:-border, border:-border]
    mse = np.mean(((np.clip(x, -1, 1) - y) / 2) ** 2)
    return float(10 * np.log10(1.0 / mse))


def ssim(x, y, border: int = 0) -> float:
    """SSIM of the luminance of images in [-1, 1] (on [0, 1]; Gaussian window sigma 1.5)."""
    if border:
        x, y = x[border:-border, border:-border], y[border:-border, border:-border]
    lum = lambda im: (np.clip(im, -1, 1) * 0.5 + 0.5) @ np.array([0.299, 0.587, 0.114]) if im.shape[-1] == 3 \
        else np.clip(im[..., 0], -1, 1) * 0.5 + 0.5  # noqa: E731
    a, b = lum(x), lum(y)
    f = lambda im: ndimage.gaussian_filter(im, 1.5)  # noqa: E731
    ma, mb = f(a), f(b)
    va, vb, cov = f(a * a) - ma ** 2, f(b * b) - mb ** 2, f(a * b) - ma * mb
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return float(np.mean((2 * ma * mb + c1) * (2 * cov + c2) / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2))))


def sharpness(x) -> float:
    """Mean gradient magnitude of the luminance (Sobel), a no-reference sharpness measure."""
    lum = (np.clip(x, -1, 1) * 0.5 + 0.5) @ np.array([0.299, 0.587, 0.114])
    return float(np.mean(np.hypot(ndimage.sobel(lum, 0), ndimage.sobel(lum, 1))))


def _run(workdir: str, checkpoint: str = "latest"):
    config = wd.load_config(os.path.abspath(workdir))
    state, _ = restore_run(os.path.abspath(workdir), config, checkpoint)
    return config, state


def _write(name: str, result: dict) -> None:
    with open(os.path.join(HERE, f"{name}.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(json.dumps(result, indent=2))


def _crop_figure(columns: list[np.ndarray], box, path: str, scale: int = 2) -> None:
    """Save the same crop of several images side by side, enlarged ``scale`` times (nearest)."""
    y, x, s = box
    crops = [np.repeat(np.repeat(c[y:y + s, x:x + s], scale, 0), scale, 1) for c in columns]
    images.save_grid(np.stack(crops), path, ncol=len(crops))


def sr(args) -> None:
    config, state = _run(args.workdir)
    pre_config, pre_state = _run(args.workdir, str(args.pretrained_step))
    s = config.scale
    result = {"photos": list(SPLITS["heldout"]), "scale": s, "rows": {}}
    for photo in read_split("heldout"):
        h, w = (photo.shape[0] // s) * s, (photo.shape[1] // s) * s
        hr = photo[:h, :w].astype(np.float32) / 127.5 - 1.0
        lr = downscale(hr[None], s)[0]
        outs = {"bicubic": np.clip(np.asarray(bicubic_upscale(lr[None], s))[0], -1, 1),
                f"SR pixel-pretrained (step {args.pretrained_step})":
                    translate.upscale(pre_config, pre_state, lr, tile=args.tile),
                f"SRGAN fine-tuned (step {int(state.step)})": translate.upscale(config, state, lr, tile=args.tile)}
        for name, out in outs.items():
            result["rows"][name] = {"psnr": psnr(out, hr, s), "ssim": ssim(out, hr, s), "sharpness": sharpness(out)}
        result["rows"]["original (HR)"] = {"sharpness": sharpness(hr)}
        nearest = np.repeat(np.repeat(lr, s, 0), s, 1)
        _crop_figure([nearest, *outs.values(), hr], (140, 170, 160), os.path.join(HERE, "sr_x4.png"))
    _write("sr_x4", result)


def denoise(args) -> None:
    config, state = _run(args.workdir)
    rng = np.random.default_rng(0)
    result = {"photos": list(SPLITS["heldout"]), "noise_sigma": config.noise_sigma, "rows": {}}
    for photo in read_split("heldout"):
        clean = photo.astype(np.float32) / 127.5 - 1.0
        noisy = add_noise(clean[None], config.noise_sigma, rng)[0]
        blurs = {sigma: np.stack([ndimage.gaussian_filter(noisy[..., c], sigma) for c in range(3)], -1)
                 for sigma in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)}
        best = max(blurs, key=lambda k: psnr(blurs[k], clean))
        out = translate.translate(config, state, noisy)
        rows = {"noisy input": noisy, f"Gaussian blur (best sigma = {best} px)": blurs[best],
                f"pix2pix (step {int(state.step)})": out}
        for name, im in rows.items():
            result["rows"][name] = {"psnr": psnr(im, clean), "ssim": ssim(im, clean)}
        _crop_figure([noisy, blurs[best], out, clean], (140, 170, 160), os.path.join(HERE, "denoise.png"))
    _write("denoise", result)


def inpaint(args) -> None:
    import jax.numpy as jnp

    from gan_jax.data import load_source, to_float
    from gan_jax.edit import diffusion_fill, mean_fill
    from gan_jax.edit import psnr as masked_psnr

    config, state = _run(args.workdir)
    source = load_source(config.holdout_dataset, resolution=config.resolution, channels=config.channels)
    x = to_float(source.get(np.arange(min(args.num, len(source))))[0])
    m = masks(config.degrade, len(x), config.resolution, np.random.default_rng(0))
    fills = {"mean-colour fill": np.asarray(mean_fill(jnp.asarray(x), jnp.asarray(m))),
             "diffusion (harmonic) fill": np.asarray(diffusion_fill(jnp.asarray(x), jnp.asarray(m))),
             # images of the model's size: one tile each, so a batched call equals gan-jax inpaint's tiling
             f"inpainting GAN (step {int(state.step)})": translate.run_generator(
                 config, translate.generator_variables(config, state), inpaint_source(x, m), chunk=500)}
    result = {"dataset": config.holdout_dataset, "images": len(x), "mask": config.degrade, "rows": {}}
    for name, out in fills.items():
        db = np.asarray(masked_psnr(jnp.asarray(out), jnp.asarray(x), jnp.asarray(m)))
        result["rows"][name] = {"masked_psnr_mean": float(db.mean()), "masked_psnr_median": float(np.median(db))}
    k = 8
    masked = x[:k] * (1 - m[:k])
    grid = np.stack([masked, *(f[:k] for f in fills.values()), x[:k]], axis=1).reshape((-1,) + x.shape[1:])
    images.save_grid(grid, os.path.join(HERE, "inpaint.png"), ncol=5)
    _write("inpaint", result)


def cyclegan(args) -> None:
    """Held-out images of both domains: how often a domain classifier puts each translation in the
    other domain (and each input in its own), and the cycle-reconstruction L1."""
    from gan_jax.data import to_float
    from gan_jax.data.paired import load_domain
    from gan_jax.metrics.classifier import Classifier

    config, state = _run(args.workdir)
    clf = Classifier.load(args.classifier)
    test = lambda spec: spec.replace(":train#", ":test#")  # noqa: E731 - the held-out images of a domain
    kw = dict(resolution=config.resolution, channels=config.channels)
    domains = {"a": load_domain(test(config.dataset), **kw), "b": load_domain(test(config.dataset_b), **kw)}
    labels = {d: int(test(spec).rpartition("#")[2]) for d, spec in (("a", config.dataset), ("b", config.dataset_b))}
    result = {"domains": {d: test(s) for d, s in (("a", config.dataset), ("b", config.dataset_b))},
              "classifier": args.classifier, "step": int(state.step), "rows": {}}
    for d, direction, other in (("a", "a2b", "b"), ("b", "b2a", "a")):
        x = to_float(domains[d].images)
        back_direction = {"a2b": "b2a", "b2a": "a2b"}[direction]
        out = translate.run_generator(config, translate.generator_variables(config, state, direction), x, 500)
        back = translate.run_generator(config, translate.generator_variables(config, state, back_direction), out, 500)
        result["rows"][direction] = {
            "images": len(x),
            "inputs_in_own_domain": float(np.mean(clf.predict(x)[0] == labels[d])),
            "outputs_in_other_domain": float(np.mean(clf.predict(out)[0] == labels[other])),
            "cycle_l1": float(np.mean(np.abs(back - x)) / 2)}
    _write("cyclegan", result)


def grid(args) -> None:
    config, state = _run(args.workdir)
    imgs, ncol = translate.sample_grid(config, state, args.num)
    images.save_grid(imgs, args.out, ncol)
    print(f"wrote {args.out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("sr")
    p.add_argument("--workdir", required=True)
    p.add_argument("--pretrained-step", type=int, required=True)
    p.add_argument("--tile", type=int, default=64)
    p.set_defaults(func=sr)
    p = sub.add_parser("cyclegan")
    p.add_argument("--workdir", required=True)
    p.add_argument("--classifier", required=True, help="a gan-jax train-classifier directory for the dataset")
    p.set_defaults(func=cyclegan)
    for name, fn in (("denoise", denoise), ("inpaint", inpaint), ("grid", grid)):
        p = sub.add_parser(name)
        p.add_argument("--workdir", required=True)
        p.add_argument("--num", type=int, default=10000 if name == "inpaint" else 8)
        if name == "grid":
            p.add_argument("--out", required=True)
        p.set_defaults(func=fn)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
