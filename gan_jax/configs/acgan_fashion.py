"""ACGAN (Odena et al. 2017) on Fashion-MNIST, 28 px: the DCGAN networks and objective
with a conditional-BatchNorm generator and an auxiliary classifier in the discriminator
(a second head of class logits; D takes no label). D minimises the minimax loss plus the
class cross-entropy on real and fake images, G the non-saturating loss plus the class
cross-entropy of its fakes (``aux_weight`` 1); ``sample --class K`` draws class K."""
import dataclasses

from gan_jax.configs import dcgan_fashion


def get_config():
    return dataclasses.replace(dcgan_fashion.get_config(), num_classes=10, conditioning="acgan",
                               aux_weight=1.0, batch_size=64)
