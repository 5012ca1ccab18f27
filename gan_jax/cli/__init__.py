"""``gan-jax``: the command line. It parses arguments, calls the library and prints; no logic of its own.

One module per command family: :mod:`.train` (train, train-classifier, bench),
:mod:`.evaluate` (sample, evaluate), :mod:`.edit` (interpolate, invert, edit, mix, inpaint),
:mod:`.img2img` (translate, upscale); options several commands share are declared once in
:mod:`.common`. Every output path is checked (by writing a file there) before any work.

Bad input exits with status 2 and one line ``gan-jax: error: ...`` naming the
culprit; a diverged run exits with status 1.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from gan_jax.cli import common, edit, evaluate, img2img, play, train
from gan_jax.errors import UserError

PROG = "gan-jax"
ERROR_PREFIX = f"{PROG}: error: "


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit status 2."""

    def error(self, message):
        raise UserError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="gan_jax: GANs for image synthesis and editing in JAX/Flax.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    train.add_parsers(sub)           # train, train-classifier, bench
    evaluate.add_parsers(sub)        # sample, evaluate
    edit.add_parsers(sub)            # interpolate, invert, edit, mix, inpaint
    img2img.add_parsers(sub)         # translate, upscale
    play.add_parsers(sub)            # play
    return parser


def run_train(argv: list[str]):
    """What ``gan-jax train ARGV...`` runs, returning its :class:`gan_jax.train.TrainResult`
    (for benchmarks such as ``benchmarks/cold_start.py``)."""
    return train.run(build_parser().parse_args(["train", *argv]))


class _StoppedEarly(Exception):
    """SIGTERM/SIGINT before the train loop took over the signals: nothing to save yet."""


def _stop_early(signum, frame):
    raise _StoppedEarly(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    previous = {}
    handler = common.keep_for_train if argv[:1] == ["train"] else _stop_early
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
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
            return train.cmd_bench(argv[1:])
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return args.func(args)
    except UserError as e:
        print(ERROR_PREFIX + " ".join(str(e).split("\n")), file=sys.stderr)
        if getattr(e, "exit_at_once", False):  # e.g. a lost peer process: skip jax.distributed's
            sys.stdout.flush()                  # shutdown, which would wait for it and then abort
            sys.stderr.flush()
            os._exit(2)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001
        from gan_jax.train import TrainingDiverged
        if isinstance(e, TrainingDiverged):
            print(f"{ERROR_PREFIX}{e}", file=sys.stderr)
            return 1
        raise


__all__ = ["PROG", "build_parser", "main", "run_train"]
