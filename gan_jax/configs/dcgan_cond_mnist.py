"""Class-conditional DCGAN on the embedded MNIST-5k digits, 28 px: the default run's
settings with a conditional-BatchNorm generator and a projection discriminator."""
import dataclasses

from gan_jax.configs import dcgan_mnist


def get_config():
    return dataclasses.replace(dcgan_mnist.get_config(), num_classes=10)
