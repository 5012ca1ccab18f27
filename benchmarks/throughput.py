"""gan_jax DCGAN train step vs the PyTorch reference; see ``gan_jax.bench.throughput``.

    python benchmarks/throughput.py --settings dcgan28:128,dcgan64:64 --json out.json --plot out.png

Every JAX program it times is first checked against the PyTorch reference on the very
setting it times (network, width, batch, resolution; one step from identical weights);
the exit status is 1 when a check fails its tolerance (``gan_jax.bench.equivalence``),
and ``--no-check`` puts a WARNING row in the table.
"""
import sys

from gan_jax.bench.throughput import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
