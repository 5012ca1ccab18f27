"""StyleGAN2-ADA on the 100 faces of scikit-image's ``lfw_subset`` (``faces100``), 32 px
greyscale: the 100-shot regime ADA was made for. The MNIST config's recipe
(:mod:`gan_jax.configs.stylegan2_ada_mnist`, the paper's Adam since the clipped-fakes fix;
not probed on the faces yet) with channels 16 at 32 px up to 128 at 4 x 4.
Compare with ``dcgan_faces100`` (DCGAN + DiffAugment; ``--set augment=`` for plain DCGAN);
``experiments/stylegan/README.md`` has the commands.
"""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(dataset="faces100", resolution=32, channels=1, model="stylegan2", task="style", d_norm="none",
                  z_dim=64, mapping_layers=4, g_width=16, d_width=16, loss="minimax",
                  r1_gamma=0.1, r1_every=16, pl_weight=2.0, pl_every=4, style_mixing=0.9,
                  ada="bgc", ada_target=0.6, ada_kimg=100.0, batch_size=32, lr_g=0.0025, lr_d=0.0025,
                  beta1=0.0, beta2=0.99, ema_decay=0.999, steps=5000, sample_every=500, checkpoint_every=500,
                  grid_size=36)
