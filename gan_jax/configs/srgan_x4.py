"""SRGAN x4 on photo patches: 16 px -> 64 px RGB.

Residual G (32 channels, 6 blocks, two pixel-shuffle x2 stages, bicubic skip), VGG-style
D with BatchNorm. The first 3,000 steps train G on L1 alone, Adam(3e-4, 0.9); the
checkpoint at step 3000 is the pixel-pretrained generator. Then adversarial fine-tuning
with content loss 100 x L1 + 1 x D-feature MSE. XLA:CPU runs the two phases fastest as two
runs (``img2img_step``): ``--steps 3000``, then resume with ``--steps 3500 --set
pretrain_steps=0 --set lr_g=1e-4``. Trains on patches of the scikit-learn photos;
``experiments/img2img`` evaluates on the held-out photo (grace_hopper).
"""
from gan_jax.configs.base import Config


def get_config() -> Config:
    return Config(task="srgan", model="srgan", scale=4, dataset="photos:train", holdout_dataset="photos:heldout",
                  resolution=64, channels=3, g_width=32, d_width=32, loss="minimax", l1_weight=100.0,
                  feature_weight=1.0, pretrain_steps=3000, lr_g=3e-4, lr_d=1e-4, beta1=0.9, batch_size=16,
                  steps=3500, log_every=50, sample_every=250, checkpoint_every=250, keep_checkpoints=10)
