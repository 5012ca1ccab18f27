"""PyTorch reference of the gan_jax StyleGAN2 train step (optional: needs ``torch``).

The networks are those of :mod:`gan_jax.models.stylegan2` written in PyTorch (NCHW), with the
same parameters stored the same way (raw N(0, 1) weights, equalised-LR scales applied at run
time, mapping weights x0.01, affine biases 1), so that Adam sees the same numbers:

* mapping: pixel norm, ``mapping_layers`` x (dense, lr x0.01, leaky ReLU(0.2) x sqrt 2);
  buffer ``w_avg`` [W];
* synthesis: const [C, S, S]; per layer, a modulated/demodulated 3x3 conv computed as
  ``conv(x * s) * d`` (one ordinary conv for the whole batch, ``modulation="fused"``, the
  default: on the CPU it is faster than the grouped-conv trick, ``modulation="grouped"``,
  which builds one kernel per sample and convolves with groups=B), nearest 2x upsampling before
  the up-convs, noise x strength, bias, activation; buffer ``noise_const`` [H, W]; modulated 1x1
  toRGB without demodulation; the images summed over resolutions with bilinear 2x upsampling
  ([1, 3, 3, 1] / 4, edges replicated: ``F.interpolate(mode="bilinear", align_corners=False)``
  is exactly ``stylegan2._bilinear_matrix``);
* D: fromRGB, residual blocks (2x2 average pooling, 1x1 skip, sum / sqrt 2), minibatch stddev
  (groups of gcd(B, 4) consecutive samples), 3x3 conv, dense (its input flattened in the
  flax (H, W, C) order), logit.

:class:`TorchStyleGAN2` is the step of :mod:`gan_jax.tasks.style` **without ADA** (``ada=""``:
:func:`bench_config`; no DiffAugment, no clusters): fakes from the mapping + synthesis with
style mixing (one crossover per batch) and fresh noise, w_avg moved (decay 0.995), clipped to
[-1, 1]; D update with the non-saturating logistic loss and, every ``r1_every`` steps, R1 on
the reals x ``r1_every`` x gamma / 2; G update through the *updated* D on the same fakes plus,
every ``pl_every`` steps, the path-length penalty on half a batch (x ``pl_weight`` x
``pl_every``, running mean decay 0.01); Adam with the config's lr and betas and eps 1e-8 in
both (optax's ``adam`` and torch's ``Adam`` compute the same formula: lr m^ / (sqrt(v^) + eps));
the EMA generator (optional). The random draws come in ``draws`` (:func:`step_draws`: the very
numbers the JAX step draws from ``state.key``; :func:`random_draws`: torch's RNG, for timing).

:func:`check` runs steps of both from the same state and batch and returns their differences.
"""
from __future__ import annotations

import copy
import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import torch
import torch.nn as tnn
import torch.nn.functional as F

from gan_jax.bench.equivalence import (LOOSE, TOLERANCE, differences, failures, reference_inputs, rel,
                                      rel_scalar)
from gan_jax.bench.torch_ref import _adam_state
from gan_jax.models import stylegan2 as sg
from gan_jax.tasks import style

SQRT2 = sg.SQRT2


def bench_config(config=None):
    """The compared config: ``stylegan2_ada_mnist`` (or ``config``) with ADA off (``ada=""``, ``ada_target=0``)."""
    if config is None:
        from gan_jax.configs.stylegan2_ada_mnist import get_config
        config = get_config()
    return dataclasses.replace(config, ada="", ada_target=0.0)


def act(x):
    """Leaky ReLU(0.2) x sqrt 2."""
    return F.leaky_relu(x, sg.LEAK) * SQRT2


def upsample_bilinear(x):
    """[B, C, H, W] -> [B, C, 2H, 2W], the [1, 3, 3, 1] / 4 filter with replicated edges."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def upsample_nearest(x):
    """[B, C, H, W] -> [B, C, 2H, 2W], each pixel repeated 2 x 2."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


def minibatch_stddev(x, group_size: int = sg.MBSTD_GROUP):
    """[B, C, H, W] -> [B, C + 1, H, W]: groups of G = gcd(B, 4) consecutive samples, the mean over
    (C, H, W) of the population std over the group (eps 1e-8 under the root), one value per group."""
    b, c, h, w = x.shape
    g = math.gcd(b, group_size)
    y = x.reshape(b // g, g, c, h, w)
    std = torch.sqrt(torch.mean(torch.square(y - y.mean(dim=1, keepdim=True)), dim=1) + 1e-8)  # [B/G, C, H, W]
    feature = std.mean(dim=(1, 2, 3)).repeat_interleave(g)  # [B]
    return torch.cat([x, feature[:, None, None, None].expand(b, 1, h, w)], dim=1)


def normalize_2nd_moment(x, eps: float = 1e-8):
    """x [..., F] / sqrt(mean over F of x^2 + eps)."""
    return x * torch.rsqrt(torch.mean(torch.square(x), dim=-1, keepdim=True) + eps)


class EqualLinear(tnn.Module):
    """[..., I] -> [..., O]: weight [O, I] ~ N(0, 1 / lr_mul^2) used x lr_mul / sqrt(I); bias stored / lr_mul."""

    def __init__(self, fan_in: int, features: int, lr_mul: float = 1.0, bias_init: float = 0.0, bias: bool = True):
        super().__init__()
        self.weight = tnn.Parameter(torch.randn(features, fan_in) / lr_mul)
        self.bias = tnn.Parameter(torch.full((features,), bias_init / lr_mul)) if bias else None
        self.scale, self.lr_mul = lr_mul / math.sqrt(fan_in), lr_mul

    def forward(self, x):
        return F.linear(x, self.weight * self.scale, None if self.bias is None else self.bias * self.lr_mul)


class EqualConv(tnn.Module):
    """k x k 'same' conv [B, I, H, W] -> [B, O, H, W]: weight [O, I, k, k] ~ N(0, 1) used / sqrt(k k I)."""

    def __init__(self, fan_in: int, features: int, k: int, bias: bool = True):
        super().__init__()
        self.weight = tnn.Parameter(torch.randn(features, fan_in, k, k))
        self.bias = tnn.Parameter(torch.zeros(features)) if bias else None
        self.scale, self.padding = 1.0 / math.sqrt(k * k * fan_in), k // 2

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class SynthesisLayer(tnn.Module):
    """(nearest 2x up,) modulated demodulated 3x3 conv, + noise x strength, + bias, activation.
    x [B, I, H, W], w [B, W], noise [B, 1, H', W'] or None (the layer's ``noise_const``)."""

    def __init__(self, fan_in: int, features: int, w_dim: int, size: int, up: bool, modulation: str = "fused"):
        super().__init__()
        self.up, self.modulation = up, modulation
        self.affine = EqualLinear(w_dim, fan_in, bias_init=1.0)
        self.weight = tnn.Parameter(torch.randn(features, fan_in, 3, 3))
        self.noise_strength = tnn.Parameter(torch.zeros(()))
        self.bias = tnn.Parameter(torch.zeros(features))
        self.register_buffer("noise_const", torch.randn(size, size))
        self.scale = 1.0 / math.sqrt(9 * fan_in)

    def forward(self, x, w, noise=None):
        if self.up:
            x = upsample_nearest(x)
        styles = self.affine(w)  # [B, I]
        weight = self.weight * self.scale  # [O, I, 3, 3]
        if self.modulation == "grouped":  # one kernel per sample, one grouped conv
            b, i, h, wd = x.shape
            wb = weight[None] * styles[:, None, :, None, None]  # [B, O, I, 3, 3]
            wb = wb * torch.rsqrt(wb.square().sum(dim=(2, 3, 4)) + 1e-8)[:, :, None, None, None]
            y = F.conv2d(x.reshape(1, b * i, h, wd), wb.reshape(-1, i, 3, 3), padding=1, groups=b)
            y = y.reshape(b, -1, h, wd)
        else:  # conv(x * s) * d: one ordinary conv for the batch
            y = F.conv2d(x * styles[:, :, None, None], weight, padding=1)
            d = torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).T + 1e-8)  # [B, O]
            y = y * d[:, :, None, None]
        noise = self.noise_const[None, None] if noise is None else noise
        return act(y + self.noise_strength * noise + self.bias[None, :, None, None])


class ToRGB(tnn.Module):
    """Modulated 1x1 conv (no demodulation) + bias: [B, I, H, W], w [B, W] -> [B, C, H, W]."""

    def __init__(self, fan_in: int, channels: int, w_dim: int):
        super().__init__()
        self.affine = EqualLinear(w_dim, fan_in, bias_init=1.0)
        self.weight = tnn.Parameter(torch.randn(channels, fan_in, 1, 1))
        self.bias = tnn.Parameter(torch.zeros(channels))
        self.scale = 1.0 / math.sqrt(fan_in)

    def forward(self, x, w):
        styles = self.affine(w)
        return F.conv2d(x * styles[:, :, None, None], self.weight * self.scale, self.bias)


class MappingNetwork(tnn.Module):
    """z [B, Z] -> w [B, W]; buffer ``w_avg`` [W] (moved by the trainer, not here)."""

    def __init__(self, w_dim: int, depth: int):
        super().__init__()
        self.depth = depth
        for i in range(depth):
            setattr(self, f"dense_{i}", EqualLinear(w_dim, w_dim, lr_mul=sg.MAPPING_LR_MUL))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z):
        x = normalize_2nd_moment(z)
        for i in range(self.depth):
            x = act(getattr(self, f"dense_{i}")(x))
        return x


class SynthesisNetwork(tnn.Module):
    """w+ [B, L, W] and noise maps ([B, 1, H, W] per conv, :func:`gan_jax.models.stylegan2.noise_shapes`;
    None: the constant ones) -> images [B, C, R, R], not clipped."""

    def __init__(self, resolution: int, channels: int, width: int, w_dim: int, modulation: str = "fused",
                 memory_format=torch.contiguous_format):
        super().__init__()
        start, self.k = sg.layout(resolution)
        self.memory_format = memory_format
        f = [width * 2 ** (self.k - j) for j in range(self.k + 1)]
        self.const = tnn.Parameter(torch.randn(f[0], start, start))
        self.layer_0 = SynthesisLayer(f[0], f[0], w_dim, start, False, modulation)
        self.to_rgb_0 = ToRGB(f[0], channels, w_dim)
        for j in range(1, self.k + 1):
            size = start * 2 ** j
            setattr(self, f"layer_{2 * j - 1}", SynthesisLayer(f[j - 1], f[j], w_dim, size, True, modulation))
            setattr(self, f"layer_{2 * j}", SynthesisLayer(f[j], f[j], w_dim, size, False, modulation))
            setattr(self, f"to_rgb_{j}", ToRGB(f[j], channels, w_dim))

    def forward(self, ws, noise=None):
        noise = [None] * (1 + 2 * self.k) if noise is None else list(noise)
        x = self.const[None].expand(ws.shape[0], *self.const.shape).contiguous(memory_format=self.memory_format)
        x = self.layer_0(x, ws[:, 0], noise[0])
        image = self.to_rgb_0(x, ws[:, 1])
        for j in range(1, self.k + 1):
            x = getattr(self, f"layer_{2 * j - 1}")(x, ws[:, 2 * j - 1], noise[2 * j - 1])
            x = getattr(self, f"layer_{2 * j}")(x, ws[:, 2 * j], noise[2 * j])
            image = upsample_bilinear(image) + getattr(self, f"to_rgb_{j}")(x, ws[:, 2 * j + 1])
        return image


class Generator(tnn.Module):
    """``mapping_net`` and ``synthesis_net`` (named as the flax generator's halves)."""

    def __init__(self, config, modulation: str = "fused", memory_format=torch.contiguous_format):
        super().__init__()
        self.mapping_net = MappingNetwork(config.z_dim, config.mapping_layers)
        self.synthesis_net = SynthesisNetwork(config.resolution, config.channels, config.g_width, config.z_dim,
                                              modulation, memory_format)


class Discriminator(tnn.Module):
    """images [B, C, R, R] -> logits [B] (unconditional)."""

    def __init__(self, config, memory_format=torch.contiguous_format):
        super().__init__()
        start, self.k = sg.layout(config.resolution)
        self.memory_format = memory_format
        width = config.d_width
        self.from_rgb = EqualConv(config.channels, width, 1)
        h = width
        for j in range(self.k):
            out = width * 2 ** (j + 1)
            setattr(self, f"skip_{j}", EqualConv(h, out, 1, bias=False))
            setattr(self, f"conv_{j}_a", EqualConv(h, h, 3))
            setattr(self, f"conv_{j}_b", EqualConv(h, out, 3))
            h = out
        self.epilogue_conv = EqualConv(h + 1, h, 3)
        self.epilogue_dense = EqualLinear(start * start * h, h)  # input flattened (H, W, C), as flax's
        self.logit = EqualLinear(h, 1)

    def forward(self, x):
        h = act(self.from_rgb(x.contiguous(memory_format=self.memory_format)))
        for j in range(self.k):
            skip = getattr(self, f"skip_{j}")(F.avg_pool2d(h, 2))
            h = act(getattr(self, f"conv_{j}_a")(h))
            h = act(getattr(self, f"conv_{j}_b")(F.avg_pool2d(h, 2)))
            h = (skip + h) / SQRT2
        h = act(self.epilogue_conv(minibatch_stddev(h)))
        h = act(self.epilogue_dense(h.permute(0, 2, 3, 1).flatten(1)))
        return self.logit(h)[:, 0]


# --------------------------------------------------------------------------- flax <-> torch

def _leaves(tree: dict, prefix: str = ""):
    """(dotted path, leaf) of a nested dict, in sorted order."""
    for k in sorted(tree):
        v, name = tree[k], f"{prefix}{k}"
        if isinstance(v, dict):
            yield from _leaves(v, name + ".")
        else:
            yield name, v


def _torch_name(path: str) -> str:
    """Flax leaf path -> torch parameter name (``kernel`` -> ``weight``)."""
    head, _, leaf = path.rpartition(".")
    return f"{head}.weight" if leaf == "kernel" else path


def to_torch_layout(path: str, x: np.ndarray) -> np.ndarray:
    """A flax leaf in torch's layout: dense kernel [I, O] -> [O, I]; conv kernel [k, k, I, O] ->
    [O, I, k, k]; const [S, S, C] -> [C, S, S]; anything else unchanged."""
    leaf = path.rpartition(".")[2]
    if leaf == "kernel":
        return x.T if x.ndim == 2 else x.transpose(3, 2, 0, 1)
    return x.transpose(2, 0, 1) if leaf == "const" else x


def from_torch_layout(path: str, x: np.ndarray) -> np.ndarray:
    """The inverse of :func:`to_torch_layout`."""
    leaf = path.rpartition(".")[2]
    if leaf == "kernel":
        return x.T if x.ndim == 2 else x.transpose(2, 3, 1, 0)
    return x.transpose(1, 2, 0) if leaf == "const" else x


def _tensors(net: tnn.Module) -> dict:
    return {**dict(net.named_parameters()), **dict(net.named_buffers())}


def load_tree(net: tnn.Module, tree: dict) -> None:
    """Copy a flax params or batch_stats tree into ``net``'s parameters/buffers of the same names."""
    tensors = _tensors(net)
    with torch.no_grad():
        for path, leaf in _leaves(tree):
            t = tensors[_torch_name(path)]
            t.copy_(torch.from_numpy(np.array(to_torch_layout(path, np.asarray(leaf, np.float32)), order="C")))


def load_generator(g: Generator, params: dict, stats: dict) -> None:
    """Flax G variables (params; batch_stats: w_avg, noise_const) -> ``g``."""
    load_tree(g, params)
    load_tree(g, stats)


def load_discriminator(d: Discriminator, params: dict) -> None:
    load_tree(d, params)


def tree_like(net: tnn.Module, tree: dict, tensors: dict | None = None) -> dict:
    """``net``'s tensors (or ``tensors``, by name) as numpy in the layout of the flax ``tree``."""
    tensors = _tensors(net) if tensors is None else tensors

    def build(sub, prefix):
        return {k: build(v, f"{prefix}{k}.") if isinstance(v, dict)
                else from_torch_layout(f"{prefix}{k}", tensors[_torch_name(f"{prefix}{k}")].detach().cpu().numpy())
                for k, v in sub.items()}

    return build(tree, "")


# --------------------------------------------------------------------------- draws

def _style_draws(config, key, n: int) -> dict:
    """What ``styles_and_noise`` of the JAX step draws from ``key`` for ``n`` images."""
    layers = sg.num_ws(config.resolution)
    shapes = sg.noise_shapes(config.resolution)
    k_z, k_mix, k_noise = (jax.random.fold_in(key, t) for t in (style._Z, style._MIX, style._NOISE))
    z = style._global_draw(lambda k, m: jax.random.normal(k, (m, 2, config.z_dim)), k_z, n, None)
    crossover = layers
    if config.style_mixing > 0:
        u = jax.random.uniform(k_mix, (2,))
        crossover = int(jnp.where(u[0] < config.style_mixing, 1 + jnp.floor(u[1] * (layers - 1)), layers))
    pixels = [h * w for h, w in shapes]
    flat = np.asarray(style._global_draw(lambda k, m: jax.random.normal(k, (m, sum(pixels))), k_noise, n, None))
    cuts = np.cumsum(pixels)[:-1]
    noise = [part.reshape(n, 1, *shape) for part, shape in zip(np.split(flat, cuts, axis=1), shapes)]
    return {"z": np.array(z), "crossover": crossover, "noise": noise}


def step_draws(state, config) -> dict:
    """The random numbers the JAX step of ``state`` draws, for :meth:`TorchStyleGAN2.step`:
    ``z`` [B, 2, Z], ``crossover`` int (L: no mixing), ``noise`` [[B, 1, H, W], ...] and the same
    for the path-length batch (``pl_z``, ``pl_crossover``, ``pl_noise``) plus ``pl_y`` [B/2, C, R, R]."""
    _, step_key = jax.random.split(state.key)
    k_g, _, k_pl = jax.random.split(step_key, 3)
    b = config.batch_size
    b_pl = max(b // style.PL_BATCH_SHRINK, 1)
    main, pl = _style_draws(config, k_g, b), _style_draws(config, k_pl, b_pl)
    y = style._global_draw(lambda k, m: jax.random.normal(k, (m, config.resolution, config.resolution,
                                                                 config.channels)),
                           jax.random.fold_in(k_pl, style._PL), b_pl, None)
    out = {"z": main["z"], "crossover": main["crossover"], "noise": main["noise"], "pl_z": pl["z"],
           "pl_crossover": pl["crossover"], "pl_noise": pl["noise"], "pl_y": np.array(y).transpose(0, 3, 1, 2)}
    return to_torch(out)


def to_torch(draws: dict, device="cpu") -> dict:
    """numpy draws -> torch tensors (ints stay ints)."""
    conv = lambda x: torch.from_numpy(np.array(x, np.float32, order="C")).to(device)  # noqa: E731
    return {k: ([conv(x) for x in v] if isinstance(v, list) else v if isinstance(v, int) else conv(v))
            for k, v in draws.items()}


def random_draws(config, generator: torch.Generator | None = None, device="cpu") -> dict:
    """Draws of :func:`step_draws`'s shapes and distributions from torch's RNG (for timing)."""
    layers = sg.num_ws(config.resolution)
    shapes = sg.noise_shapes(config.resolution)
    b = config.batch_size
    b_pl = max(b // style.PL_BATCH_SHRINK, 1)
    r = config.resolution

    def one(n):
        u = torch.rand(2, generator=generator).tolist()
        crossover = 1 + int(u[1] * (layers - 1)) if u[0] < config.style_mixing else layers
        return (torch.randn(n, 2, config.z_dim, generator=generator, device=device), crossover,
                [torch.randn(n, 1, h, w, generator=generator, device=device) for h, w in shapes])

    (z, c, noise), (pz, pc, pnoise) = one(b), one(b_pl)
    return {"z": z, "crossover": c, "noise": noise, "pl_z": pz, "pl_crossover": pc, "pl_noise": pnoise,
            "pl_y": torch.randn(b_pl, config.channels, r, r, generator=generator, device=device)}


# --------------------------------------------------------------------------- the step

class TorchStyleGAN2:
    """G, D, their Adam optimisers, the EMA generator and the StyleGAN2 step without ADA.

    ``compile``: ``torch.compile`` (``compile_mode``: None = default, or e.g. "max-autotune") of
    the mapping, the synthesis and D for the plain passes; R1 and the path-length penalty
    differentiate twice, which compiled graphs cannot (torch 2.13: "aot_autograd does not
    currently support double backward"), so those lazy passes run eagerly.
    ``channels_last``: channels-last memory for the convs. ``modulation``: "fused"
    (conv(x * s) * d) or "grouped" (per-sample kernels, groups=B). ``ema``: keep the EMA generator.
    """

    def __init__(self, config, compile: bool = False, compile_mode: str | None = None,
                 channels_last: bool = False, modulation: str = "fused", ema: bool = True):
        if (config.model != "stylegan2" or config.loss != "minimax" or config.ada or config.augment
                or config.cluster_code or config.transition_end or config.n_critic != 1):
            raise ValueError("the PyTorch StyleGAN2 reference implements model=stylegan2 (its task, style), "
                             "loss=minimax, no ADA, no DiffAugment, no clusters, n_critic=1 (bench_config(config))")
        self.config = config
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.memory_format = fmt
        self.g = Generator(config, modulation, fmt).to(memory_format=fmt)
        self.d = Discriminator(config, fmt).to(memory_format=fmt)
        self.layers = sg.num_ws(config.resolution)
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=config.lr_g, betas=betas, eps=1e-8)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=config.lr_d, betas=betas, eps=1e-8)
        self.step_count = 0
        self.pl_mean = torch.zeros(())
        self.ema = [p.detach().clone() for p in self.g.parameters()] if ema and config.ema_decay else None
        kw = {} if compile_mode is None else {"mode": compile_mode}
        self.mapping_fwd = torch.compile(self.g.mapping_net, **kw) if compile else self.g.mapping_net
        self.synthesis_fwd = torch.compile(self.g.synthesis_net, **kw) if compile else self.g.synthesis_net
        self.d_fwd = torch.compile(self.d, **kw) if compile else self.d

    # -- state

    def load_state(self, state) -> None:
        """Copy everything the next step depends on from a gan_jax ``GANState``: G/D parameters,
        w_avg and the constant noise, both Adam states (moments, count), pl_mean, the step count
        and the EMA parameters."""
        load_generator(self.g, state.g_params, state.g_stats)
        load_discriminator(self.d, state.d_params)
        for net, opt, opt_state in ((self.g, self.opt_g, state.g_opt), (self.d, self.opt_d, state.d_opt)):
            adam = _adam_state(opt_state)
            moments = []
            for tree in (adam.mu, adam.nu):
                scratch = copy.deepcopy(net)  # the same memory format as the parameters
                load_tree(scratch, tree)  # the moments have the parameters' layout
                moments.append([p.detach().clone() for p in scratch.parameters()])
            step = torch.tensor(float(np.asarray(adam.count)))
            for p, m, v in zip(net.parameters(), *moments, strict=True):
                opt.state[p] = {"step": step.clone(), "exp_avg": m, "exp_avg_sq": v}
        self.pl_mean = torch.tensor(float(np.asarray(state.pool["pl_mean"])))
        self.step_count = int(np.asarray(state.step))
        if self.ema is not None and state.ema is not None:
            scratch = copy.deepcopy(self.g)
            load_tree(scratch, state.ema["params"])
            with torch.no_grad():
                for e, p in zip(self.ema, scratch.parameters(), strict=True):
                    e.copy_(p)

    def to_input(self, images_nhwc) -> torch.Tensor:
        """NHWC numpy/jax images -> NCHW torch tensor (in the trainer's memory format)."""
        x = torch.from_numpy(np.array(images_nhwc, dtype=np.float32)).permute(0, 3, 1, 2)
        return x.contiguous(memory_format=self.memory_format)

    # -- the step

    def _styles(self, z, crossover: int, update_w_avg: bool):
        """w+ [B, L, W] from latent pairs z [B, 2, Z] (the second from layer ``crossover`` on)."""
        w = self.mapping_fwd(z[:, 0])
        if update_w_avg:
            with torch.no_grad():
                avg = self.g.mapping_net.w_avg
                avg.copy_(sg.W_AVG_DECAY * avg + (1.0 - sg.W_AVG_DECAY) * w.detach().mean(dim=0))
        if crossover >= self.layers:
            return w[:, None].expand(-1, self.layers, -1)
        w2 = self.mapping_fwd(z[:, 1])
        second = (torch.arange(self.layers) >= crossover)[None, :, None]
        return torch.where(second, w2[:, None], w[:, None])

    def step(self, real: torch.Tensor, draws: dict) -> dict:
        """One train step. real: [B, C, R, R] in [-1, 1]; draws: :func:`step_draws` or :func:`random_draws`.
        Returns the step's metrics (d_loss without R1, g_loss without PL, r1, pl, pl_mean)."""
        c = self.config
        t = self.step_count
        do_r1 = bool(c.r1_gamma) and t % c.r1_every == 0
        do_pl = bool(c.pl_weight) and t % c.pl_every == 0

        # G forward, shared by both updates; fakes clipped as D sees them.
        ws = self._styles(draws["z"], draws["crossover"], True)
        fake = self.synthesis_fwd(ws, draws["noise"]).clamp(-1.0, 1.0)

        # D update: non-saturating logistic loss; lazy R1 on the reals (eager: double backward).
        self.opt_d.zero_grad(set_to_none=True)
        fake_logits = self.d_fwd(fake.detach())
        if do_r1:
            real = real.detach().requires_grad_(True)
            real_logits = self.d(real)
        else:
            real_logits = self.d_fwd(real)
        d_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        total = d_loss
        r1 = torch.zeros(())
        if do_r1:
            (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
            r1 = grad.square().sum(dim=(1, 2, 3)).mean()
            total = d_loss + 0.5 * c.r1_gamma * c.r1_every * r1
        total.backward()
        self.opt_d.step()

        # G update through the updated D on the same fakes (no D weight gradients).
        self.opt_g.zero_grad(set_to_none=True)
        self.d.requires_grad_(False)
        g_loss = F.softplus(-self.d_fwd(fake)).mean()
        self.d.requires_grad_(True)
        total = g_loss
        pl = torch.zeros(())
        if do_pl:
            pl, pl_mean = self._path_length(draws)
            self.pl_mean = pl_mean
            total = g_loss + pl * (c.pl_weight * c.pl_every)
        total.backward()
        self.opt_g.step()

        if self.ema is not None:
            decay = min(c.ema_decay, (1.0 + t) / (10.0 + t))
            with torch.no_grad():
                torch._foreach_lerp_(self.ema, [p.detach() for p in self.g.parameters()], 1.0 - decay)
        self.step_count = t + 1
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "r1": r1.detach(), "pl": pl.detach(),
                "pl_mean": self.pl_mean}

    def _path_length(self, draws):
        """(penalty E[(a - a_mean')^2], a_mean'), eager (it differentiates the synthesis twice)."""
        ws = self._styles(draws["pl_z"], draws["pl_crossover"], False)
        y = draws["pl_y"]
        image = self.g.synthesis_net(ws, draws["pl_noise"])
        (grad,) = torch.autograd.grad((image * (y / math.sqrt(y.shape[2] * y.shape[3]))).sum(), ws,
                                      create_graph=True)
        lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()  # [B/2]
        mean = (self.pl_mean + style.PL_DECAY * (lengths.mean().detach() - self.pl_mean)).detach()
        return (lengths - mean).square().mean(), mean


# --------------------------------------------------------------------------- equivalence

STYLE_TOLERANCE = {**TOLERANCE, "d_loss": 1e-5, "g_loss": 1e-5, "w_avg": 1e-5, "pl_mean": 1e-5, "r1": 1e-5,
                   "pl": 1e-5, "ema": 1e-5}
"""Limits of :func:`check`: the DCGAN check's (:data:`gan_jax.bench.equivalence.TOLERANCE`; its
``@2`` limits apply to every step after the first) with the losses 10x tighter, the BatchNorm
statistics replaced by ``w_avg`` and ``pl_mean`` (relative), plus ``r1``/``pl`` (the penalties'
values, relative) and ``ema`` (the EMA generator's parameters, tree-norm relative). Measured
(2026-12, 2-core Xeon with AVX-512, jax 0.10.2, torch 2.13 eager, :func:`bench_config`, state steps
0, 1, 16, 17): losses <= 5e-7, parameters <= 1.4e-7, w_avg <= 1.4e-7, penalties <= 3.2e-7, EMA
<= 9e-8, update medians <= 5.6e-7 lr at step 0 and <= 5.2e-4 lr later, no element's update off
by more than lr. A torch step with R1's gamma 10 % high gives g_loss 5.9e-4 (step 0) and update
medians 0.017 / 0.038 (step 16); the path-length weight 10 % high an update median of 0.13
(step 16); beta2 0.99 -> 0.98 0.16."""


STYLE_LOOSE = {**STYLE_TOLERANCE, **LOOSE["float32"], "w_avg": 1e-3, "pl_mean": 1e-3, "r1": 1e-3, "pl": 1e-3,
               "ema": 1e-3}
"""Limits for the torch variants that run the eager reference's step code in another float32
arithmetic (``torch.compile``, channels-last; :data:`gan_jax.bench.equivalence.LOOSE`'s float32
limits): channels-last's path-length gradient carries ~1e-3 relative rounding against float64
(2026-12, torch 2.13 CPU; NCHW torch and JAX ~1e-6), which gives a step-16 update median of
6.6e-3 lr and a penalty 6.7e-5 off. Wrong arithmetic in the step code itself is the eager
reference's check (:data:`STYLE_TOLERANCE`)."""


def _check_one_step(config, state, real: np.ndarray, step_fn, trainer: TorchStyleGAN2, torch_config):
    """(differences of one JAX step from one torch step, both from ``state``; the JAX state after it)."""
    old_g, old_d = jax.tree.map(np.array, (state.g_params, state.d_params))
    draws = step_draws(state, config)
    trainer.load_state(state)
    assert rel(tree_like(trainer.g, state.g_params), old_g) == 0.0  # the weights went over intact
    assert rel(tree_like(trainer.d, state.d_params), old_d) == 0.0
    out = trainer.step(trainer.to_input(real), draws)

    new_state, metrics = step_fn(jax.tree.map(jnp.copy, state), {"image": jnp.asarray(real)})
    jax_side = {"g_params": jax.tree.map(np.array, new_state.g_params),
                "d_params": jax.tree.map(np.array, new_state.d_params),
                "bn_mean": jax.tree.map(np.array, new_state.g_stats["mapping_net"]),
                "bn_var": {"pl_mean": np.array(new_state.pool["pl_mean"])},
                "d_loss": float(metrics["d_loss"]), "g_loss": float(metrics["g_loss"])}
    torch_side = {"g_params": tree_like(trainer.g, jax_side["g_params"]),
                  "d_params": tree_like(trainer.d, jax_side["d_params"]),
                  "bn_mean": {"w_avg": trainer.g.mapping_net.w_avg.detach().numpy()},
                  "bn_var": {"pl_mean": out["pl_mean"].numpy()},
                  "d_loss": float(out["d_loss"]), "g_loss": float(out["g_loss"])}
    diff = differences(torch_side, jax_side, old_g, old_d, torch_config, var_key="pl_mean")
    diff["w_avg"] = diff.pop("bn_running_mean")
    diff["r1"] = rel_scalar(float(out["r1"]), float(metrics["r1"]))
    diff["pl"] = rel_scalar(float(out["pl"]), float(metrics["pl"]))
    if trainer.ema is not None and new_state.ema is not None:
        names = [n for n, _ in trainer.g.named_parameters()]
        ema = tree_like(trainer.g, new_state.ema["params"], dict(zip(names, trainer.ema)))
        diff["ema"] = rel(ema, jax.tree.map(np.array, new_state.ema["params"]))
    return diff, new_state


def check(config=None, seed: int = 0, steps=2, step_fn=None, trainer: TorchStyleGAN2 | None = None,
          torch_overrides: dict | None = None) -> dict:
    """Differences between JAX steps and torch steps, each pair from the same state.

    ``steps``: the state steps at which one step of each is compared (an int n: 0 .. n - 1). The
    JAX program runs from ``reference_inputs(config, seed)`` (``init_state`` and a uniform batch,
    the same batch every step) through them; before each compared step its state is copied into
    torch (weights, w_avg, constant noise, Adam's moments and count, pl_mean, step count, EMA) and
    both draw the same numbers (:func:`step_draws`). Step 0 runs R1 and the path-length penalty
    with Adam's first update (~lr * sign(grad)); step 1 neither; step 16 both again, with Adam
    moments (its update depends on the gradients' size, not only their signs). Keys: ``name`` for
    state step 0, ``name@i`` for state step i - 1 (as :func:`gan_jax.bench.equivalence.check`).
    ``config``: default :func:`bench_config`; ``step_fn``: the JAX program (default ``jax.jit`` of
    the step; it may donate its state); ``trainer``: the torch trainer to check (default: a fresh
    eager one); ``torch_overrides``: config fields changed on the torch side only (a wrong step).
    """
    from gan_jax.tasks import make_train_step

    config = bench_config() if config is None else config
    torch_config = dataclasses.replace(config, **(torch_overrides or {}))
    steps = sorted(range(steps) if isinstance(steps, int) else steps)
    state, real = reference_inputs(config, seed)
    real = np.array(real)
    batch = {"image": jnp.asarray(real)}
    step_fn = step_fn or jax.jit(make_train_step(config))
    trainer = trainer or TorchStyleGAN2(torch_config)
    if torch_overrides:
        trainer.config = torch_config
    diffs = {}
    for i in range(max(steps) + 1):
        if i in steps:
            diff, state = _check_one_step(config, state, real, step_fn, trainer, torch_config)
            diffs.update({(k if i == 0 else f"{k}@{i + 1}"): v for k, v in diff.items()})
        else:
            state, _ = step_fn(state, batch)
    return diffs


def check_failures(diff: dict, tol: dict | None = None) -> list[str]:
    """Every difference of :func:`check` over its limit (:data:`STYLE_TOLERANCE`)."""
    return failures(diff, STYLE_TOLERANCE if tol is None else tol)
