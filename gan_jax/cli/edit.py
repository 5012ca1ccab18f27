"""``gan-jax interpolate``, ``invert``, ``edit``, ``mix`` and ``inpaint``: editing with a trained
generator (the work is in :mod:`gan_jax.edit`). ``--space`` picks the latent space: z, or for a
style-based generator w (its default) or w+ (:mod:`gan_jax.edit.latent_space`)."""
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


def _add_optimiser_options(p, restarts: int = 4, space: bool = False) -> None:
    p.add_argument("--steps", type=int, default=1000, help="Adam steps on the latent (default: %(default)s)")
    p.add_argument("--restarts", type=int, default=restarts,
                   help="random starts optimised together, the best kept (default: %(default)s)")
    p.add_argument("--lr", type=float, default=0.1,
                   help="initial learning rate, cosine-decayed" + ("; in w and w+ the peak of the projector's ramp"
                                                                   if space else "") + " (default: %(default)s)")
    common.add_progress_option(p)


SPACES = ("z", "w", "w+")  # gan_jax.edit.latent_space.SPACES, without importing JAX to build the parser


def _add_space_option(p, what: str) -> None:
    p.add_argument("--space", default=None, choices=SPACES,
                   help=f"latent space {what}: z, or for a style-based generator (StyleGAN2) w or w+ (one w per "
                   "layer) (default: w for those, z for the others)")


def _space(args, config, name=None, **kwargs):
    """The run's latent space --space (``name``: another one), checked before any weights are read."""
    from gan_jax.edit import latent_space

    return latent_space.get(config, args.space if name is None else name, label=args.label, **kwargs)


def add_parsers(sub) -> None:
    p = sub.add_parser("interpolate", help="interpolate between random latents",
                       description="Generate images along paths between pairs of random latents: a grid "
                       "(one row per pair) or an animated GIF (one frame per step along the paths).")
    _add_generator_options(p, "latent seed (default: %(default)s)")
    p.add_argument("--pairs", type=int, default=4, help="number of latent pairs (default: %(default)s)")
    p.add_argument("--frames", type=int, default=10, help="images per path, ends included (default: %(default)s)")
    p.add_argument("--method", default=None, choices=("slerp", "lerp"),
                   help="spherical or linear interpolation (default: slerp in z, lerp in w and w+)")
    _add_space_option(p, "to interpolate in")
    common.add_out_option(p, "output: .png (a grid) or .gif (an animation)")
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser("invert", help="find the latent of a real image",
                       description="Find a latent whose generated image matches --image (Adam on the pixel "
                       "loss plus a discriminator-feature loss, several restarts, the best kept). In z: from "
                       "random latents. In w or w+ (style-based generators): the StyleGAN2 projector, from the "
                       "mean w, optimising the noise maps too (noise regularisation, ramped learning rate, "
                       "decaying noise on w). Writes OUT/latent.npy ([Z] or [W] float32, [L, W] in w+), in w and "
                       "w+ OUT/noise.npz (the noise maps, for edit --noise), OUT/reconstruction.png, "
                       "OUT/before_after.png and OUT/loss.png, and prints the PSNR (computed on [0, 1] images).")
    _add_generator_options(p, image=True)
    common.add_out_option(p, "output directory (created if needed)")
    _add_space_option(p, "to invert into")
    _add_optimiser_options(p, restarts=8, space=True)
    p.add_argument("--feature-weight", type=float, default=0.1,
                   help="weight of the discriminator-feature loss; 0: pixels only (default: %(default)s)")
    p.add_argument("--noise-weight", type=float, default=None,
                   help="w and w+: weight of the noise regulariser (default: 1e5, the StyleGAN2 projector's)")
    p.set_defaults(func=cmd_invert)

    p = sub.add_parser("edit", help="move latents along a direction",
                       description="Generate a strip of images from latents moved along a latent direction: "
                       "one row per latent, one column per strength. Directions: sefa:K (K-th closed-form "
                       "SeFa direction of the first layer), ganspace:K (K-th PCA direction of the first block), "
                       "classifier:K (InterFaceGAN: the boundary where --classifier predicts class K), "
                       "class:A-B (conditional models: class A's parameters mixed into class B's, strength "
                       "0 = A, 1 = B), or FILE.npy (a vector [Z]). In w and w+ (style-based generators): SeFa of "
                       "the first modulation layer, GANSpace = PCA of sampled w's, InterFaceGAN on w's; a w+ "
                       "latent moves in every row.")
    _add_generator_options(p, "seed of the samples that directions are fitted on (default: %(default)s)")
    _add_space_option(p, "of --latent and the direction")
    p.add_argument("--latent", required=True, help=".npy latent [Z] or latents [N, Z] (e.g. from gan-jax invert; "
                   "[W] / [N, W] in w, [L, W] / [N, L, W] in w+)")
    p.add_argument("--noise", default=None, help="w and w+: noise maps (.npz, from gan-jax invert) for every image "
                   "instead of the run's constant ones")
    p.add_argument("--direction", required=True, help="sefa:K, ganspace:K, classifier:K, ink, slant, class:A-B or "
                   "FILE.npy (ink, slant: the digit's stroke thickness or lean, fitted with its class held fixed; "
                   "need --classifier)")
    # argparse reads a value that starts with "-" as an option unless it looks like a negative
    # number; let --strength take -3:3:7 and -1,0,1 as well.
    p._negative_number_matcher = re.compile(r"^-\.?\d")
    p.add_argument("--strength", default="-3:3:7",
                   help="START:STOP:NUM (evenly spaced) or a comma-separated list (default: %(default)s)")
    common.add_out_option(p, "output image (.png)")
    p.add_argument("--classifier", default=None, help="classifier directory (gan-jax train-classifier), "
                   "for classifier:K, ink and slant")
    p.add_argument("--from-row", type=int, default=None, metavar="K",
                   help="w+ only: move the rows K..L-1 (the finer styles) and keep the coarse ones "
                   "(default: every row)")
    p.add_argument("--num-samples", type=int, default=2000,
                   help="latents sampled to fit ganspace and classifier directions (default: %(default)s)")
    common.add_progress_option(p)
    p.set_defaults(func=cmd_edit)

    p = sub.add_parser("mix", help="style mixing grid (style-based generators)",
                       description="The style-mixing figure of the StyleGAN papers: random sources along the top "
                       "row and down the left column; the image in row i, column j takes the coarse styles (the "
                       "rows of w+ before --crossover) of the left source i and the fine ones of the top source j.")
    common.add_run_options(p)
    common.add_seed_option(p, "seed of the sources (default: %(default)s)")
    p.set_defaults(label=None)  # style-based generators are unconditional
    p.add_argument("--rows", type=int, default=4, help="sources of the coarse styles, down the left (default: "
                   "%(default)s)")
    p.add_argument("--cols", type=int, default=4, help="sources of the fine styles, along the top (default: "
                   "%(default)s)")
    p.add_argument("--crossover", type=int, default=None,
                   help="the first w+ row taken from the top source, 1..L-1 (default: L // 2)")
    common.add_out_option(p, "output image (.png)")
    p.set_defaults(func=cmd_mix)

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

    from gan_jax import images
    from gan_jax.edit import latent_space

    common.positive(args, "pairs", "frames")
    ext = common.output_file(args.out, (".png", ".gif"))
    config = common.latent_config(args)
    space = _space(args, config)
    method = args.method or space.interpolation
    latent_space.check_method(space, method)
    _, state = common.restore(args, config)
    imgs = latent_space.path_images(space, state.generator_variables(not args.no_ema), jax.random.PRNGKey(args.seed),
                                    pairs=args.pairs, frames=args.frames, method=method)
    if ext == ".gif":  # frame t: every pair's image t side by side; forwards, then back
        images.save_gif(images.grid_frames(imgs, ncol=args.pairs, bounce=True), args.out)
    else:
        images.save_grid(imgs.reshape(-1, *imgs.shape[2:]), args.out, ncol=args.frames)
    print(f"wrote {args.pairs} {method} paths of {args.frames} images to {args.out}" +
          (f" (in {space.name})" if space.name != "z" else ""))
    return 0


def cmd_invert(args) -> int:
    import jax
    import numpy as np

    from gan_jax import images, models
    from gan_jax.edit import discriminator_features, latent_space, psnr

    common.positive(args, "steps", "restarts", "lr")
    if args.feature_weight < 0:
        raise UserError(f"--feature-weight {args.feature_weight}: expected a weight >= 0")
    out = common.output_dir(args.out)
    config = common.latent_config(args)
    space = _space(args, config)
    if args.noise_weight is not None and (args.noise_weight < 0 or not space.noise_shapes):
        raise UserError(f"--noise-weight {args.noise_weight}: " + (
            "expected a weight >= 0" if space.noise_shapes else
            f"only in w and w+ (the projector's noise maps); inverting in {space.name}"))
    target = _image(args, config)
    _, state = common.restore(args, config)
    features = discriminator_features(models.build(config)[1]) if args.feature_weight > 0 else None
    d_vars = {"params": state.d_params, "batch_stats": state.d_stats} if features else None
    found = jax.device_get(latent_space.invert(
        space, state.generator_variables(not args.no_ema), target[None], jax.random.PRNGKey(args.seed),
        features=features, feature_variables=d_vars, feature_weight=args.feature_weight, steps=args.steps,
        restarts=args.restarts, lr=args.lr, noise_weight=args.noise_weight, progress=not args.no_progress))
    db = float(psnr(found.images, target[None])[0])
    os.makedirs(out, exist_ok=True)
    written = ["latent.npy"]
    images.save_array(found.latents[0].astype(np.float32), os.path.join(out, "latent.npy"))
    if space.noise_shapes:
        latent_space.save_noise([n[0] for n in found.noise], os.path.join(out, "noise.npz"))
        written.append("noise.npz")
    images.save_image(images.to_uint8(found.images[0]), os.path.join(out, "reconstruction.png"))
    images.save_grid(np.concatenate([target[None], found.images]), os.path.join(out, "before_after.png"), ncol=2)
    images.save_curves({"loss": found.curves[0]}, os.path.join(out, "loss.png"))
    where = "" if space.name == "z" else f" (in {space.name}: edit it with --space {space.name} --noise noise.npz)"
    print(f"PSNR {db:.2f} dB (on [0, 1] images), final loss {float(found.loss[0]):.5f}; "
          f"wrote {', '.join(written)}, reconstruction.png, before_after.png, loss.png to {args.out}{where}")
    return 0


def cmd_edit(args) -> int:
    import jax

    from gan_jax import images
    from gan_jax.edit import directions, latent_space

    common.positive(args, "num_samples")
    common.output_file(args.out, (".png",))
    strengths = directions.parse_strengths(args.strength)
    config = common.latent_config(args)
    space = _space(args, config)
    latent_space.check_from_row(space, args.from_row)
    z = latent_space.load_latents(args.latent, space, "--latent")
    noise = None if args.noise is None else latent_space.load_noise(args.noise, space, "--noise")
    spec = directions.parse_spec(args.direction, z_dim=space.dim, num_classes=config.num_classes,
                                 num_samples=args.num_samples, classifier=args.classifier,
                                 image_shape=(config.resolution, config.resolution, config.channels))
    _, state = common.restore(args, config)
    strip = latent_space.strip(spec, space, config, state.generator_variables(not args.no_ema), z, strengths,
                               jax.random.PRNGKey(args.seed), label=args.label, num_samples=args.num_samples,
                               progress=not args.no_progress, noise=noise, from_row=args.from_row)
    images.save_grid(strip.reshape(-1, *strip.shape[2:]), args.out, ncol=len(strengths))
    print(f"wrote {len(z)} x {len(strengths)} images along {args.direction} (strengths {args.strength}) "
          f"to {args.out}" + (f" (in {space.name})" if space.name != "z" else ""))
    return 0


def cmd_mix(args) -> int:
    import jax

    from gan_jax import images
    from gan_jax.edit import latent_space

    common.positive(args, "rows", "cols")
    common.output_file(args.out, (".png",))
    config = common.latent_config(args)
    space = _space(args, config, "w+", option="--workdir", purpose="style mixing")
    crossover = space.layers // 2 if args.crossover is None else args.crossover
    latent_space.check_crossover(space, crossover, "--crossover")
    _, state = common.restore(args, config)
    grid = latent_space.mixing_grid(space, state.generator_variables(not args.no_ema), jax.random.PRNGKey(args.seed),
                                    rows=args.rows, cols=args.cols, crossover=crossover)
    images.save_grid(grid, args.out, ncol=args.cols + 1)
    print(f"wrote a style-mixing grid to {args.out}: {args.rows} x {args.cols} mixes, rows 0..{crossover - 1} of "
          f"w+ (coarse) from the left column, rows {crossover}..{space.layers - 1} (fine) from the top row")
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
