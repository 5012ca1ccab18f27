"""R3GAN on the embedded MNIST-5k digits, 28 px, sized for the CPU (Huang et al. 2024).

The RpGAN loss with R1 + R2 (same gamma) and the modernised ConvNet (ConvNeXt-style residual
blocks, no normalisation, fix-up initialisation), Adam betas (0, 0.99), EMA generator; through
the ``generate`` step. Channels 16 at 28 px, 32 at 14, 64 at 7, two blocks per stage.
``experiments/stylegan/README.md`` has the commands and results.
"""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(dataset="mnist5k", resolution=28, channels=1, model="r3gan", d_norm="none", z_dim=64,
                  g_width=16, d_width=16, loss="relativistic_pairing", r1_gamma=0.1, r2_gamma=0.1,
                  batch_size=32, lr_g=2e-4, lr_d=2e-4, beta1=0.0, beta2=0.99, ema_decay=0.999, steps=10000,
                  sample_every=500, checkpoint_every=500)
