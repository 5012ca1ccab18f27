"""Test session setup: 4 virtual CPU devices (for pmap tests), set before JAX is imported."""
import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", "")  # the CLI tests must not fill ~/.cache

import pytest  # noqa: E402

from gan_jax.configs import Config  # noqa: E402


@pytest.fixture
def tiny_config() -> Config:
    """A DCGAN small enough for fast tests (28 px, widths 8, batch 8)."""
    return Config(g_width=8, d_width=8, z_dim=16, batch_size=8, steps=4, log_every=2,
                  sample_every=2, checkpoint_every=2, grid_size=4)
