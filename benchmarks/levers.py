"""Interleaved measurements of the JAX step's performance levers; see ``gan_jax.bench.levers``."""
import sys

from gan_jax.bench.levers import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
