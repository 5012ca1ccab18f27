"""gan_jax: pure-functional GANs for image synthesis and editing in JAX/Flax.

The public API::

    from gan_jax import Config, configs, init_state, make_train_step, make_parallel_step
"""
from gan_jax import configs, data, losses, models
from gan_jax.checkpoint import Checkpoints
from gan_jax.configs import Config
from gan_jax.errors import UserError
from gan_jax.models import Discriminator, Generator
from gan_jax.parallel import make_parallel_step
from gan_jax.sampling import generate
from gan_jax.state import GANState, abstract_state, init_state, make_optimizers
from gan_jax.step import make_sample_fn, make_train_step
from gan_jax.train import train

__version__ = "0.1.0"

__all__ = [
    "Checkpoints", "Config", "Discriminator", "GANState", "Generator", "UserError",
    "abstract_state", "configs", "data", "generate", "init_state", "losses", "make_optimizers",
    "make_parallel_step", "make_sample_fn", "make_train_step", "models", "train",
]
