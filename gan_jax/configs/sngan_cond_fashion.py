"""Class-conditional SNGAN (standard-CNN variant) on Fashion-MNIST, 28 px: conditional
BatchNorm generator, projection discriminator with spectral norm, hinge loss."""
import dataclasses

from gan_jax.configs import sngan_fashion


def get_config():
    return dataclasses.replace(sngan_fashion.get_config(), num_classes=10)
