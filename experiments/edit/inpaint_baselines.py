"""More inpainting baselines for the MNIST table of ``results.md`` (issue 25, item 7).

    python experiments/edit/inpaint_baselines.py

Same 50 digits and the same three mask sets as ``run.py`` (``mnist5k``, seed 0; masks from
``PRNGKey(7)``), scored the same way (PSNR and L1 over the hole, on [0, 1] images). Methods:
mean fill and diffusion fill (``gan_jax.edit``, as in ``run.py``: a check that the digits and
masks are the same), the biharmonic fill (``skimage.restoration.inpaint_biharmonic``), the
nearest training digit on the known pixels, and the mean of the ``k`` nearest, ``k`` chosen per
mask type on validation queries (500 other digits with their own masks, ``PRNGKey(8)``).

What is held out: the DCGAN of ``run.py`` trained on all of ``mnist5k``, these 50 digits included
(no other MNIST is on this machine), so its latent-optimisation numbers are on training digits.
The nearest-digit baselines never see a test digit: they search ``mnist5k`` without the 50 test
digits (4,950 digits), and ``k`` is chosen on 500 of those, searched in the other 4,450.
The latent-optimisation rows printed beside are read from ``results.json`` (``run.py``'s run),
not recomputed. Writes ``inpaint_baselines.json`` next to this file.
"""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import data, edit
from gan_jax.edit import masks
from gan_jax.metrics import baselines as bl

HERE = os.path.dirname(os.path.abspath(__file__))
K_GRID = (1, 2, 4, 8, 16, 32)


def stats(values) -> dict:
    v = np.asarray(values, np.float64)
    return {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max()), "n": len(v)}


def mask_sets(n: int, key) -> dict:
    """``run.py``'s three mask sets for ``n`` images from ``key``."""
    keys = jax.random.split(key, n)
    return {"centre box (14x14)": np.broadcast_to(np.asarray(masks.center_box(28, 28)), (n, 28, 28, 1)).copy(),
            "random boxes": np.asarray(jax.vmap(lambda k: masks.random_boxes(k, 28, 28))(keys)),
            "free-form strokes": np.asarray(jax.vmap(lambda k: masks.free_form(k, 28, 28))(keys))}


def main():
    num = 50
    source = data.load_source("mnist5k", resolution=28, channels=1)
    picked = np.random.default_rng(0).choice(len(source), num, replace=False)  # run.py's digits
    everything = data.to_float(source.get(np.arange(len(source)))[0])
    tgt = everything[picked]
    rest = np.setdiff1d(np.arange(len(source)), picked)  # the 4,950 digits the baselines may search
    database = everything[rest]
    val_pos = np.random.default_rng(1).choice(len(rest), 500, replace=False)
    val_db = np.delete(database, val_pos, axis=0)  # 4,450
    xv = database[val_pos]
    bl.check_disjoint({f"val{i}": v for i, v in enumerate(xv)}, {f"test{i}": t for i, t in enumerate(tgt)})
    recorded = json.load(open(os.path.join(HERE, "results.json")))["inpainting"]
    test_masks, val_masks = mask_sets(num, jax.random.PRNGKey(7)), mask_sets(500, jax.random.PRNGKey(8))
    out = {"digits": "mnist5k, 50 picked with numpy seed 0 (run.py); in the DCGAN's training set",
           "search_set": "mnist5k without the 50 test digits (4,950)",
           "validation": "500 of those 4,950 (numpy seed 1), masks from PRNGKey(8), searched in the other 4,450",
           "inpainting": {}}
    print("| mask (share missing) | method | PSNR mean ± std (dB) | L1 mean ± std |\n|---|---|---|---|")
    for mname, m in test_masks.items():
        mv = val_masks[mname]
        idx_v = bl.nearest_images(xv, mv, val_db, max(K_GRID))

        def score(o, y, mv=mv):
            return float(np.mean(edit.psnr(jnp.asarray(o), jnp.asarray(y), jnp.asarray(mv))))

        best, table = bl.grid_search(lambda x, k: bl.nearest_image_fill(x, mv, val_db, k, indices=idx_v)[0],
                                     {"k": K_GRID}, [(xv, xv)], score)
        k = best["k"]
        idx = bl.nearest_images(tgt, m, database, k)
        fills = {"mean fill": np.asarray(edit.mean_fill(jnp.asarray(tgt), jnp.asarray(m))),
                 "diffusion fill": np.asarray(edit.diffusion_fill(jnp.asarray(tgt), jnp.asarray(m))),
                 "biharmonic fill (skimage)": bl.biharmonic_fill(tgt, m),
                 "nearest training digit (k = 1)": bl.nearest_image_fill(tgt, m, database, 1, indices=idx)[0],
                 f"mean of the k nearest digits (k = {k}, chosen on validation)":
                     bl.nearest_image_fill(tgt, m, database, k, indices=idx)[0]}
        res = {"hole_fraction": float(m.mean()), "k_chosen_on_validation": k,
               "validation_mean_psnr_by_k": {str(p["k"]): v for p, v in table}}
        print(f"[{mname}: k = {k} chosen on validation; mean hole PSNR by k there: "
              f"{ {p['k']: round(v, 2) for p, v in table} }]")
        for method, f in fills.items():
            res[method] = {"psnr_db": stats(edit.psnr(jnp.asarray(f), jnp.asarray(tgt), jnp.asarray(m))),
                           "l1": stats(edit.mean_error(jnp.asarray(f), jnp.asarray(tgt), jnp.asarray(m), power=1))}
        rec = recorded[mname]["latent optimisation"]
        rows = {**{n: res[n] for n in fills}, "latent optimisation (DCGAN; recorded in results.json)": rec}
        for i, (method, r) in enumerate(rows.items()):
            p, l1 = r["psnr_db"], r["l1"]
            lead = f"{mname} ({100 * res['hole_fraction']:.1f} %)" if i == 0 else ""
            print(f"| {lead} | {method} | {p['mean']:.2f} ± {p['std']:.2f} | {l1['mean']:.3f} ± {l1['std']:.3f} |")
        out["inpainting"][mname] = res
    with open(os.path.join(HERE, "inpaint_baselines.json"), "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
