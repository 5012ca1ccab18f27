"""Inpainting GAN on Fashion-MNIST, 28 px: the centre half square (14 x 14) is missing.

pix2pix-style (context encoder with a U-Net): G sees the masked image and the mask and
fills the hole, D (PatchGAN) sees the masked input with the filled image; adversarial +
100 x L1. Trains on the 60k training images; ``experiments/img2img`` compares it with the
mean-colour and diffusion fills on the 10k held-out test images. ``gan-jax inpaint``
runs it on any image and mask.
"""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(task="inpaint", model="unet", degrade="mask_center", dataset="fashion_mnist:train",
                  holdout_dataset="fashion_mnist:test", resolution=28, channels=1, g_width=32, d_width=32,
                  loss="minimax", l1_weight=100.0, lr_g=2e-4, lr_d=2e-4, batch_size=32, steps=2000,
                  log_every=50, sample_every=250, checkpoint_every=250)
