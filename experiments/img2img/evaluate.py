"""Evaluate the image-to-image runs against their tuned baselines on held-out data.

    python experiments/img2img/evaluate.py sr       --workdir runs/img2img/srgan_x4 --pretrained-step 3000
    python experiments/img2img/evaluate.py denoise  --workdir runs/img2img/pix2pix_denoise [--checkpoint STEP]
    python experiments/img2img/evaluate.py inpaint  --workdir runs/img2img/inpaint_fashion [--num 10000]
    python experiments/img2img/evaluate.py cyclegan --workdir runs/img2img/cyclegan_fashion --classifier CLF_DIR \
        [--judges runs/judges] [--json cyclegan.json] [--figure cyclegan_test.png]
    python experiments/img2img/evaluate.py grid     --workdir DIR --out FIGURE.png   (a training-style grid)

Photo tasks are scored on the six test photos of ``baselines.TEST_PHOTOS`` (matplotlib's
``grace_hopper``, the held-out ``photos:heldout``, and five photos of ``skimage.data``; none in
the training patches), each whole, through the same tiled inference as ``gan-jax translate`` /
``gan-jax upscale``. The baselines (``baselines.py``, :mod:`gan_jax.metrics.baselines`) get their
free parameters from a grid search on the validation photos (``photos:train``: china, flower),
never on a test photo. PSNR and SSIM are computed on [0, 1] RGB (SSIM: Gaussian window sigma
1.5 on the luminance, the usual constants), with a border of ``scale`` pixels cropped for SR.
Each command prints markdown tables and writes ``experiments/img2img/<task>.json`` (``--json``)
and a figure of ``grace_hopper`` (``--figure``; ``''``: none).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
from scipy import ndimage

from gan_jax import images, translate, workdir as wd
from gan_jax.checkpoint import restore_run
from gan_jax.data.paired import inpaint_source

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # baselines.py beside this file


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
    with open(os.path.join(HERE, name if name.endswith(".json") else f"{name}.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(json.dumps(result, indent=2))


def _crop_figure(columns: list[np.ndarray], box, path: str, scale: int = 2) -> None:
    """Save the same crop of several images side by side, enlarged ``scale`` times (nearest)."""
    y, x, s = box
    crops = [np.repeat(np.repeat(c[y:y + s, x:x + s], scale, 0), scale, 1) for c in columns]
    images.save_grid(np.stack(crops), path, ncol=len(crops))


def _photo_rows(outputs: dict, test: dict, border: int = 0, with_sharpness: bool = False) -> dict:
    """``{method: {photo: {psnr, ssim[, sharpness]}}}`` of ``outputs {method: {photo: image}}``."""
    rows = {}
    for method, outs in outputs.items():
        rows[method] = {}
        for name, out in outs.items():
            target = test[name][1]
            rows[method][name] = {"psnr": psnr(out, target, border), "ssim": ssim(out, target, border)}
            if with_sharpness:
                rows[method][name]["sharpness"] = sharpness(out)
    return rows


def sr(args) -> None:
    import baselines as B

    config, state = _run(args.workdir, args.checkpoint)
    pre_config, pre_state = _run(args.workdir, str(args.pretrained_step))
    s = config.scale
    validation, test = B.sr_data(s)
    chosen, outputs = B.tuned_outputs(B.sr_methods(s), validation, test, lambda out, hr: psnr(out, hr, s))
    pre_name = f"SR pixel-pretrained (step {args.pretrained_step})"
    gan_name = f"SRGAN fine-tuned (step {int(state.step)})"
    outputs[pre_name] = {n: translate.upscale(pre_config, pre_state, lr, tile=args.tile) for n, (lr, _) in test.items()}
    outputs[gan_name] = {n: translate.upscale(config, state, lr, tile=args.tile) for n, (lr, _) in test.items()}
    rows = _photo_rows(outputs, test, s, with_sharpness=True)
    rows["original (HR)"] = {n: {"sharpness": sharpness(hr)} for n, (_, hr) in test.items()}
    if args.figure:
        lr, hr = test["grace_hopper"]
        nearest = np.repeat(np.repeat(lr, s, 0), s, 1)
        columns = [nearest, outputs["bicubic"]["grace_hopper"], outputs[pre_name]["grace_hopper"],
                   outputs[gan_name]["grace_hopper"], hr]
        _crop_figure(columns, (140, 170, 160), os.path.join(HERE, args.figure))
    B.report(args.json, rows, chosen, {"scale": s, "border_cropped": s, "workdir": args.workdir}, with_sharpness=True)


def denoise(args) -> None:
    import baselines as B

    config, state = _run(args.workdir, args.checkpoint)
    validation, test = B.denoise_data(config.noise_sigma)
    chosen, outputs = B.tuned_outputs(B.denoise_methods(config.noise_sigma), validation, test, psnr)
    gan_name = f"pix2pix (step {int(state.step)})"
    outputs = {"noisy input": {n: x for n, (x, _) in test.items()}, **outputs,
               gan_name: {n: translate.translate(config, state, x) for n, (x, _) in test.items()}}
    rows = _photo_rows(outputs, test)
    if args.figure:
        noisy, clean = test["grace_hopper"]
        columns = [noisy, outputs["Gaussian blur"]["grace_hopper"], outputs[gan_name]["grace_hopper"], clean]
        _crop_figure(columns, (140, 170, 160), os.path.join(HERE, args.figure))
    B.report(args.json, rows, chosen, {"noise_sigma": config.noise_sigma, "workdir": args.workdir})


def inpaint(args) -> None:
    import jax.numpy as jnp

    import baselines as B
    from gan_jax.edit import diffusion_fill
    from gan_jax.edit import psnr as masked_psnr

    config, state = _run(args.workdir, args.checkpoint)
    x, m, train = B.fashion_inpaint_data(config.holdout_dataset, args.num, config.degrade)
    k, fills = B.fashion_inpaint_baselines(x, m, train)
    fills["diffusion (harmonic) fill, 2,000 Jacobi sweeps"] = np.asarray(diffusion_fill(jnp.asarray(x), jnp.asarray(m)))
    # images of the model's size: one tile each, so a batched call equals gan-jax inpaint's tiling
    fills[f"inpainting GAN (step {int(state.step)})"] = translate.run_generator(
        config, translate.generator_variables(config, state), inpaint_source(x, m), chunk=500)
    result = {"dataset": config.holdout_dataset, "images": len(x), "mask": config.degrade,
              "chosen_on_validation": k, "rows": {}}
    for name, out in fills.items():
        db = np.asarray(masked_psnr(jnp.asarray(out), jnp.asarray(x), jnp.asarray(m)))
        result["rows"][name] = {"masked_psnr_mean": float(db.mean()), "masked_psnr_median": float(np.median(db))}
    if args.figure:
        n = 8
        shown = [x[:n] * (1 - m[:n])] + [fills[name][:n] for name in fills] + [x[:n]]
        grid_ = np.stack(shown, axis=1).reshape((-1,) + x.shape[1:])
        images.save_grid(grid_, os.path.join(HERE, args.figure), ncol=len(shown))
    _write(args.json, result)


def _torch_b(cache: str):
    """The independent judge ``torch-b`` of ``experiments/quality/judges.py`` for Fashion-MNIST,
    from its cache only (it is trained elsewhere: ``load_judges("fashion_mnist", CACHE)``)."""
    path = os.path.join(cache, "fashion_mnist", "torch_b.pt")
    if not os.path.isfile(path):
        raise SystemExit(f"--judges {cache}: no {path}; train it first with experiments/quality/judges.py "
                         "--dataset fashion_mnist")
    sys.path.insert(0, os.path.join(HERE, "..", "quality"))
    from judges import TorchJudge

    judge = TorchJudge(os.path.dirname(path))
    return lambda images: judge.logits_and_features(images)[0].argmax(-1)


def cyclegan(args) -> None:
    """Held-out images of both domains: how often a domain classifier puts each translation in the
    other domain (and each input in its own), and the cycle-reconstruction L1. With ``--judges``,
    the independent ``torch-b`` judge's verdict too; with ``--figure``, a grid of the first
    ``--num`` test images of each domain (enlarged 3x), columns a | a2b | a2b2a | b | b2a | b2a2b."""
    from gan_jax.data import to_float
    from gan_jax.data.paired import load_domain
    from gan_jax.metrics.classifier import Classifier

    config, state = _run(args.workdir, args.checkpoint)
    clf = Classifier.load(args.classifier)
    judges = {"classifier": lambda images: clf.predict(images)[0]}
    if args.judges:
        judges["torch-b"] = _torch_b(args.judges)
    test = lambda spec: spec.replace(":train#", ":test#")  # noqa: E731 - the held-out images of a domain
    kw = dict(resolution=config.resolution, channels=config.channels)
    domains = {"a": load_domain(test(config.dataset), **kw), "b": load_domain(test(config.dataset_b), **kw)}
    labels = {d: int(test(spec).rpartition("#")[2]) for d, spec in (("a", config.dataset), ("b", config.dataset_b))}
    result = {"domains": {d: test(s) for d, s in (("a", config.dataset), ("b", config.dataset_b))},
              "workdir": args.workdir, "model": config.model, "seed": config.seed,
              "cycle_weight": config.cycle_weight, "identity_weight": config.identity_weight,
              "classifier": args.classifier, "judges": args.judges or None, "step": int(state.step), "rows": {}}
    shown = {}
    for d, direction, other in (("a", "a2b", "b"), ("b", "b2a", "a")):
        x = to_float(domains[d].images)
        back_direction = {"a2b": "b2a", "b2a": "a2b"}[direction]
        out = translate.run_generator(config, translate.generator_variables(config, state, direction), x, 500)
        back = translate.run_generator(config, translate.generator_variables(config, state, back_direction), out, 500)
        row = {"images": len(x)}
        for name, predict in judges.items():
            suffix = "" if name == "classifier" else f"_{name.replace('-', '_')}"
            row["inputs_in_own_domain" + suffix] = float(np.mean(predict(x) == labels[d]))
            row["outputs_in_other_domain" + suffix] = float(np.mean(predict(out) == labels[other]))
        row["cycle_l1"] = float(np.mean(np.abs(back - x)) / 2)
        result["rows"][direction] = row
        shown[direction] = [x[:args.num], out[:args.num], back[:args.num]]
    if args.figure:
        columns = [np.repeat(np.repeat(c, 3, 1), 3, 2) for c in shown["a2b"] + shown["b2a"]]  # 3x, nearest
        images.save_grid(np.stack(columns, axis=1).reshape((-1,) + columns[0].shape[1:]),
                         os.path.join(HERE, args.figure), ncol=len(columns))
    _write(args.json, result)


def grid(args) -> None:
    config, state = _run(args.workdir, args.checkpoint)
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
    p.set_defaults(func=sr, json="sr_x4.json", figure="sr_x4.png")
    p = sub.add_parser("cyclegan")
    p.add_argument("--workdir", required=True)
    p.add_argument("--classifier", required=True, help="a gan-jax train-classifier directory for the dataset")
    p.add_argument("--judges", default="", help="also the independent torch-b judge from this cache "
                   "(experiments/quality/judges.py, e.g. runs/judges)")
    p.add_argument("--num", type=int, default=8, help="test images per domain in the figure")
    p.set_defaults(func=cyclegan, json="cyclegan.json", figure="")
    p = sub.add_parser("denoise")
    p.add_argument("--workdir", required=True)
    p.set_defaults(func=denoise, json="denoise.json", figure="denoise.png")
    p = sub.add_parser("inpaint")
    p.add_argument("--workdir", required=True)
    p.add_argument("--num", type=int, default=10000)
    p.set_defaults(func=inpaint, json="inpaint.json", figure="inpaint.png")
    for name in ("sr", "denoise", "inpaint", "cyclegan"):
        p = sub.choices[name]
        p.add_argument("--checkpoint", default="latest", help="latest, best or a step")
        p.add_argument("--json", default=p.get_default("json"), help="file name of the JSON, beside this script")
        p.add_argument("--figure", default=p.get_default("figure"), help="file name of the figure ('': none)")
    p = sub.add_parser("grid")
    p.add_argument("--workdir", required=True)
    p.add_argument("--num", type=int, default=8)
    p.add_argument("--out", required=True)
    p.set_defaults(func=grid, checkpoint="latest")
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
