"""pix2pix edges -> image on Fashion-MNIST, 28 px: Sobel edge maps (dark lines on white) -> garments.

U-Net G (two halvings and a residual bottleneck at 7 px), PatchGAN D (34 px patches),
adversarial + 100 x L1. Trains on the 60k training images, grids from the 10k test images.
"""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(task="pix2pix", model="unet", degrade="edges", dataset="fashion_mnist:train",
                  holdout_dataset="fashion_mnist:test", resolution=28, channels=1, g_width=32, d_width=32,
                  loss="minimax", l1_weight=100.0, lr_g=2e-4, lr_d=2e-4, batch_size=32, steps=2000,
                  log_every=50, sample_every=250, checkpoint_every=250)
