"""DCGAN at 64 px RGB: the PyTorch reference network, for a folder or TFDS dataset.

Default data: TFDS ``celeb_a`` (prepare it once where there is network:
``tfds build celeb_a``); or ``--set dataset=folder:PATH`` for your own photos.
"""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(dataset="tfds:celeb_a", resolution=64, channels=3, g_width=64, d_width=64,
                  batch_size=128, steps=20000, ema_decay=0.999, sample_every=1000,
                  checkpoint_every=1000)
