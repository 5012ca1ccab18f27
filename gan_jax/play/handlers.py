"""The page's parts as plain functions: numbers, arrays and uploads in; images, numbers and a
message out. Nothing here knows of Gradio (:mod:`gan_jax.play.app` wires these to the page).

Every handler takes the :class:`Playground` of the run first and, where a generator is used,
the shared model :class:`Controls`. Images are float32 [H, W, C] in [-1, 1] (grids: uint8).
Bad input raises :class:`gan_jax.errors.UserError` with the message the page shows;
``no checkpoint yet`` is :class:`gan_jax.play.model.NoCheckpointYet`.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import uuid
from typing import Callable, NamedTuple

import jax
import numpy as np

from gan_jax import images as img
from gan_jax import tasks
from gan_jax.errors import UserError
from gan_jax.play import baselines, runlog, uploads
from gan_jax.play.model import MAX_IMAGES, RunModel

INVERT_STEPS = 500
"""Default Adam steps of the page's inversion (``gan-jax invert`` takes 1000: the page answers sooner).
On the default run, 500 steps x 8 restarts recover images the generator made to 36 dB on average (worst
of 10: 30 dB; 1000 steps: 40 / 34 dB; 300 x 4: 32 / 23 dB); see the README's Playground section."""
INVERT_RESTARTS = 8
INPAINT_STEPS = 300
FEATURE_WEIGHT = 0.1
"""The inversion's discriminator-feature weight, as ``gan-jax invert``'s default."""


class Controls(NamedTuple):
    """The model controls every latent part shares."""
    checkpoint: str = "latest"  # latest, best or a step
    ema: bool = True  # the EMA generator when the run keeps one
    label: int | None = None  # conditional runs: the class drawn
    truncation: float = 1.0  # latents are truncation x N(0, I)


@dataclasses.dataclass
class Playground:
    """One run directory as the page shows it: its config, its networks (:class:`RunModel`),
    its metrics log, and ``files``, the temporary directory downloads are written to."""
    workdir: str
    config: object
    model: RunModel
    log: runlog.MetricsLog
    files: str

    @classmethod
    def open(cls, workdir: str, files: str, *, sefa: int = 5, classifier=None) -> "Playground":
        """The run in ``workdir`` (UserError if it is not a run directory); no checkpoint is needed yet."""
        from gan_jax import workdir as wd

        workdir = os.path.abspath(workdir)
        config = wd.load_config(workdir)
        if config.population > 1:
            raise UserError(f"--workdir {workdir}: a population of {config.population} GANs; the playground "
                            f"shows one GAN (gan-jax sample --member i draws from a member)")
        return cls(workdir, config, RunModel(workdir, config, sefa=sefa, classifier=classifier),
                   runlog.MetricsLog(os.path.join(workdir, "metrics.jsonl")), files)

    @property
    def latent(self) -> bool:
        """Whether the run has a latent space (generate, interpolate, edit, invert)."""
        return self.model.latent

    def out_path(self, stem: str, ext: str) -> str:
        """A new file name in :attr:`files`."""
        return os.path.join(self.files, f"{stem}_{uuid.uuid4().hex[:8]}{ext}")


# --- 1. watch ---------------------------------------------------------------------------------

class Watched(NamedTuple):
    status: str  # one line: step, step rate, training or not, newest checkpoint
    curves: dict  # runlog.curves(): {"losses": rows, "d_outputs": rows}
    grid: np.ndarray | None  # uint8 [H, W, C], the newest sample grid
    grid_step: int | None
    checkpoints: list[str]  # the checkpoint control's choices


def watch(pg: Playground) -> Watched:
    """The run's progress as logged so far (call it again to follow a run that trains)."""
    rows = pg.log.read()
    steps = runlog.checkpoint_steps(pg.workdir)
    newest = runlog.newest_grid(pg.workdir)
    grid = None
    if newest is not None:
        try:
            grid = uploads.read(newest[1], "sample grid")
        except UserError:  # being written: shown at the next refresh
            newest = None
    status = runlog.status(rows, runlog.total_steps(pg.workdir, pg.config.steps), pg.log.modified(), steps)
    return Watched(status, runlog.curves(rows), grid, newest[0] if newest else None, pg.model.checkpoint_choices())


# --- 2. generate ------------------------------------------------------------------------------

class Generated(NamedTuple):
    images: np.ndarray  # float32 [N, R, R, C]
    grid: np.ndarray  # uint8 grid of the images
    path: str  # the grid as a PNG file (the download)
    step: int
    message: str


def _need_latent(pg: Playground, part: str, controls: Controls | None = None) -> None:
    """UserError unless the run has a latent space and ``controls`` name a valid class (conditional runs)."""
    if not pg.latent:
        raise UserError(f"{part}: a task={pg.config.task} run has no latent space; expected a GAN run "
                        f"(task=generate)")
    if controls is not None:
        pg.model.labels(controls.label, 1)


def _range(name: str, value, low, high) -> None:
    if value is None or not low <= value <= high:
        raise UserError(f"{name} {value}: expected {low}..{high}")


def _draw(pg: Playground, controls: Controls, z: np.ndarray) -> tuple[np.ndarray, int]:
    variables, step = pg.model.variables(controls.checkpoint, controls.ema)
    return pg.model.sample(variables, z, pg.model.labels(controls.label, len(z))), step


def _describe(pg: Playground, controls: Controls, step: int) -> str:
    ema = "EMA" if controls.ema and pg.config.ema_decay > 0 else "raw weights"
    cls = f", class {controls.label}" if pg.config.num_classes else ""
    return f"step {step:,} ({ema}{cls}, truncation {controls.truncation:g})"


def generate(pg: Playground, controls: Controls, seed: int = 0, num: int = 16) -> Generated:
    """``num`` images from latents drawn with ``seed`` (image k is ``gan-jax sample --seed``'s image k)."""
    _need_latent(pg, "generate", controls)
    _range("number of images", num, 1, MAX_IMAGES)
    z = pg.model.latents(seed, num, controls.truncation)
    images, step = _draw(pg, controls, z)
    grid = img.make_grid(images)
    path = pg.out_path(f"generated_seed{int(seed)}_step{step}", ".png")
    img.save_image(grid, path)
    return Generated(images, grid, path, step, f"{num} images, seed {int(seed)}, {_describe(pg, controls, step)}")


def latent(pg: Playground, controls: Controls, seed: int, index: int = 0) -> np.ndarray:
    """float32 [Z]: the latent of image ``index`` of what :func:`generate` draws with ``seed``."""
    _need_latent(pg, "latent", controls)
    _range("image", index, 0, MAX_IMAGES - 1)
    return pg.model.latents(seed, int(index) + 1, controls.truncation)[int(index)]


class Frame(NamedTuple):
    image: np.ndarray  # float32 [R, R, C]
    step: int
    message: str


def image(pg: Playground, controls: Controls, seed: int, index: int = 0) -> Frame:
    """Image ``index`` of what :func:`generate` draws with ``seed``, alone."""
    images, step = _draw(pg, controls, latent(pg, controls, seed, index)[None])
    return Frame(images[0], step, f"seed {int(seed)}, image {int(index)}, {_describe(pg, controls, step)}")


# --- 3. interpolate ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _jitted(method: str) -> Callable:
    from gan_jax.edit import lerp, slerp

    return jax.jit(slerp if method == "slerp" else lerp)


def _path(a: np.ndarray, b: np.ndarray, t, method: str) -> np.ndarray:
    """Latents [..., Z] at fractions ``t`` [...] of the way from ``a`` [Z] to ``b`` [Z]."""
    if method not in ("slerp", "lerp"):
        raise UserError(f"interpolation {method!r}: expected slerp or lerp")
    return np.asarray(_jitted(method)(np.asarray(a, np.float32), np.asarray(b, np.float32),
                                      np.asarray(t, np.float32)))


def interpolate(pg: Playground, controls: Controls, a: np.ndarray, b: np.ndarray, t: float,
                method: str = "slerp") -> Frame:
    """The image at fraction ``t`` of the way from latent ``a`` [Z] to ``b`` [Z]."""
    _need_latent(pg, "interpolate", controls)
    _range("t", t, 0.0, 1.0)
    images, step = _draw(pg, controls, _path(a, b, t, method)[None])
    return Frame(images[0], step, f"t = {t:.2f} ({method}), {_describe(pg, controls, step)}")


class Animation(NamedTuple):
    frames: np.ndarray  # uint8 [T, H, W, C]
    path: str  # an animated GIF, forwards then back
    message: str


def animation(pg: Playground, controls: Controls, a: np.ndarray, b: np.ndarray, frames: int = 16,
              method: str = "slerp") -> Animation:
    """An animated GIF of ``frames`` images from latent ``a`` to ``b`` (and back)."""
    _need_latent(pg, "interpolate", controls)
    _range("frames", frames, 2, MAX_IMAGES)
    t = np.linspace(0.0, 1.0, int(frames), dtype=np.float32)
    images, step = _draw(pg, controls, _path(a, b, t, method))
    seq = img.grid_frames(images[None], ncol=1, pad=0, bounce=True)
    path = pg.out_path(f"interpolation_step{step}", ".gif")
    img.save_gif(seq, path, duration_ms=80)
    return Animation(seq, path, f"{frames} frames ({method}), {_describe(pg, controls, step)}")


# --- 4. edit with sliders ---------------------------------------------------------------------

def directions(pg: Playground, controls: Controls) -> tuple[str, ...]:
    """The sliders' names (SeFa components, then the classifier's classes when one is given)."""
    _need_latent(pg, "edit", controls)
    return pg.model.directions(controls.checkpoint, controls.ema, controls.label).names


def edit(pg: Playground, controls: Controls, z: np.ndarray, strengths, target: int | None = None,
         mix: float = 0.0) -> Frame:
    """The image of latent ``z`` [Z] moved by ``strengths`` [K] along the sliders' directions
    (all 0: the unedited image); conditional runs also mix the class towards ``target`` by ``mix``."""
    _need_latent(pg, "edit", controls)
    dirs = pg.model.directions(controls.checkpoint, controls.ema, controls.label)
    strengths = np.asarray(strengths if strengths is not None else [], np.float32).reshape(-1)
    if strengths.size != len(dirs.names):
        raise UserError(f"{strengths.size} slider values: expected {len(dirs.names)} ({', '.join(dirs.names)})")
    if pg.config.num_classes and target is not None:
        pg.model.labels(target, 1)  # the target class is checked like the class
    variables, step = pg.model.variables(controls.checkpoint, controls.ema)
    image = pg.model.edit(variables, np.asarray(z, np.float32), dirs.vectors, strengths, controls.label,
                          target, mix)
    moved = ", ".join(f"{n} {s:+g}" for n, s in zip(dirs.names, strengths) if s) or "unedited"
    if mix and pg.config.num_classes:
        moved += f", class {controls.label} -> {target} by {mix:g}"
    return Frame(image, step, f"{moved}; {_describe(pg, controls, step)}")


# --- 5. bring your own image -----------------------------------------------------------------

class Inverted(NamedTuple):
    latent: np.ndarray  # float32 [Z]
    target: np.ndarray  # float32 [R, R, C]: the upload as the model sees it
    reconstruction: np.ndarray  # float32 [R, R, C]
    psnr: float  # dB, on [0, 1] images
    step: int
    message: str


def model_input(pg: Playground, upload) -> tuple[np.ndarray, list[str]]:
    """An upload as the run's generator images: float32 [R, R, C] and the conversions' notes."""
    return uploads.fit(uploads.read(upload, "upload"), pg.config.resolution, pg.config.channels)


def invert(pg: Playground, controls: Controls, upload, *, steps: int = INVERT_STEPS,
           restarts: int = INVERT_RESTARTS, seed: int = 0,
           on_progress: Callable[[int, int], None] | None = None) -> Inverted:
    """The latent whose image best matches ``upload`` (a file, array or PIL image; fitted to the
    model with notes): Adam on pixel MSE + 0.1 x D-feature distance, ``restarts`` random starts.
    ``on_progress(done, steps)`` follows the optimisation."""
    from gan_jax import sampling
    from gan_jax.edit import psnr
    from gan_jax.models.dcgan import latent_codes
    from gan_jax.play import inversion

    _need_latent(pg, "invert", controls)
    _range("steps", steps, 1, 10_000)
    _range("restarts", restarts, 1, 64)
    target, notes = model_input(pg, upload)
    g = sampling.latent_generator(pg.config, controls.label)
    variables, step = pg.model.variables(controls.checkpoint, controls.ema)
    found = inversion.invert(g, variables, target[None], jax.random.PRNGKey(int(seed)), z_dim=pg.config.z_dim,
                             features=pg.model.d_features, feature_variables=pg.model.d_variables(controls.checkpoint),
                             feature_weight=FEATURE_WEIGHT, steps=int(steps), restarts=int(restarts),
                             codes=latent_codes(pg.config), on_progress=on_progress)
    db = float(psnr(found.images, target[None])[0])
    note = f" ({'; '.join(notes)})" if notes else ""
    message = (f"reconstruction PSNR {db:.1f} dB (on [0, 1] images) after {steps} steps x {restarts} restarts"
               f"{note}; the sliders now edit this latent")
    return Inverted(np.asarray(found.latents[0]), target, np.asarray(found.images[0]), db, step, message)


# --- 6. inpaint -------------------------------------------------------------------------------

class Inpainted(NamedTuple):
    image: np.ndarray  # float32 [H, W, C]: the input as the model sees it
    mask: np.ndarray  # float32 [H, W, 1], 1 = missing
    baseline: np.ndarray  # the harmonic fill
    filled: np.ndarray  # the model's fill (known pixels unchanged)
    message: str


def inpaint(pg: Playground, controls: Controls, upload, mask_layers, *, steps: int = INPAINT_STEPS,
            seed: int = 0) -> Inpainted:
    """Fill the pixels ``mask_layers`` paint over (:func:`uploads.brush_mask`) in ``upload``.

    A run trained for inpainting fills with its model; a GAN with latent optimisation on the
    known pixels (``steps`` Adam steps, 4 restarts). Shown against the harmonic fill. An empty
    mask returns the image unchanged; a mask over every pixel is a UserError."""
    from gan_jax.edit import composite, diffusion_fill, make_inpainter

    trained = tasks.supports(pg.config, "inpaint")
    if not (trained or pg.latent):
        raise UserError(f"inpaint: a task={pg.config.task} run cannot inpaint; expected a GAN or an inpainting run")
    pixels = uploads.read(upload, "image")
    if trained:
        image, notes = uploads.fit_channels(pixels, pg.config.channels)
    else:
        image, notes = uploads.fit(pixels, pg.config.resolution, pg.config.channels)
    mask = uploads.brush_mask(mask_layers, image.shape[:2])
    note = f" ({'; '.join(notes)})" if notes else ""
    if not mask.any():
        return Inpainted(image, mask, image, image, f"the mask covers nothing: nothing to fill; paint over the "
                         f"part to replace{note}")
    if mask.all():
        raise UserError("the mask covers everything: no known pixel is left to fit; paint over only the part "
                        "to replace (for a new image, use Generate)")
    _range("steps", steps, 1, 10_000)
    if not trained:
        pg.model.labels(controls.label, 1)
    restored = pg.model.restore(controls.checkpoint)
    fill = make_inpainter(pg.config, restored.state, "latent", label=controls.label, use_ema=controls.ema,
                          **({} if trained else {"steps": int(steps)}))
    filled = fill(image[None], mask[None], jax.random.PRNGKey(int(seed)))
    filled = np.asarray(composite(image[None], filled, mask[None]))[0]  # known pixels exactly as they were
    baseline = np.asarray(diffusion_fill(image[None], mask[None]))[0]
    how = "the run's inpainting model" if trained else f"latent optimisation ({steps} steps)"
    return Inpainted(image, mask, baseline, filled,
                     f"{int(mask.sum())} of {mask.size} pixels filled by {how}, step {restored.step:,}; "
                     f"beside it the harmonic fill{note}")


# --- 8. image-to-image ------------------------------------------------------------------------

class Translated(NamedTuple):
    source: np.ndarray  # float32 [H, W, C]: the input as the model sees it
    baseline: np.ndarray  # the plain result (baselines.baseline)
    output: np.ndarray  # the run's result
    message: str


def translates(pg: Playground) -> bool:
    """Whether the run translates images (pix2pix, CycleGAN, SRGAN)."""
    return tasks.supports(pg.config, "translate") or tasks.supports(pg.config, "upscale")


def translate(pg: Playground, controls: Controls, upload, direction: str = "a2b") -> Translated:
    """The run's result for ``upload`` (any size; channels converted) beside the plain baseline."""
    from gan_jax import translate as tr

    if not translates(pg):
        raise UserError(f"translate: a task={pg.config.task} run does not translate images; expected a pix2pix, "
                        f"CycleGAN or SRGAN run")
    source, notes = uploads.fit_channels(uploads.read(upload, "upload"), pg.config.channels)
    restored = pg.model.restore(controls.checkpoint)
    if tasks.supports(pg.config, "upscale"):
        output = tr.upscale(pg.config, restored.state, source, use_ema=controls.ema)
    else:
        output = tr.translate(pg.config, restored.state, source, direction, use_ema=controls.ema)
    baseline, name = baselines.baseline(pg.config, source)
    note = f" ({'; '.join(notes)})" if notes else ""
    return Translated(source, baseline, np.asarray(output),
                      f"{pg.config.task} {direction}, step {restored.step:,}; beside it {name}{note}")


# --- display ----------------------------------------------------------------------------------

HOLE_COLOUR = np.array([255, 0, 255], np.uint8)
"""How the masked input shows its hole."""


def display(image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """An image for the page: float32 [H, W, C] in [-1, 1] (or uint8 [H, W, C], e.g. a grid) ->
    uint8 [H, W, 3]; with ``mask`` [H, W, 1] the hole is painted :data:`HOLE_COLOUR`."""
    pixels = image if image.dtype == np.uint8 else img.to_uint8(image)
    pixels = np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels[..., :3]
    if mask is not None:
        pixels = np.where(mask > 0.5, HOLE_COLOUR, pixels).astype(np.uint8)
    return pixels
