"""The ``style`` task: StyleGAN2's training step (Karras et al. 2020), with ADA (Karras et al. 2020b).

One call of the pure step ``(state, batch) -> (state, metrics)`` does one D update and one G
update, as the ``generate`` task, plus what only a style-based generator has:

* **style mixing**: with probability ``style_mixing`` the batch's w+ takes a second latent's w
  from a random crossover layer on (one crossover per batch);
* **fakes clipped to [-1, 1]** before D sees them (:data:`FAKES_CLIPPED`), as every sample is;
* **noise inputs**: every synthesis conv gets fresh N(0, 1) noise maps, drawn by the step
  from its key (they are arguments of the synthesis network, not hidden RNG);
* **w_avg**: the mapping network's running mean of w (in ``g_stats``) moves every step;
  the EMA generator copies it (as it copies every buffer);
* **lazy R1** (``r1_gamma``, every ``r1_every`` steps, x ``r1_every``) on the reals as D
  sees them, augmentation included;
* **lazy path-length regularisation** (``pl_weight``, every ``pl_every`` steps, x ``pl_every``):
  on half a batch, with y ~ N(0, I) / sqrt(H W), the lengths a = sqrt(mean_l |d(G(w+) . y)/dw_l|^2);
  a_mean <- a_mean + 0.01 (mean(a) - a_mean) (kept in the state), penalty E[(a - a_mean)^2];
* **self-conditioning** (``cluster_code`` = K): D is told each real image's cluster (the
  batch's ``"label"``) and each fake's code, the argmax of its z's first K entries, which G
  reads off z; the mixing latent takes the first latent's code entries, so a mixed w+
  stays in one cluster; with ``transition_end`` the conditioning fades in
  (:func:`transition_weight`: G's mapping and D's projection term are weighted by lambda);
* **ADA**: every D input, real or fake, is augmented with probability p (``ada``); p is in
  the state and moves every 4 steps by sign(r_t - ``ada_target``) * (images shown) /
  (``ada_kimg`` * 1000), where r_t = E[sign(D(real))] over those steps. DiffAugment
  (``augment``) works here too, for comparison.

The task's extra state (``GANState.pool``) is ``{"ada_p", "ada_signs", "ada_steps", "pl_mean"}``
(float32 scalars). Under data parallelism (``axis_name``) every per-sample draw (latents,
noise, ADA parameters, path-length y) is made for the global batch and sliced, and the
means are averaged over devices, so N devices compute what one device computes.
"""
from __future__ import annotations

import functools

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gan_jax import losses, penalties
from gan_jax.data import ada
from gan_jax.data.augment import diff_augment
from gan_jax.errors import UserError
from gan_jax.models import stylegan2
from gan_jax.models.dcgan import latent_code
from gan_jax.state import GANState, make_optimizers
from gan_jax.tasks import generate
from gan_jax.tasks.base import Task
from gan_jax.tasks.common import (apply_optimizer, commit, device_mean, is_finite, nonfinite_bits, probabilities,
                                  update_ema)
from gan_jax.tasks.init import build_models

ADA_INTERVAL = 4
"""Steps between two adjustments of the ADA probability p."""
PL_DECAY = 0.01
"""Decay of the path-length running mean a_mean."""
PL_BATCH_SHRINK = 2
"""The path-length regulariser runs on batch / 2 images."""
FAKES_CLIPPED = True
"""D sees G's images clipped to [-1, 1], the range of the data and of every sample the run
gives (``StyleGAN2Generator.__call__`` clips). The synthesis network itself is not squashed
(StyleGAN2's linear toRGB; the path-length regulariser and inversion differentiate it raw).
Unclipped fakes made G collapse onto one or two digits within 300-3,000 steps on MNIST-5k:
the digits' background is exactly -1, so D read any over- or undershoot outside [-1, 1] --
invisible in the samples -- as fake, and since toRGB is not demodulated the overshoot scales
with the styles: G removed it by making its styles the same for every z (the style affines'
biases grew, their spread did not), i.e. by collapsing. ``experiments/stylegan/results.md``
has the ablation (``diversity_probe.py --unclipped`` sets this False before the step is made)."""

# fold_in tags of the step's random streams
_Z, _MIX, _NOISE, _AUG_REAL, _AUG_FAKE, _AUG_G, _AUG_G_REAL, _DIFF_AUG, _PL = range(1, 10)


def init_extra(config) -> dict:
    """The task state: ADA's p and its r_t accumulator, the path-length mean."""
    return {"ada_p": jnp.float32(config.ada_p), "ada_signs": jnp.float32(0.0), "ada_steps": jnp.float32(0.0),
            "pl_mean": jnp.float32(0.0)}


def path_lengths(synthesis: Callable, ws, y) -> jax.Array:
    """|J_w^T y| per image, [B]: with y ~ N(0, I) [B, H, W, C] scaled by 1/sqrt(H W) here, the
    gradient g = d sum(synthesis(ws) * y) / d ws [B, L, W] and the length
    sqrt(mean over the L rows of |g_l|^2) (StyleGAN2's path length)."""
    y = y / jnp.sqrt(float(y.shape[1] * y.shape[2]))
    grads = jax.grad(lambda v: jnp.sum(synthesis(v) * y))(ws)
    return jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grads), axis=-1), axis=-1))


def path_length_penalty(lengths, pl_mean, axis_name: str | None = None, decay: float = PL_DECAY):
    """(E[(a - a_mean')^2], a_mean') with a_mean' = a_mean + decay (mean(a) - a_mean), the mean
    over every device's lengths ``a`` [B]; a_mean' carries no gradient."""
    mean = lax.stop_gradient(pl_mean + decay * (device_mean(jnp.mean(lengths), axis_name) - pl_mean))
    return jnp.mean(jnp.square(lengths - mean)), mean


def transition_weight(step, start: int, end: int):
    """Transitional training's lambda (Shahbazi et al. 2022), float32 []: 0 before step ``start``,
    rising linearly to 1 at ``end``, 1 after (``end`` = 0: always 1, conditional throughout)."""
    if not end:
        return jnp.float32(1.0)
    return jnp.clip((jnp.asarray(step, jnp.float32) - start) / (end - start), 0.0, 1.0)


def _global_draw(draw: Callable, key, local: int, axis_name: str | None):
    """``draw(key, n)`` for the global batch (``local`` rows per device), this device's rows."""
    if axis_name is None:
        return draw(key, local)
    n, i = lax.axis_size(axis_name), lax.axis_index(axis_name)
    return jax.tree.map(lambda x: lax.dynamic_slice_in_dim(x, i * local, local), draw(key, n * local))


def make_step(config, axis_name: str | None = None, layout: Callable | None = None):
    """The pure StyleGAN2(-ADA) train step of ``config``; collectives over ``axis_name`` when given.

    ``layout`` (``parallel=sharding``) places the arrays the step draws itself like the batch."""
    layout = layout or (lambda x: x)
    g_net, d_net = build_models(config, axis_name)
    tx_g, tx_d = make_optimizers(config)
    loss = losses.get(config.loss)
    layers = stylegan2.num_ws(config.resolution)
    noise_shapes = stylegan2.noise_shapes(config.resolution)
    ada_ops = ada.parse_pipeline(config.ada)
    size = (config.resolution, config.resolution)

    def draw(key, b, fn):
        """This device's rows of a global per-sample draw, laid out like the batch."""
        return jax.tree.map(layout, _global_draw(fn, key, b, axis_name))

    def styles_and_noise(g_params, g_stats, key, b, update_w_avg, lam):
        """w+ [b, L, W] (mixed with probability ``style_mixing``), noise maps, G's new stats and
        the fakes' codes int [b] (None without ``cluster_code``); ``lam``: the conditioning's weight."""
        k_z, k_mix, k_noise = (jax.random.fold_in(key, t) for t in (_Z, _MIX, _NOISE))
        z = draw(k_z, b, lambda k, n: jax.random.normal(k, (n, 2, config.z_dim)))
        codes = config.cluster_code
        if codes:  # the mixing latent draws from the same cluster
            z = z.at[:, 1, :codes].set(z[:, 0, :codes])
        variables = {"params": g_params, "batch_stats": g_stats}
        w, new = g_net.apply(variables, z[:, 0], update_w_avg=update_w_avg, cond_weight=lam, method="mapping",
                             mutable=["batch_stats"])
        ws = jnp.broadcast_to(w[:, None], (b, layers, w.shape[-1]))
        if config.style_mixing > 0:
            w2 = g_net.apply(variables, z[:, 1], cond_weight=lam, method="mapping")
            u = jax.random.uniform(k_mix, (2,))
            crossover = jnp.where(u[0] < config.style_mixing, 1 + jnp.floor(u[1] * (layers - 1)), layers)
            ws = stylegan2.mix_styles(w, w2, crossover, layers)
        pixels = [rows * cols for rows, cols in noise_shapes]
        flat = draw(k_noise, b, lambda k, n: jax.random.normal(k, (n, sum(pixels))))
        cuts = [sum(pixels[:j]) for j in range(1, len(pixels))]
        noise = tuple(part.reshape(b, *shape, 1) for part, shape in zip(jnp.split(flat, cuts, axis=1), noise_shapes))
        return ws, noise, new["batch_stats"], latent_code(z[:, 0], codes) if codes else None

    def synthesize(g_params, g_stats, ws, noise):
        return g_net.apply({"params": g_params, "batch_stats": g_stats}, ws, noise, method="synthesis")

    def generate_images(g_params, g_stats, key, b, lam):
        """Fakes [b, R, R, C] clipped to [-1, 1], as sampling gives them (see ``FAKES_CLIPPED``),
        and (G's new statistics (w_avg moved), the fakes' codes or None)."""
        ws, noise, g_stats, codes = styles_and_noise(g_params, g_stats, key, b, True, lam)
        images = synthesize(g_params, g_stats, ws, noise)
        return (jnp.clip(images, -1.0, 1.0) if FAKES_CLIPPED else images), (g_stats, codes)

    def augmentation(key, b, p):
        """One batch's augmentation: ADA parameters (drawn for the global batch) and a DiffAugment key."""
        params = draw(key, b, lambda k, n: ada.sample_params(k, n, p, ada_ops, size)) if ada_ops else None
        k_diff = jax.random.fold_in(key, _DIFF_AUG)
        return params, k_diff if axis_name is None else jax.random.fold_in(k_diff, lax.axis_index(axis_name))

    def augment(x, aug):
        """D's input after ADA and/or DiffAugment (the identity without either)."""
        params, k_diff = aug
        if ada_ops:
            x = ada.apply(x, params, ada_ops)
        return diff_augment(x, k_diff, config.augment) if config.augment else x

    def discriminate(d_params, x, labels, lam):
        """D's logits [B] for images ``x`` and their clusters ``labels`` (None: unconditional),
        the projection term weighted by ``lam`` (transitional training)."""
        return d_net.apply({"params": d_params}, x, labels, cond_weight=lam)

    def d_objective(d_params, real, fake, aug_real, aug_fake, step, y_real, y_fake, lam):
        real_logits = discriminate(d_params, augment(real, aug_real), y_real, lam)
        fake_logits = discriminate(d_params, augment(fake, aug_fake), y_fake, lam)
        value = loss.d_loss(real_logits, fake_logits)
        k = config.r1_every
        r1 = jnp.float32(0.0)
        if config.r1_gamma:  # R1 on the reals as D sees them: the gradient flows through the augmentation
            d_fn = lambda x: discriminate(d_params, augment(x, aug_real), y_real, lam)  # noqa: E731
            r1 = lax.cond(step % k == 0, lambda: penalties.r1_penalty(d_fn, real), lambda: jnp.float32(0.0))
        return value + 0.5 * config.r1_gamma * k * r1, (value, r1, real_logits, fake_logits)

    def path_length(g_params, g_stats, key, b, pl_mean, lam):
        """(weighted penalty, (penalty, new a_mean)) of the path-length regulariser on ``b`` images."""
        ws, noise, _, _ = styles_and_noise(g_params, g_stats, key, b, False, lam)
        y = draw(jax.random.fold_in(key, _PL), b, lambda k, n: jax.random.normal(k, (n, *size, config.channels)))
        lengths = path_lengths(lambda v: synthesize(g_params, g_stats, v, noise), ws, y)
        penalty, mean = path_length_penalty(lengths, pl_mean, axis_name)
        return penalty * config.pl_weight * config.pl_every, (penalty, mean)

    def step(state: GANState, batch: dict) -> tuple[GANState, dict]:
        real, y_real = batch["image"], batch.get("label") if config.cluster_code else None
        b = real.shape[0]
        devices = 1 if axis_name is None else lax.axis_size(axis_name)
        key, step_key = jax.random.split(state.key)
        k_g, k_d, k_pl = jax.random.split(step_key, 3)
        extra, p = state.pool, state.pool["ada_p"]
        lam = transition_weight(state.step, config.transition_start, config.transition_end)

        # G's forward pass, shared by the D update (as stopped fakes) and the G update (pulled back).
        fake, g_pullback, (g_stats, y_fake) = jax.vjp(lambda prm: generate_images(prm, state.g_stats, k_g, b, lam),
                                                      state.g_params, has_aux=True)
        aug_real, aug_fake, aug_g = (augmentation(jax.random.fold_in(k_d, t), b, p)
                                     for t in (_AUG_REAL, _AUG_FAKE, _AUG_G))
        (_, (d_loss, r1, real_logits, fake_logits)), d_grads = jax.value_and_grad(d_objective, has_aux=True)(
            state.d_params, real, lax.stop_gradient(fake), aug_real, aug_fake, state.step, y_real, y_fake, lam)
        d_grads, d_loss, r1 = device_mean((d_grads, d_loss, r1), axis_name)
        d_params, d_opt = apply_optimizer(tx_d, d_grads, state.d_opt, state.d_params)

        def g_objective(fake):
            real_for_g = None
            if loss.relativistic:
                aug_g_real = augmentation(jax.random.fold_in(k_d, _AUG_G_REAL), b, p)
                real_for_g = lax.stop_gradient(discriminate(d_params, augment(real, aug_g_real), y_real, lam))
            return loss.g_loss(real_for_g, discriminate(d_params, augment(fake, aug_g), y_fake, lam))

        g_loss, d_fake = jax.value_and_grad(g_objective)(fake)
        (g_grads,) = g_pullback(d_fake)
        if config.pl_weight:
            b_pl = max(b // PL_BATCH_SHRINK, 1)
            pl_fn = jax.value_and_grad(lambda prm: path_length(prm, state.g_stats, k_pl, b_pl, extra["pl_mean"], lam),
                                       has_aux=True)
            skip = lambda: ((jnp.float32(0.0), (jnp.float32(0.0), extra["pl_mean"])),  # noqa: E731
                            jax.tree.map(jnp.zeros_like, state.g_params))
            (_, (pl, pl_mean)), pl_grads = lax.cond(state.step % config.pl_every == 0,
                                                    lambda: pl_fn(state.g_params), skip)
            g_grads = jax.tree.map(jnp.add, g_grads, pl_grads)
        else:
            pl, pl_mean = jnp.float32(0.0), extra["pl_mean"]
        g_grads, g_loss, pl = device_mean((g_grads, g_loss, pl), axis_name)
        g_params, g_opt = apply_optimizer(tx_g, g_grads, state.g_opt, state.g_params)

        # ADA: accumulate r_t's signs; every ADA_INTERVAL steps move p and start again.
        signs = extra["ada_signs"] + device_mean(jnp.mean(jnp.sign(real_logits)), axis_name)
        steps = extra["ada_steps"] + 1.0
        due = steps >= ADA_INTERVAL
        if ada_ops and config.ada_target > 0:
            p = jnp.where(due, ada.adjust_p(p, signs / steps, config.ada_target, b * devices * steps,
                                            config.ada_kimg), p)
        extra = {"ada_p": p, "ada_signs": jnp.where(due, 0.0, signs), "ada_steps": jnp.where(due, 0.0, steps),
                 "pl_mean": pl_mean}

        ema = update_ema(config, state, g_params, g_stats)
        if ema is not None:  # buffers (w_avg, constant noise) are copied, not averaged
            ema = {"params": ema["params"], "batch_stats": g_stats}
        what = nonfinite_bits(d_loss, g_loss, is_finite(d_grads), is_finite(g_grads))
        new_state = commit(state, dict(g_params=g_params, g_stats=g_stats, d_params=d_params, d_opt=d_opt,
                                       g_opt=g_opt, ema=ema, pool=extra), what, key)
        metrics = device_mean({"d_loss": d_loss, "g_loss": g_loss, **probabilities(real_logits, fake_logits),
                               "r_t": jnp.mean(jnp.sign(real_logits))}, axis_name)
        metrics.update(r1=r1, pl=pl, pl_mean=pl_mean, ada_p=p, nonfinite=what)
        if config.transitional:
            metrics["cond_weight"] = lam
        return new_state, metrics

    return step


def validate(config) -> None:
    """The style task's fields: an ADA pipeline it knows, probabilities in [0, 1], positive intervals."""
    try:
        ada.parse_pipeline(config.ada)
    except ValueError as e:
        raise UserError(f"ada={config.ada!r}: {e}") from None
    for key in ("style_mixing", "ada_target", "ada_p"):
        if not 0.0 <= getattr(config, key) <= 1.0:
            raise UserError(f"{key}={getattr(config, key)}: expected a value in [0, 1]")
    if config.pl_weight < 0 or config.pl_every < 1:
        raise UserError(f"pl_weight={config.pl_weight}, pl_every={config.pl_every}: expected a weight >= 0 and "
                        "a positive interval")
    if not config.ada_kimg > 0:
        raise UserError(f"ada_kimg={config.ada_kimg}: expected a positive number of thousands of images")
    if config.n_critic != 1 or config.gp_weight or config.r2_gamma:
        raise UserError("task=style: expected n_critic=1, gp_weight=0 and r2_gamma=0 (StyleGAN2 uses R1 and "
                        "path-length regularisation)")
    if config.degrade:
        raise UserError(f"degrade={config.degrade!r}: only for task=pix2pix or inpaint (task=style)")


def _w_avg(variables) -> jax.Array:
    """The run's tracked mean of w, [W]."""
    return variables["batch_stats"]["mapping_net"]["w_avg"]


def _first_affine(variables) -> jax.Array:
    """The first modulation layer's affine map as [I, W] (its styles = this @ w + bias)."""
    return stylegan2.style_affine(variables, 0).T


@functools.lru_cache(maxsize=8)
def _blended_sampler(config):
    """jit ``(variables, z [N, Z], lam []) -> images [N, R, R, C]`` in [-1, 1]: G with its cluster
    embedding weighted by ``lam`` (truncated by ``config.truncation_psi``, as G's own call)."""
    fns = stylegan2.style_functions(config)

    def sample(variables, z, lam):
        return fns.synthesis(variables, fns.mapping(variables, z, config.truncation_psi, lam))

    return jax.jit(sample)


def sample_grid(config, state, z):
    """The training grid's images [N, R, R, C] in [-1, 1] for the latents ``z`` [N, Z] (a square
    grid). During transitional training they show G at the run's current lambda (the model
    being trained: unconditional before ``transition_start``); otherwise, and from
    ``transition_end`` on, the generator that sampling uses."""
    if not config.transitional:
        return generate.sample_grid(config, state, z)
    step = int(np.ravel(np.asarray(state.step))[0])
    lam = transition_weight(step, config.transition_start, config.transition_end)
    return np.asarray(_blended_sampler(config)(state.generator_variables(True), z, lam)), None


def style_space(config) -> dict:
    """What editing in W and W+ needs of a run (:mod:`gan_jax.edit.latent_space` builds the spaces):
    the generator's halves as pure functions ``mapping(variables, z, psi)`` and
    ``synthesis(variables, ws, noise)`` (:func:`gan_jax.models.stylegan2.style_functions`),
    ``raw_synthesis`` (the same, not clipped: what inversion differentiates), ``num_ws``,
    ``noise_shapes``, ``w_dim``, ``w_avg(variables) -> [W]`` and ``sefa_weight(variables) -> [I, W]``
    (the first modulation layer's affine map: SeFa's matrix)."""
    fns = stylegan2.style_functions(config)
    g = stylegan2.generator_module(config)

    def raw_synthesis(variables, ws, noise=None):
        return g.apply(variables, ws, noise, method="synthesis")

    return dict(mapping=fns.mapping, synthesis=fns.synthesis, raw_synthesis=raw_synthesis, num_ws=fns.num_ws,
                noise_shapes=fns.noise_shapes, w_dim=config.z_dim, w_avg=_w_avg, sefa_weight=_first_affine)


TASK = Task(name="style", models=("stylegan2",), init_variables=generate.init_variables, make_step=make_step,
            data_source=generate.data_source, sample_grid=sample_grid, validate=validate,
            init_extra=init_extra,
            operations={"sample": functools.partial(generate.generate, latent_scale=1.0),  # psi acts in W
                        "style_space": style_space})
"""StyleGAN2 through its own step; sampling and data are the ``generate`` task's."""
