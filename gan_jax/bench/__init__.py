"""Throughput benchmarks: the gan_jax DCGAN train step against a PyTorch reference step.

``gan_jax.bench.throughput.main(argv)`` is the ``gan-jax bench`` entry point;
``gan_jax.bench.torch_ref`` holds the PyTorch reference (optional dependency:
``pip install gan_jax[bench]``).
"""
