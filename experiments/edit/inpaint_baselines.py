"""More inpainting baselines for the MNIST table of ``results.md`` (issue 25, item 7).

    python experiments/edit/run.py --workdir runs/selfcond_mnist_train ...     # first: results.json
    python experiments/edit/inpaint_baselines.py --workdir runs/selfcond_mnist_train [--real mnist5k:test]

Same 50 digits and the same three mask sets as ``run.py`` (50 digits of ``--real``, by default
``mnist5k:test``, picked with numpy seed 0; masks from ``PRNGKey(7)``), scored the same way
(PSNR and L1 over the hole, on [0, 1] images). Methods: mean fill and diffusion fill
(``gan_jax.edit``, as in ``run.py``: a check that the digits and masks are the same), the
biharmonic fill (``skimage.restoration.inpaint_biharmonic``), the nearest training digit on the
known pixels, and the mean of the ``k`` nearest, ``k`` chosen per mask type on validation
queries (500 digits of the training set with their own masks, ``PRNGKey(8)``).

What is held out: the test digits come from ``--real``; the nearest-digit baselines search the
run's own training set (its ``config.dataset``, e.g. ``mnist5k:train``: 4,500 digits), the
images the GAN learnt from, and ``k`` is chosen on 500 of those (numpy seed 1), searched in the
others: never on a test digit. Should the training set hold test digits (a run on all of
``mnist5k``), the script warns, records it, and drops them from the search set.
The latent-optimisation rows printed beside are read from ``results.json`` (``run.py``'s run
on the same ``--workdir`` and ``--real``), not recomputed. Writes ``inpaint_baselines.json``
next to this file.
"""
import argparse
import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import data, edit, workdir as wd
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
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="runs/selfcond_mnist_train",
                    help="run.py's run: its config.dataset is the nearest-digit search set (default: %(default)s)")
    ap.add_argument("--real", default="mnist5k:test", help="dataset spec of the test digits (default: %(default)s)")
    ap.add_argument("--results", default=os.path.join(HERE, "results.json"),
                    help="run.py's results.json, for the latent-optimisation rows")
    ap.add_argument("--num", type=int, default=50, help="test digits (run.py's --num-inpaint)")
    args = ap.parse_args()
    num = args.num
    config = wd.load_config(os.path.abspath(args.workdir))
    source = data.load_source(args.real, resolution=28, channels=1)
    picked = np.random.default_rng(0).choice(len(source), num, replace=False)  # run.py's digits
    tgt = data.to_float(source.get(picked)[0])
    train = data.load_source(config.dataset, resolution=28, channels=1)
    everything = data.to_float(train.get(np.arange(len(train)))[0])
    test_prints = {bl.fingerprint(t) for t in tgt}
    seen = np.array([bl.fingerprint(x) in test_prints for x in everything])
    if seen.any():
        print(f"WARNING: {int(seen.sum())} of the {num} test digits from {args.real!r} are in the run's training "
              f"set {config.dataset!r}: the GAN is NOT scored on held-out digits (the nearest-digit baselines "
              f"search the training set without them)", flush=True)
    database = everything[~seen]  # the training digits the baselines may search
    val_pos = np.random.default_rng(1).choice(len(database), 500, replace=False)
    val_db = np.delete(database, val_pos, axis=0)
    xv = database[val_pos]
    bl.check_disjoint({f"val{i}": v for i, v in enumerate(xv)}, {f"test{i}": t for i, t in enumerate(tgt)})
    bl.check_disjoint({f"db{i}": v for i, v in enumerate(database)}, {f"test{i}": t for i, t in enumerate(tgt)})
    recorded_all = json.load(open(args.results))
    rec_real = recorded_all.get("real_digits", {}).get("spec")
    if os.path.abspath(recorded_all["workdir"]) != os.path.abspath(args.workdir) or rec_real != args.real:
        print(f"WARNING: {args.results} is run.py's output for --workdir {recorded_all['workdir']} --real "
              f"{rec_real}, not for {args.workdir} {args.real}: its latent-optimisation rows are another "
              f"experiment's", flush=True)
    recorded = recorded_all["inpainting"]
    test_masks, val_masks = mask_sets(num, jax.random.PRNGKey(7)), mask_sets(500, jax.random.PRNGKey(8))
    out = {"workdir": args.workdir,
           "digits": f"{args.real}, {num} picked with numpy seed 0 (run.py)",
           "held_out": not seen.any(), "test_digits_in_run_training_set": int(seen.sum()),
           "search_set": f"{config.dataset}, the run's training set" + (
               f", without the {int(seen.sum())} test digits in it" if seen.any() else "") + f" ({len(database)})",
           "validation": f"500 of those {len(database)} (numpy seed 1), masks from PRNGKey(8), searched in the "
                         f"other {len(val_db)}",
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
        rows = {**{n: res[n] for n in fills}, "latent optimisation (GAN; recorded in results.json)": rec}
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
