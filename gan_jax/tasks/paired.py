"""The paired image-to-image tasks: ``pix2pix``, ``inpaint`` and ``srgan``.

Batch ``{"source", "target"}`` (float32 [B, h, w, C_in] and [B, H, W, C] in [-1, 1]). One D
update on (source, target) against (source, G(source)) — D sees the pair for pix2pix and
inpaint, the image alone for SRGAN — then one G update on the adversarial loss plus
``l1_weight`` * L1(G(source), target) (plus ``feature_weight`` * the MSE between D's
features of G(source) and of the target for SRGAN). ``inpaint`` sources are the masked
image with the mask (1 = missing) as a last channel, and G's output only fills the hole.
``pretrain_steps`` > 0: those first steps update G on the pixel loss alone.

Sources are made from each target image (``degrade``): Gaussian noise, greyscale or
edges for pix2pix, a masked box for inpaint, an antialiased downscale for SRGAN.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gan_jax import losses
from gan_jax.errors import UserError
from gan_jax.state import GANState, make_optimizers
from gan_jax.tasks.base import Task
from gan_jax.tasks.common import (apply_optimizer, commit, device_mean, is_finite, l1, nonfinite_bits, probabilities,
                                  update_ema)
from gan_jax.tasks.init import build_models
from gan_jax.tasks.translation import as_is, grid_batch, run_generator
from gan_jax.tiles import tiled

DEGRADE = {"pix2pix": ("noise", "grey", "edges"), "inpaint": ("mask_center", "mask_box")}
"""The ``degrade`` choices of each paired task (SRGAN always downscales)."""


def compose_inpaint(source, output):
    """The inpainting generator's image: the known pixels of ``source`` (the masked image,
    mask last) with ``output`` in the hole."""
    known, mask = source[..., :-1], source[..., -1:]
    return known * (1.0 - mask) + output * mask


def compose_for(config) -> Callable:
    """``compose(source, output) -> image`` of ``config.task``."""
    return compose_inpaint if config.task == "inpaint" else as_is


def make_step(config, axis_name: str | None = None, layout=None) -> Callable:
    """The train step of pix2pix, inpaint and SRGAN (``layout`` is unused: no drawn arrays)."""
    g_net, d_net = build_models(config, axis_name)
    tx_g, tx_d = make_optimizers(config)
    loss = losses.get(config.loss)
    compose = compose_for(config)
    conditional = config.task in ("pix2pix", "inpaint")
    features = config.feature_weight > 0

    def generate(g_params, g_stats, source):
        out, new = g_net.apply({"params": g_params, "batch_stats": g_stats}, source, train=True,
                               mutable=["batch_stats"])
        return compose(source, out), new.get("batch_stats", {})

    def discriminate(d_params, d_stats, source, image, with_features=False):
        x = jnp.concatenate([source, image], axis=-1) if conditional else image
        kwargs = {"features": True} if with_features else {}
        out, new = d_net.apply({"params": d_params, "batch_stats": d_stats}, x, train=True,
                               mutable=["batch_stats"], **kwargs)
        return out, new.get("batch_stats", {})

    def d_objective(d_params, d_stats, source, real, fake):
        real_logits, d_stats = discriminate(d_params, d_stats, source, real)
        fake_logits, d_stats = discriminate(d_params, d_stats, source, fake)
        return loss.d_loss(real_logits, fake_logits), (d_stats, real_logits, fake_logits)

    def g_objective(fake, d_params, d_stats, source, target):
        parts = {"l1": l1(fake, target)}
        real_logits = None
        if features:
            (real_logits, real_feats), d_stats = discriminate(d_params, d_stats, source, target, True)
            (logits, fake_feats), d_stats = discriminate(d_params, d_stats, source, fake, True)
            parts["feature"] = sum(jnp.mean(jnp.square(f - lax.stop_gradient(r)))
                                   for f, r in zip(fake_feats, real_feats)) / len(fake_feats)
        else:
            if loss.relativistic:
                real_logits, d_stats = discriminate(d_params, d_stats, source, target)
            logits, d_stats = discriminate(d_params, d_stats, source, fake)
        if loss.relativistic:
            real_logits = lax.stop_gradient(real_logits)
        parts["adv"] = loss.g_loss(real_logits if loss.relativistic else None, logits)
        total = parts["adv"] + config.l1_weight * parts["l1"]
        if features:
            total += config.feature_weight * parts["feature"]
        return total, (d_stats, parts)

    def gan_step(state: GANState, batch) -> tuple[GANState, dict]:
        source, target = batch["source"], batch["target"]
        key, _ = jax.random.split(state.key)
        fake, g_pullback, g_stats = jax.vjp(lambda p: generate(p, state.g_stats, source), state.g_params,
                                            has_aux=True)
        (d_loss, (d_stats, real_logits, fake_logits)), d_grads = jax.value_and_grad(d_objective, has_aux=True)(
            state.d_params, state.d_stats, source, target, lax.stop_gradient(fake))
        d_grads, d_loss = device_mean((d_grads, d_loss), axis_name)
        d_params, d_opt = apply_optimizer(tx_d, d_grads, state.d_opt, state.d_params)

        (g_loss, (d_stats, parts)), d_fake = jax.value_and_grad(g_objective, has_aux=True)(
            fake, d_params, d_stats, source, target)
        (g_grads,) = g_pullback(d_fake)
        g_grads, g_loss, parts = device_mean((g_grads, g_loss, parts), axis_name)
        g_params, g_opt = apply_optimizer(tx_g, g_grads, state.g_opt, state.g_params)

        what = nonfinite_bits(d_loss, g_loss, is_finite(d_grads), is_finite(g_grads))
        new_state = commit(state, dict(g_params=g_params, g_stats=g_stats, d_params=d_params, d_stats=d_stats,
                                       g_opt=g_opt, d_opt=d_opt, ema=update_ema(config, state, g_params, g_stats)),
                           what, key)
        metrics = device_mean({"d_loss": d_loss, "g_loss": g_loss, **probabilities(real_logits, fake_logits)},
                              axis_name)
        metrics.update(parts)
        metrics["nonfinite"] = what
        return new_state, metrics

    def pixel_step(state: GANState, batch) -> tuple[GANState, dict]:
        """Pretraining: G on the pixel loss alone; D and its optimiser untouched."""
        source, target = batch["source"], batch["target"]
        key, _ = jax.random.split(state.key)

        def objective(g_params):
            fake, g_stats = generate(g_params, state.g_stats, source)
            return l1(fake, target), g_stats

        (pixel_l1, g_stats), g_grads = jax.value_and_grad(objective, has_aux=True)(state.g_params)
        g_grads, pixel_l1 = device_mean((g_grads, pixel_l1), axis_name)
        g_params, g_opt = apply_optimizer(tx_g, g_grads, state.g_opt, state.g_params)
        zero = jnp.zeros((), jnp.float32)
        what = nonfinite_bits(zero, pixel_l1, jnp.array(True), is_finite(g_grads))
        new_state = commit(state, dict(g_params=g_params, g_stats=g_stats, g_opt=g_opt,
                                       ema=update_ema(config, state, g_params, g_stats)), what, key)
        metrics = {"d_loss": zero, "g_loss": config.l1_weight * pixel_l1, "d_real": zero, "d_fake": zero,
                   "l1": pixel_l1, "adv": zero, "nonfinite": what}
        if features:
            metrics["feature"] = zero
        return new_state, metrics

    if not config.pretrain_steps:
        return gan_step
    if config.steps <= config.pretrain_steps:
        return pixel_step  # every step of this run pretrains: no conditional needed

    def step(state: GANState, batch) -> tuple[GANState, dict]:
        # XLA:CPU runs convolutions inside a conditional several times slower: on the CPU, train
        # the two phases as two runs (--steps pretrain_steps, then resume with pretrain_steps=0).
        return lax.cond(state.step < config.pretrain_steps, pixel_step, gan_step, state, batch)

    return step


# --------------------------------------------------------------------------- setup

def model_options(config) -> dict:
    """The U-Net's: pix2pix from noise or greyscale predicts a correction of its input (the
    source is the target degraded in place)."""
    if config.model != "unet":
        return {}
    return {"residual": config.task == "pix2pix" and config.degrade in ("noise", "grey")}


def init_variables(config, g, d, key_g, key_d) -> tuple[dict, dict]:
    """G from a source [1, r, r, C (+1 mask for inpaint)] (SRGAN: [1, r/scale, r/scale, C]), D
    from the (source, image) pair (SRGAN: the image alone)."""
    r, c = config.resolution, config.channels
    x = jnp.zeros((1, r, r, c), jnp.float32)
    if config.task == "srgan":
        return g.init(key_g, jnp.zeros((1, r // config.scale, r // config.scale, c)), train=False), \
            d.init(key_d, x, train=False)
    source = jnp.zeros((1, r, r, c + (config.task == "inpaint")), jnp.float32)
    return g.init(key_g, source, train=False), d.init(key_d, jnp.concatenate([source, x], -1), train=False)


def data_source(config, split: str = "train"):
    """Pairs made from ``config.dataset`` (``split="heldout"``: from ``holdout_dataset``)."""
    from gan_jax.data.load import load_source
    from gan_jax.data.paired import PairedSource

    spec = config.holdout_dataset or config.dataset if split == "heldout" else config.dataset
    images = load_source(spec, resolution=config.resolution, channels=config.channels,
                         tfds_data_dir=config.tfds_data_dir or None)
    kind = "downscale" if config.task == "srgan" else config.degrade
    return PairedSource(images, kind, noise_sigma=config.noise_sigma, scale=config.scale)


def _as_image(config, source: np.ndarray) -> np.ndarray:
    """A source batch as images of the target size and channels (nearest upsampling for SR,
    the masked image without its mask channel for inpainting)."""
    if config.task == "srgan":
        return np.repeat(np.repeat(source, config.scale, axis=1), config.scale, axis=2)
    return source[..., :config.channels]


def sample_grid(config, state, z=None, num: int = 8) -> tuple[np.ndarray, int]:
    """Rows of source | output | target from a fixed held-out batch (``z`` is unused)."""
    batch = grid_batch(config, num)
    output = run_generator(config, generator_variables(config, state), batch["source"], compose=compose_for(config))
    columns = [_as_image(config, batch["source"]), output, batch["target"]]
    return np.stack(columns, axis=1).reshape((-1,) + columns[0].shape[1:]), len(columns)


def _validate(config) -> None:
    task = config.task
    if task in DEGRADE and config.degrade not in DEGRADE[task]:
        raise UserError(f"degrade={config.degrade!r}: task={task} expects one of {', '.join(DEGRADE[task])}")
    if task not in DEGRADE and config.degrade:
        raise UserError(f"degrade={config.degrade!r}: only for task=pix2pix or inpaint (task={task})")
    if task == "pix2pix" and config.degrade == "noise" and not config.noise_sigma > 0:
        raise UserError(f"noise_sigma={config.noise_sigma}: degrade=noise needs a positive sigma")
    generator_only_fields(config)


def generator_only_fields(config) -> None:
    """UserError when an image-to-image config sets fields of the GAN step (``task=generate``)."""
    if (config.num_classes or config.n_critic != 1 or config.fresh_reals or config.gp_weight or config.r1_gamma
            or config.r2_gamma or config.augment):
        raise UserError(f"task={config.task}: num_classes, n_critic > 1, fresh_reals, gp_weight, r1_gamma, "
                        "r2_gamma and augment are for task=generate only")


# --------------------------------------------------------------------------- inference

def generator_variables(config, state, direction: str = "a2b", use_ema: bool = True) -> dict:
    """Flax variables of the generator (a paired model translates one way only: a2b)."""
    if direction != "a2b":
        if direction != "b2a":
            raise UserError(f"--direction {direction}: expected a2b or b2a")
        raise UserError(f"--direction {direction}: a {config.task} model translates one way only (a2b)")
    return state.generator_variables(use_ema)


def _run(config, state, direction, use_ema) -> Callable:
    variables = generator_variables(config, state, direction, use_ema)
    return lambda tiles: run_generator(config, variables, tiles, compose=compose_for(config))


def translate(config, state, image: np.ndarray, direction: str = "a2b", use_ema: bool = True) -> np.ndarray:
    """pix2pix: the translation of ``image`` [H, W, C] in [-1, 1] -> [H, W, C], in tiles."""
    r = config.resolution
    return tiled(_run(config, state, direction, use_ema), image, r, r // 4)


def upscale(config, state, image: np.ndarray, tile: int = 64, use_ema: bool = True) -> np.ndarray:
    """SRGAN: ``image`` [H, W, C] in [-1, 1] -> [scale*H, scale*W, C], in ``tile``-px input tiles."""
    return tiled(_run(config, state, "a2b", use_ema), image, tile, max(tile // 8, 2), config.scale)


def inpaint(config, state, image: np.ndarray, mask: np.ndarray, use_ema: bool = True) -> np.ndarray:
    """Inpainting model: ``image`` [H, W, C] in [-1, 1] with ``mask`` [H, W, 1] (1 = missing)
    -> the image with the hole filled (known pixels unchanged)."""
    from gan_jax.data.paired import inpaint_source

    r = config.resolution
    return tiled(_run(config, state, "a2b", use_ema), inpaint_source(image, mask), r, r // 4)


def _task(name: str, models: tuple[str, ...], operation: dict) -> Task:
    common = {"generator_variables": generator_variables,
              "run_generator": lambda config, variables, sources, chunk=16: run_generator(
                  config, variables, sources, chunk, compose=compose_for(config))}
    return Task(name=name, models=models, model_options=model_options, init_variables=init_variables,
                make_step=make_step, data_source=data_source, sample_grid=sample_grid, validate=_validate,
                operations={**operation, **common})


TASKS = {
    "pix2pix": _task("pix2pix", ("unet",), {"translate": translate}),
    "inpaint": _task("inpaint", ("unet",), {"inpaint": inpaint}),
    "srgan": _task("srgan", ("srgan",), {"upscale": upscale}),
}
"""The paired tasks by name (registered in :data:`gan_jax.tasks.TASKS`)."""
