"""Run logs: ``metrics.jsonl`` (one JSON object per logged step) and TensorBoard events."""
from __future__ import annotations

import json
import os
import sys

import numpy as np

from gan_jax.files import atomic_write


class MetricsLog:
    """Appends metrics to ``DIR/metrics.jsonl`` and TensorBoard (``DIR/tensorboard``).

    Opening it for a run resumed at ``start_step`` drops lines logged after
    that step by the interrupted run, so the log matches the restored state.
    """

    def __init__(self, workdir: str, start_step: int = 0, tensorboard: bool = True):
        self.path = os.path.join(workdir, "metrics.jsonl")
        _truncate_after(self.path, start_step)
        self._file = open(self.path, "a")
        self._tb = None
        if tensorboard:
            self._tb = summary_writer_class()(os.path.join(workdir, "tensorboard"))

    def scalars(self, step: int, values: dict) -> None:
        record = {"step": int(step), **{k: float(v) for k, v in values.items()}}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(k, float(v), int(step))

    def image(self, step: int, tag: str, grid_uint8: np.ndarray) -> None:
        if self._tb is not None:
            self._tb.add_image(tag, grid_uint8, int(step), dataformats="HWC")

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def summary_writer_class():
    """tensorboardX's ``SummaryWriter``, imported without importing torch.

    tensorboardX's writer module runs ``import torch`` (only to accept torch tensors);
    with torch installed, importing tensorboardX took 2.9 s of a run's start-up on a slow
    2-core machine, 0.4 s without torch. We log Python floats and numpy arrays, so while
    tensorboardX is imported, ``import torch`` fails (in every thread; ``gan-jax train``
    imports nothing else meanwhile); torch imports normally afterwards.
    """
    if "torch" in sys.modules or "tensorboardX" in sys.modules:
        from tensorboardX import SummaryWriter
        return SummaryWriter
    sys.modules["torch"] = None  # an import of a module set to None raises ImportError
    try:
        from tensorboardX import SummaryWriter
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    return SummaryWriter


def read(path: str) -> list[dict]:
    """All records of a ``metrics.jsonl`` file (skipping a torn last line)."""
    records = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return records


def _truncate_after(path: str, step: int) -> None:
    if not os.path.exists(path):
        return
    kept = [r for r in read(path) if r.get("step", 0) <= step]
    with atomic_write(path, "w") as f:
        for r in kept:
            f.write(json.dumps(r) + "\n")
