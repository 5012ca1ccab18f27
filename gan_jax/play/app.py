"""The playground page: the handlers of :mod:`gan_jax.play.handlers` wired to a Gradio ``Blocks`` page.

The page is a row of model controls shared by every part (checkpoint, EMA, class,
truncation) above one tab per part. Which tabs a run gets is decided by :data:`PANELS`:
each entry is ``(title, applies(playground), build(playground, shared))``, so a new kind of
run adds its part as one more entry (a style-based run would add a style-mixing tab whose
``applies`` asks ``tasks.supports(config, "style_mix")``) and nothing else changes.

Every event calls a handler through :func:`guarded`: bad input becomes a message on the
page (the part's status line, whose component is always the event's last output); the other
outputs are left as they were. Nothing a page sends can raise past it.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Callable

import gradio as gr
import numpy as np

from gan_jax import tasks
from gan_jax.errors import UserError
from gan_jax.play import handlers as h
from gan_jax.play import uploads
from gan_jax.play.model import MAX_IMAGES, NoCheckpointYet

log = logging.getLogger(__name__)

REFRESH_SECONDS = 2.0
"""How often the Watch part rereads the run directory."""
SLIDER_RANGE = 8.0
"""The edit sliders move a latent by up to this many units along a (unit) direction."""
EDITOR_SIZE = 256
"""The brush editor shows images about this many pixels wide (nearest-neighbour upscaled)."""
CSS = (".pixelated img { image-rendering: pixelated; width: 100% !important; height: 100% !important; "
       "object-fit: contain; }")
"""Small images fill their boxes, drawn with sharp pixels (not blurred)."""


def theme() -> gr.themes.Base:
    """Gradio's default look with system fonts: the page loads nothing from outside the server."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "monospace"])


# --- handler plumbing ---------------------------------------------------------------------------

def guarded(fn: Callable, outputs: int) -> Callable:
    """``fn`` with its errors turned into a message: on UserError (or anything unexpected, logged
    with its traceback on the server) every output but the last is skipped and the last, the
    part's status line, says what went wrong."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NoCheckpointYet as e:
            message = f"⏳ {e}"
        except UserError as e:
            message = f"⚠️ {e}"
        except Exception as e:  # noqa: BLE001 - the page must stay up; the server's log has the traceback
            log.exception("playground handler %s failed", getattr(fn, "__name__", fn))
            message = f"⚠️ internal error ({type(e).__name__}: {e}); the server's log has the details"
        skipped = tuple(gr.skip() for _ in range(outputs - 1))
        return (*skipped, message) if outputs > 1 else message

    return run


def _controls(checkpoint, ema, label, truncation) -> h.Controls:
    """The model controls' values as :class:`handlers.Controls` (a class must be a whole number)."""
    if label is not None and label != "":
        if float(label) != int(float(label)):
            raise UserError(f"class {label}: expected a whole number")
        label = int(float(label))
    else:
        label = None
    return h.Controls(str(checkpoint or "latest"), bool(ema), label, 1.0 if truncation is None else float(truncation))


def picture(label: str, elem_id: str, height: int | None = 256, **options) -> gr.Image:
    """An output image: PNG (lossless), sharp pixels, not editable."""
    return gr.Image(format="png", label=label, interactive=False, elem_classes="pixelated", height=height,
                    elem_id=elem_id, **options)


def _image(x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    return h.display(x, mask)


def _upscale(pixels: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1) if factor > 1 else pixels


@dataclasses.dataclass
class Shared:
    """Components several parts use: the model controls and the latent the sliders edit."""
    controls: list  # [checkpoint, ema, label, truncation]
    latent: gr.State  # float list [Z] or None
    original: gr.Image | None = None  # the Edit part's unedited image
    sliders: list = dataclasses.field(default_factory=list)  # the Edit part's sliders


# --- the parts --------------------------------------------------------------------------------

def watch_panel(pg: h.Playground, shared: Shared, demo: gr.Blocks) -> None:
    """Loss curves, D's outputs, the newest sample grid, the step and its rate; rereads the run every
    :data:`REFRESH_SECONDS` (so it follows a run that trains, and waits for one without checkpoints)."""
    import pandas as pd

    status = gr.Markdown("reading the run...", elem_id="watch-status")
    with gr.Row():  # no initial value: a plot first drawn empty draws no lines later (Gradio 6.31)
        losses = gr.LinePlot(x="step", y="value", color="series", title="Losses", height=260,
                             elem_id="watch-losses")
        outputs = gr.LinePlot(x="step", y="value", color="series", title="D's outputs on real and fake "
                              "(probabilities)", height=260, y_lim=[0, 1], elem_id="watch-d")
    grid = picture("newest sample grid", "watch-grid", height=320)
    seen = gr.State(None)  # what this page shows already: (rows, grid step, checkpoint choices)

    def refresh(last):
        found = h.watch(pg)
        rows = sum(len(v) for v in found.curves.values())
        now = (rows, found.grid_step, tuple(found.checkpoints))
        last = last or (None, None, None)
        plots = tuple(pd.DataFrame(found.curves[part], columns=["step", "value", "series"])
                      if now[0] != last[0] and found.curves[part] else gr.skip()
                      for part in ("losses", "d_outputs"))
        newest = gr.skip()
        if now[1] != last[1] and found.grid is not None:
            newest = gr.update(value=_image(found.grid), label=f"newest sample grid (step {found.grid_step:,})")
        choices = gr.update(choices=found.checkpoints) if now[2] != last[2] else gr.skip()
        return (*plots, newest, choices, now, found.status)

    outs = [losses, outputs, grid, shared.controls[0], seen, status]
    timer = gr.Timer(REFRESH_SECONDS)
    gr.on([demo.load, timer.tick], guarded(refresh, len(outs)), inputs=[seen], outputs=outs, api_name="watch",
          show_progress="hidden", trigger_mode="always_last")


def generate_panel(pg: h.Playground, shared: Shared, demo: gr.Blocks) -> None:
    """A grid of images from a seed, with a PNG download."""
    with gr.Row():
        seed = gr.Number(0, precision=0, label="seed", elem_id="gen-seed")
        num = gr.Slider(1, MAX_IMAGES, value=16, step=1, label="number of images", elem_id="gen-num")
        button = gr.Button("Generate", variant="primary", elem_id="gen-button")
    grid = picture("generated", "gen-grid", height=360)
    download = gr.DownloadButton("Download the PNG grid", visible=True, elem_id="gen-download")
    message = gr.Markdown(elem_id="gen-message")

    def run(checkpoint, ema, label, truncation, seed, num):
        found = h.generate(pg, _controls(checkpoint, ema, label, truncation), int(seed), int(num))
        return _image(found.grid), found.path, found.message

    button.click(guarded(run, 3), inputs=[*shared.controls, seed, num], outputs=[grid, download, message],
                 api_name="generate")


def interpolate_panel(pg: h.Playground, shared: Shared, demo: gr.Blocks) -> None:
    """Between two generated images (a seed and an image index each): a slider and an animated GIF."""
    gr.Markdown("Image *k* of seed *s* is image *k* of the grid that **Generate** draws with seed *s*.")
    with gr.Row():
        seed_a = gr.Number(0, precision=0, label="seed A", elem_id="interp-seed-a")
        index_a = gr.Number(0, precision=0, label="image A", elem_id="interp-index-a")
        seed_b = gr.Number(1, precision=0, label="seed B", elem_id="interp-seed-b")
        index_b = gr.Number(0, precision=0, label="image B", elem_id="interp-index-b")
        method = gr.Radio(["slerp", "lerp"], value="slerp", label="path", elem_id="interp-method")
    t = gr.Slider(0.0, 1.0, value=0.0, step=0.01, label="A → B", elem_id="interp-t")
    with gr.Row():
        frame = picture("image", "interp-frame")
        gif = picture("animation", "interp-gif", type="filepath")
    with gr.Row():
        frames = gr.Slider(2, MAX_IMAGES, value=16, step=1, label="frames", elem_id="interp-frames")
        button = gr.Button("Make the GIF", elem_id="interp-gif-button")
        download = gr.DownloadButton("Download the GIF", elem_id="interp-download")
    message = gr.Markdown(elem_id="interp-message")
    ends = [seed_a, index_a, seed_b, index_b]

    def endpoints(controls, seed_a, index_a, seed_b, index_b):
        return h.latent(pg, controls, int(seed_a), int(index_a)), h.latent(pg, controls, int(seed_b), int(index_b))

    def at(checkpoint, ema, label, truncation, seed_a, index_a, seed_b, index_b, method, t):
        controls = _controls(checkpoint, ema, label, truncation)
        found = h.interpolate(pg, controls, *endpoints(controls, seed_a, index_a, seed_b, index_b), float(t),
                              method)
        return _image(found.image), found.message

    def animate(checkpoint, ema, label, truncation, seed_a, index_a, seed_b, index_b, method, frames):
        controls = _controls(checkpoint, ema, label, truncation)
        found = h.animation(pg, controls, *endpoints(controls, seed_a, index_a, seed_b, index_b), int(frames),
                            method)
        return found.path, found.path, found.message

    gr.on([t.change, method.change] + [e.change for e in ends], guarded(at, 2),
          inputs=[*shared.controls, *ends, method, t], outputs=[frame, message], api_name="interpolate",
          show_progress="hidden", trigger_mode="always_last")
    button.click(guarded(animate, 3), inputs=[*shared.controls, *ends, method, frames],
                 outputs=[gif, download, message], api_name="animation")


def edit_panel(pg: h.Playground, shared: Shared, demo: gr.Blocks) -> None:
    """One slider per latent direction; the image follows the sliders. The latent comes from a seed
    (Load) or from an uploaded image (the next part)."""
    names = _slider_names(pg)
    with gr.Row():
        seed = gr.Number(0, precision=0, label="seed", elem_id="edit-seed")
        index = gr.Number(0, precision=0, label="image", elem_id="edit-index")
        load = gr.Button("Load this image", elem_id="edit-load")
        reset = gr.Button("Sliders to 0", elem_id="edit-reset")
    with gr.Row():
        with gr.Column(scale=1):
            sliders = [gr.Slider(-SLIDER_RANGE, SLIDER_RANGE, value=0.0, step=0.1, label=name,
                                 elem_id=f"edit-slider-{i}") for i, name in enumerate(names)]
            target = mix = None
            if pg.config.num_classes:
                target = gr.Number(0, precision=0, label=f"towards class (0..{pg.config.num_classes - 1})",
                                   elem_id="edit-target")
                mix = gr.Slider(0.0, 1.0, value=0.0, step=0.05, label="class mix (0: the class above, 1: "
                                "that class)", elem_id="edit-mix")
        with gr.Column(scale=1):
            with gr.Row():
                original = picture("unedited", "edit-original")
                edited = picture("edited", "edit-image")
    message = gr.Markdown(elem_id="edit-message")
    shared.original, shared.sliders, shared.edit_message = original, sliders, message
    class_inputs = [target, mix] if target is not None else [gr.State(None), gr.State(0.0)]

    def edit(checkpoint, ema, label, truncation, z, *values):
        if z is None:
            raise UserError("no image to edit yet: press Load, or invert an image of your own")
        *strengths, target, mix = values
        found = h.edit(pg, _controls(checkpoint, ema, label, truncation), np.asarray(z, np.float32), strengths,
                       None if target is None else int(target), float(mix or 0.0))
        return _image(found.image), found.message

    def load_latent(checkpoint, ema, label, truncation, seed, index):
        controls = _controls(checkpoint, ema, label, truncation)
        z = h.latent(pg, controls, int(seed), int(index))
        zeros = [0.0] * len(sliders)
        try:
            found = h.edit(pg, controls, z, zeros)
        except UserError as e:  # keep the latent: the image follows once there is a checkpoint
            return (z.tolist(), gr.skip(), gr.skip(), *zeros, f"⏳ {e}" if isinstance(e, NoCheckpointYet) else
                    f"⚠️ {e}")
        unedited = _image(found.image)
        return (z.tolist(), unedited, unedited, *zeros, f"seed {int(seed)}, image {int(index)}: {found.message}")

    edit_inputs = [*shared.controls, shared.latent, *sliders, *class_inputs]
    triggers = [s.change for s in sliders] + ([target.change, mix.change] if target is not None else [])
    gr.on(triggers, guarded(edit, 2), inputs=edit_inputs, outputs=[edited, message], api_name="edit",
          show_progress="hidden", trigger_mode="always_last")
    load_outputs = [shared.latent, original, edited, *sliders, message]
    gr.on([load.click, demo.load], guarded(load_latent, len(load_outputs)),
          inputs=[*shared.controls, seed, index], outputs=load_outputs, api_name="load_latent")
    if sliders:
        reset.click(lambda: [0.0] * len(sliders), outputs=sliders, api_visibility="private")


def _slider_names(pg: h.Playground) -> list[str]:
    """The sliders' names, known before any checkpoint: the SeFa components, then the classifier's classes."""
    names = [f"SeFa {i}" for i in range(pg.model.num_sefa)]
    if pg.model.classifier is not None:
        names += [f"towards class {c}" for c in range(pg.model.classifier.info["num_classes"])]
    return names


def invert_panel(pg: h.Playground, shared: Shared, demo: gr.Blocks) -> None:
    """Upload an image; it is inverted into the latent space (progress shown, PSNR printed), and the
    Edit part's sliders then edit that latent."""
    with gr.Row():
        upload = gr.File(label="your image (PNG, JPEG, ...)", file_count="single", type="filepath",
                         elem_id="invert-upload")
        with gr.Column():
            steps = gr.Slider(50, 2000, value=h.INVERT_STEPS, step=50, label="Adam steps",
                              elem_id="invert-steps")
            restarts = gr.Slider(1, 16, value=h.INVERT_RESTARTS, step=1, label="random restarts",
                                 elem_id="invert-restarts")
            button = gr.Button("Invert", variant="primary", elem_id="invert-button")
    with gr.Row():
        target = picture("as the model sees it", "invert-target")
        reconstruction = picture("reconstruction", "invert-reconstruction")
    message = gr.Markdown(elem_id="invert-message")

    def preview(path):
        if path is None:
            return gr.skip(), ""
        image, notes = h.model_input(pg, path)
        return _image(image), ("uploaded; " + "; ".join(notes) if notes else "uploaded") + ": press Invert"

    def run(checkpoint, ema, label, truncation, path, steps, restarts, progress=gr.Progress()):
        progress(0.0, desc="inverting")
        found = h.invert(pg, _controls(checkpoint, ema, label, truncation), path, steps=int(steps),
                         restarts=int(restarts),
                         on_progress=lambda done, total: progress(done / total, desc=f"step {done} of {total}"))
        zeros = [0.0] * len(shared.sliders)
        return (_image(found.target), _image(found.reconstruction), found.latent.tolist(),
                _image(found.reconstruction), *zeros, found.message)

    upload.upload(guarded(preview, 2), inputs=[upload], outputs=[target, message], api_name="invert_preview")
    outs = [target, reconstruction, shared.latent, shared.original, *shared.sliders, message]
    button.click(guarded(run, len(outs)), inputs=[*shared.controls, upload, steps, restarts], outputs=outs,
                 api_name="invert")


def inpaint_panel(pg: h.Playground, shared: Shared, demo: gr.Blocks) -> None:
    """Paint a mask with the brush over a generated or uploaded image and fill it; shown beside the
    masked input and the harmonic (baseline) fill."""
    r = pg.config.resolution
    factor = max(1, EDITOR_SIZE // r)
    size = r * factor
    if pg.latent:
        with gr.Row():
            seed = gr.Number(0, precision=0, label="seed", elem_id="inpaint-seed")
            index = gr.Number(0, precision=0, label="image", elem_id="inpaint-index")
            use = gr.Button("Use this generated image", elem_id="inpaint-use")
    gr.Markdown("Paint over the part to replace with the brush (or upload an image into the editor), then "
                "press **Fill**.")
    editor = gr.ImageEditor(label="image and mask", type="numpy", image_mode="RGBA", sources=["upload"],
                            format="png", transforms=[], layers=False, canvas_size=(size, size),
                            brush=gr.Brush(default_size=max(2, 2 * factor), colors=["#ff00ff"],
                                           color_mode="fixed"),
                            height=size + 140, elem_id="inpaint-editor")
    with gr.Row():
        steps = gr.Slider(50, 2000, value=h.INPAINT_STEPS, step=50, label="Adam steps (latent optimisation)",
                          visible=not tasks.supports(pg.config, "inpaint"), elem_id="inpaint-steps")
        button = gr.Button("Fill", variant="primary", elem_id="inpaint-button")
    with gr.Row():
        masked = picture("masked input", "inpaint-masked")
        baseline = picture("harmonic fill (baseline)", "inpaint-baseline")
        filled = picture("filled", "inpaint-filled")
    message = gr.Markdown(elem_id="inpaint-message")

    def from_seed(checkpoint, ema, label, truncation, seed, index):
        controls = _controls(checkpoint, ema, label, truncation)
        found = h.image(pg, controls, int(seed), int(index))
        enlarged = _upscale(_image(found.image), factor)
        return {"background": enlarged, "layers": [], "composite": enlarged}, found.message

    def fill(checkpoint, ema, label, truncation, value, steps):
        if not value or value.get("background") is None:
            raise UserError("no image: use a generated image or upload one into the editor")
        background = value["background"]
        small = _shown_small(background, r, factor)
        found = h.inpaint(pg, _controls(checkpoint, ema, label, truncation),
                          small if small is not None else background, value.get("layers") or [], steps=int(steps))
        return (_image(found.image, found.mask), _image(found.baseline), _image(found.filled), found.message)

    if pg.latent:
        gr.on([use.click, demo.load], guarded(from_seed, 2), inputs=[*shared.controls, seed, index],
              outputs=[editor, message], api_name="inpaint_image")
    button.click(guarded(fill, 4), inputs=[*shared.controls, editor, steps],
                 outputs=[masked, baseline, filled, message], api_name="inpaint")


def _shown_small(background: np.ndarray, resolution: int, factor: int) -> np.ndarray | None:
    """The model-size image the editor shows ``factor`` times enlarged (nearest neighbour), or None when
    ``background`` is something else (an upload: converted by the handler, which says so)."""
    pixels = uploads.read(background, "image")
    if factor == 1 or pixels.shape[:2] != (resolution * factor,) * 2:
        return None
    small = pixels[::factor, ::factor]
    return small if np.array_equal(_upscale(small, factor), pixels) else None


def translate_panel(pg: h.Playground, shared: Shared, demo: gr.Blocks) -> None:
    """Image-to-image runs: upload an image, see the result beside the plain baseline."""
    with gr.Row():
        upload = gr.File(label="your image (PNG, JPEG, ...)", file_count="single", type="filepath",
                         elem_id="translate-upload")
        with gr.Column():
            upscales = tasks.supports(pg.config, "upscale")
            # Both directions offered to a translation run: one that translates one way only says so.
            direction = gr.Radio(["a2b", "b2a"], value="a2b", label="direction (CycleGAN: both ways)",
                                 visible=not upscales, elem_id="translate-direction")
            button = gr.Button("Upscale" if upscales else "Translate", variant="primary",
                               elem_id="translate-button")
    with gr.Row():
        source = picture("input", "translate-source", height=None)
        baseline = picture("baseline", "translate-baseline", height=None)
        output = picture("result", "translate-output", height=None)
    message = gr.Markdown(elem_id="translate-message")

    def run(checkpoint, ema, label, truncation, path, direction):
        found = h.translate(pg, _controls(checkpoint, ema, label, truncation), path, direction)
        return _image(found.source), _image(found.baseline), _image(found.output), found.message

    button.click(guarded(run, 4), inputs=[*shared.controls, upload, direction],
                 outputs=[source, baseline, output, message], api_name="translate")


PANELS: list[tuple[str, Callable[[h.Playground], bool], Callable]] = [
    ("Watch", lambda pg: True, watch_panel),
    ("Generate", lambda pg: pg.latent, generate_panel),
    ("Interpolate", lambda pg: pg.latent, interpolate_panel),
    ("Edit", lambda pg: pg.latent, edit_panel),
    ("Your image", lambda pg: pg.latent, invert_panel),
    ("Inpaint", lambda pg: pg.latent or tasks.supports(pg.config, "inpaint"), inpaint_panel),
    ("Translate", h.translates, translate_panel),
]
"""The parts in page order: (tab title, whether the run gets it, builder)."""


def _header(pg: h.Playground) -> str:
    c = pg.config
    kind = f"{c.num_classes} classes" if c.num_classes else "unconditional"
    what = f"task={c.task}, model={c.model}, {c.resolution} px, {c.channels} channel(s)"
    return f"## gan_jax playground\n`{pg.workdir}` · {what}" + (f", {kind}" if pg.latent else "")


def build(pg: h.Playground) -> gr.Blocks:
    """The page for ``pg``'s run (not launched)."""
    with gr.Blocks(title=f"gan_jax playground: {pg.workdir}", analytics_enabled=False) as demo:
        gr.Markdown(_header(pg))
        with gr.Row():
            checkpoint = gr.Dropdown(pg.model.checkpoint_choices(), value="latest", label="checkpoint",
                                     allow_custom_value=True, elem_id="ctl-checkpoint")
            ema = gr.Checkbox(value=pg.config.ema_decay > 0, label="EMA generator",
                              interactive=pg.config.ema_decay > 0, elem_id="ctl-ema")
            if pg.config.num_classes:
                label = gr.Number(0, precision=0, label=f"class (0..{pg.config.num_classes - 1})",
                                  elem_id="ctl-class")
            else:
                label = gr.State(None)
            truncation = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="truncation (latent scale)",
                                   visible=pg.latent, elem_id="ctl-truncation")
        shared = Shared([checkpoint, ema, label, truncation], gr.State(None))
        with gr.Tabs():
            for title, applies, panel in PANELS:
                if applies(pg):
                    name = title.lower().split()[0]
                    with gr.Tab(title, id=name, elem_id=f"tab-{name}"):
                        panel(pg, shared, demo)
    return demo


def warm_up(pg: h.Playground) -> None:
    """Compile the programs a first slider move, generate and interpolation call, so that the first
    use answers at once (nothing happens before the run's first checkpoint)."""
    try:
        controls = h.Controls(label=0 if pg.config.num_classes else None)
        if pg.latent:
            z = h.latent(pg, controls, 0, 0)
            h.edit(pg, controls, z, [0.0] * len(_slider_names(pg)))
            h.generate(pg, controls, 0, 16)
            h.interpolate(pg, controls, z, h.latent(pg, controls, 1, 0), 0.5)
    except UserError:
        pass
    except Exception:  # noqa: BLE001 - a failed warm-up only costs the first call its compile time
        log.exception("playground warm-up failed")
