"""``gan-jax play``: a local web page for a run directory, to watch it train, generate images and
edit them (the work is in :mod:`gan_jax.play`; it needs the ``play`` extra, Gradio)."""
from __future__ import annotations

import os
import signal
import sys
import threading

from gan_jax.cli import common
from gan_jax.errors import UserError


def add_parsers(sub) -> None:
    p = sub.add_parser("play", help="a local web page to watch a run, generate and edit images",
                       description="Serve a page for the run in --workdir: watch its losses and sample grids "
                       "(refreshed while gan-jax train writes to it), generate images, interpolate, edit with "
                       "sliders (SeFa directions), invert and edit your own image, inpaint with a brush, and "
                       "for image-to-image runs translate an upload beside the plain baseline. Needs the play "
                       "extra: pip install -e '.[play]'. Ctrl-C stops it.")
    p.add_argument("--workdir", required=True, help="run directory written by gan-jax train (it may still be "
                   "training, or have no checkpoint yet)")
    p.add_argument("--port", type=int, default=None, help="port (default: the first free one from 7860)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this "
                   "machine only; anything else serves the page to the network, with a warning)")
    p.add_argument("--sefa", type=int, default=5, help="SeFa direction sliders (default: %(default)s)")
    p.add_argument("--classifier", default=None, help="classifier directory (gan-jax train-classifier): one "
                   "more slider per class, towards that class (InterFaceGAN)")
    p.set_defaults(func=cmd_play)


def _stop(signum, frame):
    raise KeyboardInterrupt


def cmd_play(args) -> int:
    from gan_jax.play.server import host_warning

    config = common.run_config(args)  # UserError unless --workdir is a run directory
    if args.port is not None and not 0 < args.port < 65536:
        raise UserError(f"--port {args.port}: expected a port in 1..65535")
    if args.sefa < 0:
        raise UserError(f"--sefa {args.sefa}: expected a number of sliders >= 0")
    classifier = None
    if args.classifier:
        from gan_jax.metrics.classifier import Classifier

        classifier = Classifier.load(args.classifier)
        shape = [config.resolution, config.resolution, config.channels]
        if list(classifier.info["image_shape"]) != shape:
            raise UserError(f"--classifier {args.classifier}: for images {classifier.info['image_shape']}; "
                            f"expected {shape}, the model's")
    import importlib.util

    if importlib.util.find_spec("gradio") is None:  # not imported here: serve() prepares its environment first
        raise UserError("gan-jax play needs Gradio, which is not installed; expected pip install -e '.[play]'")
    warning = host_warning(args.host)
    if warning:
        print(f"gan-jax: warning: {warning}", file=sys.stderr)
    common.enable_compilation_cache()
    from gan_jax.play import serve

    try:
        server = serve(os.path.abspath(args.workdir), host=args.host, port=args.port, sefa=args.sefa,
                       classifier=classifier)
    except OSError as e:
        where = f"--port {args.port}" if args.port else f"--host {args.host}"
        raise UserError(f"{where}: cannot serve there ({e})") from None
    print(f"gan-jax play: serving {os.path.abspath(args.workdir)} at {server.url} (Ctrl-C stops)", flush=True)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
    try:
        server.wait()
    except KeyboardInterrupt:
        print("gan-jax play: stopped", flush=True)
    return 0
