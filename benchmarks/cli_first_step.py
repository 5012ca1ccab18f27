"""Seconds from launch to the first completed step of ``gan-jax train --steps 2``, for any tree.

Wraps ``make_parallel_step`` so that the first call of the step blocks and prints the time;
it works on trees older than ``TrainResult.first_step_at`` (``benchmarks/cold_start.py``
reads that instead). Run it with the tree to measure first on the path, e.g. alternating:

    for tree in /tmp/old /path/to/gan_jax; do rm -rf /tmp/run; \\
      PYTHONPATH=$tree JAX_COMPILATION_CACHE_DIR= python benchmarks/cli_first_step.py /tmp/run $(date +%s.%N); done
"""
import dataclasses
import sys
import time

T0 = float(sys.argv[2]) if len(sys.argv) > 2 else time.time()

import jax  # noqa: E402

import gan_jax.train as train_module  # noqa: E402


class _TimedFirstCall:
    def __init__(self, step):
        self.step, self.calls = step, 0

    def __getattr__(self, name):  # .lower etc. of the wrapped jitted step
        return getattr(self.step, name)

    def __call__(self, state, batch):
        out = self.step(state, batch)
        if self.calls == 0:
            jax.block_until_ready(out)
            print(f"FIRST STEP DONE {time.time() - T0:.2f} s", file=sys.stderr, flush=True)
        self.calls += 1
        return out


_make_parallel_step = train_module.make_parallel_step


def _timed_make_parallel_step(*args, **kwargs):
    runner = _make_parallel_step(*args, **kwargs)
    return dataclasses.replace(runner, step=_TimedFirstCall(runner.step))


train_module.make_parallel_step = _timed_make_parallel_step

from gan_jax.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["train", "--workdir", sys.argv[1], "--steps", "2", "--no-progress"]))
