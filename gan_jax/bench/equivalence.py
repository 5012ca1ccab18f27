"""gan_jax train steps against the PyTorch reference, from identical weights, batch and latents.

``check(config)`` initialises a gan_jax state, copies its weights into the torch
networks, draws the latents exactly as ``gan_jax.tasks.generate`` does from ``state.key``,
runs one step of each and returns their differences (:func:`differences`); then a second
step of each from the state the JAX step made, copied into PyTorch with Adam's moments and
step count (Adam's first update is ~lr * sign(grad) whatever its betas and epsilon; the
second is not). ``step_fn`` is the JAX program to check: the benchmark passes the very
compiled program it times (``gan_jax.bench.throughput``). ``check_fused`` compares a
program that runs K steps per call with K calls of a (checked) one-step program.

What is compared, and why so (:func:`tolerances` gives the limits):

* the losses (relative), the BatchNorm running means (relative, tree-norm-wise) and the
  updated parameters (relative, tree-norm-wise);
* every parameter's *update* (new - old), element by element in units of the learning
  rate: per tensor, the median difference, and the share of elements whose updates differ
  by more than one learning rate. Adam's first step is ~lr * sign(grad), so an element
  whose gradient is ~0 takes either sign under float32 rounding: with the fast conv
  formulations (Winograd) 0.03 % of the 28 px generator's elements and 0.65 % of the
  64 px one's do (up to 0.1 % and 0.8 % of one tensor; with plain lax convs too), and a
  tree-norm of the updates is dominated by them (0.04 and 0.16). A wrong
  step moves every element: a learning rate or update 1 % off gives a median of 0.01, a
  flipped loss sign a share of ~1.
* BatchNorm running variances: PyTorch keeps the unbiased batch variance (n / (n - 1)
  times flax's biased one) in ``running_var``: reported, compared loosely.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.tasks import init_state
from gan_jax.tasks import make_train_step
from gan_jax.tasks.generate import latents


def rel(a, b) -> float:
    """||a - b|| / ||b|| over all leaves of two pytrees with the same structure."""
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb), (len(la), len(lb))
    num = np.sqrt(sum(np.sum((np.asarray(x, np.float64) - np.asarray(y, np.float64)) ** 2)
                      for x, y in zip(la, lb)))
    den = np.sqrt(sum(np.sum(np.asarray(y, np.float64) ** 2) for y in lb))
    return float(num / max(den, 1e-30))


def rel_scalar(a: float, b: float) -> float:
    """|a - b| / |b| of two numbers (inf when either is not finite)."""
    return abs(a - b) / max(abs(b), 1e-30) if np.isfinite(a) and np.isfinite(b) else float("inf")


def step_latents(state, config) -> jax.Array:
    """The latent batch ``gan_jax.tasks.generate`` draws for the generator update of ``state``'s next step."""
    return _latents_for_key(state.key, config)


def _latents_for_key(key, config) -> jax.Array:
    _, step_key = jax.random.split(key)
    z_keys = jax.random.split(step_key, config.n_critic)
    return latents(z_keys[-1], config.batch_size, config.z_dim, None)


def reference_inputs(config, seed: int = 0):
    """(state, real images [B, H, W, C] in [-1, 1]) the check and the benchmark's JAX variants start from:
    ``init_state(config, seed)`` and a uniform batch from ``PRNGKey(seed + 1)``."""
    state = init_state(config, seed)
    real = jax.random.uniform(jax.random.PRNGKey(seed + 1),
                              (config.batch_size, config.resolution, config.resolution, config.channels),
                              minval=-1.0, maxval=1.0)
    return state, real


def _stats_like(net, stats: dict) -> tuple[dict, dict]:
    import torch.nn as tnn
    bns = [m for m in net.main if isinstance(m, tnn.BatchNorm2d)]
    means = {f"BatchNorm_{i}": m.running_mean.detach().numpy() for i, m in enumerate(bns)}
    vars_ = {f"BatchNorm_{i}": m.running_var.detach().numpy() for i, m in enumerate(bns)}
    assert set(means) == set(stats)
    return means, vars_


def _summary(state, metrics) -> dict:
    """What :func:`differences` compares, from a gan_jax state and the metrics of its last step."""
    mean = lambda s: {k: np.asarray(v["mean"]) for k, v in s.items()}  # noqa: E731
    var = lambda s: {k: np.asarray(v["var"]) for k, v in s.items()}  # noqa: E731
    return {"g_params": jax.tree.map(np.array, state.g_params), "d_params": jax.tree.map(np.array, state.d_params),
            "bn_mean": (mean(state.g_stats), mean(state.d_stats)), "bn_var": (var(state.g_stats), var(state.d_stats)),
            "d_loss": float(np.asarray(metrics["d_loss"]).reshape(-1)[-1]),
            "g_loss": float(np.asarray(metrics["g_loss"]).reshape(-1)[-1])}


def differences(ref: dict, new: dict, old_g, old_d, config, var_key: str = "bn_running_var") -> dict:
    """The differences of ``new`` from ``ref`` (both :func:`_summary`-shaped) after steps from
    parameters ``old_g``/``old_d`` (see the module doc)."""
    def sub(a, b):
        return jax.tree.map(lambda x, y: np.asarray(x, np.float64) - np.asarray(y, np.float64), a, b)

    def per_tensor(ref_new, new_new, lr):
        """(largest per-tensor median |update difference| / lr, largest per-tensor share over lr)."""
        medians, shares = [], []
        for r, n in zip(jax.tree.leaves(ref_new), jax.tree.leaves(new_new)):
            d = np.abs(np.asarray(r, np.float64) - np.asarray(n, np.float64)).ravel() / lr
            if not np.all(np.isfinite(d)):
                return float("inf"), float("inf")
            medians.append(np.median(d))
            shares.append(np.mean(d > 1.0))
        return float(max(medians)), float(max(shares))

    g_med, g_share = per_tensor(ref["g_params"], new["g_params"], config.lr_g)
    d_med, d_share = per_tensor(ref["d_params"], new["d_params"], config.lr_d)
    return {
        "d_loss": rel_scalar(ref["d_loss"], new["d_loss"]),
        "g_loss": rel_scalar(ref["g_loss"], new["g_loss"]),
        "g_params": rel(ref["g_params"], new["g_params"]),
        "d_params": rel(ref["d_params"], new["d_params"]),
        "g_update_median": g_med,
        "d_update_median": d_med,
        "g_update_over_lr": g_share,
        "d_update_over_lr": d_share,
        "g_update": rel(sub(ref["g_params"], old_g), sub(new["g_params"], old_g)),
        "d_update": rel(sub(ref["d_params"], old_d), sub(new["d_params"], old_d)),
        "bn_running_mean": rel(ref["bn_mean"], new["bn_mean"]),
        var_key: rel(ref["bn_var"], new["bn_var"]),
    }


def check(config, seed: int = 0, step_fn=None, steps: int = 2) -> dict:
    """Differences between gan_jax steps and PyTorch steps, each from identical weights and
    optimiser state (see the module doc).

    ``step_fn(state, batch) -> (state, metrics)``: the JAX program to check (default: the
    library's step under ``jax.jit``). It may donate its state: the state it gets is used
    for nothing else. Step 1 starts from ``init_state``; step 2 (``steps=2``, the default)
    from the state the JAX program made in step 1, copied into PyTorch with Adam's moments
    and step count: Adam's first update is ~lr * sign(grad) whatever its betas, the second
    depends on them. Step i's differences are keyed ``name`` (step 1) and ``name@i``.
    """
    state, real = reference_inputs(config, seed)
    real = np.array(real)
    step_fn = step_fn or jax.jit(make_train_step(config))
    diffs = {}
    for i in range(steps):
        diff, state = _check_one_step(config, state, real, step_fn)
        diffs.update({(k if i == 0 else f"{k}@{i + 1}"): v for k, v in diff.items()})
    return diffs


def _check_one_step(config, state, real: np.ndarray, step_fn):
    """(differences of one step of ``step_fn`` from one PyTorch step, both from ``state``; the JAX state after it)."""
    import torch

    from gan_jax.bench.torch_ref import TorchDCGAN, discriminator_params_like, generator_params_like

    # Copies (np.array, not np.asarray): a donating step_fn may reuse the state's buffers.
    old_g, old_d = jax.tree.map(np.array, (state.g_params, state.d_params))
    z = np.array(step_latents(state, config))  # a writable copy for torch.from_numpy

    ref = TorchDCGAN(config)
    ref.load_state(state)
    ref.load_adam_state(state)
    with torch.no_grad():  # the weights went over intact
        assert rel(generator_params_like(ref.g, state.g_params), old_g) == 0.0
        assert rel(discriminator_params_like(ref.d, state.d_params), old_d) == 0.0
    out = ref.step(ref.to_input(real), torch.from_numpy(z))

    new_state, metrics = step_fn(jax.tree.map(jnp.copy, state), {"image": jnp.asarray(real)})
    new = _summary(new_state, metrics)
    g_mean, g_var = _stats_like(ref.g, new["bn_mean"][0])
    d_mean, d_var = _stats_like(ref.d, new["bn_mean"][1])
    torch_side = {"g_params": generator_params_like(ref.g, new["g_params"]),
                  "d_params": discriminator_params_like(ref.d, new["d_params"]),
                  "bn_mean": (g_mean, d_mean), "bn_var": (g_var, d_var),
                  "d_loss": float(out["d_loss"]), "g_loss": float(out["g_loss"])}
    diff = differences(torch_side, new, old_g, old_d, config, var_key="bn_running_var_unbiased_vs_biased")
    return diff, new_state


def check_fused(config, fused_fn, one_step_fn, steps: int, seed: int = 0) -> dict:
    """Differences between one call of ``fused_fn`` (``steps`` train steps; batches stacked
    [K, B, ...]: the same real batch K times) and ``steps`` calls of ``one_step_fn`` from the
    same state. Either may donate its state."""
    state, real = reference_inputs(config, seed)
    old_g, old_d = jax.tree.map(np.array, (state.g_params, state.d_params))
    batch = {"image": real}
    s = jax.tree.map(jnp.copy, state)
    for _ in range(steps):
        s, metrics = one_step_fn(s, batch)
    ref = _summary(s, metrics)
    stacked = jax.tree.map(lambda a: jnp.broadcast_to(a, (steps,) + a.shape), batch)
    new, metrics = fused_fn(jax.tree.map(jnp.copy, state), stacked)
    return differences(ref, _summary(new, metrics), old_g, old_d, config)


TOLERANCE = {"d_loss": 1e-4, "g_loss": 1e-4, "bn_running_mean": 1e-3, "g_params": 1e-2, "d_params": 1e-2,
             "g_update_median": 1e-3, "d_update_median": 1e-3, "g_update_over_lr": 0.1, "d_update_over_lr": 0.1,
             "bn_running_var_unbiased_vs_biased": 1e-2,
             "g_update_median@2": 5e-3, "d_update_median@2": 5e-3}
"""float32 on a CPU against PyTorch. Measured (2026-12, Xeon with AVX-512, jax 0.10.2, torch 2.13) at
dcgan28:128 and dcgan64:64, width 64, fast and plain convs. Step 1: losses <= 1.6e-5, running means
<= 1.3e-4, parameters <= 1.2e-3, update medians <= 7e-6 lr, shares over lr <= 0.8 % (per tensor).
Step 2 (``@2``): losses <= 6.8e-6, running means <= 7.8e-6, parameters <= 5.9e-5, shares over lr
<= 1e-5, update medians <= 7.9e-4 lr: Adam's second update is a ratio of gradient moments, so it
carries the gradients' relative rounding (larger with the Winograd convs), hence its own limit.
A changed beta1 (0.5 -> 0.6) gives a step-2 median of 0.11, beta2 (0.999 -> 0.989) 0.55."""

FUSED_TOLERANCE = {"d_loss": 1e-3, "g_loss": 1e-3, "bn_running_mean": 1e-2, "g_params": 1e-2, "d_params": 1e-2,
                   "g_update_median": 0.25, "d_update_median": 0.25, "g_update_over_lr": 0.1,
                   "d_update_over_lr": 0.1}
"""One call of K fused steps against K calls of the one-step program (K = 4, the same machine):
losses <= 1.4e-4, running means <= 2.2e-4, parameters <= 2.3e-4, update medians <= 0.016 lr. Adam
turns the rounding of near-zero gradients into whole-lr differences that the next steps carry on,
so the medians grow with K; a skipped, repeated or wrong-batch step moves every element by ~1 lr."""


LOOSE = {"float32": {"d_loss": 3e-3, "g_loss": 3e-3, "bn_running_mean": 3e-2, "g_params": 1e-2, "d_params": 1e-2,
                     "g_update_median": 5e-3, "d_update_median": 5e-3, "g_update_over_lr": 0.3,
                     "d_update_over_lr": 0.3, "g_update_median@2": 5e-2, "d_update_median@2": 5e-2},
         "bfloat16": {"d_loss": 3e-2, "g_loss": 3e-2, "bn_running_mean": 3e-2, "g_params": 3e-2, "d_params": 3e-2,
                      "g_update_median": 5e-3, "d_update_median": 5e-3, "g_update_over_lr": 0.5,
                      "d_update_over_lr": 0.5, "g_update_median@2": 0.25, "d_update_median@2": 0.25}}
"""Steps in lower precision against the float32 PyTorch step. ``bfloat16`` (any backend;
measured on the CPU at dcgan28:32, dcgan28:64 and dcgan64:16, width 16): step 1 losses
<= 2.5e-3, running means <= 5.6e-3, parameters <= 3.5e-3, update medians <= 9.3e-6 lr,
shares over lr <= 12 %; step 2 losses <= 4.9e-3, update medians <= 4.6e-2 lr, so in
bfloat16 step 2 only catches gross optimiser errors (beta2 0.999 -> 0.989 gives 0.55).
``float32`` on a GPU, where XLA runs float32 convolutions in TF32 (10-bit mantissa, about
8x finer than bfloat16) by default: not measured on a GPU yet, set between the CPU's
float32 and bfloat16 figures. Step 1's update medians stay tight everywhere: a step 1 %
off gives 1e-2."""


def tolerances(backend: str = "cpu", dtype: str = "float32", fused: bool = False) -> dict[str, float]:
    """The largest difference :func:`check` (``fused``: :func:`check_fused`) accepts, per quantity:
    :data:`TOLERANCE`, :data:`FUSED_TOLERANCE` or :data:`LOOSE`. The quantities not listed are
    reported only (the tree-norm of the updates is dominated by Adam's sign on near-zero gradients)."""
    if fused:
        return dict(FUSED_TOLERANCE)
    if dtype == "bfloat16":
        return {**TOLERANCE, **LOOSE["bfloat16"]}
    if backend != "cpu":
        return {**TOLERANCE, **LOOSE["float32"]}
    return dict(TOLERANCE)


def limit(tol: dict, key: str) -> float | None:
    """The limit of a difference ``key`` (``name`` or ``name@i``, step i): ``tol[name@i]``, else for
    i >= 2 ``tol[name@2]`` (the limit of every step after Adam's first), else ``tol[name]``; None
    if it is reported only."""
    if key in tol:
        return tol[key]
    name, _, i = key.partition("@")
    return tol[f"{name}@2"] if i and f"{name}@2" in tol else tol.get(name)


def failures(diff: dict, tol: dict) -> list[str]:
    """``["g_update_median 1.0e-02 > 1.0e-03", ...]``: every quantity over its limit (NaN fails)."""
    return [f"{k} {v:.1e} > {limit(tol, k):.1e}" for k, v in diff.items()
            if limit(tol, k) is not None and not v <= limit(tol, k)]
