"""``gan-jax``: the command line. It parses arguments and calls the library; no logic of its own.

Bad input exits with status 2 and one line ``gan-jax: error: ...`` naming the
culprit; a diverged run exits with status 1.
"""
from __future__ import annotations

import argparse
import os
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
    p.set_defaults(func=_cmd_train)


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
    p.set_defaults(func=_cmd_evaluate)


def _add_bench(sub):
    p = sub.add_parser("bench", help="train-step throughput against the PyTorch reference",
                       description="Train-step throughput, gan_jax against the PyTorch reference DCGAN "
                       "(needs the bench extra: pip install -e '.[bench]'). All further arguments go to "
                       "gan_jax.bench.throughput; see 'gan-jax bench --help'.", add_help=False)
    p.set_defaults(func=_cmd_bench)  # main() hands the arguments after "bench" over untouched


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="gan_jax: GANs for image synthesis and editing in JAX/Flax.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_train(sub)
    _add_sample(sub)
    _add_train_classifier(sub)
    _add_evaluate(sub)
    _add_bench(sub)
    return parser


def _enable_compilation_cache() -> None:
    """Keep compiled train steps on disk so a second ``gan-jax`` run starts in ~2 s, not ~7 s.

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
    result = evaluate(config, state, extractor, num=args.num, seed=args.seed, use_ema=not args.no_ema,
                      progress=True)
    result.update(step=int(state.step), checkpoint=args.checkpoint, ema=not args.no_ema)
    wd.write_json(wd.eval_path(workdir), result)
    print(f"step {result['step']} ({args.checkpoint} checkpoint): " + format_table(result))
    print(f"wrote {wd.eval_path(workdir)}")
    return 0


def _cmd_bench(argv: list[str]) -> int:
    from gan_jax.bench.throughput import main as bench_main

    return bench_main(argv)


def _cmd_train(args) -> int:
    from gan_jax.train import train

    config = _train_config(args)
    _enable_compilation_cache()
    result = train(config, args.workdir, progress=not args.no_progress)
    return 0 if result is not None else 1


def _cmd_sample(args) -> int:
    import numpy as np

    from gan_jax import images, sampling
    from gan_jax import workdir as wd
    from gan_jax.checkpoint import restore_run

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
    _enable_compilation_cache()
    state, _ = restore_run(workdir, config, args.checkpoint)
    imgs = sampling.generate(config, state, args.num, seed=args.seed, use_ema=not args.no_ema, labels=args.label)
    if ext == ".npy":
        images.save_array(imgs.astype(np.float32), args.out)
    else:
        images.save_grid(imgs, args.out)
    print(f"wrote {args.num} samples from step {int(state.step)} to {args.out}")
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
