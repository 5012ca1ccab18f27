"""Which input pipeline feeds training: ``memory`` or ``grain`` (``Config.input_pipeline``).

* ``memory``: :class:`~gan_jax.data.Batches`, one prefetch thread over a source whose images
  are in memory (an image folder is decoded whole before step 1; TFDS sets are read per
  batch through their ``data_source``, as they always were).
* ``grain``: :class:`~gan_jax.data.grain_pipeline.GrainBatches`, Grain over a lazy source
  (image folders and TFDS ``data_source``): each batch is decoded when it is needed, in
  Grain's worker processes, each JAX process reading only its rows of every global batch.
* ``auto`` (the default): ``grain`` for a lazy source whose decoded images would take more
  than :data:`MEMORY_LIMIT_BYTES`, ``memory`` otherwise. ``grain:N`` asks for N worker
  processes (``grain:0``: Grain's reading threads in this process only).

Both pipelines yield the same batches for the same ``(source, batch_size, seed, step)``:
the batches of :mod:`gan_jax.data.batches`, a pure function of the step. This module
imports nothing heavy; Grain is imported when a Grain pipeline is built.
"""
from __future__ import annotations

import os

from gan_jax.errors import UserError

MEMORY_LIMIT_BYTES = 1 << 30
"""``auto`` keeps a data set in memory up to this many bytes of decoded uint8 images (1 GiB:
a folder of 5,400 images at 256 px RGB, 87k at 64 px); larger lazy sets go through Grain."""

CHOICES = ("auto", "memory", "grain")


def parse_pipeline(value) -> tuple[str, int | None]:
    """``input_pipeline`` -> ``(auto | memory | grain, worker processes or None: the default)``;
    a UserError naming the option for anything else."""
    text = str(value).strip()
    name, sep, workers = text.partition(":")
    if name in CHOICES and not sep:
        return name, None
    if name == "grain" and sep and workers.isdigit():
        return name, int(workers)
    raise UserError(f"input_pipeline={value!r}: expected one of auto, memory, grain or grain:N "
                    f"(N Grain worker processes)")


def default_workers() -> int:
    """Grain worker processes when ``grain`` names none: half the cores, 1 to 4 (the other
    half runs the train step)."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def _parts(source) -> list:
    """The image sources behind ``source`` (a paired source's base, an unpaired one's two)."""
    if hasattr(source, "base"):
        return [source.base]
    if hasattr(source, "a") and hasattr(source, "b"):
        return [source.a, source.b]
    return [source]


def is_lazy(source) -> bool:
    """True when ``source`` decodes its images on demand (an image folder opened lazily, TFDS)."""
    return any(getattr(s, "lazy", False) for s in _parts(source))


def decoded_nbytes(source) -> int:
    """Bytes of the source's images decoded as uint8 ``[N, R, R, C]``."""
    return sum(len(s) * s.resolution * s.resolution * s.channels for s in _parts(source))


def choose_pipeline(value, source, limit: int | None = None) -> tuple[str, int | None]:
    """The pipeline ``value`` (``input_pipeline``) asks for, ``auto`` resolved for ``source``
    against ``limit`` bytes (None: :data:`MEMORY_LIMIT_BYTES`): ``(memory | grain, workers or None)``."""
    name, workers = parse_pipeline(value)
    limit = MEMORY_LIMIT_BYTES if limit is None else limit
    if name == "auto":
        name = "grain" if is_lazy(source) and decoded_nbytes(source) > limit else "memory"
    return name, workers


def in_memory(source):
    """``source`` with its lazily decoded image folders decoded into memory (paired and
    unpaired sources: their folders); any other source as it is."""
    import copy

    if hasattr(source, "in_memory"):
        return source.in_memory()
    if hasattr(source, "base") and hasattr(source.base, "in_memory"):
        out = copy.copy(source)
        out.base = source.base.in_memory()
        return out
    if hasattr(source, "a") and hasattr(source, "b") and (hasattr(source.a, "in_memory")
                                                          or hasattr(source.b, "in_memory")):
        out = copy.copy(source)
        out.a, out.b = (s.in_memory() if hasattr(s, "in_memory") else s for s in (source.a, source.b))
        return out
    return source


def make_batches(source, batch_size: int, seed: int, start_step: int = 0, *, pipeline: str = "memory",
                 workers: int | None = None, shard_index: int = 0, shard_count: int = 1,
                 with_labels: bool = False, resume: dict | None = None):
    """The batches of steps ``start_step, start_step + 1, ...`` from the pipeline ``pipeline``
    (``memory`` or ``grain``, as :func:`choose_pipeline` says): a :class:`~gan_jax.data.Batches`
    or a :class:`~gan_jax.data.grain_pipeline.GrainBatches`, both with ``data_state(step)``
    (what a checkpoint keeps) and ``close()``. ``resume``: a checkpoint's ``data_state``
    (None, or one of another pipeline: the position is ``start_step``, which gives the same
    batches)."""
    if pipeline == "memory":
        from gan_jax.data.batches import Batches
        return Batches(source, batch_size, seed, start_step, shard_index=shard_index, shard_count=shard_count,
                       with_labels=with_labels)
    if pipeline != "grain":
        raise ValueError(f"pipeline={pipeline!r}: expected memory or grain")
    from gan_jax.data.grain_pipeline import GrainBatches, shard_options
    if workers is None:
        workers = default_workers() if is_lazy(source) else 0  # nothing to decode: threads suffice
    return GrainBatches(source, batch_size, seed, start_step, workers=workers,
                        shard=shard_options(shard_index, shard_count), with_labels=with_labels, resume=resume)


__all__ = ["CHOICES", "MEMORY_LIMIT_BYTES", "choose_pipeline", "decoded_nbytes", "default_workers", "in_memory",
           "is_lazy", "make_batches", "parse_pipeline"]
