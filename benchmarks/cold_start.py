"""Process start -> first completed dcgan_mnist train step; see ``gan_jax.bench.cold_start``."""
import sys

from gan_jax.bench.cold_start import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
