"""PyTorch reference of the gan_jax DCGAN train step (optional: needs ``torch``).

The networks are pytorch/examples ``dcgan/main.py`` generalised the way
``gan_jax.models.dcgan`` is (28/32/64 px, any width); at 64 px and width 64 they
are exactly the reference's. The step is the one of ``gan_jax.tasks.generate`` with
``loss="minimax"`` and ``n_critic=1``: D on the real batch, then on the detached
fake, one D update; then the G loss through the *updated* D on the same fake
(one G forward per step), one G update. Adam as in the config.

``load_state`` copies the weights of a ``GANState`` into the torch networks
(flax kernel ``[kh, kw, I, O]`` -> Conv2d ``[O, I, kh, kw]``; our ConvTranspose
kernel ``[k, k, I, O]`` -> ConvTranspose2d ``[I, O, k, k]``), so one step of
each from the same state, batch and latents gives the same result. ``load_adam_state``
copies the Adam moments and step count too, so that a later step (not only the first,
where Adam's update is ~lr * sign(grad) whatever its betas) starts from the same state.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn as tnn
import torch.nn.functional as F

from gan_jax.models.dcgan import base_and_stages


def _bn(n: int) -> tnn.BatchNorm2d:
    return tnn.BatchNorm2d(n, eps=1e-5, momentum=0.1)


class TorchGenerator(tnn.Module):
    def __init__(self, resolution: int, channels: int, width: int, z_dim: int):
        super().__init__()
        base, stages = base_and_stages(resolution)
        f = width * 2 ** (stages - 1)
        layers = [tnn.ConvTranspose2d(z_dim, f, base, 1, 0, bias=False), _bn(f), tnn.ReLU(True)]
        for _ in range(stages - 1):
            layers += [tnn.ConvTranspose2d(f, f // 2, 4, 2, 1, bias=False), _bn(f // 2), tnn.ReLU(True)]
            f //= 2
        layers += [tnn.ConvTranspose2d(f, channels, 4, 2, 1, bias=False), tnn.Tanh()]
        self.main = tnn.Sequential(*layers)

    def forward(self, z):
        return self.main(z.reshape(z.shape[0], z.shape[1], 1, 1))


class TorchDiscriminator(tnn.Module):
    def __init__(self, resolution: int, channels: int, width: int):
        super().__init__()
        base, stages = base_and_stages(resolution)
        f = width
        layers = [tnn.Conv2d(channels, f, 4, 2, 1, bias=False), tnn.LeakyReLU(0.2, True)]
        for _ in range(stages - 1):
            layers += [tnn.Conv2d(f, f * 2, 4, 2, 1, bias=False), _bn(f * 2), tnn.LeakyReLU(0.2, True)]
            f *= 2
        layers += [tnn.Conv2d(f, 1, base, 1, 0, bias=False)]
        self.main = tnn.Sequential(*layers)

    def forward(self, x):
        return self.main(x).reshape(-1)


def _t(x) -> torch.Tensor:
    return torch.from_numpy(np.array(x, dtype=np.float32))


def _sorted_modules(params: dict, prefix: str) -> list[dict]:
    names = sorted((k for k in params if k.startswith(prefix)), key=lambda k: int(k.rsplit("_", 1)[1]))
    return [params[k] for k in names]


def load_generator(net: TorchGenerator, params: dict, stats: dict) -> None:
    convs = [m for m in net.main if isinstance(m, tnn.ConvTranspose2d)]
    bns = [m for m in net.main if isinstance(m, tnn.BatchNorm2d)]
    with torch.no_grad():
        for m, p in zip(convs, _sorted_modules(params, "ConvTranspose_"), strict=True):
            m.weight.copy_(_t(p["kernel"]).permute(2, 3, 0, 1))  # [k, k, I, O] -> [I, O, k, k]
        for m, p, s in zip(bns, _sorted_modules(params, "BatchNorm_"), _sorted_modules(stats, "BatchNorm_"),
                           strict=True):
            m.weight.copy_(_t(p["scale"]))
            m.bias.copy_(_t(p["bias"]))
            m.running_mean.copy_(_t(s["mean"]))
            m.running_var.copy_(_t(s["var"]))


def load_discriminator(net: TorchDiscriminator, params: dict, stats: dict) -> None:
    convs = [m for m in net.main if isinstance(m, tnn.Conv2d)]
    bns = [m for m in net.main if isinstance(m, tnn.BatchNorm2d)]
    with torch.no_grad():
        for m, p in zip(convs, _sorted_modules(params, "Conv_"), strict=True):
            kernel = p["Conv_0"]["kernel"] if "Conv_0" in p else p["kernel"]
            m.weight.copy_(_t(kernel).permute(3, 2, 0, 1))  # HWIO -> OIHW
        for m, p, s in zip(bns, _sorted_modules(params, "BatchNorm_"), _sorted_modules(stats, "BatchNorm_"),
                           strict=True):
            m.weight.copy_(_t(p["scale"]))
            m.bias.copy_(_t(p["bias"]))
            m.running_mean.copy_(_t(s["mean"]))
            m.running_var.copy_(_t(s["var"]))


def _adam_state(opt_state):
    """The ``ScaleByAdamState`` (count, mu, nu) inside an optax state (``optax.adam``: a chain)."""
    if hasattr(opt_state, "mu") and hasattr(opt_state, "nu") and hasattr(opt_state, "count"):
        return opt_state
    if isinstance(opt_state, (tuple, list)):
        for part in opt_state:
            found = _adam_state(part)
            if found is not None:
                return found
    return None


def generator_params_like(net: TorchGenerator, params: dict) -> dict:
    """The torch G's weights in the layout of the flax ``params`` tree (numpy)."""
    convs = [m for m in net.main if isinstance(m, tnn.ConvTranspose2d)]
    bns = [m for m in net.main if isinstance(m, tnn.BatchNorm2d)]
    out = {}
    for i, m in enumerate(convs):
        out[f"ConvTranspose_{i}"] = {"kernel": m.weight.detach().permute(2, 3, 0, 1).numpy()}
    for i, m in enumerate(bns):
        out[f"BatchNorm_{i}"] = {"scale": m.weight.detach().numpy(), "bias": m.bias.detach().numpy()}
    assert set(out) == set(params)
    return out


def discriminator_params_like(net: TorchDiscriminator, params: dict) -> dict:
    """The torch D's weights in the layout of the flax ``params`` tree (numpy)."""
    convs = [m for m in net.main if isinstance(m, tnn.Conv2d)]
    bns = [m for m in net.main if isinstance(m, tnn.BatchNorm2d)]
    out = {}
    for i, m in enumerate(convs):
        kernel = m.weight.detach().permute(2, 3, 1, 0).numpy()
        nested = "Conv_0" in params.get(f"Conv_{i}", {})
        out[f"Conv_{i}"] = {"Conv_0": {"kernel": kernel}} if nested else {"kernel": kernel}
    for i, m in enumerate(bns):
        out[f"BatchNorm_{i}"] = {"scale": m.weight.detach().numpy(), "bias": m.bias.detach().numpy()}
    assert set(out) == set(params)
    return out


class TorchDCGAN:
    """G, D, their Adam optimisers and the train step of ``gan_jax.tasks.generate`` (minimax, n_critic=1)."""

    def __init__(self, config, compile: bool = False, channels_last: bool = False, device: str = "cpu",
                 autocast_dtype=None, compile_options: dict | None = None):
        if config.loss != "minimax" or config.n_critic != 1:
            raise ValueError("the PyTorch reference implements loss=minimax, n_critic=1 only")
        self.config = config
        self.g = TorchGenerator(config.resolution, config.channels, config.g_width, config.z_dim)
        self.d = TorchDiscriminator(config.resolution, config.channels, config.d_width)
        self.channels_last = channels_last
        self.device = torch.device(device)
        self.autocast_dtype = autocast_dtype  # e.g. torch.bfloat16: mixed precision, float32 weights
        self.g, self.d = self.g.to(self.device), self.d.to(self.device)
        if channels_last:
            self.g = self.g.to(memory_format=torch.channels_last)
            self.d = self.d.to(memory_format=torch.channels_last)
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=config.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=config.lr_d, betas=betas)
        # compile_options: inductor settings (``torch.compile(options=...)``), e.g. {"layout_optimization": False}.
        self.g_fwd = torch.compile(self.g, options=compile_options) if compile else self.g
        self.d_fwd = torch.compile(self.d, options=compile_options) if compile else self.d
        self.g.train()
        self.d.train()

    def load_state(self, state) -> None:
        """Copy G/D weights and BatchNorm statistics from a gan_jax ``GANState`` (Adam moments stay 0)."""
        load_generator(self.g, state.g_params, state.g_stats)
        load_discriminator(self.d, state.d_params, state.d_stats)

    def load_adam_state(self, state) -> None:
        """Copy both Adam states (step count, first and second moments) from a gan_jax ``GANState``,
        so that the next step of each starts from the same optimiser state too."""
        for net, opt, loader, opt_state, stats in ((self.g, self.opt_g, load_generator, state.g_opt, state.g_stats),
                                                  (self.d, self.opt_d, load_discriminator, state.d_opt, state.d_stats)):
            adam = _adam_state(opt_state)
            moments = []
            for tree in (adam.mu, adam.nu):
                scratch = copy.deepcopy(net)
                loader(scratch, tree, stats)  # the moments have the parameters' layout
                moments.append([p.detach().clone() for p in scratch.parameters()])
            step = torch.tensor(float(np.asarray(adam.count)))
            for p, m, v in zip(net.parameters(), *moments, strict=True):
                opt.state[p] = {"step": step.clone(), "exp_avg": m.to(p.device), "exp_avg_sq": v.to(p.device)}

    def step(self, real: torch.Tensor, z: torch.Tensor) -> dict:
        """One train step. real: [B, C, H, W] in [-1, 1]; z: [B, z_dim]."""
        if self.autocast_dtype is None:
            return self._step(real, z)
        with torch.autocast(self.device.type, dtype=self.autocast_dtype):
            return self._step(real, z)

    def _step(self, real, z):
        fake = self.g_fwd(z)
        # D: real, then the detached fake; non-saturating minimax with logits.
        self.opt_d.zero_grad(set_to_none=True)
        real_logits = self.d_fwd(real)
        fake_logits = self.d_fwd(fake.detach())
        d_loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                  + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        d_loss.backward()
        self.opt_d.step()
        # G: through the updated D, same fake (one G forward per step).
        self.opt_g.zero_grad(set_to_none=True)
        logits = self.d_fwd(fake)
        g_loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        g_loss.backward()
        self.opt_g.step()
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    def to_input(self, images_nhwc) -> torch.Tensor:
        """NHWC numpy/jax images -> NCHW torch tensor (channels_last memory when asked)."""
        x = torch.from_numpy(np.array(images_nhwc, dtype=np.float32)).permute(0, 3, 1, 2).to(self.device)
        return x.contiguous(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
