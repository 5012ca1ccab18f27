"""DCGAN + DiffAugment on the 100 faces of ``faces100``, 32 px greyscale: the baseline that
``stylegan2_faces100`` (StyleGAN2-ADA) is compared with. DiffAugment's policy for 100-shot
data (colour, translation, cutout) on every D input; ``--set augment=`` trains plain DCGAN.
Batch 32 (the data has 100 images); the learning rates of ``dcgan_mnist``.
"""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(dataset="faces100", resolution=32, channels=1, augment="color,translation,cutout",
                  batch_size=32, lr_g=5e-4, lr_d=1e-4, ema_decay=0.999, steps=5000, sample_every=500,
                  checkpoint_every=500, grid_size=36)
