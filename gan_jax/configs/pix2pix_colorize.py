"""pix2pix colourisation on photo patches: greyscale (luminance) -> colour, 64 px RGB.

The networks and losses of ``pix2pix_denoise``; trains on the scikit-learn photos,
evaluates on the held-out photo (grace_hopper).
"""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(task="pix2pix", model="unet", degrade="grey", dataset="photos:train",
                  holdout_dataset="photos:heldout", resolution=64, channels=3, g_width=32, d_width=32,
                  loss="minimax", l1_weight=100.0, lr_g=2e-4, lr_d=2e-4, batch_size=8, steps=1500,
                  log_every=50, sample_every=250, checkpoint_every=250)
