"""G's up-conv (nearest 2x upsampling, then a 3x3 conv) three ways, forward + backward, on XLA:CPU.

Usage::

    python benchmarks/upconv.py              # the 28 px StyleGAN2's two up-convs, batch 32

Forms: ``upsample+conv`` (``conv2d(upsample_nearest(x), k)``), ``phases`` (the library's
:func:`gan_jax.models.stylegan2.conv2d_up`: four 2x2 convs of the low-resolution input) and
``one conv, 4 phases`` (a single 2x2 conv of the padded input to all four phases' channels,
then strided slices back out: the same taps, one op). Each is checked against the first, then
timed as ``jax.jit(jax.grad(sum of squares, (x, k)))``: median ms per call of 7 repeats of 20
calls, the forms interleaved.
"""
from __future__ import annotations

import argparse
import statistics
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)

    import jax
    import jax.numpy as jnp

    from gan_jax.models import stylegan2 as sg

    def one_conv(x, kernel):
        b, h, w, i = x.shape
        o = kernel.shape[-1]
        phases = jnp.einsum("ard,bse,deio->rsiabo", sg._UP_FOLD, sg._UP_FOLD, kernel).reshape(2, 2, i, 4 * o)
        y = sg._canonical_conv(x, phases, ((1, 1), (1, 1))).reshape(b, h + 1, w + 1, 2, 2, o)
        rows = [jnp.stack([y[:, a:a + h, c:c + w, a, c] for c in range(2)], axis=3) for a in range(2)]
        return jnp.stack(rows, axis=2).reshape(b, 2 * h, 2 * w, o)

    forms = {"upsample+conv": lambda x, k: sg.conv2d(sg.upsample_nearest(x), k), "phases": sg.conv2d_up,
             "one conv, 4 phases": one_conv}
    print("| input -> output | " + " | ".join(f"{name} (ms)" for name in forms) + " |")
    print("|---|" + "---|" * len(forms))
    for (h, i, o) in ((7, 64, 32), (14, 32, 16)):  # the 28 px model's up-convs (widths 16 at 28 px)
        x = jax.random.normal(jax.random.PRNGKey(1), (args.batch, h, h, i))
        k = jax.random.normal(jax.random.PRNGKey(0), (3, 3, i, o))
        reference = forms["upsample+conv"](x, k)
        calls = {}
        for name, form in forms.items():
            err = float(jnp.abs(form(x, k) - reference).max() / jnp.abs(reference).max())
            assert err < 1e-5, f"{name} differs from upsample+conv by {err:.1e} (relative)"
            calls[name] = jax.jit(jax.grad(lambda x, k, form=form: jnp.sum(form(x, k) ** 2), argnums=(0, 1)))
            jax.block_until_ready(calls[name](x, k))
        times = {name: [] for name in forms}
        for _ in range(args.repeats):
            for name, call in calls.items():
                start = time.perf_counter()
                for _ in range(20):
                    out = call(x, k)
                jax.block_until_ready(out)
                times[name].append((time.perf_counter() - start) / 20 * 1e3)
        cells = " | ".join(f"{statistics.median(times[name]):.2f}" for name in forms)
        print(f"| {h}x{h}x{i} -> {2 * h}x{2 * h}x{o} | {cells} |")


if __name__ == "__main__":
    main()
