"""ACGAN on the embedded MNIST-5k digits, 28 px: ``acgan_fashion``'s recipe (DCGAN networks,
conditional-BatchNorm generator that also takes the one-hot label beside z, D with an auxiliary
class head trained on real digits, ``aux_weight`` 1) with the default run's learning rates
(G 5e-4 / D 1e-4), batch 64 and steps; ``sample --class K`` draws digit K.
Class match 98.1 % / 99.4 % at 2,000 steps (seeds 0 / 1): ``experiments/acgan/results.md``."""
import dataclasses

from gan_jax.configs import dcgan_mnist


def get_config():
    return dataclasses.replace(dcgan_mnist.get_config(), num_classes=10, conditioning="acgan", aux_weight=1.0)
