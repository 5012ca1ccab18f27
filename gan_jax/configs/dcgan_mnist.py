"""DCGAN on the embedded MNIST-5k digits, 28 px (the default config)."""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(dataset="mnist5k", resolution=28, channels=1, batch_size=64,
                  steps=3000, ema_decay=0.999, sample_every=500, checkpoint_every=500)
