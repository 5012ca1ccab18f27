"""One train step of gan_jax and of the PyTorch reference from identical weights, batch and latents.

``check(config)`` initialises a gan_jax state, copies its weights into the torch
networks, draws the latents exactly as ``gan_jax.step`` does from ``state.key``,
runs one step of each and returns relative differences (tree-norm-wise):
losses, updated G/D parameters, the parameter *updates* (new - old, a much
stricter comparison), and BatchNorm running means. Running variances are
compared separately and loosely: PyTorch keeps the unbiased batch variance
(n / (n - 1) times flax's biased one) in ``running_var``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.state import init_state
from gan_jax.step import latents, make_train_step


def rel(a, b) -> float:
    """||a - b|| / ||b|| over all leaves of two pytrees with the same structure."""
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb), (len(la), len(lb))
    num = np.sqrt(sum(np.sum((np.asarray(x, np.float64) - np.asarray(y, np.float64)) ** 2)
                      for x, y in zip(la, lb)))
    den = np.sqrt(sum(np.sum(np.asarray(y, np.float64) ** 2) for y in lb))
    return float(num / max(den, 1e-30))


def step_latents(state, config) -> jax.Array:
    """The latent batch ``gan_jax.step`` draws for the generator update of ``state``'s next step."""
    _, step_key = jax.random.split(state.key)
    z_keys = jax.random.split(step_key, config.n_critic)
    return latents(z_keys[-1], config.batch_size, config.z_dim, None)


def _stats_like(net, stats: dict) -> tuple[dict, dict]:
    import torch.nn as tnn
    bns = [m for m in net.main if isinstance(m, tnn.BatchNorm2d)]
    means = {f"BatchNorm_{i}": m.running_mean.detach().numpy() for i, m in enumerate(bns)}
    vars_ = {f"BatchNorm_{i}": m.running_var.detach().numpy() for i, m in enumerate(bns)}
    assert set(means) == set(stats)
    return means, vars_


def check(config, seed: int = 0) -> dict:
    """Relative differences between one gan_jax step and one PyTorch step (see module doc)."""
    import torch

    from gan_jax.bench.torch_ref import TorchDCGAN, discriminator_params_like, generator_params_like

    state = init_state(config, seed)
    real = np.asarray(jax.random.uniform(jax.random.PRNGKey(seed + 1),
                                         (config.batch_size, config.resolution, config.resolution,
                                          config.channels), minval=-1.0, maxval=1.0))
    z = np.array(step_latents(state, config))  # a writable copy for torch.from_numpy
    old_g, old_d = jax.tree.map(np.asarray, (state.g_params, state.d_params))

    ref = TorchDCGAN(config)
    ref.load_state(state)
    with torch.no_grad():  # the weights went over intact
        assert rel(generator_params_like(ref.g, state.g_params), old_g) == 0.0
        assert rel(discriminator_params_like(ref.d, state.d_params), old_d) == 0.0
    out = ref.step(ref.to_input(real), torch.from_numpy(z))

    new, metrics = jax.jit(make_train_step(config))(state, {"image": jnp.asarray(real)})
    tg = generator_params_like(ref.g, new.g_params)
    td = discriminator_params_like(ref.d, new.d_params)
    g_mean, g_var = _stats_like(ref.g, new.g_stats)
    d_mean, d_var = _stats_like(ref.d, new.d_stats)
    jax_mean = lambda s: {k: v["mean"] for k, v in s.items()}  # noqa: E731
    jax_var = lambda s: {k: v["var"] for k, v in s.items()}  # noqa: E731
    def sub(a, b):
        return jax.tree.map(lambda x, y: np.asarray(x, np.float64) - np.asarray(y, np.float64), a, b)
    return {
        "d_loss": abs(float(out["d_loss"]) - float(metrics["d_loss"])) / abs(float(metrics["d_loss"])),
        "g_loss": abs(float(out["g_loss"]) - float(metrics["g_loss"])) / abs(float(metrics["g_loss"])),
        "g_params": rel(tg, new.g_params),
        "d_params": rel(td, new.d_params),
        "g_update": rel(sub(tg, old_g), sub(new.g_params, old_g)),
        "d_update": rel(sub(td, old_d), sub(new.d_params, old_d)),
        "bn_running_mean": rel((g_mean, d_mean), (jax_mean(new.g_stats), jax_mean(new.d_stats))),
        "bn_running_var_unbiased_vs_biased": rel((g_var, d_var), (jax_var(new.g_stats), jax_var(new.d_stats))),
    }
