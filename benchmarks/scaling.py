"""Scale-out benchmarks (devices, population, fused steps); see ``gan_jax.bench.scaling``.

    python benchmarks/scaling.py --part devices,population,fused --steps 10 --markdown out.md
"""
import sys

from gan_jax.bench.scaling import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
