"""StyleGAN2-ADA self-conditioned on 20 clusters of the MNIST-5k digits (found without labels):
``stylegan2_ada_mnist`` with ``cluster_code=20``, as the default DCGAN (``selfcond_mnist``).

Unconditional, ``stylegan2_ada_mnist`` draws clean digits but not every digit as often as the
data has it (10,000 steps: one class at 2.4-5 %, too many 1s) and blends some into one
another. Here the mapping network reads a cluster off z (the argmax of its first 20 entries)
and D, a projection discriminator, is told the cluster of each real digit and the code of
each fake (:mod:`gan_jax.models.stylegan2`). Everything else is the unconditional config's:
the cluster count is the DCGAN's choice (20, chosen there on the probe seed 11), nothing was
tuned for this config. Results: ``experiments/stylegan/results.md``.
"""
import dataclasses

from gan_jax.configs import stylegan2_ada_mnist


def get_config():
    return dataclasses.replace(stylegan2_ada_mnist.get_config(), cluster_code=20)
