"""``gan-jax``: the command line. It parses arguments and calls the library; no logic of its own.

Bad input exits with status 2 and one line ``gan-jax: error: ...`` naming the
culprit; a diverged run exits with status 1.
"""
from __future__ import annotations

import argparse
import os
import sys

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
    p.set_defaults(func=_cmd_train)


def _add_sample(sub):
    p = sub.add_parser("sample", help="generate images from a trained run",
                       description="Generate images from the latest checkpoint of a run.")
    p.add_argument("--workdir", required=True, help="run directory written by gan-jax train")
    p.add_argument("--num", type=int, default=64, help="number of images (default: %(default)s)")
    p.add_argument("--out", required=True, help="output: .png (a grid) or .npy (float32 [N, H, W, C] in [-1, 1])")
    p.add_argument("--seed", type=int, default=0, help="latent seed (default: %(default)s)")
    p.add_argument("--checkpoint", default="latest", help="latest (default) or a step number")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator weights, not the EMA")
    p.set_defaults(func=_cmd_sample)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="gan_jax: GANs for image synthesis and editing in JAX/Flax.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_train(sub)
    _add_sample(sub)
    return parser


def _train_config(args):
    from gan_jax import configs, workdir as wd

    if args.config is None and os.path.isfile(wd.config_path(os.path.abspath(args.workdir))):
        config = wd.load_config(os.path.abspath(args.workdir))  # resume with the run's own config
    else:
        config = configs.get(args.config or configs.DEFAULT)
    config = configs.override(config, args.set)
    flags = {"steps": args.steps, "batch_size": args.batch_size, "seed": args.seed}
    config = configs.override(config, [f"{k}={v}" for k, v in flags.items() if v is not None])
    return configs.validate(config)


def _cmd_train(args) -> int:
    from gan_jax.train import train

    config = _train_config(args)
    result = train(config, args.workdir, progress=not args.no_progress)
    return 0 if result is not None else 1


def _cmd_sample(args) -> int:
    import numpy as np

    from gan_jax import images, sampling
    from gan_jax.checkpoint import Checkpoints, signature
    from gan_jax.state import abstract_state
    from gan_jax import workdir as wd

    if args.num <= 0:
        raise UserError(f"--num {args.num}: expected a positive number of images")
    ext = os.path.splitext(args.out)[1].lower()
    if ext not in (".png", ".npy"):
        raise UserError(f"--out {args.out}: expected a .png or .npy file name")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
        raise UserError(f"--out {args.out}: directory {out_dir} does not exist or is not writable")
    workdir = os.path.abspath(args.workdir)
    config = wd.load_config(workdir)
    step = args.checkpoint if args.checkpoint == "latest" else _int_arg("--checkpoint", args.checkpoint)
    state, _ = Checkpoints(wd.checkpoint_dir(workdir)).restore(abstract_state(config), signature(config), step)
    imgs = sampling.generate(config, state, args.num, seed=args.seed, use_ema=not args.no_ema)
    if ext == ".npy":
        images.save_array(imgs.astype(np.float32), args.out)
    else:
        images.save_grid(imgs, args.out)
    print(f"wrote {args.num} samples from step {int(state.step)} to {args.out}")
    return 0


def _int_arg(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UserError(f"{name} {value}: expected 'latest' or a step number") from None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
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
