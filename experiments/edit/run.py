"""Image editing with the default MNIST GAN: inversion PSNR, inpainting against two baselines, figures.

    gan-jax train --workdir runs/selfcond_mnist_train --set dataset=mnist5k:train    # selfcond_mnist
    gan-jax train-classifier --dataset mnist5k --out runs/mnist5k_classifier          # or let run.py train it
    python experiments/edit/run.py --workdir runs/selfcond_mnist_train --classifier runs/mnist5k_classifier \
        [--real mnist5k:test] [--cond-workdir runs/dcgan_cond_mnist]

Writes ``results.json`` and the figures (``*.png``) next to this file (or to ``--out``).
PSNR and L1 are computed on images mapped from [-1, 1] to [0, 1]. What is held out: the real
digits (inversion and inpainting targets) are random images (numpy seed 0) of ``--real``,
by default ``mnist5k:test`` (every tenth digit of ``mnist5k``, 500), which a run trained on
``mnist5k:train`` never saw. If the run's training set (its ``config.dataset``) holds any of
them (e.g. a run on all of ``mnist5k``), the script warns and records it in ``results.json``
(``real_digits``). Inversion and latent fill start their restarts in the generator's best
codes (``codes=latent_codes(config)``; 0 for a generator without a code in z). The digit CNN
(``--classifier``, trained on all of ``mnist5k`` if missing) only scores the latent directions.
"""
import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import data, edit, images, models, sampling, workdir as wd
from gan_jax.checkpoint import restore_run
from gan_jax.edit import masks
from gan_jax.metrics import baselines as bl
from gan_jax.metrics.classifier import load_or_train
from gan_jax.models.dcgan import inputs_beside_z, latent_codes

HERE = os.path.dirname(os.path.abspath(__file__))


def stats(values) -> dict:
    v = np.asarray(values, np.float64)
    return {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max()), "n": len(v)}


def held_out_report(config, real_spec: str, real: np.ndarray) -> dict:
    """Whether the run's training set (``config.dataset``) holds any of the ``real`` digits
    (uint8 [N, H, W, C]), by pixels; warns if it does."""
    train = data.load_source(config.dataset, resolution=config.resolution, channels=config.channels)
    prints = {bl.fingerprint(x) for x in train.get(np.arange(len(train)))[0]}
    shared = int(sum(bl.fingerprint(x) in prints for x in real))
    report = {"spec": real_spec, "n": len(real), "run_training_set": config.dataset,
              "in_run_training_set": shared, "held_out": shared == 0}
    if shared:
        print(f"WARNING: {shared} of the {len(real)} real digits from {real_spec!r} are in the run's training set "
              f"{config.dataset!r}: they are NOT held out (train on a split without them, e.g. "
              f"--set dataset=mnist5k:train, to measure on unseen digits)", flush=True)
    return report


def tile(rows, path, scale=1):
    """Rows of images [N, H, W, C] in [-1, 1], one grid row each."""
    ncol = max(len(r) for r in rows)
    grid = np.concatenate([np.concatenate([r, np.full((ncol - len(r), *r.shape[1:]), -1.0)]) for r in rows])
    images.save_grid(grid, path, ncol=ncol)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="runs/selfcond_mnist_train")
    ap.add_argument("--real", default="mnist5k:test",
                    help="dataset spec of the real digits (held out from the run's training set; default: %(default)s)")
    ap.add_argument("--classifier", default="runs/mnist5k_classifier", help="cache directory of the digit CNN")
    ap.add_argument("--cond-workdir", default=None, help="a dcgan_cond_mnist run, for the class-morph figure")
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--num-gen", type=int, default=20)
    ap.add_argument("--num-real", type=int, default=20)
    ap.add_argument("--num-inpaint", type=int, default=50)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--restarts", type=int, default=4)
    ap.add_argument("--inpaint-steps", type=int, default=500)
    ap.add_argument("--inpaint-restarts", type=int, default=2)
    ap.add_argument("--feature-weight", type=float, default=0.1)
    args = ap.parse_args()
    t0 = time.time()
    out = args.out
    os.makedirs(out, exist_ok=True)
    config = wd.load_config(os.path.abspath(args.workdir))
    state, _ = restore_run(os.path.abspath(args.workdir), config)
    g, gv = sampling.latent_generator(config), state.generator_variables()
    g_net, d_net = models.build(config)
    feats, dv = edit.discriminator_features(d_net), {"params": state.d_params, "batch_stats": state.d_stats}
    z_dim, codes = config.z_dim, latent_codes(config)
    results = {"workdir": args.workdir, "step": int(state.step), "dataset": config.dataset, "codes": codes,
               "settings": vars(args)}
    source = data.load_source(args.real, resolution=config.resolution, channels=config.channels)
    n_real = max(args.num_real, args.num_inpaint)
    picked = np.random.default_rng(0).choice(len(source), n_real, replace=False)  # mnist5k is sorted by class
    real, labels = source.get(picked)
    results["real_digits"] = {**held_out_report(config, args.real, real), "picked": "numpy seed 0"}
    real = data.to_float(real)

    def inversion(targets, key, feature_weight):
        return jax.device_get(edit.invert(g, gv, jnp.asarray(targets), key, z_dim=z_dim, steps=args.steps,
                                          restarts=args.restarts, features=feats if feature_weight else None,
                                          feature_variables=dv if feature_weight else None,
                                          feature_weight=feature_weight, codes=codes))

    # (i) Inversion of generated and of real digits.
    z_true = jax.random.normal(jax.random.PRNGKey(1000), (args.num_gen, z_dim))
    gen = np.asarray(jax.jit(g)(gv, z_true))
    inv = {}
    for name, targets in (("generated", gen), ("real", real[:args.num_real])):
        for fw in sorted({args.feature_weight} | ({0.0} if name == "real" else set())):
            t = time.time()
            found = inversion(targets, jax.random.PRNGKey(1), fw)
            db = np.asarray(edit.psnr(found.images, jnp.asarray(targets)))
            key = f"{name}, {'pixels' if fw == 0 else f'pixels + {fw} D features'}"
            inv[key] = {**stats(db), "seconds": time.time() - t}
            print(f"inversion {key}: PSNR {db.mean():.2f} +- {db.std():.2f} dB (min {db.min():.2f})", flush=True)
            if fw == args.feature_weight:
                tile([targets[:10], found.images[:10]], os.path.join(out, f"invert_{name}.png"))
                if name == "real":
                    real_latents = found.latents
                    images.save_curves({f"image {i}": found.curves[i] for i in range(min(4, len(targets)))},
                                       os.path.join(out, "invert_loss.png"))
    results["inversion_psnr_db"] = inv

    # (ii) Inpainting: latent optimisation against mean and diffusion fill, masked region only.
    tgt = jnp.asarray(real[:args.num_inpaint])
    keys = jax.random.split(jax.random.PRNGKey(7), args.num_inpaint)
    mask_sets = {"centre box (14x14)": jnp.broadcast_to(masks.center_box(28, 28), (args.num_inpaint, 28, 28, 1)),
                 "random boxes": jax.vmap(lambda k: masks.random_boxes(k, 28, 28))(keys),
                 "free-form strokes": jax.vmap(lambda k: masks.free_form(k, 28, 28))(keys)}
    inp = {}
    for mname, m in mask_sets.items():
        t = time.time()
        filled_latent, _ = edit.latent_fill(g, gv, tgt, m, jax.random.PRNGKey(2), z_dim=z_dim,
                                            steps=args.inpaint_steps, restarts=args.inpaint_restarts,
                                            codes=codes)
        fills = {"mean fill": edit.mean_fill(tgt, m), "diffusion fill": edit.diffusion_fill(tgt, m),
                 "latent optimisation": filled_latent}
        inp[mname] = {"hole_fraction": float(m.mean())}
        for method, f in fills.items():
            inp[mname][method] = {"psnr_db": stats(edit.psnr(f, tgt, m)),
                                  "l1": stats(edit.mean_error(f, tgt, m, power=1))}
            print(f"inpaint {mname}, {method}: PSNR {inp[mname][method]['psnr_db']['mean']:.2f} dB, "
                  f"L1 {inp[mname][method]['l1']['mean']:.4f}", flush=True)
        inp[mname]["seconds_latent"] = time.time() - t
        shown = np.where(np.asarray(m[:8]) > 0.5, 0.0, tgt[:8])  # the hole in grey
        tile([tgt[:8], shown, *(np.asarray(f[:8]) for f in fills.values())],
             os.path.join(out, f"inpaint_{mname.split()[0].replace('-', '_')}_{mname.split()[-1].strip('()')}.png"))
    results["inpainting"] = inp

    # (iii) Interpolation, directions.
    ends = jax.random.normal(jax.random.PRNGKey(3), (2, 6, z_dim))
    path = edit.interpolate(ends[0], ends[1], 10)
    images.save_grid(np.asarray(jax.jit(g)(gv, path.reshape(-1, z_dim))), os.path.join(out, "interpolate.png"), ncol=10)
    strengths = jnp.linspace(-3, 3, 7)
    rows = {}
    base = jnp.concatenate([real_latents[:2], jax.random.normal(jax.random.PRNGKey(4), (1, z_dim))])
    w = edit.first_layer_weight(gv["params"], z_dim, inputs_beside_z(config))  # z beside the one-hot code
    rows["sefa:0"], rows["sefa:1"] = edit.sefa(w, 2)
    zs = jax.random.normal(jax.random.PRNGKey(5), (2000, z_dim))
    rows["ganspace:0"] = edit.ganspace(edit.first_block_features(g_net, gv, zs), zs, 1)[0]
    clf = load_or_train(args.classifier)
    for k in (1, 0):
        score = lambda x, k=k: jax.nn.softmax(clf.net.apply({"params": clf.params}, x)[0])[:, k]  # noqa: E731
        rows[f"classifier:{k}"] = edit.attribute_direction(g, gv, score, jax.random.PRNGKey(6), z_dim=z_dim)
    cos = {f"{a} . {b}": float(jnp.dot(rows[a], rows[b])) for a in rows for b in rows if a < b}
    results["direction_cosines"] = cos
    strips, effect = [], {}
    for name, d in rows.items():
        imgs = np.asarray(jax.jit(g)(gv, edit.move(base, d, strengths).reshape(-1, z_dim)))
        strips.append(imgs.reshape(len(base), -1, 28, 28, 1)[0])
        if name.startswith("classifier:"):  # share of 500 samples classified as K, before and after +3
            k = int(name.split(":")[1])
            zz = jax.random.normal(jax.random.PRNGKey(8), (500, z_dim))
            moved = jax.jit(g)(gv, zz + 3 * d)
            effect[name] = {"before": float(np.mean(clf.predict(np.asarray(jax.jit(g)(gv, zz)))[0] == k)),
                            "after +3": float(np.mean(clf.predict(np.asarray(moved))[0] == k))}
        if name == "sefa:0":
            images.save_grid(imgs, os.path.join(out, "edit_sefa0.png"), ncol=len(strengths))
    tile(strips, os.path.join(out, "edit_directions.png"))
    results["classifier_direction_effect"] = effect
    print("direction effect:", effect, flush=True)
    if args.cond_workdir:
        cconfig = wd.load_config(os.path.abspath(args.cond_workdir))
        cstate, _ = restore_run(os.path.abspath(args.cond_workdir), cconfig)
        cz = jax.random.normal(jax.random.PRNGKey(9), (4, cconfig.z_dim))
        pairs, morph, shares = ((3, 8), (1, 7), (4, 9), (0, 6)), [], {}
        zz = jax.random.normal(jax.random.PRNGKey(10), (200, cconfig.z_dim))
        for a, b in pairs:
            g_a, cv = sampling.latent_generator(cconfig, a), cstate.generator_variables()
            morph.append(np.asarray(edit.class_morph(g_a, cv, cz, a, b, jnp.linspace(0, 1, 7))[0]))
            ends = np.asarray(edit.class_morph(g_a, cv, zz, a, b, jnp.array([0.0, 1.0])))  # [200, 2, ...]
            pred = [clf.predict(ends[:, i])[0] for i in (0, 1)]  # at t = 0 and t = 1
            shares[f"class:{a}-{b}"] = {f"t={t}: classified {a}, {b}": [float(np.mean(p == c)) for c in (a, b)]
                                        for t, p in enumerate(pred)}
        tile(morph, os.path.join(out, "edit_class_morph.png"))
        results["class_morph"] = {"workdir": args.cond_workdir, "step": int(cstate.step), "shares": shares}
        print("class morph:", shares, flush=True)
    results["seconds"] = time.time() - t0
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"done in {results['seconds']:.0f} s")


if __name__ == "__main__":
    main()
