"""Deterministic batching: the examples of step ``s`` are a pure function of
``(num_examples, batch_size, seed, s)``, so resuming at any step is exact.

Epoch ``e = s // (num_examples // batch_size)`` shuffles with
``np.random.default_rng([seed, e]).permutation(num_examples)``; the remainder
of each epoch is dropped. `Batches` prefetches these batches in a thread.
"""
from __future__ import annotations

import queue
import threading

import numpy as np

from gan_jax.data.convert import to_float
from gan_jax.errors import UserError


def epoch_permutation(num_examples: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled order int64 ``[num_examples]`` of epoch ``epoch``."""
    return np.random.default_rng([int(seed) % 2**64, int(epoch)]).permutation(num_examples)


def _check(num_examples: int, batch_size: int) -> None:
    if batch_size < 1:
        raise UserError(f"batch_size={batch_size}: expected a positive integer")
    if batch_size > num_examples:
        raise UserError(f"batch_size={batch_size}: larger than the dataset "
                        f"({num_examples} examples); expected at most {num_examples}")


def batch_indices(num_examples: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """Example indices int64 ``[batch_size]`` of the global batch of training step ``step``."""
    _check(num_examples, batch_size)
    if step < 0:
        raise ValueError(f"step={step}: expected >= 0")
    epoch, i = divmod(int(step), num_examples // batch_size)
    return epoch_permutation(num_examples, seed, epoch)[i * batch_size:(i + 1) * batch_size]


_BATCH_STREAM = 0xB47C  # separates a source's own randomness from the epoch permutations


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


class _Maker:
    """Computes one shard's batch for a step (holds no thread, so `Batches` can be freed)."""

    def __init__(self, source, batch_size, seed, shard_index, shard_count, with_labels):
        self.source, self.batch_size, self.seed = source, batch_size, seed
        self.shard_index, self.shard_count = shard_index, shard_count
        self.with_labels = with_labels
        self._cache = (None, None)                 # (epoch, permutation)

    def indices(self, step: int) -> np.ndarray:
        n, b = len(self.source), self.batch_size
        epoch, i = divmod(int(step), n // b)
        cached_epoch, perm = self._cache
        if cached_epoch != epoch:
            perm = epoch_permutation(n, self.seed, epoch)
            self._cache = (epoch, perm)
        per = b // self.shard_count
        start = i * b + self.shard_index * per
        return perm[start:start + per]

    def batch(self, step: int) -> dict:
        if hasattr(self.source, "make_batch"):  # paired / unpaired sources build their own dicts
            rng = np.random.default_rng([int(self.seed) % 2**64, int(step), self.shard_index, _BATCH_STREAM])
            return self.source.make_batch(self.indices(step), rng)
        images, labels = self.source.get(self.indices(step))
        out = {"image": to_float(images)}
        if self.with_labels:
            out["label"] = np.asarray(labels, np.int32)
        return out


def _produce(maker: _Maker, step: int, out: queue.Queue, stop: threading.Event) -> None:
    """Thread body: put batches for ``step, step + 1, ...`` (or one `_Failure`) into ``out``."""
    while not stop.is_set():
        try:
            item = maker.batch(step)
        except BaseException as e:  # noqa: BLE001 - re-raised by Batches.__next__
            item = _Failure(e)
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                break
            except queue.Full:
                continue
        if isinstance(item, _Failure):
            return
        step += 1


class Batches:
    """Iterator over steps ``start_step, start_step + 1, ...`` yielding this shard's batch.

    Each item: ``{"image": float32 [B / shard_count, H, W, C] in [-1, 1],
    "label": int32 [B / shard_count]}`` (label only with ``with_labels``): the
    contiguous slice ``shard_index`` of the global batch (a source with ``make_batch``, such
    as :class:`~gan_jax.data.PairedSource`, yields its own dicts). A background thread
    keeps up to ``prefetch`` batches ready (``prefetch=0``: no thread). Errors in
    the thread are re-raised by ``next``. Close it, or use it as a context manager.
    """

    def __init__(self, source, batch_size: int, seed: int, start_step: int = 0, *,
                 shard_index: int = 0, shard_count: int = 1, prefetch: int = 2,
                 with_labels: bool = False):
        _check(len(source), batch_size)
        if shard_count < 1 or batch_size % shard_count:
            raise UserError(f"batch_size={batch_size}: expected a multiple of the "
                            f"number of shards ({shard_count})")
        if not 0 <= shard_index < shard_count:
            raise ValueError(f"shard_index={shard_index}: expected 0 <= shard_index "
                             f"< {shard_count}")
        if start_step < 0:
            raise ValueError(f"start_step={start_step}: expected >= 0")
        if with_labels and getattr(source, "num_classes", None) is None:
            raise UserError(f"dataset {source.name}: has no labels, but labels were requested")
        self.source = source
        self.step = start_step                      # the step of the batch next() returns
        self._maker = _Maker(source, batch_size, seed, shard_index, shard_count, with_labels)
        self._closed = False
        self._stop = threading.Event()
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        if prefetch > 0:
            self._queue = queue.Queue(maxsize=prefetch)
            self._thread = threading.Thread(
                target=_produce, args=(self._maker, start_step, self._queue, self._stop),
                name="gan_jax-batches", daemon=True)
            self._thread.start()

    def indices(self, step: int) -> np.ndarray:
        """This shard's example indices for ``step`` (a slice of `batch_indices`)."""
        return self._maker.indices(step)

    def batch(self, step: int) -> dict:
        """This shard's batch for ``step``, computed now (no prefetch)."""
        return self._maker.batch(step)

    def data_state(self, step: int) -> dict:
        """What a checkpoint at ``step`` keeps of the data position: the step itself (the
        batches are a function of it). JSON-serialisable, like the Grain pipeline's."""
        return {"pipeline": "memory", "step": int(step)}

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        if self._closed:
            raise StopIteration
        if self._queue is None:
            item = self._maker.batch(self.step)
        else:
            while True:
                try:
                    item = self._queue.get(timeout=1.0)
                    break
                except queue.Empty:
                    if not self._thread.is_alive() and self._queue.empty():
                        raise RuntimeError("Batches: the prefetch thread died") from None
            if isinstance(item, _Failure):
                self.close()
                raise item.exc
        self.step += 1
        return item

    next = __next__

    def close(self) -> None:
        """Stop the prefetch thread (idempotent)."""
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()
