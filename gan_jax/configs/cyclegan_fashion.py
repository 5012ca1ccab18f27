"""CycleGAN on Fashion-MNIST, 28 px, offline: sneakers (class 7) <-> ankle boots (class 9).

An unpaired shape translation with an obvious success criterion (a sneaker must gain a
shaft, a boot lose it, and the cycle must bring the original back). U-Net generators
and PatchGAN discriminators with instance norm, least-squares loss, cycle weight 10,
identity weight 0.5 x 10, history pools of 50 fakes, Adam(2e-4, 0.5). With network
access the same config trains on the real datasets, e.g. ``--set
dataset=tfds:cycle_gan/horse2zebra:trainA --set dataset_b=tfds:cycle_gan/horse2zebra:trainB
--set resolution=64 --set channels=3`` (after ``tfds build cycle_gan/horse2zebra``).
"""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(task="cyclegan", model="unet", dataset="fashion_mnist:train#7", dataset_b="fashion_mnist:train#9",
                  resolution=28, channels=1, g_width=16, d_width=16, d_norm="instance", loss="least_squares",
                  cycle_weight=10.0, identity_weight=0.5, pool_size=50, lr_g=2e-4, lr_d=2e-4, batch_size=8,
                  steps=1500, log_every=50, sample_every=250, checkpoint_every=250)
