"""Progress bars for the long editing jobs (inversion, GANSpace), driven from Python between
jitted calls, never from inside jitted code."""
from __future__ import annotations

import tqdm


def bar(total: int, desc: str, enabled: bool = True, **options) -> tqdm.tqdm:
    """A tqdm bar on stderr: shown only when ``enabled`` and stderr is a terminal (tqdm's
    ``disable=None``); removed when done."""
    return tqdm.tqdm(total=total, desc=desc, disable=None if enabled else True, leave=False,
                     dynamic_ncols=True, **options)


def chunk_length(total: int, max_chunks: int) -> int:
    """The smallest divisor of ``total`` that splits it into at most ``max_chunks`` equal chunks
    (equal chunks: one compiled program for all of them). ``total`` itself when it is prime
    and larger than ``max_chunks``."""
    if total <= 0 or max_chunks <= 0:
        raise ValueError(f"chunk_length({total}, {max_chunks}): expected positive numbers")
    return next(c for c in range(1, total + 1) if total % c == 0 and total // c <= max_chunks)
