"""Tuned model-free baselines for the image-to-image tasks, on held-out images (issue 25, item 7).

    python experiments/img2img/baselines.py sr        # x4 SR: bicubic, Lanczos-3, bicubic + unsharp mask
    python experiments/img2img/baselines.py denoise   # Gaussian blur, median, non-local means, TV
    python experiments/img2img/baselines.py inpaint   # Fashion-MNIST centre hole: mean, biharmonic, nearest image(s)

Photos. Test: ``TEST_PHOTOS``, six photos none of the image-to-image models trained on
(matplotlib's ``grace_hopper``, the project's held-out photo, and five of ``skimage.data``).
Validation: ``VALIDATION_PHOTOS``, scikit-learn's ``china`` and ``flower`` (``photos:train``,
the photos the GANs train on). Every free parameter (grids in
:data:`gan_jax.metrics.baselines.SR_GRIDS` / ``DENOISE_GRIDS``) is chosen by the best mean PSNR on
the validation photos alone (:func:`gan_jax.metrics.baselines.tune_then_test`, which also refuses
a validation photo equal to a test photo), and only then run on the test photos. The
degradations are those of the GAN evaluation (``evaluate.py``): antialiased bicubic x4
downscaling; Gaussian noise of sigma 0.1 in [0, 1] units, clipped, seeded per photo (the test
photo at position i with seed i, so ``grace_hopper`` gets the noise ``evaluate.py denoise`` gave
it; validation photos seeds 1000 + i).

Fashion-MNIST inpainting: the 10,000 test images with the centre 14 x 14 missing (the
``inpaint_fashion`` evaluation); the nearest-image baselines search the 60,000 training images.
The number ``k`` of neighbours averaged is chosen on validation queries (the last 5,000 training
images, searched in the first 55,000), never on the test images.

Each command prints the chosen parameters, a markdown table, and writes
``experiments/img2img/baselines_<task>.json``.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from gan_jax.metrics import baselines as bl  # noqa: E402

TEST_PHOTOS = ("grace_hopper", "astronaut", "chelsea", "coffee", "rocket", "motorcycle_left")
"""Photos the image-to-image models never trained on; ``grace_hopper`` is ``photos:heldout``."""
VALIDATION_PHOTOS = ("china", "flower")
"""Photos the baselines are tuned on: ``photos:train`` (the GANs' training photos)."""


def load_photo(name: str) -> np.ndarray:
    """Photo ``name`` as float32 [H, W, 3] in [-1, 1]: the project's photos (``gan_jax.data.photos``)
    or ``skimage.data``'s (``motorcycle_left``: the left view of ``stereo_motorcycle``)."""
    from gan_jax.data.photos import PHOTOS, read_photo

    if name in PHOTOS:
        pixels = read_photo(name)
    else:
        from skimage import data

        pixels = data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(data, name)()
    if pixels.ndim != 3 or pixels.shape[-1] != 3:
        raise ValueError(f"photo {name}: expected RGB, got {pixels.shape}")
    return pixels.astype(np.float32) / 127.5 - 1.0


def sr_pair(photo: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """``(low-res, high-res)``: the photo cropped to a multiple of ``scale``, downscaled as in training."""
    from gan_jax.data.paired import downscale

    h, w = (photo.shape[0] // scale) * scale, (photo.shape[1] // scale) * scale
    hr = photo[:h, :w]
    return downscale(hr[None], scale)[0], hr


def noise_pair(photo: np.ndarray, sigma: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy, clean)``: Gaussian noise of std ``sigma`` ([0, 1] units), clipped, from ``seed``."""
    from gan_jax.data.paired import add_noise

    return add_noise(photo[None], sigma, np.random.default_rng(seed))[0], photo


def sr_methods(scale: int) -> dict:
    """``{name: (method(lr, **params), grid)}`` of the SR baselines."""
    return {"bicubic": (functools.partial(bl.bicubic_upscale, scale=scale), {}),
            "Lanczos-3": (functools.partial(bl.lanczos_upscale, scale=scale), {}),
            "bicubic + unsharp mask": (functools.partial(bl.bicubic_unsharp, scale=scale),
                                       bl.SR_GRIDS["bicubic + unsharp mask"])}


def denoise_methods(sigma: float) -> dict:
    """``{name: (method(noisy, **params), grid)}`` of the denoising baselines."""
    return {"Gaussian blur": (bl.gaussian_denoise, bl.DENOISE_GRIDS["Gaussian blur"]),
            "median": (bl.median_denoise, bl.DENOISE_GRIDS["median"]),
            "non-local means": (functools.partial(bl.nl_means_denoise, noise_sigma=sigma),
                                bl.DENOISE_GRIDS["non-local means"]),
            "total variation": (bl.tv_denoise, bl.DENOISE_GRIDS["total variation"])}


def sr_data(scale: int, names=TEST_PHOTOS, validation=VALIDATION_PHOTOS):
    return ({n: sr_pair(load_photo(n), scale) for n in validation},
            {n: sr_pair(load_photo(n), scale) for n in names})


def denoise_data(sigma: float, names=TEST_PHOTOS, validation=VALIDATION_PHOTOS):
    return ({n: noise_pair(load_photo(n), sigma, 1000 + i) for i, n in enumerate(validation)},
            {n: noise_pair(load_photo(n), sigma, i) for i, n in enumerate(names)})


def tuned_outputs(methods: dict, validation: dict, test: dict, score) -> tuple[dict, dict]:
    """Tune each method on ``validation`` and run it on ``test``: ``(chosen {name: params},
    outputs {name: {photo: image}})``; prints what was chosen, on which photos."""
    chosen, outputs = {}, {}
    for name, (method, grid) in methods.items():
        t = time.time()
        params, outputs[name], table = bl.tune_then_test(method, grid, validation, test, score)
        best = next(v for p, v in table if p == params)
        chosen[name] = {"params": params, "validation_mean_psnr": best, "validation": list(validation),
                        "grid": {k: list(v) for k, v in grid.items()}}
        if grid:
            print(f"{name}: chose {params} on validation {list(validation)} (mean PSNR {best:.2f} dB there; "
                  f"grid {dict(grid)}) [{time.time() - t:.0f} s]", flush=True)
    return chosen, outputs


def _table(rows: dict, names, key: str, fmt: str) -> list[str]:
    lines = [f"| method | {' | '.join(names)} | mean |", "|---" * (len(names) + 2) + "|"]
    for method, per in rows.items():
        vals = [per[n][key] for n in names]
        lines.append(f"| {method} | " + " | ".join(format(v, fmt) for v in vals) + f" | {format(np.mean(vals), fmt)} |")
    return lines


def _write(name: str, result: dict) -> None:
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


def sr(args) -> None:
    from evaluate import psnr, sharpness, ssim

    s = args.scale
    validation, test = sr_data(s)
    chosen, outputs = tuned_outputs(sr_methods(s), validation, test, lambda out, hr: psnr(out, hr, s))
    rows = {m: {n: {"psnr": psnr(o, test[n][1], s), "ssim": ssim(o, test[n][1], s), "sharpness": sharpness(o)}
                for n, o in outs.items()} for m, outs in outputs.items()}
    rows["original (HR)"] = {n: {"sharpness": sharpness(hr)} for n, (_, hr) in test.items()}
    report("baselines_sr_x4.json", rows, chosen, {"scale": s, "border_cropped": s}, with_sharpness=True)


def denoise(args) -> None:
    from evaluate import psnr, ssim

    validation, test = denoise_data(args.sigma)
    chosen, outputs = tuned_outputs(denoise_methods(args.sigma), validation, test, psnr)
    rows = {"noisy input": {n: {"psnr": psnr(x, y), "ssim": ssim(x, y)} for n, (x, y) in test.items()}}
    rows.update({m: {n: {"psnr": psnr(o, test[n][1]), "ssim": ssim(o, test[n][1])} for n, o in outs.items()}
                 for m, outs in outputs.items()})
    report("baselines_denoise.json", rows, chosen, {"noise_sigma": args.sigma})


def report(json_name: str, rows: dict, chosen: dict, extra: dict, with_sharpness: bool = False) -> None:
    """Print the markdown tables of ``rows {method: {photo: {psnr, ssim[, sharpness]}}}`` and write
    them, with the parameters ``chosen`` on validation, to ``json_name`` beside this script."""
    names = list(TEST_PHOTOS)
    scored = {m: r for m, r in rows.items() if "psnr" in next(iter(r.values()))}
    print(f"\nPSNR (dB) on the test photos, parameters chosen on {list(VALIDATION_PHOTOS)}:")
    print("\n".join(_table(scored, names, "psnr", ".2f")))
    print("\nSSIM:")
    print("\n".join(_table(scored, names, "ssim", ".3f")))
    if with_sharpness:
        print("\nsharpness (mean Sobel gradient magnitude):")
        print("\n".join(_table(rows, names, "sharpness", ".3f")))
    _write(json_name, {"test_photos": names, "validation_photos": list(VALIDATION_PHOTOS), **extra,
                  "chosen_on_validation": chosen, "rows": rows})


def fashion_inpaint_data(test_spec: str = "fashion_mnist:test", num: int = 10000, kind: str = "mask_center"):
    """``(test images, their masks, training images)``: the first ``num`` images of ``test_spec``
    with the masks of the ``inpaint_fashion`` evaluation, and the 60,000 training images."""
    from gan_jax.data import load_source, to_float
    from gan_jax.data.paired import masks

    kw = dict(resolution=28, channels=1)
    train = to_float(load_source("fashion_mnist:train", **kw).get(np.arange(60000))[0])
    source = load_source(test_spec, **kw)
    x = to_float(source.get(np.arange(min(num, len(source))))[0])
    return x, masks(kind, len(x), 28, np.random.default_rng(0)), train


def _hole_psnr(out, x, m) -> np.ndarray:
    import jax.numpy as jnp

    from gan_jax.edit import psnr as masked_psnr

    return np.asarray(masked_psnr(jnp.asarray(out), jnp.asarray(x), jnp.asarray(m)))


def fashion_inpaint_baselines(x, m, train, k_grid=(1, 2, 4, 8, 16, 32, 64), kind: str = "mask_center"):
    """``(choice, {name: filled images})``: mean fill, biharmonic fill, the nearest training image
    and the mean of the k nearest, k chosen on validation queries (``train[55000:]`` with their own
    masks, searched in ``train[:55000]``) by the mean hole PSNR; the test images are then
    searched in all of ``train``. ``choice``: k, on what, and the validation score of each k."""
    from gan_jax.data.paired import masks

    t = time.time()
    db, xv = train[:55000], train[55000:]
    mv = masks(kind, len(xv), 28, np.random.default_rng(1))
    idx_v = bl.nearest_images(xv, mv, db, max(k_grid))
    knn_v = lambda inp, k: bl.nearest_image_fill(inp, mv, db, k, indices=idx_v)[0]  # noqa: E731
    best, table = bl.grid_search(knn_v, {"k": k_grid}, [(xv, xv)], lambda out, y: float(_hole_psnr(out, y, mv).mean()))
    k = best["k"]
    choice = {"k": k, "validation": "fashion_mnist:train[55000:] searched in train[:55000]",
              "mean_hole_psnr_by_k": {str(p["k"]): v for p, v in table}}
    print(f"k nearest training images: chose k = {k} on 5,000 validation queries (fashion_mnist:train[55000:], "
          f"searched in train[:55000]); mean hole PSNR by k: "
          f"{ {p['k']: round(v, 2) for p, v in table} } [{time.time() - t:.0f} s]", flush=True)
    t = time.time()
    idx = bl.nearest_images(x, m, train, k)
    print(f"nearest-image search of {len(x)} test images in {len(train)}: {time.time() - t:.0f} s", flush=True)
    t = time.time()
    fills = {"mean fill": bl.mean_fill(x, m), "biharmonic fill (skimage)": bl.biharmonic_fill(x, m)}
    print(f"mean + biharmonic fills: {time.time() - t:.0f} s", flush=True)
    fills["nearest training image (k = 1)"] = bl.nearest_image_fill(x, m, train, 1, indices=idx)[0]
    fills[f"mean of the k nearest training images (k = {k}, chosen on validation)"] = \
        bl.nearest_image_fill(x, m, train, k, indices=idx)[0]
    return choice, fills


def inpaint(args) -> None:
    x, m, train = fashion_inpaint_data(num=args.num)
    choice, fills = fashion_inpaint_baselines(x, m, train, tuple(args.k_grid))
    rows = {}
    for name, out in fills.items():
        db = _hole_psnr(out, x, m)
        l1 = np.abs(out - x).sum((1, 2, 3)) / 2 / m.sum((1, 2, 3))
        rows[name] = {"masked_psnr_mean": float(db.mean()), "masked_psnr_median": float(np.median(db)),
                      "masked_l1_mean": float(l1.mean())}
    print(f"\n{len(x)} fashion_mnist:test images, centre 14 x 14 missing; PSNR / L1 ([0, 1]) over the hole:")
    print("| method | masked PSNR mean (dB) | median (dB) | masked L1 mean |\n|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['masked_psnr_mean']:.2f} | {r['masked_psnr_median']:.2f} | {r['masked_l1_mean']:.3f} |")
    _write("baselines_inpaint.json", {"dataset": "fashion_mnist:test", "images": len(x), "mask": "mask_center",
                                      "search_set": "fashion_mnist:train (60,000)", "chosen_on_validation": choice,
                                      "rows": rows})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("sr")
    p.add_argument("--scale", type=int, default=4)
    p.set_defaults(func=sr)
    p = sub.add_parser("denoise")
    p.add_argument("--sigma", type=float, default=0.1, help="noise std in [0, 1] units (pix2pix_denoise's)")
    p.set_defaults(func=denoise)
    p = sub.add_parser("inpaint")
    p.add_argument("--num", type=int, default=10000)
    p.add_argument("--k-grid", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    p.set_defaults(func=inpaint)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
