"""gan_jax DCGAN train step vs the PyTorch reference; see ``gan_jax.bench.throughput``.

    python benchmarks/throughput.py --settings dcgan28:128,dcgan64:64 --json out.json --plot out.png
"""
import sys

from gan_jax.bench.throughput import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
