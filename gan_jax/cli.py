"""``gan-jax``: the command line. It parses arguments and calls the library; no logic of its own.

Bad input exits with status 2 and one line ``gan-jax: error: ...`` naming the
culprit; a diverged run exits with status 1.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading

from gan_jax.errors import UserError

PROG = "gan-jax"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit status 2."""

    def error(self, message):
        raise UserError(f"{self.prog}: {message} (see {self.prog} --help)")


def _add_train(sub):
    p = sub.add_parser("train", help="train a GAN (resumes from the latest checkpoint in --workdir)",
                       description="Train a GAN, or resume the run in --workdir up to --steps.")
    p.add_argument("--config", default=None, help="named config (default: dcgan_mnist; on resume: "
                   "the run's saved config)")
    p.add_argument("--workdir", default="runs/dcgan_mnist", help="run directory (default: %(default)s)")
    p.add_argument("--steps", type=int, help="total number of train steps of the run")
    p.add_argument("--batch-size", type=int, help="global batch size")
    p.add_argument("--seed", type=int, help="random seed (data order, init, noise)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (repeatable), e.g. --set lr_g=1e-4")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--population", type=int, help="train P independent GANs at once (jax.vmap); "
                   "member i has seed SEED + i; per-member rates: --set population_lr_g=1e-4,2e-4,...")
    p.add_argument("--steps-per-call", type=int, help="fuse K train steps into one compiled call (lax.scan)")
    host = p.add_argument_group("multi-host (jax.distributed; every process runs the same command)")
    host.add_argument("--coordinator", metavar="HOST:PORT", help="address of process 0 (env GAN_JAX_COORDINATOR)")
    host.add_argument("--num-processes", type=int, help="number of processes (env GAN_JAX_NUM_PROCESSES)")
    host.add_argument("--process-id", type=int, help="this process's index, 0 .. N-1 (env GAN_JAX_PROCESS_ID)")
    p.set_defaults(func=_cmd_train)


def _multi_host_args(args) -> tuple | None:
    """``(coordinator, num_processes, process_id)`` from the flags or ``GAN_JAX_*`` variables; None if unset."""
    def env_int(name):
        value = os.environ.get(name)
        if value is not None and not value.strip().isdigit():
            raise UserError(f"environment variable {name}={value!r}: expected a non-negative integer")
        return None if value is None else int(value)

    values = (args.coordinator or os.environ.get("GAN_JAX_COORDINATOR"),
              args.num_processes if args.num_processes is not None else env_int("GAN_JAX_NUM_PROCESSES"),
              args.process_id if args.process_id is not None else env_int("GAN_JAX_PROCESS_ID"))
    if all(v is None for v in values):
        return None
    if any(v is None for v in values):
        raise UserError("--coordinator, --num-processes and --process-id: give all three "
                        "(or the GAN_JAX_* environment variables) for a multi-host run")
    return values


def _add_sample(sub):
    p = sub.add_parser("sample", help="generate images from a trained run",
                       description="Generate images from the latest checkpoint of a run.")
    p.add_argument("--workdir", required=True, help="run directory written by gan-jax train")
    p.add_argument("--num", type=int, default=64, help="number of images (default: %(default)s)")
    p.add_argument("--out", required=True, help="output: .png (a grid) or .npy (float32 [N, H, W, C] in [-1, 1])")
    p.add_argument("--seed", type=int, default=0, help="latent seed (default: %(default)s)")
    p.add_argument("--checkpoint", default="latest", help="latest (default), best or a step number")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator weights, not the EMA")
    p.add_argument("--class", dest="label", type=int, default=None,
                   help="conditional models: draw only this class (default: every class equally)")
    p.add_argument("--member", type=int, help="population runs: which member (0 .. P-1)")
    p.set_defaults(func=_cmd_sample)


def _add_train_classifier(sub):
    p = sub.add_parser("train-classifier", help="train a domain classifier (a feature extractor for evaluate)",
                       description="Train a small CNN classifier on a labelled dataset and save it; its "
                       "features give Fréchet classifier distances (gan-jax evaluate --extractor classifier:DIR).")
    p.add_argument("--dataset", default="mnist5k", help="labelled dataset spec (default: %(default)s)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--resolution", type=int, default=28, help="image size (default: %(default)s)")
    p.add_argument("--channels", type=int, default=1, choices=(1, 3), help="1 or 3 (default: %(default)s)")
    p.add_argument("--steps", type=int, default=1500, help="train steps (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.set_defaults(func=_cmd_train_classifier)


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="Fréchet distance, KID, IS and precision/recall of a run",
                       description="Evaluate a run's generator against its real data; writes DIR/eval.json.")
    p.add_argument("--workdir", required=True, help="run directory written by gan-jax train")
    p.add_argument("--num", type=int, default=10000, help="number of samples (default: %(default)s)")
    p.add_argument("--extractor", default=None, help="classifier:DIR or inception:FILE.npz (default: the "
                   "run's eval_extractor)")
    p.add_argument("--checkpoint", default="latest", help="latest (default), best or a step number")
    p.add_argument("--seed", type=int, default=0, help="latent seed (default: %(default)s)")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator weights, not the EMA")
    p.add_argument("--member", type=int, help="population runs: which member (0 .. P-1)")
    p.set_defaults(func=_cmd_evaluate)


def _add_bench(sub):
    p = sub.add_parser("bench", help="train-step throughput against the PyTorch reference",
                       description="Train-step throughput, gan_jax against the PyTorch reference DCGAN "
                       "(needs the bench extra: pip install -e '.[bench]'). All further arguments go to "
                       "gan_jax.bench.throughput; see 'gan-jax bench --help'.", add_help=False)
    p.set_defaults(func=_cmd_bench)  # main() hands the arguments after "bench" over untouched


def _add_generator_args(p, seed_help: str = "random seed (default: %(default)s)", image: bool = False):
    """--workdir, --checkpoint, --no-ema, --class and --seed: the options of every editing command
    (and --image, the input of invert and inpaint)."""
    p.add_argument("--workdir", required=True, help="run directory written by gan-jax train")
    if image:
        p.add_argument("--image", required=True, help="image file of the model's size and channels (PNG)")
    p.add_argument("--checkpoint", default="latest", help="latest (default), best or a step number")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator weights, not the EMA")
    p.add_argument("--class", dest="label", type=int, default=None,
                   help="conditional models: the class of every image (required for them)")
    p.add_argument("--seed", type=int, default=0, help=seed_help)


def _add_optimiser_args(p, restarts: int = 4):
    p.add_argument("--steps", type=int, default=1000, help="Adam steps on the latent (default: %(default)s)")
    p.add_argument("--restarts", type=int, default=restarts,
                   help="random starts optimised together, the best kept (default: %(default)s)")
    p.add_argument("--lr", type=float, default=0.1, help="initial learning rate, cosine-decayed (default: %(default)s)")


def _add_interpolate(sub):
    p = sub.add_parser("interpolate", help="interpolate between random latents",
                       description="Generate images along paths between pairs of random latents: a grid "
                       "(one row per pair) or an animated GIF (one frame per step along the paths).")
    _add_generator_args(p, "latent seed (default: %(default)s)")
    p.add_argument("--pairs", type=int, default=4, help="number of latent pairs (default: %(default)s)")
    p.add_argument("--frames", type=int, default=10, help="images per path, ends included (default: %(default)s)")
    p.add_argument("--method", default="slerp", choices=("slerp", "lerp"),
                   help="spherical or linear interpolation (default: %(default)s)")
    p.add_argument("--out", required=True, help="output: .png (a grid) or .gif (an animation)")
    p.set_defaults(func=_cmd_interpolate)


def _add_invert(sub):
    p = sub.add_parser("invert", help="find the latent of a real image",
                       description="Find a latent whose generated image matches --image (Adam on the pixel "
                       "loss plus a discriminator-feature loss, several random restarts, the best kept). Writes "
                       "OUT/latent.npy ([Z] float32), OUT/reconstruction.png, OUT/before_after.png and "
                       "OUT/loss.png, and prints the PSNR (computed on [0, 1] images).")
    _add_generator_args(p, image=True)
    p.add_argument("--out", required=True, help="output directory (created if needed)")
    _add_optimiser_args(p, restarts=8)
    p.add_argument("--feature-weight", type=float, default=0.1,
                   help="weight of the discriminator-feature loss; 0: pixels only (default: %(default)s)")
    p.set_defaults(func=_cmd_invert)


def _add_edit(sub):
    p = sub.add_parser("edit", help="move latents along a direction",
                       description="Generate a strip of images from latents moved along a latent direction: "
                       "one row per latent, one column per strength. Directions: sefa:K (K-th closed-form "
                       "SeFa direction of the first layer), ganspace:K (K-th PCA direction of the first block), "
                       "classifier:K (InterFaceGAN: the boundary where --classifier predicts class K), "
                       "class:A-B (conditional models: class A's parameters mixed into class B's, strength "
                       "0 = A, 1 = B), or FILE.npy (a vector [Z]).")
    _add_generator_args(p, "seed of the samples that directions are fitted on (default: %(default)s)")
    p.add_argument("--latent", required=True, help=".npy latent [Z] or latents [N, Z] (e.g. from gan-jax invert)")
    p.add_argument("--direction", required=True, help="sefa:K, ganspace:K, classifier:K, class:A-B or FILE.npy")
    # argparse reads a value that starts with "-" as an option unless it looks like a negative
    # number; let --strength take -3:3:7 and -1,0,1 as well.
    p._negative_number_matcher = re.compile(r"^-\.?\d")
    p.add_argument("--strength", default="-3:3:7",
                   help="START:STOP:NUM (evenly spaced) or a comma-separated list (default: %(default)s)")
    p.add_argument("--out", required=True, help="output image (.png)")
    p.add_argument("--classifier", default=None, help="classifier directory (gan-jax train-classifier), "
                   "for classifier:K")
    p.add_argument("--num-samples", type=int, default=2000,
                   help="latents sampled to fit ganspace and classifier directions (default: %(default)s)")
    p.set_defaults(func=_cmd_edit)


def _add_inpaint(sub):
    p = sub.add_parser("inpaint", help="fill the missing pixels of an image",
                       description="Fill the pixels of --image that --mask marks missing, leaving the others "
                       "exactly as they are. Methods: latent (fit the generator to the known pixels, paste its "
                       "image into the hole), mean (the mean colour of the known pixels), diffusion (the "
                       "harmonic fill). Prints PSNR and L1 over the hole against --image's own pixels there "
                       "(meaningful when --image is complete).")
    _add_generator_args(p, image=True)
    p.add_argument("--mask", required=True, help="mask image of the same size, white = missing (pixels >= 128), "
                   "or a generated mask: center, boxes[:SEED], strokes[:SEED]")
    p.add_argument("--out", required=True, help="output image (.png)")
    p.add_argument("--method", default="latent", choices=("latent", "mean", "diffusion"),
                   help="how to fill the hole (default: %(default)s; with a trained inpainting model's "
                   "--workdir, task=inpaint, latent means that model)")
    _add_optimiser_args(p)
    p.set_defaults(func=_cmd_inpaint)


def _add_img2img_args(p, image_help: str):
    p.add_argument("--workdir", required=True, help="run directory written by gan-jax train")
    p.add_argument("--image", required=True, help=image_help)
    p.add_argument("--out", required=True, help="output image (.png)")
    p.add_argument("--checkpoint", default="latest", help="latest (default), best or a step number")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator weights, not the EMA")


def _add_translate(sub):
    p = sub.add_parser("translate", help="translate an image with a pix2pix or CycleGAN run",
                       description="Translate --image with the generator of a pix2pix or CycleGAN run (any "
                       "size: the image goes through the generator in overlapping tiles of the training size).")
    _add_img2img_args(p, "source image (PNG), e.g. a noisy or greyscale photo, an edge map")
    p.add_argument("--direction", default="a2b", choices=("a2b", "b2a"),
                   help="CycleGAN: dataset -> dataset_b (a2b, default) or back (b2a)")
    p.set_defaults(func=_cmd_translate)


def _add_upscale(sub):
    p = sub.add_parser("upscale", help="super-resolve an image with an SRGAN run",
                       description="Upscale --image by the run's factor with its SR generator, in overlapping "
                       "tiles of --tile input pixels so memory stays bounded for any image size.")
    _add_img2img_args(p, "low-resolution image (PNG)")
    p.add_argument("--scale", type=int, required=True, help="upscaling factor; must be the run's (2 or 4)")
    p.add_argument("--tile", type=int, default=64, help="tile size in input pixels (default: %(default)s)")
    p.set_defaults(func=_cmd_upscale)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="gan_jax: GANs for image synthesis and editing in JAX/Flax.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_train(sub)
    _add_sample(sub)
    _add_train_classifier(sub)
    _add_evaluate(sub)
    _add_bench(sub)
    _add_interpolate(sub)
    _add_invert(sub)
    _add_edit(sub)
    _add_inpaint(sub)
    _add_translate(sub)
    _add_upscale(sub)
    return parser


def _enable_compilation_cache() -> None:
    """Keep compiled programs on disk: a second ``gan-jax train`` run skips their compilation.

    ``$JAX_COMPILATION_CACHE_DIR`` wins if set (empty: no cache); otherwise
    ``$XDG_CACHE_HOME/gan_jax/xla`` (default ``~/.cache/gan_jax/xla``).
    """
    import jax

    cache = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if cache is None:
        root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        cache = os.path.join(root, "gan_jax", "xla")
    if cache:
        jax.config.update("jax_compilation_cache_dir", cache)
        # Also the programs that compile in under JAX's default 1 s: the init (compiled
        # without LLVM optimisation) and the sample grid's draws.
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)


def _train_config(args):
    from gan_jax import configs, workdir as wd

    if args.config is None and os.path.isfile(wd.config_path(os.path.abspath(args.workdir))):
        config = wd.load_config(os.path.abspath(args.workdir))  # resume with the run's own config
    else:
        config = configs.get(args.config or configs.DEFAULT)
    config = configs.override(config, args.set)
    flags = {"steps": args.steps, "batch_size": args.batch_size, "seed": args.seed,
             "population": args.population, "steps_per_call": args.steps_per_call}
    config = configs.override(config, [f"{k}={v}" for k, v in flags.items() if v is not None])
    return configs.validate(config)


def _cmd_train_classifier(args) -> int:
    from gan_jax.metrics.classifier import train_on_dataset

    if args.steps <= 0:
        raise UserError(f"--steps {args.steps}: expected a positive number of steps")
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f"--out {args.out}: is a file; expected a directory")
    clf = train_on_dataset(args.dataset, resolution=args.resolution, channels=args.channels, steps=args.steps,
                           seed=args.seed, progress=True)
    clf.save(out)
    print(f"wrote {out}: {clf.info['name']}, held-out accuracy {clf.info.get('holdout_accuracy', float('nan')):.3f}")
    return 0


def _cmd_evaluate(args) -> int:
    from gan_jax import workdir as wd
    from gan_jax.checkpoint import restore_run
    from gan_jax.metrics.evaluation import evaluate, format_table
    from gan_jax.metrics.extractors import load_extractor

    workdir = os.path.abspath(args.workdir)
    config = wd.load_config(workdir)
    spec = args.extractor or config.eval_extractor
    if not spec:
        raise UserError("--extractor: this run has no eval_extractor; expected classifier:DIR "
                        "(gan-jax train-classifier) or inception:FILE.npz")
    if args.num < 2:
        raise UserError(f"--num {args.num}: expected at least 2 samples")
    extractor = load_extractor(spec)
    _enable_compilation_cache()
    state, _ = restore_run(workdir, config, args.checkpoint)
    config, state = _population_member(args, config, state)
    result = evaluate(config, state, extractor, num=args.num, seed=args.seed, use_ema=not args.no_ema,
                      progress=True)
    result.update(step=int(state.step), checkpoint=args.checkpoint, ema=not args.no_ema, member=args.member)
    wd.write_json(wd.eval_path(workdir), result)
    print(f"step {result['step']} ({args.checkpoint} checkpoint): " + format_table(result))
    print(f"wrote {wd.eval_path(workdir)}")
    return 0


def _cmd_bench(argv: list[str]) -> int:
    from gan_jax.bench.throughput import main as bench_main

    return bench_main(argv)


def _cmd_train(args) -> int:
    return 0 if _run_train(args) is not None else 1


def _run_train(args):
    from gan_jax.train import train

    config = _train_config(args)
    multi_host = _multi_host_args(args)
    if multi_host is not None:
        from gan_jax.parallel import initialize_distributed
        initialize_distributed(*multi_host)
    _enable_compilation_cache()
    return train(config, args.workdir, progress=not args.no_progress)


def run_train(argv: list[str]):
    """What ``gan-jax train ARGV...`` runs, returning its :class:`gan_jax.train.TrainResult`
    (for benchmarks such as ``benchmarks/cold_start.py``)."""
    return _run_train(build_parser().parse_args(["train", *argv]))


def _cmd_sample(args) -> int:
    import numpy as np

    from gan_jax import images, sampling
    from gan_jax import workdir as wd
    from gan_jax.checkpoint import restore_run

    if args.num <= 0:
        raise UserError(f"--num {args.num}: expected a positive number of images")
    ext = _check_out(args.out, (".png", ".npy"))
    workdir = os.path.abspath(args.workdir)
    config = wd.load_config(workdir)
    _enable_compilation_cache()
    state, _ = restore_run(workdir, config, args.checkpoint)
    config, state = _population_member(args, config, state)
    imgs = sampling.generate(config, state, args.num, seed=args.seed, use_ema=not args.no_ema, labels=args.label)
    if ext == ".npy":
        images.save_array(imgs.astype(np.float32), args.out)
    else:
        images.save_grid(imgs, args.out)
    print(f"wrote {args.num} samples from step {int(state.step)} to {args.out}")
    return 0


def _check_out(path: str, extensions: tuple[str, ...]) -> str:
    """The lower-case extension of an output file; UserError unless it is one of ``extensions``
    and its directory exists and is writable."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in extensions:
        raise UserError(f"--out {path}: expected a {' or '.join(extensions)} file name")
    out_dir = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
        raise UserError(f"--out {path}: directory {out_dir} does not exist or is not writable")
    return ext


def _positive(args, *names: str) -> None:
    for name in names:
        if getattr(args, name) <= 0:
            raise UserError(f"--{name.replace('_', '-')} {getattr(args, name)}: expected a positive number")


def _gan_config(args, any_task: bool = False):
    """The config of --workdir; UserError unless it is a GAN with a latent space (``any_task``: any run)."""
    from gan_jax import workdir as wd

    config = wd.load_config(os.path.abspath(args.workdir))
    task = getattr(config, "task", "generate")
    if task != "generate" and not any_task:
        raise UserError(f"--workdir {args.workdir}: a task={task} run has no latent space; "
                        f"expected a GAN run (task=generate)")
    return config


def _restore(args, config):
    """The state of --workdir at --checkpoint."""
    from gan_jax.checkpoint import restore_run

    _enable_compilation_cache()
    state, _ = restore_run(os.path.abspath(args.workdir), config, args.checkpoint)
    return _population_member(args, config, state)[1]


def _population_member(args, config, state):
    """``(config, state)`` of population member ``--member`` (the run itself without a population)."""
    member = getattr(args, "member", None)
    if config.population == 1:
        if member not in (None, 0):
            raise UserError(f"--member {member}: {args.workdir} is a single GAN, not a population")
        return config, state
    if member is None or not 0 <= member < config.population:
        raise UserError(f"--member: {args.workdir} holds a population of {config.population} GANs; expected "
                        f"--member 0..{config.population - 1} (gan-jax sample / evaluate)")
    from gan_jax.configs import member_configs
    from gan_jax.parallel import member_state
    return member_configs(config)[member], member_state(state, member, config.population)


def _load_image_for(config, path: str, option: str = "--image"):
    """An image file as float32 [R, R, C] in [-1, 1]; UserError unless it has the model's size and channels."""
    from gan_jax import images

    image = images.load_image(path, option)
    want = (config.resolution, config.resolution, config.channels)
    if image.shape != want:
        h, w, c = image.shape
        raise UserError(f"{option} {path}: {h}x{w} with {c} channel(s); expected {want[0]}x{want[1]} with "
                        f"{want[2]} channel(s), the model's resolution and channels")
    return image


def _cmd_interpolate(args) -> int:
    import jax
    import numpy as np

    from gan_jax import images, sampling
    from gan_jax.edit import interpolate

    _positive(args, "pairs", "frames")
    ext = _check_out(args.out, (".png", ".gif"))
    config = _gan_config(args)
    g = sampling.latent_generator(config, args.label)
    variables = _restore(args, config).generator_variables(not args.no_ema)
    ends = jax.random.normal(jax.random.PRNGKey(args.seed), (2, args.pairs, config.z_dim))
    z = interpolate(ends[0], ends[1], args.frames, args.method)  # [P, T, Z]
    imgs = np.asarray(jax.jit(g)(variables, z.reshape(-1, config.z_dim)))
    imgs = imgs.reshape(args.pairs, args.frames, *imgs.shape[1:])
    if ext == ".gif":  # frame t: every pair's image t side by side; forwards, then back
        frames = [images.make_grid(imgs[:, t], ncol=args.pairs) for t in range(args.frames)]
        images.save_gif(np.stack(frames + frames[-2:0:-1]), args.out)
    else:
        images.save_grid(imgs.reshape(-1, *imgs.shape[2:]), args.out, ncol=args.frames)
    print(f"wrote {args.pairs} {args.method} paths of {args.frames} images to {args.out}")
    return 0


def _cmd_invert(args) -> int:
    import jax
    import numpy as np

    from gan_jax import images, models, sampling
    from gan_jax.edit import discriminator_features, invert, psnr

    _positive(args, "steps", "restarts", "lr")
    if args.feature_weight < 0:
        raise UserError(f"--feature-weight {args.feature_weight}: expected a weight >= 0")
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f"--out {args.out}: is a file; expected a directory")
    config = _gan_config(args)
    target = _load_image_for(config, args.image)
    g = sampling.latent_generator(config, args.label)
    state = _restore(args, config)
    features = discriminator_features(models.build(config)[1]) if args.feature_weight > 0 else None
    d_vars = {"params": state.d_params, "batch_stats": state.d_stats} if features else None
    found = jax.device_get(invert(
        g, state.generator_variables(not args.no_ema), target[None], jax.random.PRNGKey(args.seed),
        z_dim=config.z_dim, features=features, feature_variables=d_vars, feature_weight=args.feature_weight,
        steps=args.steps, restarts=args.restarts, lr=args.lr))
    db = float(psnr(found.images, target[None])[0])
    os.makedirs(out, exist_ok=True)
    images.save_array(found.latents[0].astype(np.float32), os.path.join(out, "latent.npy"))
    images.save_image(images.to_uint8(found.images[0]), os.path.join(out, "reconstruction.png"))
    images.save_grid(np.concatenate([target[None], found.images]), os.path.join(out, "before_after.png"), ncol=2)
    images.save_curves({"loss": found.curves[0]}, os.path.join(out, "loss.png"))
    print(f"PSNR {db:.2f} dB (on [0, 1] images), final loss {float(found.loss[0]):.5f}; "
          f"wrote latent.npy, reconstruction.png, before_after.png, loss.png to {args.out}")
    return 0


def _parse_strengths(text: str):
    import numpy as np

    try:
        if ":" in text:
            start, stop, num = text.split(":")
            values = np.linspace(float(start), float(stop), int(num))
        else:
            values = np.array([float(v) for v in text.split(",")])
    except ValueError:
        values = np.zeros(0)
    if not values.size or not np.all(np.isfinite(values)):
        raise UserError(f"--strength {text}: expected START:STOP:NUM (e.g. -3:3:7) or a comma-separated list")
    return values.astype(np.float32)


def _load_vectors(path: str, option: str, z_dim: int):
    """A .npy file of latents [Z] or [N, Z] -> float32 [N, Z]; UserError naming ``option`` otherwise."""
    import numpy as np

    if not os.path.isfile(path):
        raise UserError(f"{option} {path}: no such file; expected a .npy array [{z_dim}] or [N, {z_dim}] "
                        f"(e.g. latent.npy from gan-jax invert)")
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UserError(f"{option} {path}: not a .npy array ({type(e).__name__})") from None
    z = z[None] if z.ndim == 1 else z
    if z.ndim != 2 or z.shape[1] != z_dim or not np.issubdtype(z.dtype, np.number):
        raise UserError(f"{option} {path}: array of shape {list(z.shape)}; expected [{z_dim}] or [N, {z_dim}] "
                        f"(the model's z_dim)")
    return z.astype(np.float32)


def _direction_index(args, arg: str, limit: int) -> int:
    if not arg.isdigit() or int(arg) >= limit:
        raise UserError(f"--direction {args.direction}: expected an index in 0..{limit - 1}")
    return int(arg)


def _direction(args, config, g, variables):
    """The latent direction [Z] that --direction names (see gan-jax edit --help)."""
    import jax

    from gan_jax import edit, models
    from gan_jax.metrics.classifier import Classifier

    kind, _, arg = args.direction.partition(":")
    key = jax.random.PRNGKey(args.seed)
    if kind == "sefa":
        k = _direction_index(args, arg, config.z_dim)
        return edit.sefa(edit.first_layer_weight(variables["params"], config.z_dim), k + 1)[k]
    if kind == "ganspace":
        k = _direction_index(args, arg, min(config.z_dim, args.num_samples))
        z = jax.random.normal(key, (args.num_samples, config.z_dim))
        labels = None if args.label is None else jax.numpy.full((args.num_samples,), args.label)
        feats = edit.first_block_features(models.build(config)[0], variables, z, labels)
        return edit.ganspace(feats, z, k + 1)[k]
    if kind == "classifier":
        if not args.classifier:
            raise UserError(f"--direction {args.direction}: needs --classifier DIR (gan-jax train-classifier)")
        clf = Classifier.load(args.classifier)
        if list(clf.info["image_shape"]) != [config.resolution, config.resolution, config.channels]:
            raise UserError(f"--classifier {args.classifier}: for images {clf.info['image_shape']}; expected "
                            f"{[config.resolution, config.resolution, config.channels]}, the model's")
        k = _direction_index(args, arg, clf.info["num_classes"])
        score = lambda x: jax.nn.softmax(clf.net.apply({"params": clf.params}, x)[0])[:, k]  # noqa: E731
        return edit.attribute_direction(g, variables, score, key, z_dim=config.z_dim, num=args.num_samples)
    return _load_vectors(args.direction, "--direction", config.z_dim)[0]


def _class_pair(args, config):
    """(A, B) of --direction class:A-B; UserError for an unconditional model or classes out of range."""
    a, _, b = args.direction.partition(":")[2].partition("-")
    if not config.num_classes:
        raise UserError(f"--direction {args.direction}: this model is unconditional; class:A-B needs a "
                        f"class-conditional run")
    if not (a.isdigit() and b.isdigit() and int(a) < config.num_classes and int(b) < config.num_classes):
        raise UserError(f"--direction {args.direction}: expected class:A-B with classes in 0..{config.num_classes - 1}")
    return int(a), int(b)


def _cmd_edit(args) -> int:
    import jax
    import numpy as np

    from gan_jax import images, sampling
    from gan_jax.edit import class_morph, move

    _positive(args, "num_samples")
    _check_out(args.out, (".png",))
    strengths = _parse_strengths(args.strength)
    config = _gan_config(args)
    z = _load_vectors(args.latent, "--latent", config.z_dim)
    if args.direction.startswith("class:"):
        source, target = _class_pair(args, config)
        variables = _restore(args, config).generator_variables(not args.no_ema)
        g = sampling.latent_generator(config, source)
        strip = class_morph(g, variables, z, source, target, strengths)
    else:
        g = sampling.latent_generator(config, args.label)
        variables = _restore(args, config).generator_variables(not args.no_ema)
        direction = _direction(args, config, g, variables)
        moved = move(z, direction, strengths)
        strip = jax.jit(g)(variables, moved.reshape(-1, config.z_dim))
    strip = np.asarray(strip).reshape(-1, *np.shape(strip)[-3:])
    images.save_grid(strip, args.out, ncol=len(strengths))
    print(f"wrote {len(z)} x {len(strengths)} images along {args.direction} (strengths {args.strength}) "
          f"to {args.out}")
    return 0


def _mask_for(args, config, image):
    """The float32 [R, R, 1] mask --mask names (1 = missing)."""
    import jax
    import numpy as np

    from gan_jax import images
    from gan_jax.edit import masks

    kind, _, seed = args.mask.partition(":")
    r = config.resolution
    if kind in ("center", "boxes", "strokes") and not os.path.exists(args.mask):
        if not (seed or "0").isdigit() or (kind == "center" and seed):
            raise UserError(f"--mask {args.mask}: expected center, boxes[:SEED], strokes[:SEED] or an image file")
        key = jax.random.PRNGKey(int(seed or 0))
        mask = {"center": lambda: masks.center_box(r, r), "boxes": lambda: masks.random_boxes(key, r, r),
                "strokes": lambda: masks.free_form(key, r, r)}[kind]()
    elif not os.path.isfile(args.mask):
        raise UserError(f"--mask {args.mask}: no such file; expected a mask image (white = missing), "
                        f"center, boxes[:SEED] or strokes[:SEED]")
    else:
        pixels = images.read_image(args.mask, "--mask")
        if pixels.shape[:2] != image.shape[:2]:
            raise UserError(f"--mask {args.mask}: {pixels.shape[0]}x{pixels.shape[1]}; expected "
                            f"{image.shape[0]}x{image.shape[1]}, the size of --image (white = missing)")
        mask = masks.from_image(pixels)
    mask = np.asarray(mask)
    if not 0 < mask.sum() < mask.size:
        raise UserError(f"--mask {args.mask}: {'no' if mask.sum() == 0 else 'every'} pixel is missing; "
                        f"expected a hole (white = missing) and some known pixels")
    return mask


def _cmd_inpaint(args) -> int:
    import jax
    import numpy as np

    from gan_jax import images
    from gan_jax.edit import diffusion_fill, make_inpainter, mean_error, mean_fill, psnr

    _positive(args, "steps", "restarts", "lr")
    _check_out(args.out, (".png",))
    config = _gan_config(args, any_task=True)
    image = _load_image_for(config, args.image)
    mask = _mask_for(args, config, image)
    if args.method == "latent" and config.task == "inpaint":  # a trained inpainting model fills the hole
        from gan_jax.translate import inpaint as model_fill
        state = _restore(args, config)
        fill = lambda x, m, key: model_fill(config, state, x[0], m[0], not args.no_ema)[None]  # noqa: E731
    elif args.method == "latent":
        variables = _restore(args, config).generator_variables(not args.no_ema)
        fill = make_inpainter(config, variables, args.label, steps=args.steps, restarts=args.restarts, lr=args.lr)
    else:
        fill = lambda x, m, key: (mean_fill if args.method == "mean" else diffusion_fill)(x, m)  # noqa: E731
    result = np.asarray(fill(image[None], mask[None], jax.random.PRNGKey(args.seed)))
    images.save_image(images.to_uint8(result[0]), args.out)
    db, l1 = psnr(result, image[None], mask[None])[0], mean_error(result, image[None], mask[None], power=1)[0]
    print(f"wrote {args.out} ({args.method} fill of {int(mask.sum())} missing pixels); against --image's own "
          f"pixels in the hole: PSNR {float(db):.2f} dB, L1 {float(l1):.4f} (on [0, 1] images)")
    return 0


def _img2img_run(args, tasks: tuple[str, ...]):
    """(config, state) of --workdir; UserError unless the run's task is one of ``tasks``."""
    from gan_jax import workdir as wd

    config = wd.load_config(os.path.abspath(args.workdir))
    if config.task not in tasks:
        raise UserError(f"--workdir {args.workdir}: a task={config.task} run; expected a "
                        f"{' or '.join(tasks)} run")
    return config, _restore(args, config)


def _image_for_channels(path: str, channels: int):
    """--image as float32 [H, W, channels] in [-1, 1]: a greyscale file is repeated over RGB; a
    colour file for a greyscale model is a UserError."""
    import numpy as np

    from gan_jax import images

    image = images.load_image(path, "--image")
    if image.shape[-1] == channels:
        return image
    if image.shape[-1] == 1:
        return np.repeat(image, channels, axis=-1)
    raise UserError(f"--image {path}: has {image.shape[-1]} channels; the model expects {channels} "
                    f"(greyscale)")


def _cmd_translate(args) -> int:
    from gan_jax import images, translate

    _check_out(args.out, (".png",))
    config, state = _img2img_run(args, ("pix2pix", "cyclegan"))
    image = _image_for_channels(args.image, config.channels)
    out = translate.translate(config, state, image, args.direction, use_ema=not args.no_ema)
    images.save_image(images.to_uint8(out), args.out)
    print(f"wrote {args.out} ({out.shape[1]}x{out.shape[0]}, {config.task} {args.direction}, step {int(state.step)})")
    return 0


def _cmd_upscale(args) -> int:
    from gan_jax import images, translate

    _check_out(args.out, (".png",))
    _positive(args, "tile")
    config, state = _img2img_run(args, ("srgan",))
    if args.scale != config.scale:
        raise UserError(f"--scale {args.scale}: this run upscales by {config.scale}; expected --scale {config.scale}")
    image = _image_for_channels(args.image, config.channels)
    out = translate.upscale(config, state, image, tile=args.tile, use_ema=not args.no_ema)
    images.save_image(images.to_uint8(out), args.out)
    print(f"wrote {args.out} ({out.shape[1]}x{out.shape[0]}, x{config.scale} from {image.shape[1]}x{image.shape[0]}, "
          f"step {int(state.step)})")
    return 0


class _StoppedEarly(Exception):
    """SIGTERM/SIGINT before the train loop took over the signals: nothing to save yet."""


def _stop_early(signum, frame):
    raise _StoppedEarly(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _stop_early) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return _main(parser, argv)
    except _StoppedEarly as e:
        print(f"{PROG}: stopped by {e} during start-up; nothing to save", file=sys.stderr)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _main(parser, argv: list[str]) -> int:
    try:
        if argv[:1] == ["bench"]:
            return _cmd_bench(argv[1:])
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return args.func(args)
    except UserError as e:
        msg = str(e)
        print(msg if msg.startswith(PROG) else f"{PROG}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001
        from gan_jax.train import TrainingDiverged
        if isinstance(e, TrainingDiverged):
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
