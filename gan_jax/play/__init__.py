"""The playground: a local web page for a run directory, to watch it train, generate images and
edit them (``gan-jax play --workdir DIR``; needs the ``play`` extra, Gradio).

* :mod:`.runlog`: what the Watch part reads from the run directory (metrics, grids, checkpoints);
* :mod:`.model`: the run's networks, restored per checkpoint, with programs compiled once;
* :mod:`.uploads`: uploaded images and brush masks, fitted to the model (each conversion noted);
* :mod:`.inversion`: inversion with progress reported to the page;
* :mod:`.baselines`: the plain results image-to-image runs are shown against;
* :mod:`.handlers`: every part as a plain function (numbers and arrays in and out, no Gradio);
* :mod:`.app`: the Gradio page wiring the handlers (one builder per part, :data:`.app.PANELS`);
* :mod:`.server`: serving it offline, on 127.0.0.1 by default.

The core library never imports this package.
"""


def serve(workdir: str, **options):
    """:func:`gan_jax.play.server.serve` (imported on first use: Gradio takes seconds to import)."""
    from gan_jax.play.server import serve as _serve

    return _serve(workdir, **options)


__all__ = ["serve"]
