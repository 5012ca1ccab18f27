"""``python -m gan_jax.cli ...`` = ``gan-jax ...``."""
import sys

from gan_jax.cli import main

sys.exit(main())
