"""WGAN-GP (Gulrajani et al. 2017) on Fashion-MNIST, 28 px: the DCGAN networks, no
normalisation in the critic, gradient penalty 10, 5 critic steps, Adam(1e-4, 0, 0.9)."""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(dataset="fashion_mnist", resolution=28, channels=1, batch_size=64,
                  loss="wasserstein", gp_weight=10.0, d_norm="none", n_critic=5,
                  lr_g=1e-4, lr_d=1e-4, beta1=0.0, beta2=0.9,
                  steps=10000, ema_decay=0.999, sample_every=1000, checkpoint_every=1000)
