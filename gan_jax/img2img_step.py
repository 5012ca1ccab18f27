"""Train steps of the image-to-image tasks: pure functions ``(state, batch) -> (state, metrics)``.

Same contract as :func:`gan_jax.step.make_train_step` (which dispatches here on
``config.task``): one jit-able function of a :class:`~gan_jax.state.GANState` and a dict
of arrays with a leading batch dimension, gradients, losses and BatchNorm statistics
averaged over ``axis_name`` so N devices compute what one device computes, non-finite
updates dropped and recorded.

* ``pix2pix`` / ``inpaint`` / ``srgan``, batch ``{"source", "target"}``: one D update on
  (source, target) against (source, G(source)) — D sees the pair for pix2pix and inpaint,
  the image alone for SRGAN — then one G update on the adversarial loss plus
  ``l1_weight`` * L1(G(source), target) (plus ``feature_weight`` * the MSE between D's
  features of G(source) and of the target for SRGAN). ``inpaint`` sources are the masked
  image with the mask (1 = missing) as a last channel, and G's output only fills the hole.
  ``pretrain_steps`` > 0: those first steps update G on the pixel loss alone.
* ``cyclegan``, batch ``{"a", "b"}``: one update of both generators (adversarial,
  ``cycle_weight`` * cycle-consistency L1, ``identity_weight`` * ``cycle_weight`` *
  identity L1), then one update of both discriminators on real images against fakes drawn
  from the history pools kept in ``state.pool``.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax
from jax import lax

from gan_jax import losses, models
from gan_jax.state import GANState, make_optimizers
from gan_jax.step import _ema, _finite, _mean, commit, ema_decay_at

_POOL_STREAM = 3  # fold_in tag of the history-pool key stream


def compose(config, source, output):
    """G's output as an image: for ``inpaint`` the known pixels of ``source`` (the masked
    image, mask last) with ``output`` in the hole; otherwise ``output`` itself."""
    if config.task != "inpaint":
        return output
    known, mask = source[..., :-1], source[..., -1:]
    return known * (1.0 - mask) + output * mask


def _l1(x, y):
    return jnp.mean(jnp.abs(x - y))


def _nonfinite_bits(d_loss, g_loss, d_grads, g_grads) -> jax.Array:
    return ((~jnp.isfinite(d_loss)) * 1 + (~jnp.isfinite(g_loss)) * 2 + (~_finite(d_grads)) * 4
            + (~_finite(g_grads)) * 8).astype(jnp.int32)


def _with_ema(config, state, g_params, g_stats):
    if state.ema is None:
        return None
    return _ema(state.ema, g_params, g_stats, ema_decay_at(state.step, config.ema_decay))


def make_img2img_step(config, axis_name: str | None = None) -> Callable:
    """The train step of ``config.task`` (pix2pix, inpaint, srgan or cyclegan)."""
    if config.task == "cyclegan":
        return make_cycle_step(config, axis_name)
    if config.task in ("pix2pix", "inpaint", "srgan"):
        return make_paired_step(config, axis_name)
    raise ValueError(f"task={config.task!r}: not an image-to-image task")


# --------------------------------------------------------------------------- paired tasks

def make_paired_step(config, axis_name: str | None = None) -> Callable:
    """pix2pix, inpaint and SRGAN: batch ``{"source", "target"}``."""
    g_net, d_net = models.build(config, axis_name)
    tx_g, tx_d = make_optimizers(config)
    loss = losses.get(config.loss)
    conditional = config.task in ("pix2pix", "inpaint")
    features = config.feature_weight > 0

    def generate(g_params, g_stats, source):
        out, new = g_net.apply({"params": g_params, "batch_stats": g_stats}, source, train=True,
                               mutable=["batch_stats"])
        return compose(config, source, out), new.get("batch_stats", {})

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
        parts = {"l1": _l1(fake, target)}
        if features:
            (_, real_feats), d_stats = discriminate(d_params, d_stats, source, target, True)
            (logits, fake_feats), d_stats = discriminate(d_params, d_stats, source, fake, True)
            parts["feature"] = sum(jnp.mean(jnp.square(f - lax.stop_gradient(r)))
                                   for f, r in zip(fake_feats, real_feats)) / len(fake_feats)
        else:
            logits, d_stats = discriminate(d_params, d_stats, source, fake)
        parts["adv"] = loss.g_loss(logits)
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
        d_grads, d_loss = _mean((d_grads, d_loss), axis_name)
        d_updates, d_opt = tx_d.update(d_grads, state.d_opt, state.d_params)
        d_params = optax.apply_updates(state.d_params, d_updates)

        (g_loss, (d_stats, parts)), d_fake = jax.value_and_grad(g_objective, has_aux=True)(
            fake, d_params, d_stats, source, target)
        (g_grads,) = g_pullback(d_fake)
        g_grads, g_loss, parts = _mean((g_grads, g_loss, parts), axis_name)
        g_updates, g_opt = tx_g.update(g_grads, state.g_opt, state.g_params)
        g_params = optax.apply_updates(state.g_params, g_updates)

        what = _nonfinite_bits(d_loss, g_loss, d_grads, g_grads)
        new_state = commit(state, dict(g_params=g_params, g_stats=g_stats, d_params=d_params, d_stats=d_stats,
                                       g_opt=g_opt, d_opt=d_opt,
                                       ema=_with_ema(config, state, g_params, g_stats)), what, key)
        metrics = _mean({"d_loss": d_loss, "g_loss": g_loss,
                         "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
                         "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits))}, axis_name)
        metrics.update(parts)
        metrics["nonfinite"] = what
        return new_state, metrics

    def pixel_step(state: GANState, batch) -> tuple[GANState, dict]:
        """Pretraining: G on the pixel loss alone; D and its optimiser untouched."""
        source, target = batch["source"], batch["target"]
        key, _ = jax.random.split(state.key)

        def objective(g_params):
            fake, g_stats = generate(g_params, state.g_stats, source)
            return _l1(fake, target), g_stats

        (l1, g_stats), g_grads = jax.value_and_grad(objective, has_aux=True)(state.g_params)
        g_grads, l1 = _mean((g_grads, l1), axis_name)
        g_updates, g_opt = tx_g.update(g_grads, state.g_opt, state.g_params)
        g_params = optax.apply_updates(state.g_params, g_updates)
        zero = jnp.zeros((), jnp.float32)
        what = _nonfinite_bits(zero, l1, zero, g_grads)
        new_state = commit(state, dict(g_params=g_params, g_stats=g_stats, g_opt=g_opt,
                                       ema=_with_ema(config, state, g_params, g_stats)), what, key)
        metrics = {"d_loss": zero, "g_loss": config.l1_weight * l1, "d_real": zero, "d_fake": zero,
                   "l1": l1, "adv": zero, "nonfinite": what}
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


# --------------------------------------------------------------------------- CycleGAN

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


def make_cycle_step(config, axis_name: str | None = None) -> Callable:
    """CycleGAN: batch ``{"a": [B, R, R, C], "b": [B, R, R, C]}`` of unpaired images."""
    g_net, d_net = models.build(config, axis_name)
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

    def g_objective(g_params, g_stats, d_params, d_stats, a, b):
        fake_b, g_stats = generate(g_params, g_stats, "a2b", a)
        fake_a, g_stats = generate(g_params, g_stats, "b2a", b)
        rec_a, g_stats = generate(g_params, g_stats, "b2a", fake_b)
        rec_b, g_stats = generate(g_params, g_stats, "a2b", fake_a)
        logits_b, d_stats = discriminate(d_params, d_stats, "b", fake_b)
        logits_a, d_stats = discriminate(d_params, d_stats, "a", fake_a)
        parts = {"adv": loss.g_loss(logits_b) + loss.g_loss(logits_a),
                 "cycle": _l1(rec_a, a) + _l1(rec_b, b)}
        total = parts["adv"] + cycle_w * parts["cycle"]
        if identity_w:
            same_b, g_stats = generate(g_params, g_stats, "a2b", b)
            same_a, g_stats = generate(g_params, g_stats, "b2a", a)
            parts["identity"] = _l1(same_b, b) + _l1(same_a, a)
            total += identity_w * parts["identity"]
        return total, (g_stats, d_stats, fake_a, fake_b, parts)

    def d_objective(d_params, d_stats, a, b, fake_a, fake_b):
        real_a, d_stats = discriminate(d_params, d_stats, "a", a)
        shown_a, d_stats = discriminate(d_params, d_stats, "a", fake_a)
        real_b, d_stats = discriminate(d_params, d_stats, "b", b)
        shown_b, d_stats = discriminate(d_params, d_stats, "b", fake_b)
        value = 0.5 * (loss.d_loss(real_a, shown_a) + loss.d_loss(real_b, shown_b))
        return value, (d_stats, real_a, real_b, shown_a, shown_b)

    def step(state: GANState, batch) -> tuple[GANState, dict]:
        a, b = batch["a"], batch["b"]
        key, step_key = jax.random.split(state.key)
        (g_loss, (g_stats, d_stats, fake_a, fake_b, parts)), g_grads = jax.value_and_grad(
            g_objective, has_aux=True)(state.g_params, state.g_stats, state.d_params, state.d_stats, a, b)
        g_grads, g_loss, parts = _mean((g_grads, g_loss, parts), axis_name)
        g_updates, g_opt = tx_g.update(g_grads, state.g_opt, state.g_params)
        g_params = optax.apply_updates(state.g_params, g_updates)

        fake_a, fake_b = lax.stop_gradient(fake_a), lax.stop_gradient(fake_b)
        pool = state.pool
        if pool is not None:
            k_a, k_b = jax.random.split(jax.random.fold_in(step_key, _POOL_STREAM))
            fake_a, images_a, count = _global_pool_query(pool, "a", fake_a, k_a, axis_name)
            fake_b, images_b, _ = _global_pool_query(pool, "b", fake_b, k_b, axis_name)
            pool = {"a": images_a, "b": images_b, "count": count}
        (d_loss, (d_stats, real_a, real_b, shown_a, shown_b)), d_grads = jax.value_and_grad(
            d_objective, has_aux=True)(state.d_params, d_stats, a, b, fake_a, fake_b)
        d_grads, d_loss = _mean((d_grads, d_loss), axis_name)
        d_updates, d_opt = tx_d.update(d_grads, state.d_opt, state.d_params)
        d_params = optax.apply_updates(state.d_params, d_updates)

        what = _nonfinite_bits(d_loss, g_loss, d_grads, g_grads)
        new_state = commit(state, dict(g_params=g_params, g_stats=g_stats, d_params=d_params, d_stats=d_stats,
                                       g_opt=g_opt, d_opt=d_opt, pool=pool,
                                       ema=_with_ema(config, state, g_params, g_stats)), what, key)
        sig = lambda x: jnp.mean(jax.nn.sigmoid(x))  # noqa: E731
        metrics = _mean({"d_loss": d_loss, "g_loss": g_loss,
                         "d_real": 0.5 * (sig(real_a) + sig(real_b)),
                         "d_fake": 0.5 * (sig(shown_a) + sig(shown_b))}, axis_name)
        metrics.update(parts)
        metrics["nonfinite"] = what
        return new_state, metrics

    return step
