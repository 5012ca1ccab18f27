"""``gan-jax interpolate``, ``invert``, ``edit`` and ``inpaint``: editing with a trained generator
(the work is in :mod:`gan_jax.edit`)."""
from __future__ import annotations

import os
import re

from gan_jax.cli import common
from gan_jax.errors import UserError


def _add_generator_options(p, seed_help: str = "random seed (default: %(default)s)", image: bool = False) -> None:
    """--workdir, --checkpoint, --no-ema, --class and --seed: the options of every editing command
    (and --image, the input of invert and inpaint)."""
    common.add_run_options(p)
    if image:
        common.add_image_option(p, "image file of the model's size and channels (PNG)")
    common.add_class_option(p, "conditional models: the class of every image (required for them)")
    common.add_seed_option(p, seed_help)


def _add_optimiser_options(p, restarts: int = 4) -> None:
    p.add_argument("--steps", type=int, default=1000, help="Adam steps on the latent (default: %(default)s)")
    p.add_argument("--restarts", type=int, default=restarts,
                   help="random starts optimised together, the best kept (default: %(default)s)")
    p.add_argument("--lr", type=float, default=0.1, help="initial learning rate, cosine-decayed (default: %(default)s)")
    common.add_progress_option(p)


def add_parsers(sub) -> None:
    p = sub.add_parser("interpolate", help="interpolate between random latents",
                       description="Generate images along paths between pairs of random latents: a grid "
                       "(one row per pair) or an animated GIF (one frame per step along the paths).")
    _add_generator_options(p, "latent seed (default: %(default)s)")
    p.add_argument("--pairs", type=int, default=4, help="number of latent pairs (default: %(default)s)")
    p.add_argument("--frames", type=int, default=10, help="images per path, ends included (default: %(default)s)")
    p.add_argument("--method", default="slerp", choices=("slerp", "lerp"),
                   help="spherical or linear interpolation (default: %(default)s)")
    common.add_out_option(p, "output: .png (a grid) or .gif (an animation)")
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser("invert", help="find the latent of a real image",
                       description="Find a latent whose generated image matches --image (Adam on the pixel "
                       "loss plus a discriminator-feature loss, several random restarts, the best kept). Writes "
                       "OUT/latent.npy ([Z] float32), OUT/reconstruction.png, OUT/before_after.png and "
                       "OUT/loss.png, and prints the PSNR (computed on [0, 1] images).")
    _add_generator_options(p, image=True)
    common.add_out_option(p, "output directory (created if needed)")
    _add_optimiser_options(p, restarts=8)
    p.add_argument("--feature-weight", type=float, default=0.1,
                   help="weight of the discriminator-feature loss; 0: pixels only (default: %(default)s)")
    p.set_defaults(func=cmd_invert)

    p = sub.add_parser("edit", help="move latents along a direction",
                       description="Generate a strip of images from latents moved along a latent direction: "
                       "one row per latent, one column per strength. Directions: sefa:K (K-th closed-form "
                       "SeFa direction of the first layer), ganspace:K (K-th PCA direction of the first block), "
                       "classifier:K (InterFaceGAN: the boundary where --classifier predicts class K), "
                       "class:A-B (conditional models: class A's parameters mixed into class B's, strength "
                       "0 = A, 1 = B), or FILE.npy (a vector [Z]).")
    _add_generator_options(p, "seed of the samples that directions are fitted on (default: %(default)s)")
    p.add_argument("--latent", required=True, help=".npy latent [Z] or latents [N, Z] (e.g. from gan-jax invert)")
    p.add_argument("--direction", required=True, help="sefa:K, ganspace:K, classifier:K, class:A-B or FILE.npy")
    # argparse reads a value that starts with "-" as an option unless it looks like a negative
    # number; let --strength take -3:3:7 and -1,0,1 as well.
    p._negative_number_matcher = re.compile(r"^-\.?\d")
    p.add_argument("--strength", default="-3:3:7",
                   help="START:STOP:NUM (evenly spaced) or a comma-separated list (default: %(default)s)")
    common.add_out_option(p, "output image (.png)")
    p.add_argument("--classifier", default=None, help="classifier directory (gan-jax train-classifier), "
                   "for classifier:K")
    p.add_argument("--num-samples", type=int, default=2000,
                   help="latents sampled to fit ganspace and classifier directions (default: %(default)s)")
    common.add_progress_option(p)
    p.set_defaults(func=cmd_edit)

    p = sub.add_parser("inpaint", help="fill the missing pixels of an image",
                       description="Fill the pixels of --image that --mask marks missing, leaving the others "
                       "exactly as they are. Methods: latent (fit the generator to the known pixels, paste its "
                       "image into the hole), mean (the mean colour of the known pixels), diffusion (the "
                       "harmonic fill). Prints PSNR and L1 over the hole against --image's own pixels there "
                       "(meaningful when --image is complete).")
    _add_generator_options(p, image=True)
    p.add_argument("--mask", required=True, help="mask image of the same size, white = missing (pixels >= 128), "
                   "or a generated mask: center, boxes[:SEED], strokes[:SEED]")
    common.add_out_option(p, "output image (.png)")
    p.add_argument("--method", default="latent", choices=("latent", "mean", "diffusion"),
                   help="how to fill the hole (default: %(default)s; with a trained inpainting model's "
                   "--workdir, task=inpaint, latent means that model)")
    _add_optimiser_options(p)
    p.set_defaults(func=cmd_inpaint)


def _image(args, config):
    from gan_jax import images

    return images.load_image_of_shape(args.image, (config.resolution, config.resolution, config.channels))


def cmd_interpolate(args) -> int:
    import jax

    from gan_jax import images, sampling
    from gan_jax.edit import interpolation_images

    common.positive(args, "pairs", "frames")
    ext = common.output_file(args.out, (".png", ".gif"))
    config = common.latent_config(args)
    g = sampling.latent_generator(config, args.label)
    _, state = common.restore(args, config)
    imgs = interpolation_images(g, state.generator_variables(not args.no_ema), jax.random.PRNGKey(args.seed),
                                z_dim=config.z_dim, pairs=args.pairs, frames=args.frames, method=args.method)
    if ext == ".gif":  # frame t: every pair's image t side by side; forwards, then back
        images.save_gif(images.grid_frames(imgs, ncol=args.pairs, bounce=True), args.out)
    else:
        images.save_grid(imgs.reshape(-1, *imgs.shape[2:]), args.out, ncol=args.frames)
    print(f"wrote {args.pairs} {args.method} paths of {args.frames} images to {args.out}")
    return 0


def cmd_invert(args) -> int:
    import jax
    import numpy as np

    from gan_jax import images, models, sampling
    from gan_jax.edit import discriminator_features, invert_with_progress, psnr

    common.positive(args, "steps", "restarts", "lr")
    if args.feature_weight < 0:
        raise UserError(f"--feature-weight {args.feature_weight}: expected a weight >= 0")
    out = common.output_dir(args.out)
    config = common.latent_config(args)
    target = _image(args, config)
    g = sampling.latent_generator(config, args.label)
    _, state = common.restore(args, config)
    features = discriminator_features(models.build(config)[1]) if args.feature_weight > 0 else None
    d_vars = {"params": state.d_params, "batch_stats": state.d_stats} if features else None
    found = jax.device_get(invert_with_progress(
        g, state.generator_variables(not args.no_ema), target[None], jax.random.PRNGKey(args.seed),
        z_dim=config.z_dim, features=features, feature_variables=d_vars, feature_weight=args.feature_weight,
        steps=args.steps, restarts=args.restarts, lr=args.lr, progress=not args.no_progress))
    db = float(psnr(found.images, target[None])[0])
    os.makedirs(out, exist_ok=True)
    images.save_array(found.latents[0].astype(np.float32), os.path.join(out, "latent.npy"))
    images.save_image(images.to_uint8(found.images[0]), os.path.join(out, "reconstruction.png"))
    images.save_grid(np.concatenate([target[None], found.images]), os.path.join(out, "before_after.png"), ncol=2)
    images.save_curves({"loss": found.curves[0]}, os.path.join(out, "loss.png"))
    print(f"PSNR {db:.2f} dB (on [0, 1] images), final loss {float(found.loss[0]):.5f}; "
          f"wrote latent.npy, reconstruction.png, before_after.png, loss.png to {args.out}")
    return 0


def cmd_edit(args) -> int:
    import jax

    from gan_jax import images
    from gan_jax.edit import directions

    common.positive(args, "num_samples")
    common.output_file(args.out, (".png",))
    strengths = directions.parse_strengths(args.strength)
    config = common.latent_config(args)
    z = directions.load_vectors(args.latent, config.z_dim, "--latent")
    spec = directions.parse_spec(args.direction, z_dim=config.z_dim, num_classes=config.num_classes,
                                 num_samples=args.num_samples, classifier=args.classifier,
                                 image_shape=(config.resolution, config.resolution, config.channels))
    _, state = common.restore(args, config)
    strip = directions.strip(spec, config, state.generator_variables(not args.no_ema), z, strengths,
                             jax.random.PRNGKey(args.seed), label=args.label, num_samples=args.num_samples,
                             progress=not args.no_progress)
    images.save_grid(strip.reshape(-1, *strip.shape[2:]), args.out, ncol=len(strengths))
    print(f"wrote {len(z)} x {len(strengths)} images along {args.direction} (strengths {args.strength}) "
          f"to {args.out}")
    return 0


def cmd_inpaint(args) -> int:
    import jax
    import numpy as np

    from gan_jax import images
    from gan_jax.edit import make_inpainter, masks, mean_error, psnr

    common.positive(args, "steps", "restarts", "lr")
    common.output_file(args.out, (".png",))
    config = common.run_config(args)
    fill = make_inpainter(config, lambda: common.restore(args, config)[1], args.method, label=args.label,
                          use_ema=not args.no_ema, option=f"--workdir {args.workdir}",
                          progress=not args.no_progress, steps=args.steps, restarts=args.restarts, lr=args.lr)
    image = _image(args, config)
    mask = masks.from_spec(args.mask, image.shape[:2])
    result = np.asarray(fill(image[None], mask[None], jax.random.PRNGKey(args.seed)))
    images.save_image(images.to_uint8(result[0]), args.out)
    db, l1 = psnr(result, image[None], mask[None])[0], mean_error(result, image[None], mask[None], power=1)[0]
    print(f"wrote {args.out} ({args.method} fill of {int(mask.sum())} missing pixels); against --image's own "
          f"pixels in the hole: PSNR {float(db):.2f} dB, L1 {float(l1):.4f} (on [0, 1] images)")
    return 0
