"""StyleGAN2-ADA on the embedded MNIST-5k digits, 28 px, sized for the CPU.

StyleGAN2's recipe (non-saturating logistic loss, lazy R1 every 16 steps, lazy path-length
regularisation every 4, style mixing 0.9, EMA generator, the paper's Adam: lr 0.0025 for G
and D, betas (0, 0.99)) with ADA's bgc pipeline and r_t target 0.6 (p moves by 1 in 100k
images: 5,000 digits is ADA's small-data regime). Channels 16 at 28 px, 32 at 14, 64 at 7;
a 4-layer mapping network to a 64-dimensional W.

The ``style`` step shows D the fakes clipped to [-1, 1] (``gan_jax.tasks.style.FAKES_CLIPPED``).
Before that fix G collapsed onto one or two digits within 300-3,000 steps whatever the
learning rates (this config then used DCGAN's G 5e-4, D 1e-4, betas (0.5, 0.999) to slow the
collapse); ``experiments/stylegan/results.md`` has the ablation and the judged runs.
"""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(dataset="mnist5k", resolution=28, channels=1, model="stylegan2", task="style", d_norm="none",
                  z_dim=64, mapping_layers=4, g_width=16, d_width=16, loss="minimax",
                  r1_gamma=0.1, r1_every=16, pl_weight=2.0, pl_every=4, style_mixing=0.9,
                  ada="bgc", ada_target=0.6, ada_kimg=100.0, batch_size=32, lr_g=0.0025, lr_d=0.0025,
                  beta1=0.0, beta2=0.99, ema_decay=0.999, steps=10000, sample_every=500, checkpoint_every=500)
