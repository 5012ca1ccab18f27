"""Side-by-side timing: every candidate timed in the same rounds, the order rotating,
so machine noise hits all alike (the figures these benchmarks print are ratios of medians)."""

from __future__ import annotations

import time


def interleaved_times(runs: dict, rounds: int, warmup: int, *, min_rounds: int | None = None,
                      budget_s: float | None = None) -> dict[str, list[float]]:
    """Seconds per call of every ``runs[name]()``: ``warmup`` calls each in turn, then ``rounds``
    rounds of one call each, the order rotating every round, so machine noise hits all alike.
    With ``budget_s``: stop after ``min_rounds`` rounds once the rounds have taken that long."""
    for run in runs.values():
        for _ in range(warmup):
            run()
    times = {name: [] for name in runs}
    names, begun = list(runs), time.perf_counter()
    for i in range(rounds):
        if budget_s is not None and i >= (min_rounds or 0) and time.perf_counter() - begun > budget_s:
            break
        for name in names[i % len(names):] + names[:i % len(names)]:
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    return times
