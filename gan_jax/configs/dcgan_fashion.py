"""DCGAN on Fashion-MNIST (70k, Debian package ``dataset-fashion-mnist``), 28 px."""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(dataset="fashion_mnist", resolution=28, channels=1, batch_size=128,
                  steps=10000, ema_decay=0.999, sample_every=1000, checkpoint_every=1000)
