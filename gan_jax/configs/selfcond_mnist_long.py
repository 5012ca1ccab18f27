"""The best unconditional recipe on MNIST-5k: the default's (``selfcond_mnist``: DCGAN networks
self-conditioned on 20 clusters found without labels, hinge loss, spectral-norm projection D)
trained 2.5 times as long, 15,000 steps, which fits in 30 minutes on the 2-core CPU, and sampled
with the truncation trick at psi 0.8 (z from 0.8 x N(0, I); training is unchanged).

Scaling z keeps the argmax of its first 20 entries, so truncation keeps every cluster's share of
the samples and only moves each sample towards its cluster's typical digit. psi 0.8 was chosen
on probe seed 11 by ``cnn-a`` (the highest share recognised whose Fréchet distance stays within
1.25x psi 1's). Measured in ``experiments/quality/results.md``."""
import dataclasses

from gan_jax.configs import selfcond_mnist


def get_config():
    return dataclasses.replace(selfcond_mnist.get_config(), steps=15000, truncation_psi=0.8)
