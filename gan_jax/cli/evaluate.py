"""``gan-jax sample`` and ``evaluate``: samples of a trained run and their metrics."""
from __future__ import annotations

import dataclasses
import os

from gan_jax.cli import common
from gan_jax.errors import UserError


def add_parsers(sub) -> None:
    p = sub.add_parser("sample", help="generate images from a trained run",
                       description="Generate images from the latest checkpoint of a run.")
    common.add_run_options(p, member=True)
    p.add_argument("--num", type=int, default=64, help="number of images (default: %(default)s)")
    common.add_out_option(p, "output: .png (a grid) or .npy (float32 [N, H, W, C] in [-1, 1])")
    common.add_seed_option(p, "latent seed (default: %(default)s)")
    common.add_class_option(p, "conditional models: draw only this class (default: every class equally)")
    p.add_argument("--truncation", type=float, default=None, metavar="PSI",
                   help="truncation psi in (0, 2] (default: the run's truncation_psi; 1: none)")
    p.add_argument("--truncation-center", choices=("mean", "cluster"), default=None,
                   help="StyleGAN2: truncate about the mean w or each sample's cluster mean "
                        "(default: the run's truncation_center)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("evaluate", help="Fréchet distance, KID, IS and precision/recall of a run",
                       description="Evaluate a run's generator against its real data; writes DIR/eval.json.")
    common.add_run_options(p, member=True)
    p.add_argument("--num", type=int, default=10000, help="number of samples (default: %(default)s)")
    p.add_argument("--extractor", default=None, help="classifier:DIR or inception:FILE.npz (default: the run's "
                   "eval_extractor, else the dataset's default extractor, trained on first use and cached in "
                   "~/.cache/gan_jax/extractors)")
    common.add_seed_option(p, "latent seed (default: %(default)s)")
    p.set_defaults(func=cmd_evaluate)


def cmd_sample(args) -> int:
    import numpy as np

    from gan_jax import images
    from gan_jax.configs import MAX_TRUNCATION_PSI, validate

    if args.num <= 0:
        raise UserError(f"--num {args.num}: expected a positive number of images")
    ext = common.output_file(args.out, (".png", ".npy"))
    config = common.run_config(args)
    sample = common.operation(config, "sample", args)
    config, state = common.restore(args, config)
    if args.truncation is not None:
        if not 0.0 < args.truncation <= MAX_TRUNCATION_PSI:
            raise UserError(f"--truncation {args.truncation}: expected a value in (0, {MAX_TRUNCATION_PSI:g}]")
        config = dataclasses.replace(config, truncation_psi=args.truncation)
    if args.truncation_center is not None:
        config = validate(dataclasses.replace(config, truncation_center=args.truncation_center))
    imgs = sample(config, state, args.num, seed=args.seed, use_ema=not args.no_ema, labels=args.label)
    if ext == ".npy":
        images.save_array(np.asarray(imgs, np.float32), args.out)
    else:
        images.save_grid(imgs, args.out)
    print(f"wrote {args.num} samples from step {int(state.step)} to {args.out}")
    return 0


def cmd_evaluate(args) -> int:
    from gan_jax import workdir as wd
    from gan_jax.metrics.default_extractor import default_extractor, default_for
    from gan_jax.metrics.evaluation import evaluate, format_table
    from gan_jax.metrics.extractors import load_extractor

    workdir = os.path.abspath(args.workdir)
    config = wd.load_config(workdir)
    spec = args.extractor or config.eval_extractor
    if args.num < 2:
        raise UserError(f"--num {args.num}: expected at least 2 samples")
    common.output_file(wd.eval_path(workdir), (".json",), option="--workdir")
    if spec:
        extractor = load_extractor(spec)
    else:
        default_for(config)  # no default extractor, or the wrong image size: one line, before any work
    config, state = common.restore(args, config)
    if not spec:
        extractor, directory = default_extractor(config, progress=True)  # trained on first use, then cached
        spec = f"classifier:{directory}"
    result = evaluate(config, state, extractor, num=args.num, seed=args.seed, use_ema=not args.no_ema,
                      progress=True)
    result.update(extractor_spec=spec, step=int(state.step), checkpoint=args.checkpoint, ema=not args.no_ema,
                  member=args.member)
    wd.write_json(wd.eval_path(workdir), result)
    print(f"step {result['step']} ({args.checkpoint} checkpoint): " + format_table(result))
    print(f"extractor: {spec}")
    print(f"wrote {wd.eval_path(workdir)}")
    return 0
