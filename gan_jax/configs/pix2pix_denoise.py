"""pix2pix denoising on photo patches: noisy (Gaussian, sigma = 0.1 ~ 25/255) -> clean, 64 px RGB.

U-Net G and PatchGAN D (BatchNorm), non-saturating adversarial loss + 100 x L1, Adam(G 5e-4,
D 2e-4, 0.5): a faster G, so that 1,000 steps fit in a CPU budget. Trains on patches of the
scikit-learn photos (china, flower); the sample grids and ``experiments/img2img`` evaluate on
the held-out photo (grace_hopper).
"""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(task="pix2pix", model="unet", degrade="noise", noise_sigma=0.1, dataset="photos:train",
                  holdout_dataset="photos:heldout", resolution=64, channels=3, g_width=32, d_width=32,
                  loss="minimax", l1_weight=100.0, lr_g=5e-4, lr_d=2e-4, batch_size=8, steps=1000,
                  log_every=50, sample_every=250, checkpoint_every=250)
