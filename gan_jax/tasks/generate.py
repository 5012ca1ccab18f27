"""The ``generate`` task: an unconditional or class-conditional GAN, z -> image.

The train step is a pure function ``(state, batch) -> (state, metrics)``. One call does
``n_critic`` discriminator updates and one generator update; the updates share the batch's
real images, or with ``fresh_reals`` each reads its own chunk of an ``n_critic`` times
larger batch. It reads nothing but its arguments; randomness comes from ``state.key``.
Under data parallelism (``axis_name`` set, inside ``pmap``/``shard_map``) the gradients,
losses and BatchNorm statistics are averaged over that axis and every device draws its
slice of the *global* latent batch, so N devices with global batch B compute the same
update as one device with batch B.

Batch: ``{"image": float32 [B, H, W, C] in [-1, 1], "label": int32 [B]}`` (labels for
conditional models); with ``fresh_reals``, B = n_critic * b rows: row j * n_critic + i is
image j of critic update i's batch.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gan_jax import losses, penalties, registry
from gan_jax.configs.base import MAX_TRUNCATION_PSI
from gan_jax.data.augment import diff_augment
from gan_jax.errors import UserError
from gan_jax.models.dcgan import latent_code, latent_codes
from gan_jax.state import GANState, make_optimizers
from gan_jax.tasks.base import Task
from gan_jax.tasks.common import (apply_optimizer, commit, device_mean, is_finite, nonfinite_bits, probabilities,
                                  update_ema)
from gan_jax.tasks.init import build_models

_AUGMENT_STREAM, _LABEL_STREAM, _REAL_FOR_G_STREAM = 1, 2, 4  # fold_in tags: extra key streams leave
# the latent stream alone


def latents(key, local_batch: int, z_dim: int, axis_name: str | None) -> jax.Array:
    """This device's slice [b, Z] of a global N(0, 1) latent batch [b * devices, Z]."""
    if axis_name is None:
        return jax.random.normal(key, (local_batch, z_dim))
    n, i = lax.axis_size(axis_name), lax.axis_index(axis_name)
    z = jax.random.normal(key, (n * local_batch, z_dim))
    return lax.dynamic_slice_in_dim(z, i * local_batch, local_batch)


def d_classes(config) -> int:
    """How many label values D reads (0: none): the dataset's classes (``num_classes``) or the
    clusters of a self-conditioned run (``cluster_code``). Real batches then carry ``"label"``."""
    return config.num_classes or config.cluster_code


def fake_labels(key, local_batch: int, num_classes: int, axis_name: str | None) -> jax.Array:
    """This device's slice [b] of a global batch of uniform class labels (like :func:`latents`)."""
    if axis_name is None:
        return jax.random.randint(key, (local_batch,), 0, num_classes)
    n, i = lax.axis_size(axis_name), lax.axis_index(axis_name)
    y = jax.random.randint(key, (n * local_batch,), 0, num_classes)
    return lax.dynamic_slice_in_dim(y, i * local_batch, local_batch)


class CriticUpdate(NamedTuple):
    """One discriminator update's results."""
    params: Any
    stats: Any
    opt: Any
    loss: jax.Array  # D's adversarial loss (penalties apart), averaged over devices
    grads_finite: jax.Array  # bool []
    real_logits: jax.Array  # [b]
    fake_logits: jax.Array  # [b]
    penalties: dict  # name -> value, averaged over devices


class StepKeys(NamedTuple):
    """The random streams of one step."""
    next: jax.Array  # the state's key after the step
    latents: jax.Array  # [n_critic, 2]: the latents of each critic update (the last one's feed G too)
    critic: jax.Array  # [n_critic + 1, 2]: augmentation and penalties, per device; the last for G's pass
    labels: jax.Array | None  # [n_critic, 2]: fake labels of conditional models


def make_step(config, axis_name: str | None = None,
              layout: Callable[[jax.Array], jax.Array] | None = None
              ) -> Callable[[GANState, dict], tuple[GANState, dict]]:
    """The pure train step of a GAN; collectives over ``axis_name`` when given.

    ``layout`` (``parallel=sharding``) places arrays the step draws itself, the latents
    and fake labels ``[B, ...]``, like the batch: without it the compiler would see
    them replicated and run the generator on the whole batch on every device.
    """
    layout = layout or (lambda x: x)
    g_net, d_net = build_models(config, axis_name)
    tx_g, tx_d = make_optimizers(config)
    loss = losses.get(config.loss)
    acgan = bool(config.num_classes) and config.conditioning == "acgan"
    info = config.latent_code > 0  # InfoGAN: D's head Q reads G's categorical code back from its fakes
    n_critic = config.n_critic
    real_chunks = n_critic if config.fresh_reals else 1

    def augment(x, key):
        """DiffAugment of D's input (real or fake); the identity without a policy."""
        return diff_augment(x, key, config.augment) if config.augment else x

    def generate(g_params, g_stats, z, y):
        """G(z, y) [b, H, W, C] in training mode and G's new BatchNorm statistics."""
        fake, new = g_net.apply({"params": g_params, "batch_stats": g_stats}, z, y, train=True,
                                mutable=["batch_stats"])
        return fake, new.get("batch_stats", {})

    def discriminate(d_params, d_stats, x, y):
        """D's logits [b], its new statistics and, for ACGAN (InfoGAN), the cross-entropy of its class
        (code) head on ``y`` (None where ``y`` is: InfoGAN's reals)."""
        out, new = d_net.apply({"params": d_params, "batch_stats": d_stats}, x, None if info else y, train=True,
                               mutable=["batch_stats"])
        logits, aux = out, None
        if acgan or info:
            logits, aux = out[0], (None if y is None else losses.class_cross_entropy(out[1], y))
        return logits, new.get("batch_stats", {}), aux

    def penalty(d_params, d_stats, real, fake, y_real, y_fake, key, step):
        """Weighted input-gradient penalties (a scalar) and their values for the metrics."""
        def d_fn(y):  # no BatchNorm in D with a penalty: validated
            return lambda x: discriminate(d_params, d_stats, x, y)[0]
        total, values = jnp.float32(0.0), {}
        if config.gp_weight:
            values["gp"] = penalties.gradient_penalty(d_fn(y_real), real, fake, key)
            total += config.gp_weight * values["gp"]
        k = config.r1_every
        lazy = lambda fn: lax.cond(step % k == 0, fn, lambda: jnp.float32(0.0))  # noqa: E731
        if config.r1_gamma:
            values["r1"] = lazy(lambda: penalties.r1_penalty(d_fn(y_real), real))
            total += 0.5 * config.r1_gamma * k * values["r1"]
        if config.r2_gamma:  # R2: the same penalty on the fakes (R3GAN's R1 + R2)
            values["r2"] = lazy(lambda: penalties.r1_penalty(d_fn(y_fake), fake))
            total += 0.5 * config.r2_gamma * k * values["r2"]
        return total, values

    def d_objective(d_params, d_stats, real, fake, y_real, y_fake, key, step):
        k_real, k_fake, k_pen = jax.random.split(key, 3)
        real, fake = augment(real, k_real), augment(fake, k_fake)
        # Two passes (real, then fake) as in the PyTorch reference: BatchNorm sees each batch alone.
        real_logits, d_stats, real_aux = discriminate(d_params, d_stats, real, y_real)
        fake_logits, d_stats, fake_aux = discriminate(d_params, d_stats, fake, y_fake)  # ACGAN: unused
        value = loss.d_loss(real_logits, fake_logits)
        pen, pen_values = penalty(d_params, d_stats, real, fake, y_real, y_fake, k_pen, step)
        if acgan:  # D's class head learns the classes on real images only; reported beside the penalties.
            # Not Odena et al.'s real + fake: trained on G's fakes too, the head learns G's own
            # class cues and G keeps them instead of drawing the class (experiments/acgan/results.md).
            pen_values["d_aux"] = real_aux
            pen += config.aux_weight * pen_values["d_aux"]
        if info:  # Q learns to read the code of G's fakes (the mutual-information bound of InfoGAN)
            pen_values["d_info"] = fake_aux
            pen += config.aux_weight * fake_aux
        return value + pen, (value, pen_values, d_stats, real_logits, fake_logits)

    def critic_update(d_params, d_stats, d_opt, real, fake, y_real, y_fake, key, step) -> CriticUpdate:
        """One D update on reals against (gradient-stopped) fakes."""
        (_, (value, pen_values, d_stats, real_logits, fake_logits)), grads = jax.value_and_grad(
            d_objective, has_aux=True)(d_params, d_stats, real, fake, y_real, y_fake, key, step)
        grads, value, pen_values = device_mean((grads, value, pen_values), axis_name)
        d_params, d_opt = apply_optimizer(tx_d, grads, d_opt, d_params)
        return CriticUpdate(d_params, d_stats, d_opt, value, is_finite(grads), real_logits, fake_logits, pen_values)

    def g_objective(fake, d_params, d_stats, real, y_real, y_fake, key):
        """G's loss as a function of its images [b, H, W, C]; D's new statistics, the loss and ACGAN's term."""
        real_logits = None
        if loss.relativistic:  # D's view of the reals, for losses that compare against them
            k_real = jax.random.fold_in(key, _REAL_FOR_G_STREAM)
            real_logits, d_stats, _ = discriminate(d_params, d_stats, augment(real, k_real), y_real)
            real_logits = lax.stop_gradient(real_logits)
        logits, d_stats, aux = discriminate(d_params, d_stats, augment(fake, key), y_fake)
        value = loss.g_loss(real_logits, logits)
        return (value + config.aux_weight * aux if acgan or info else value), (d_stats, value, aux)

    def reals_for(batch: dict, i: int):
        """Critic update i's real images [b, ...] and labels [b] (or None).

        Interleaved rows (``[b, n_critic]`` after a reshape) keep each chunk spread evenly
        over a batch axis sharded across devices: no data moves to take one."""
        def chunk(x):
            if x is None or real_chunks == 1:
                return x
            return x.reshape((x.shape[0] // real_chunks, real_chunks) + x.shape[1:])[:, i]
        return chunk(batch["image"]), chunk(batch.get("label"))

    def split_keys(state: GANState) -> StepKeys:
        key, step_key = jax.random.split(state.key)
        # Augmentation and penalty randomness: own streams, different on every device.
        aux_key = jax.random.fold_in(step_key, _AUGMENT_STREAM)
        if axis_name is not None:
            aux_key = jax.random.fold_in(aux_key, lax.axis_index(axis_name))
        labels = None
        if config.num_classes:
            labels = jax.random.split(jax.random.fold_in(step_key, _LABEL_STREAM), n_critic)
        return StepKeys(key, jax.random.split(step_key, n_critic), jax.random.split(aux_key, n_critic + 1), labels)

    def check_rows(batch: dict) -> None:
        if real_chunks > 1:  # a batch_size-sized batch would silently shrink each critic update's batch
            devices = 1 if axis_name is None else lax.axis_size(axis_name)
            rows = batch["image"].shape[0]
            if rows * devices != config.real_batch_size:
                raise ValueError(f"fresh_reals with n_critic={n_critic}: expected config.real_batch_size = "
                                 f"{config.real_batch_size} real rows per step (n_critic x batch_size), "
                                 f"got {rows * devices}")

    def step(state: GANState, batch: dict) -> tuple[GANState, dict]:
        check_rows(batch)
        b = batch["image"].shape[0] // real_chunks
        keys = split_keys(state)

        def fakes_input(i):
            """Critic update i's latents [b, Z] and fake labels [b] (or None)."""
            z = layout(latents(keys.latents[i], b, config.z_dim, axis_name))
            y = layout(fake_labels(keys.labels[i], b, config.num_classes, axis_name)) if config.num_classes else None
            if info or config.cluster_code:  # the code's category: what Q reads back or D is told (G takes it from z)
                y = latent_code(z, latent_codes(config))
            return z, y

        d_params, d_stats, d_opt = state.d_params, state.d_stats, state.d_opt
        earlier_ok = jnp.array(True)
        # Critic iterations before the last: fresh latents, generator statistics discarded.
        for i in range(n_critic - 1):
            real, y_real = reals_for(batch, i)
            z, y_fake = fakes_input(i)
            fake, _ = generate(state.g_params, state.g_stats, z, y_fake)
            d = critic_update(d_params, d_stats, d_opt, real, lax.stop_gradient(fake), y_real, y_fake,
                              keys.critic[i], state.step)
            d_params, d_stats, d_opt = d.params, d.stats, d.opt
            earlier_ok &= jnp.isfinite(d.loss) & d.grads_finite

        # The last critic iteration and the generator update share one generator forward pass.
        real, y_real = reals_for(batch, n_critic - 1)
        z, y_fake = fakes_input(n_critic - 1)
        fake, g_pullback, g_stats = jax.vjp(
            lambda p: generate(p, state.g_stats, z, y_fake), state.g_params, has_aux=True)
        d = critic_update(d_params, d_stats, d_opt, real, lax.stop_gradient(fake), y_real, y_fake,
                          keys.critic[n_critic - 1], state.step)

        (_, (d_stats, g_loss, g_aux)), d_fake = jax.value_and_grad(g_objective, has_aux=True)(
            fake, d.params, d.stats, real, y_real, y_fake, keys.critic[n_critic])
        (g_grads,) = g_pullback(d_fake)
        g_grads, g_loss, g_aux = device_mean((g_grads, g_loss, g_aux), axis_name)
        g_params, g_opt = apply_optimizer(tx_g, g_grads, state.g_opt, state.g_params)

        what = nonfinite_bits(d.loss, g_loss, d.grads_finite & earlier_ok, is_finite(g_grads))
        new_state = commit(state, dict(g_params=g_params, g_stats=g_stats, d_params=d.params, d_stats=d_stats,
                                       g_opt=g_opt, d_opt=d.opt, ema=update_ema(config, state, g_params, g_stats)),
                           what, keys.next)
        metrics = device_mean({"d_loss": d.loss, "g_loss": g_loss, **probabilities(d.real_logits, d.fake_logits)},
                              axis_name)
        metrics.update(d.penalties)  # already averaged over devices
        if acgan or info:
            metrics["g_aux"] = g_aux
        metrics["nonfinite"] = what
        return new_state, metrics

    return step


# --------------------------------------------------------------------------- sampling

def make_sample_fn(config) -> Callable:
    """``sample(variables, z [N, Z], labels [N] | None) -> images [N, R, R, C]`` in [-1, 1], BatchNorm in eval mode."""
    g_net, _ = build_models(config)

    def sample(variables, z, labels=None):
        return g_net.apply(variables, z, labels, train=False)

    return sample


@functools.lru_cache(maxsize=8)
def _cached_sampler(config, registry_version: int):
    return jax.jit(make_sample_fn(config))


def jitted_sampler(config) -> Callable:
    """:func:`make_sample_fn` jitted; cached per config and registry state."""
    return _cached_sampler(config, registry.version())


def class_labels(config, num: int, labels=None) -> np.ndarray | None:
    """Labels [num] for a conditional model: ``labels`` (an int for one class, or [num]),
    or 0, 1, ..., K-1, 0, 1, ... (every class equally); None for an unconditional one."""
    if not config.num_classes:
        if labels is not None:
            raise UserError("--class: this model is unconditional (num_classes=0); expected no class")
        return None
    if labels is None:
        return np.arange(num, dtype=np.int32) % config.num_classes
    labels = np.broadcast_to(np.asarray(labels, np.int32), (num,))
    bad = labels[(labels < 0) | (labels >= config.num_classes)]
    if bad.size:
        raise UserError(f"--class {int(bad[0])}: expected a class in 0..{config.num_classes - 1}")
    return labels


@functools.lru_cache(maxsize=32)
def _cached_latent_generator(config, label: int | None, registry_version: int):
    class_labels(config, 1, label)  # UserError for a bad class, or a class for an unconditional model
    sample = make_sample_fn(config)
    if not config.num_classes:
        return lambda variables, z: sample(variables, z)
    return lambda variables, z: sample(variables, z, jnp.full(z.shape[:1], label, jnp.int32))


def latent_generator(config, label: int | None = None):
    """``g(variables, z [N, Z]) -> images [N, R, R, C]`` in [-1, 1], BatchNorm in eval mode: the
    generator as the editing functions (:mod:`gan_jax.edit`) take it. Conditional models draw
    every image of class ``label`` (checked as in :func:`class_labels`). Cached, so that jitted
    editing functions that take ``g`` as a static argument compile once per (config, label)."""
    if config.num_classes and label is None:
        raise UserError(f"--class: this model is class-conditional; "
                        f"expected a class in 0..{config.num_classes - 1}")
    return _cached_latent_generator(config, label, registry.version())


def generate_from(config, state, z: jax.Array, use_ema: bool = True, labels=None) -> np.ndarray:
    """Images [N, R, R, C] in [-1, 1] for the latents ``z`` [N, Z] (one call); ``labels``
    as in :func:`class_labels` for conditional models."""
    y = class_labels(config, len(z), labels)
    return np.asarray(jitted_sampler(config)(state.generator_variables(use_ema), z, y))


def generate(config, state, num: int, seed: int = 0, use_ema: bool = True,
             chunk: int = 500, labels=None, latent_scale: float | None = None) -> np.ndarray:
    """``num`` images [num, R, R, C] float32 in [-1, 1] from latents drawn with ``seed``.

    Uses the EMA generator when the run keeps one (``use_ema``), BatchNorm in
    eval mode; generates ``chunk`` images per call to bound memory. Conditional
    models draw every class equally unless ``labels`` (one class or [num]) is given.
    The latents are ``latent_scale`` x N(0, I), by default ``config.truncation_psi``
    (the truncation trick in z: below 1, typical images at the cost of variety; above 1, more variety).
    """
    variables = state.generator_variables(use_ema)
    scale = config.truncation_psi if latent_scale is None else latent_scale
    if not 0.0 < scale <= MAX_TRUNCATION_PSI:
        raise UserError(f"truncation_psi={scale}: expected a value in (0, {MAX_TRUNCATION_PSI:g}]")
    z = scale * jax.random.normal(jax.random.PRNGKey(seed), (num, config.z_dim))
    y = class_labels(config, num, labels)
    sample = jitted_sampler(config)
    parts = [np.asarray(sample(variables, z[i:i + chunk], None if y is None else y[i:i + chunk]))
             for i in range(0, num, chunk)]
    return np.concatenate(parts, axis=0) if parts else np.zeros(
        (0, config.resolution, config.resolution, config.channels), np.float32)


# --------------------------------------------------------------------------- the task

def init_variables(config, g, d, key_g, key_d) -> tuple[dict, dict]:
    """Flax variables of G (from z [1, Z], and labels for a class-conditional G) and D (from an
    image [1, R, R, C], and labels when D reads classes or clusters: :func:`d_classes`)."""
    x = jnp.zeros((1, config.resolution, config.resolution, config.channels), jnp.float32)
    z = jnp.zeros((1, config.z_dim), jnp.float32)
    y = jnp.zeros((1,), jnp.int32) if d_classes(config) else None
    return g.init(key_g, z, y if config.num_classes else None, train=False), d.init(key_d, x, y, train=False)


def data_source(config, split: str = "train"):
    """The images (and labels) of ``config.dataset``; with ``cluster_code``, its images
    labelled by their equal-size clusters instead (:mod:`gan_jax.data.clusters`)."""
    from gan_jax.data.load import load_source

    source = load_source(config.dataset, resolution=config.resolution, channels=config.channels,
                         tfds_data_dir=config.tfds_data_dir or None)
    if config.cluster_code:
        from gan_jax.data.clusters import with_cluster_labels

        source = with_cluster_labels(source, config.cluster_code, f"cluster_code={config.cluster_code}")
    return source


def sample_grid(config, state, z) -> tuple[np.ndarray, None]:
    """The samples for the grid's latents ``z`` [N, Z] (a square grid)."""
    return generate_from(config, state, z), None


def validate(config) -> None:
    """A GAN takes no image-to-image fields."""
    if config.degrade:
        raise UserError(f"degrade={config.degrade!r}: only for task=pix2pix or inpaint (task={config.task})")


TASK = Task(name="generate", models=(), init_variables=init_variables, make_step=make_step,
            data_source=data_source, sample_grid=sample_grid, validate=validate, operations={"sample": generate})
"""Any registered model whose G maps (z, labels) to images and D (images, labels) to logits."""
