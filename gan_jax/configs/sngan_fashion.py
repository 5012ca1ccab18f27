"""SNGAN (Miyato et al. 2018) on Fashion-MNIST, 28 px: the DCGAN networks with spectral
normalisation on every discriminator conv, hinge loss, one D step per G step,
Adam(8e-4, 0.5, 0.999).

The paper's setting C, Adam(2e-4, 0.5, 0.999), trailed DCGAN after 1,000 steps here (FD 74.5
against 69.8); spectral norm tolerates larger steps (the paper's settings D-F use 1e-3), and
8e-4 reached 53.0 on a probe seed (``experiments/family/results.md``, "Probes"). DCGAN at the
same rate did better still (38.3), and by 5,000 steps DCGAN at its reference 2e-4 has caught up.
``--set model=sngan_cnn`` swaps in the paper's 7-conv "standard CNN" discriminator;
``sngan_resnet_fashion`` is the ResNet variant."""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(dataset="fashion_mnist", resolution=28, channels=1, batch_size=64,
                  loss="hinge", d_norm="spectral", lr_g=8e-4, lr_d=8e-4, beta1=0.5, beta2=0.999,
                  steps=10000, ema_decay=0.999, sample_every=1000, checkpoint_every=1000)
