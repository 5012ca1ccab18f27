"""Grain input pipeline: lazy decoding in worker processes, sharded by JAX process, with
Grain's iterator state in the checkpoint.

:class:`StepBatches` is a ``grain.MapDataset`` whose element ``j`` is this shard's batch of
training step ``start_step + j``: the batch :class:`~gan_jax.data.Batches` gives for that
step (the same epoch permutations, the same slice of the global batch, the same images), so
the two pipelines are interchangeable at any step. The source (an image folder's file list,
a TFDS ``data_source``) is pickled to Grain's worker processes, which decode whole batches:
worker ``w`` of ``W`` makes the batches of steps ``start_step + w, + w + W, ...`` and Grain
hands them out in step order. Nothing is decoded before it is needed, and no more than the
prefetch buffers are held.

:class:`GrainBatches` iterates it and keeps the iterator's state (``get_state()``) at each
step it hands out, so ``data_state(step)`` is the state to resume from *at* ``step`` even
when the loop has already taken the batch after it.
"""
from __future__ import annotations

import copy
import sys

import grain
import numpy as np

from gan_jax.data.batches import _check, _Maker
from gan_jax.errors import UserError

PREFETCH = 2
"""Batches read ahead: per worker process, or by the reading threads without workers."""
_HISTORY = 256  # steps whose iterator state is kept (the loop runs one call of steps_per_call ahead)


def shard_options(shard_index: int | None = None, shard_count: int | None = None) -> grain.sharding.ShardOptions:
    """Grain's sharding of this process: ``ShardByJaxProcess`` (``jax.process_index()`` of
    ``jax.process_count()``) unless an index and count are given (tests, simulated processes)."""
    if shard_index is None and shard_count is None:
        return grain.sharding.ShardByJaxProcess(drop_remainder=True)
    return grain.sharding.ShardOptions(shard_index=int(shard_index), shard_count=int(shard_count),
                                       drop_remainder=True)


def _absl_flags_parsed() -> None:
    """Grain 0.2.18's worker processes read an absl flag, which raises UnparsedFlagAccessError
    in a program that has not parsed absl's flags (any program not started by ``absl.app``)
    once JAX is imported (google/grain#1355, fixed after 0.2.18). Mark them parsed: every
    flag keeps its default, as it would without the check."""
    from absl import flags

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


class StepBatches(grain.MapDataset):
    """Element ``j``: the batch (a dict of numpy arrays) of step ``start_step + j`` for shard
    ``shard.shard_index`` of ``shard.shard_count`` (its contiguous rows of the global batch)."""

    def __init__(self, source, batch_size: int, seed: int, start_step: int = 0, *,
                 shard: grain.sharding.ShardOptions, with_labels: bool = False):
        super().__init__()
        self._maker = _Maker(source, batch_size, seed, shard.shard_index, shard.shard_count, with_labels)
        self._start = int(start_step)

    def __len__(self) -> int:
        return sys.maxsize - self._start  # endless: training stops, not the data

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.slice(index)
        return self._maker.batch(self._start + int(index))

    def __str__(self) -> str:
        m = self._maker
        return (f"StepBatches({m.source.name}, batch_size={m.batch_size}, seed={m.seed}, "
                f"shard={m.shard_index}/{m.shard_count}, start_step={self._start})")


class GrainBatches:
    """Iterator over steps ``start_step, start_step + 1, ...`` yielding this shard's batch
    through Grain (the same items as :class:`~gan_jax.data.Batches`).

    ``workers``: Grain worker processes decoding batches (0: Grain's reading threads in this
    process). ``shard``: Grain's ``ShardOptions`` (default ``ShardByJaxProcess``). ``resume``:
    a ``data_state`` from a checkpoint at ``start_step``: the iterator is restored from Grain's
    saved state; a state that does not fit (another pipeline, data set, batch size, seed,
    shard count or worker count; or none) starts at ``start_step`` instead, which yields the
    same batches. Close it (workers are processes), or use it as a context manager.
    """

    def __init__(self, source, batch_size: int, seed: int, start_step: int = 0, *, workers: int = 0,
                 shard: grain.sharding.ShardOptions | None = None, with_labels: bool = False,
                 resume: dict | None = None):
        shard = shard if shard is not None else shard_options()
        _check(len(source), batch_size)
        if shard.shard_count < 1 or batch_size % shard.shard_count:
            raise UserError(f"batch_size={batch_size}: expected a multiple of the "
                            f"number of shards ({shard.shard_count})")
        if not 0 <= shard.shard_index < shard.shard_count:
            raise ValueError(f"shard_index={shard.shard_index}: expected 0 <= shard_index < {shard.shard_count}")
        if start_step < 0:
            raise ValueError(f"start_step={start_step}: expected >= 0")
        if workers < 0:
            raise ValueError(f"workers={workers}: expected >= 0")
        if with_labels and getattr(source, "num_classes", None) is None:
            raise UserError(f"dataset {source.name}: has no labels, but labels were requested")
        self.source, self.workers = source, int(workers)
        self.step = int(start_step)  # the step of the batch next() returns
        self._key = {"dataset": str(source.name), "num_examples": len(source), "batch_size": int(batch_size),
                     "seed": int(seed), "shard_count": int(shard.shard_count), "workers": self.workers}
        self.resumed = bool(resume) and all(resume.get(k) == v for k, v in self._key.items()) \
            and resume.get("pipeline") == "grain" and resume.get("step") == self.step
        self._origin = int(resume["origin"]) if self.resumed else self.step  # step of the dataset's element 0
        dataset = StepBatches(source, batch_size, seed, self._origin, shard=shard, with_labels=with_labels)
        # Without workers the reading threads decode batches side by side; a worker reads one at a time.
        read = grain.ReadOptions(num_threads=1 if self.workers else 2, prefetch_buffer_size=PREFETCH)
        ds = dataset.to_iter_dataset(read)
        if self.workers:
            _absl_flags_parsed()
            ds = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=self.workers,
                                                             per_worker_buffer_size=PREFETCH))
        self._iterator = iter(ds)
        if self.resumed:
            self._iterator.set_state(copy.deepcopy(resume["iterator"]))
        self._states = {self.step: self._snapshot()}
        self._closed = False

    def _snapshot(self):
        return copy.deepcopy(self._iterator.get_state())

    def data_state(self, step: int) -> dict:
        """What a checkpoint at ``step`` keeps: Grain's iterator state before the batch of
        ``step`` (one of the last steps handed out, or the next), with what it is valid for.
        JSON-serialisable."""
        if step not in self._states:
            raise KeyError(f"GrainBatches: no iterator state kept for step {step} (at step {self.step})")
        return {"pipeline": "grain", "step": int(step), "origin": self._origin, **self._key,
                "iterator": self._states[step]}

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        if self._closed:
            raise StopIteration
        item = next(self._iterator)
        if self.workers:
            # A worker's arrays arrive in shared memory, freed when the array is: copied into this
            # process's own memory, the block goes at once, not when JAX drops a zero-copy view.
            item = {k: np.array(v) for k, v in item.items()}
        self.step += 1
        self._states[self.step] = self._snapshot()
        self._states.pop(self.step - _HISTORY, None)
        return item

    next = __next__

    def close(self) -> None:
        """Stop Grain's workers and threads (idempotent)."""
        if not self._closed:
            self._closed = True
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


__all__ = ["GrainBatches", "StepBatches", "shard_options"]
