"""The train step: a pure function ``(state, batch) -> (state, metrics)``.

One call does ``n_critic`` discriminator updates and one generator update; the
updates share the batch's real images, or with ``fresh_reals`` each reads its own
chunk of an ``n_critic`` times larger batch.
It reads nothing but its arguments; randomness comes from ``state.key``.
Under data parallelism (``axis_name`` set, inside ``pmap``/``shard_map``) the
gradients, losses and BatchNorm statistics are averaged over that axis and
every device draws its slice of the *global* latent batch, so N devices with
global batch B compute the same update as one device with batch B.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax
from jax import lax

from gan_jax import losses, models, penalties
from gan_jax.data.augment import diff_augment
from gan_jax.state import GANState, make_optimizers

Batch = dict  # {"image": float32 [B, H, W, C] in [-1, 1], "label": int32 [B] for conditional models};
# with fresh_reals, B = n_critic * b rows: row j * n_critic + i is image j of critic update i's batch
_AUGMENT_STREAM, _LABEL_STREAM = 1, 2  # fold_in tags: extra key streams leave the latent stream alone
Metrics = dict  # name -> float32 []


def latents(key, local_batch: int, z_dim: int, axis_name: str | None) -> jax.Array:
    """This device's slice [b, Z] of a global N(0, 1) latent batch [b * devices, Z]."""
    if axis_name is None:
        return jax.random.normal(key, (local_batch, z_dim))
    n, i = lax.axis_size(axis_name), lax.axis_index(axis_name)
    z = jax.random.normal(key, (n * local_batch, z_dim))
    return lax.dynamic_slice_in_dim(z, i * local_batch, local_batch)


def fake_labels(key, local_batch: int, num_classes: int, axis_name: str | None) -> jax.Array:
    """This device's slice [b] of a global batch of uniform class labels (like :func:`latents`)."""
    if axis_name is None:
        return jax.random.randint(key, (local_batch,), 0, num_classes)
    n, i = lax.axis_size(axis_name), lax.axis_index(axis_name)
    y = jax.random.randint(key, (n * local_batch,), 0, num_classes)
    return lax.dynamic_slice_in_dim(y, i * local_batch, local_batch)


def _mean(tree, axis_name):
    return tree if axis_name is None else lax.pmean(tree, axis_name)


def _finite(tree) -> jax.Array:
    return jnp.isfinite(optax.tree.norm(tree))


def ema_decay_at(step: jax.Array, decay: float) -> jax.Array:
    """EMA decay with warm-up, ``min(decay, (1 + t) / (10 + t))``: early weights fade fast."""
    t = step.astype(jnp.float32)
    return jnp.minimum(decay, (1.0 + t) / (10.0 + t))


def _ema(ema, params, stats, decay):
    new = {"params": params, "batch_stats": stats}
    return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema, new)


def commit(state: GANState, updated: dict, what: jax.Array, key: jax.Array) -> GANState:
    """The state after one step: the ``updated`` fields, the step counter and ``key``.

    ``what`` holds the NONFINITE_BITS of this step's update; a non-finite step changes
    nothing but the counters (the last good state survives) and is recorded if first.
    """
    ok = what == 0
    kept = {k: jax.tree.map(lambda new, old: jnp.where(ok, new, old), v, getattr(state, k))
            for k, v in updated.items()}
    first_bad = (state.nonfinite_step < 0) & ~ok
    return state.replace(
        **kept,
        step=state.step + 1,
        key=key,
        nonfinite_step=jnp.where(first_bad, state.step, state.nonfinite_step),
        nonfinite_what=jnp.where(first_bad, what, state.nonfinite_what),
    )


def make_train_step(config, axis_name: str | None = None,
                    layout: Callable[[jax.Array], jax.Array] | None = None
                    ) -> Callable[[GANState, Batch], tuple[GANState, Metrics]]:
    """The pure train step for ``config``; collectives over ``axis_name`` when given.

    ``layout`` (``parallel=sharding``) places arrays the step draws itself, the latents
    and fake labels ``[B, ...]``, like the batch: without it the compiler would see
    them replicated and run the generator on the whole batch on every device.

    Image-to-image tasks (``config.task`` other than ``generate``) get their step from
    :mod:`gan_jax.img2img_step`: same contract, batches of paired or unpaired images.
    """
    if config.task != "generate":
        from gan_jax.img2img_step import make_img2img_step
        return make_img2img_step(config, axis_name)
    layout = layout or (lambda x: x)
    g_net, d_net = models.build(config, axis_name)
    tx_g, tx_d = make_optimizers(config)
    loss = losses.get(config.loss)
    acgan = bool(config.num_classes) and config.conditioning == "acgan"
    n_critic = config.n_critic
    policy = config.augment

    def augment(x, key):
        """DiffAugment of D's input (real or fake); the identity without a policy."""
        return diff_augment(x, key, policy) if policy else x

    def penalty(d_params, d_stats, real, fake, y_real, key, step):
        """Weighted input-gradient penalties (a scalar) and their values for the metrics."""
        d_fn = lambda x: discriminate(d_params, d_stats, x, y_real)[0]  # noqa: E731 - no BatchNorm: validated
        total, values = jnp.float32(0.0), {}
        if config.gp_weight:
            values["gp"] = penalties.gradient_penalty(d_fn, real, fake, key)
            total += config.gp_weight * values["gp"]
        if config.r1_gamma:
            k = config.r1_every
            values["r1"] = lax.cond(step % k == 0, lambda: penalties.r1_penalty(d_fn, real),
                                    lambda: jnp.float32(0.0))
            total += 0.5 * config.r1_gamma * k * values["r1"]
        return total, values

    def generate(g_params, g_stats, z, y):
        fake, new = g_net.apply({"params": g_params, "batch_stats": g_stats}, z, y, train=True,
                                mutable=["batch_stats"])
        return fake, new["batch_stats"]

    def discriminate(d_params, d_stats, x, y):
        """D's logits [B], its new statistics and, for ACGAN, the cross-entropy of its class head on ``y``."""
        out, new = d_net.apply({"params": d_params, "batch_stats": d_stats}, x, y, train=True,
                               mutable=["batch_stats"])
        logits, aux = (out[0], losses.class_cross_entropy(out[1], y)) if acgan else (out, None)
        return logits, new.get("batch_stats", {}), aux

    def d_objective(d_params, d_stats, real, fake, y_real, y_fake, key, step):
        k_real, k_fake, k_pen = jax.random.split(key, 3)
        real, fake = augment(real, k_real), augment(fake, k_fake)
        # Two passes (real, then fake) as in the PyTorch reference: BatchNorm sees each batch alone.
        real_logits, d_stats, real_aux = discriminate(d_params, d_stats, real, y_real)
        fake_logits, d_stats, fake_aux = discriminate(d_params, d_stats, fake, y_fake)
        value = loss.d_loss(real_logits, fake_logits)
        pen, pen_values = penalty(d_params, d_stats, real, fake, y_real, k_pen, step)
        if acgan:  # Odena et al.: D classifies real and fake images; reported beside the penalties
            pen_values["d_aux"] = real_aux + fake_aux
            pen += config.aux_weight * pen_values["d_aux"]
        return value + pen, (value, pen_values, d_stats, real_logits, fake_logits)

    def d_update(d_params, d_stats, d_opt, real, fake, y_real, y_fake, key, step):
        (_, (value, pen_values, d_stats, real_logits, fake_logits)), grads = jax.value_and_grad(
            d_objective, has_aux=True)(d_params, d_stats, real, fake, y_real, y_fake, key, step)
        grads, value, pen_values = _mean((grads, value, pen_values), axis_name)
        updates, d_opt = tx_d.update(grads, d_opt, d_params)
        return (optax.apply_updates(d_params, updates), d_stats, d_opt, value, grads, real_logits,
                fake_logits, pen_values)

    real_chunks = n_critic if config.fresh_reals else 1

    def reals_for(batch: Batch, i: int):
        """Critic update i's real images [b, ...] and labels [b] (or None).

        Interleaved rows (``[b, n_critic]`` after a reshape) keep each chunk spread evenly
        over a batch axis sharded across devices: no data moves to take one."""
        def chunk(x):
            if x is None or real_chunks == 1:
                return x
            return x.reshape((x.shape[0] // real_chunks, real_chunks) + x.shape[1:])[:, i]
        return chunk(batch["image"]), chunk(batch.get("label"))

    def step(state: GANState, batch: Batch) -> tuple[GANState, Metrics]:
        rows = batch["image"].shape[0]
        if real_chunks > 1:  # a batch_size-sized batch would silently shrink each critic update's batch
            devices = 1 if axis_name is None else lax.axis_size(axis_name)
            if rows * devices != config.real_batch_size:
                raise ValueError(f"fresh_reals with n_critic={n_critic}: expected config.real_batch_size = "
                                 f"{config.real_batch_size} real rows per step (n_critic x batch_size), "
                                 f"got {rows * devices}")
        b = rows // real_chunks
        key, step_key = jax.random.split(state.key)
        z_keys = jax.random.split(step_key, n_critic)
        # Augmentation and penalty randomness: own streams, different on every device.
        aux_key = jax.random.fold_in(step_key, _AUGMENT_STREAM)
        if axis_name is not None:
            aux_key = jax.random.fold_in(aux_key, lax.axis_index(axis_name))
        d_keys = jax.random.split(aux_key, n_critic + 1)
        y_keys = None
        if config.num_classes:
            y_keys = jax.random.split(jax.random.fold_in(step_key, _LABEL_STREAM), n_critic)

        def labels_for(i):
            return layout(fake_labels(y_keys[i], b, config.num_classes, axis_name)) if config.num_classes else None
        d_params, d_stats, d_opt = state.d_params, state.d_stats, state.d_opt
        ok_d = jnp.array(True)

        # Critic iterations before the last: fresh latents, generator statistics discarded.
        for i in range(n_critic - 1):
            real, y_real = reals_for(batch, i)
            z, y_fake = layout(latents(z_keys[i], b, config.z_dim, axis_name)), labels_for(i)
            fake, _ = generate(state.g_params, state.g_stats, z, y_fake)
            d_params, d_stats, d_opt, d_loss, d_grads, _, _, _ = d_update(
                d_params, d_stats, d_opt, real, lax.stop_gradient(fake), y_real, y_fake, d_keys[i], state.step)
            ok_d &= jnp.isfinite(d_loss) & _finite(d_grads)

        # Last critic iteration and the generator update share one generator forward pass.
        real, y_real = reals_for(batch, n_critic - 1)
        z, y_fake = layout(latents(z_keys[-1], b, config.z_dim, axis_name)), labels_for(n_critic - 1)
        fake, g_pullback, g_stats = jax.vjp(
            lambda p: generate(p, state.g_stats, z, y_fake), state.g_params, has_aux=True)
        d_params, d_stats, d_opt, d_loss, d_grads, real_logits, fake_logits, pen_values = d_update(
            d_params, d_stats, d_opt, real, lax.stop_gradient(fake), y_real, y_fake, d_keys[n_critic - 1],
            state.step)
        nf_d_loss = ~jnp.isfinite(d_loss)
        nf_d_grads = ~(_finite(d_grads) & ok_d)

        def g_objective(fake):
            logits, new_d_stats, aux = discriminate(d_params, d_stats, augment(fake, d_keys[n_critic]), y_fake)
            value = loss.g_loss(logits)
            return (value + config.aux_weight * aux if acgan else value), (new_d_stats, value, aux)

        (_, (d_stats, g_loss, g_aux)), d_fake = jax.value_and_grad(g_objective, has_aux=True)(fake)
        (g_grads,) = g_pullback(d_fake)
        g_grads, g_loss, g_aux = _mean((g_grads, g_loss, g_aux), axis_name)
        g_updates, g_opt = tx_g.update(g_grads, state.g_opt, state.g_params)
        g_params = optax.apply_updates(state.g_params, g_updates)

        what = (nf_d_loss * 1 + (~jnp.isfinite(g_loss)) * 2 + nf_d_grads * 4
                + (~_finite(g_grads)) * 8).astype(jnp.int32)
        ema = state.ema
        if ema is not None:
            ema = _ema(ema, g_params, g_stats, ema_decay_at(state.step, config.ema_decay))

        new_state = commit(state, dict(g_params=g_params, g_stats=g_stats, d_params=d_params, d_stats=d_stats,
                                       g_opt=g_opt, d_opt=d_opt, ema=ema), what, key)
        metrics = _mean({
            "d_loss": d_loss,
            "g_loss": g_loss,
            "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
            "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
        }, axis_name)
        metrics.update(pen_values)  # already averaged over devices
        if acgan:
            metrics["g_aux"] = g_aux
        metrics["nonfinite"] = what
        return new_state, metrics

    return step


def make_sample_fn(config) -> Callable:
    """``sample(variables, z [N, Z], labels [N] | None) -> images [N, R, R, C]`` in [-1, 1], BatchNorm in eval mode."""
    g_net, _ = models.build(config)

    def sample(variables, z, labels=None):
        return g_net.apply(variables, z, labels, train=False)

    return sample
