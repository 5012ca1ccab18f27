"""LSGAN (Mao et al. 2017, a=0, b=c=1) on Fashion-MNIST, 28 px: the DCGAN networks and
optimiser with the least-squares objective."""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(dataset="fashion_mnist", resolution=28, channels=1, batch_size=64,
                  loss="least_squares", steps=10000, ema_decay=0.999, sample_every=1000,
                  checkpoint_every=1000)
