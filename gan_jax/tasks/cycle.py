"""The ``cyclegan`` task: unpaired translation between ``dataset`` (A) and ``dataset_b`` (B).

Batch ``{"a": [B, R, R, C], "b": [B, R, R, C]}`` of unpaired images in [-1, 1]. One update of
both generators (adversarial, ``cycle_weight`` * cycle-consistency L1, ``identity_weight`` *
``cycle_weight`` * identity L1), then one update of both discriminators on real images
against fakes drawn from the history pools kept in ``state.pool``. Both generators live in
``g_params`` as ``{"a2b", "b2a"}``, both discriminators in ``d_params`` as ``{"a", "b"}``.
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
from gan_jax.tasks.common import apply_optimizer, commit, device_mean, is_finite, l1, nonfinite_bits, update_ema
from gan_jax.tasks.init import build_models
from gan_jax.tasks.paired import generator_only_fields
from gan_jax.tasks.translation import DIRECTIONS, grid_batch, run_generator
from gan_jax.tiles import tiled

_POOL_STREAM = 3  # fold_in tag of the history-pool key stream


def pool_query(images: jax.Array, count: jax.Array, fakes: jax.Array, key: jax.Array):
    """CycleGAN's history pool (Shrivastava et al. 2017), one fake at a time, as a pure function.

    ``images`` [P, ...] holds ``count`` stored fakes. Each of ``fakes`` [B, ...] in turn: while
    the pool is not full it is stored and shown; once full, with probability 1/2 a uniformly
    drawn stored fake is shown instead and replaced by it, else it is shown itself. Returns
    ``(shown [B, ...], images, count)``; the same key gives the same result.
    """
    size = images.shape[0]

    def one(carry, item):
        pool, n = carry
        fake, k = item
        k_use, k_slot = jax.random.split(k)
        full = n >= size
        use_old = full & (jax.random.uniform(k_use) < 0.5)
        slot = jnp.where(full, jax.random.randint(k_slot, (), 0, size), jnp.minimum(n, size - 1))
        old = pool[slot]
        pool = pool.at[slot].set(jnp.where(full & ~use_old, old, fake))
        return (pool, jnp.minimum(n + 1, size)), jnp.where(use_old, old, fake)

    (images, count), shown = lax.scan(one, (images, count), (fakes, jax.random.split(key, fakes.shape[0])))
    return shown, images, count


def _global_pool_query(pool, name, fakes, key, axis_name):
    """:func:`pool_query` over the *global* batch (identical on every device, so the pool stays
    replicated), returning this device's slice of the shown fakes."""
    if axis_name is None:
        return pool_query(pool[name], pool["count"], fakes, key)
    b = fakes.shape[0]
    everything = lax.all_gather(fakes, axis_name, tiled=True)
    shown, images, count = pool_query(pool[name], pool["count"], everything, key)
    return lax.dynamic_slice_in_dim(shown, lax.axis_index(axis_name) * b, b), images, count


def make_step(config, axis_name: str | None = None, layout=None) -> Callable:
    """CycleGAN's train step (``layout`` is unused: no drawn arrays)."""
    g_net, d_net = build_models(config, axis_name)
    tx_g, tx_d = make_optimizers(config)
    loss = losses.get(config.loss)
    cycle_w, identity_w = config.cycle_weight, config.cycle_weight * config.identity_weight

    def generate(g_params, g_stats, direction, x):
        out, new = g_net.apply({"params": g_params[direction], "batch_stats": g_stats[direction]}, x, train=True,
                               mutable=["batch_stats"])
        return out, {**g_stats, direction: new.get("batch_stats", {})}

    def discriminate(d_params, d_stats, domain, x):
        logits, new = d_net.apply({"params": d_params[domain], "batch_stats": d_stats[domain]}, x, train=True,
                                  mutable=["batch_stats"])
        return logits, {**d_stats, domain: new.get("batch_stats", {})}

    def adversarial(d_params, d_stats, domain, real, fake):
        """G's adversarial loss against D of ``domain`` (D's view of the reals for relativistic losses)."""
        real_logits = None
        if loss.relativistic:
            real_logits, d_stats = discriminate(d_params, d_stats, domain, real)
            real_logits = lax.stop_gradient(real_logits)
        logits, d_stats = discriminate(d_params, d_stats, domain, fake)
        return loss.g_loss(real_logits, logits), d_stats

    def g_objective(g_params, g_stats, d_params, d_stats, a, b):
        fake_b, g_stats = generate(g_params, g_stats, "a2b", a)
        fake_a, g_stats = generate(g_params, g_stats, "b2a", b)
        rec_a, g_stats = generate(g_params, g_stats, "b2a", fake_b)
        rec_b, g_stats = generate(g_params, g_stats, "a2b", fake_a)
        adv_b, d_stats = adversarial(d_params, d_stats, "b", b, fake_b)
        adv_a, d_stats = adversarial(d_params, d_stats, "a", a, fake_a)
        parts = {"adv": adv_b + adv_a, "cycle": l1(rec_a, a) + l1(rec_b, b)}
        total = parts["adv"] + cycle_w * parts["cycle"]
        if identity_w:
            same_b, g_stats = generate(g_params, g_stats, "a2b", b)
            same_a, g_stats = generate(g_params, g_stats, "b2a", a)
            parts["identity"] = l1(same_b, b) + l1(same_a, a)
            total += identity_w * parts["identity"]
        return total, (g_stats, d_stats, fake_a, fake_b, parts)

    def d_objective(d_params, d_stats, a, b, fake_a, fake_b):
        real_a, d_stats = discriminate(d_params, d_stats, "a", a)
        shown_a, d_stats = discriminate(d_params, d_stats, "a", fake_a)
        real_b, d_stats = discriminate(d_params, d_stats, "b", b)
        shown_b, d_stats = discriminate(d_params, d_stats, "b", fake_b)
        value = 0.5 * (loss.d_loss(real_a, shown_a) + loss.d_loss(real_b, shown_b))
        return value, (d_stats, real_a, real_b, shown_a, shown_b)

    def shown_fakes(pool, fake_a, fake_b, step_key):
        """The fakes D sees: from the history pools when kept (and the pools after the query)."""
        if pool is None:
            return fake_a, fake_b, None
        k_a, k_b = jax.random.split(jax.random.fold_in(step_key, _POOL_STREAM))
        fake_a, images_a, count = _global_pool_query(pool, "a", fake_a, k_a, axis_name)
        fake_b, images_b, _ = _global_pool_query(pool, "b", fake_b, k_b, axis_name)
        return fake_a, fake_b, {"a": images_a, "b": images_b, "count": count}

    def step(state: GANState, batch) -> tuple[GANState, dict]:
        a, b = batch["a"], batch["b"]
        key, step_key = jax.random.split(state.key)
        (g_loss, (g_stats, d_stats, fake_a, fake_b, parts)), g_grads = jax.value_and_grad(
            g_objective, has_aux=True)(state.g_params, state.g_stats, state.d_params, state.d_stats, a, b)
        g_grads, g_loss, parts = device_mean((g_grads, g_loss, parts), axis_name)
        g_params, g_opt = apply_optimizer(tx_g, g_grads, state.g_opt, state.g_params)

        fake_a, fake_b, pool = shown_fakes(state.pool, lax.stop_gradient(fake_a), lax.stop_gradient(fake_b),
                                           step_key)
        (d_loss, (d_stats, real_a, real_b, shown_a, shown_b)), d_grads = jax.value_and_grad(
            d_objective, has_aux=True)(state.d_params, d_stats, a, b, fake_a, fake_b)
        d_grads, d_loss = device_mean((d_grads, d_loss), axis_name)
        d_params, d_opt = apply_optimizer(tx_d, d_grads, state.d_opt, state.d_params)

        what = nonfinite_bits(d_loss, g_loss, is_finite(d_grads), is_finite(g_grads))
        new_state = commit(state, dict(g_params=g_params, g_stats=g_stats, d_params=d_params, d_stats=d_stats,
                                       g_opt=g_opt, d_opt=d_opt, pool=pool,
                                       ema=update_ema(config, state, g_params, g_stats)), what, key)
        sig = lambda x: jnp.mean(jax.nn.sigmoid(x))  # noqa: E731
        metrics = device_mean({"d_loss": d_loss, "g_loss": g_loss,
                               "d_real": 0.5 * (sig(real_a) + sig(real_b)),
                               "d_fake": 0.5 * (sig(shown_a) + sig(shown_b))}, axis_name)
        metrics.update(parts)
        metrics["nonfinite"] = what
        return new_state, metrics

    return step


# --------------------------------------------------------------------------- setup

def model_options(config) -> dict:
    """The U-Net generators (with or without skips) use instance norm (per image, as in CycleGAN)."""
    return {"norm": "instance"} if config.model in ("unet", "unet_noskip") else {}


def init_variables(config, g, d, key_g, key_d) -> tuple[dict, dict]:
    """Both generators ``{"a2b", "b2a"}`` and both discriminators ``{"a", "b"}`` under each collection."""
    x = jnp.zeros((1, config.resolution, config.resolution, config.channels), jnp.float32)

    def pair(net, key, names):
        variables = dict(zip(names, (net.init(k, x, train=False) for k in jax.random.split(key))))
        return {col: {n: v.get(col, {}) for n, v in variables.items()} for col in ("params", "batch_stats")}

    return pair(g, key_g, DIRECTIONS), pair(d, key_d, ("a", "b"))


def init_pool(config):
    """Empty history pools of fakes (None without a pool)."""
    if not config.pool_size:
        return None
    shape = (config.pool_size, config.resolution, config.resolution, config.channels)
    return {"a": jnp.zeros(shape), "b": jnp.zeros(shape), "count": jnp.zeros((), jnp.int32)}


def data_source(config, split: str = "train"):
    """Unpaired images of domains A (``dataset``) and B (``dataset_b``); ``SPEC#K`` keeps class K."""
    from gan_jax.data.paired import UnpairedSource, load_domain

    kw = dict(resolution=config.resolution, channels=config.channels, tfds_data_dir=config.tfds_data_dir or None)
    return UnpairedSource(load_domain(config.dataset, **kw), load_domain(config.dataset_b, **kw))


def validate(config) -> None:
    """CycleGAN needs domain B and takes none of the paired or GAN-only fields."""
    if config.degrade:
        raise UserError(f"degrade={config.degrade!r}: only for task=pix2pix or inpaint (task={config.task})")
    if not config.dataset_b:
        raise UserError("dataset_b='': task=cyclegan needs the spec of domain B, e.g. "
                        "dataset_b=tfds:cycle_gan/horse2zebra:trainB")
    generator_only_fields(config)


# --------------------------------------------------------------------------- inference

def generator_variables(config, state, direction: str = "a2b", use_ema: bool = True) -> dict:
    """Flax variables of the generator for ``direction`` (a2b or b2a)."""
    if direction not in DIRECTIONS:
        raise UserError(f"--direction {direction}: expected a2b or b2a")
    variables = state.generator_variables(use_ema)
    return {col: variables[col][direction] for col in ("params", "batch_stats")}


def translate(config, state, image: np.ndarray, direction: str = "a2b", use_ema: bool = True) -> np.ndarray:
    """The translation of ``image`` [H, W, C] in [-1, 1] -> [H, W, C] by the ``direction`` generator."""
    variables = generator_variables(config, state, direction, use_ema)
    r = config.resolution
    return tiled(lambda tiles: run_generator(config, variables, tiles), image, r, r // 4)


def sample_grid(config, state, z=None, num: int = 8) -> tuple[np.ndarray, int]:
    """Rows of a | a2b | a2b2a | b | b2a | b2a2b from a fixed training batch (``z`` is unused)."""
    batch = grid_batch(config, num)
    g = {d: generator_variables(config, state, d) for d in DIRECTIONS}
    a2b = run_generator(config, g["a2b"], batch["a"])
    b2a = run_generator(config, g["b2a"], batch["b"])
    columns = [batch["a"], a2b, run_generator(config, g["b2a"], a2b),
               batch["b"], b2a, run_generator(config, g["a2b"], b2a)]
    return np.stack(columns, axis=1).reshape((-1,) + columns[0].shape[1:]), len(columns)


TASK = Task(name="cyclegan", models=("unet", "unet_noskip"), model_options=model_options, init_variables=init_variables,
            make_step=make_step, data_source=data_source, sample_grid=sample_grid, validate=validate,
            init_extra=init_pool,
            operations={"translate": translate, "generator_variables": generator_variables,
                        "run_generator": lambda config, variables, sources, chunk=16: run_generator(
                            config, variables, sources, chunk)})
