"""SNGAN with the ResNet networks (Miyato et al. 2018, CIFAR layout: G width 256, D width 128)
on Fashion-MNIST resized to 32 px, hinge loss, Adam(2e-4, 0, 0.9), 5 critic steps, each on
its own real batch (``fresh_reals``: with the DCGAN-sized SNGAN networks and these settings it
beat a shared batch at 10,000 steps, ``experiments/family/results.md``, "Fresh real batches")."""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(dataset="fashion_mnist", resolution=32, channels=1, model="resnet", g_width=256,
                  d_width=128, d_norm="spectral", loss="hinge", n_critic=5, fresh_reals=True,
                  lr_g=2e-4, lr_d=2e-4, beta1=0.0, beta2=0.9, batch_size=64, steps=10000, ema_decay=0.999,
                  sample_every=1000, checkpoint_every=1000)
