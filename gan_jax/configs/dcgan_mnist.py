"""DCGAN on the embedded MNIST-5k digits, 28 px (the default config).

The network, loss and Adam betas are DCGAN's. The learning rates are not the
usual 2e-4 for both: with 5,000 digits the discriminator wins too easily and
the generator under-produces some classes (1s and 4s). A faster generator and
a slower discriminator (5e-4 / 1e-4) cover every class in each of 3 seeds; see
``experiments/dcgan_mnist/results.md`` for the sweep that chose them.
"""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(dataset="mnist5k", resolution=28, channels=1, batch_size=64, lr_g=5e-4, lr_d=1e-4,
                  steps=6000, ema_decay=0.999, sample_every=500, checkpoint_every=500)
