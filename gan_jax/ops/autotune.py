"""``conv_policy="auto"``: the conv policy measured fastest on this CPU, cached per CPU and setting.

A short autotune times a few candidate policies (:data:`CANDIDATES`, text forms of
:func:`gan_jax.ops.parse_policy`) on the real train step of a run's setting and keeps the
fastest. The choice is cached as JSON under ``$GAN_JAX_CACHE`` (else
``$XDG_CACHE_HOME/gan_jax``, else ``~/.cache/gan_jax``), file ``conv_policy.json``, keyed by

* the CPU: ``/proc/cpuinfo``'s model name, the ISA flags that change which formulation wins
  (:data:`ISA_FLAGS`: AVX2, AVX-512, AVX512_BF16, AMX, ...) and the usable cores;
* the setting: model, task, resolution, channels, widths, batch and compute dtype;
* the JAX version.

This module holds the pure parts (identity, cache, choice) and imports nothing above
:mod:`gan_jax.ops`; the timing itself is a function passed in (``measure``), normally
:func:`gan_jax.bench.autotune.measure_steps`, which builds the train step (the ``tasks``
layer sits above ``ops``). Everything runs outside ``jit``: the result is a policy spec,
and :func:`gan_jax.ops.policy_for` turns ``"auto"`` into the static
:class:`~gan_jax.ops.ConvPolicy` of the cached choice (:func:`lookup`). On backends other
than the CPU, and in multi-process runs (every process must compile the same program),
``"auto"`` is the default policy and nothing is timed.
"""
from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import os
import platform
import statistics
import sys
import tempfile
import warnings
from typing import Callable, Mapping, Sequence

import jax

AUTO = "auto"
"""The ``Config.conv_policy`` value that asks for the autotuned policy."""

CANDIDATES: tuple[str, ...] = (
    "",                                     # the library default (Winograd F(2x2), patches wgrad for small layers)
    "small=lax",                            # the small-channel layers all plain lax (the default before patches)
    "small=patches",                        # one patches matmul for every op of the small-channel layers
    "forward=lax,transpose=lax,wgrad=lax",  # XLA's own convs (1x1-input and full-window matmuls kept)
)
"""Policy specs the autotune tries, the default first (it wins ties). Compiling each is most of
the autotune's time, so the list is short: ``winograd_tile=4`` (F(4x4, 2x2) tiles) lost on both
CPU kinds measured (0.75-0.95x, benchmarks/NOTES.md) and compiles 2-3x longer; try it with
``gan-jax bench --autotune --candidates ';winograd_tile=4'``."""

ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
             "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve", "sve2", "bf16", "i8mm")
"""The ``/proc/cpuinfo`` flags (x86 ``flags``, ARM ``Features``) that go into the cache key."""

MARGIN = 0.02
"""A candidate replaces the default only if its median step is at least this fraction faster:
choices inside the timing noise keep the default."""

CACHE_FILE = "conv_policy.json"
FORMAT = 1


class CacheError(ValueError):
    """The cache file exists but cannot be read as an autotune cache."""


class NothingTimed(RuntimeError):
    """No candidate policy could be built and timed for a config."""


@dataclasses.dataclass(frozen=True)
class CpuId:
    """What identifies a CPU for the cache: model name, ISA flags present, usable cores."""

    model: str
    isa: tuple[str, ...]
    cores: int

    def key(self) -> str:
        return f"{self.model} [{','.join(self.isa) or '-'}] x{self.cores}"


def cpu_id_from(cpuinfo: str, cores: int) -> CpuId:
    """The :class:`CpuId` of a ``/proc/cpuinfo`` text (its first processor) and a core count."""
    model, flags = "", set()
    for line in cpuinfo.splitlines():
        name, sep, value = line.partition(":")
        name = name.strip().lower()
        if not sep:
            continue
        if name in ("model name", "cpu model", "hardware") and not model:
            model = " ".join(value.split())
        elif name in ("flags", "features") and not flags:
            flags = set(value.split())
    model = model or platform.processor() or platform.machine() or "unknown cpu"
    return CpuId(model, tuple(f for f in ISA_FLAGS if f in flags), cores)


@functools.lru_cache(maxsize=1)
def cpu_id() -> CpuId:
    """This machine's :class:`CpuId` (``/proc/cpuinfo``; the platform's name where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        text = ""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cpu_id_from(text, cores)


def setting_key(config) -> str:
    """The part of a config that decides which policy wins: the shapes and dtype of its step."""
    return (f"{config.model}/{config.task} {config.resolution}px x{config.channels} "
            f"w{config.g_width}/{config.d_width} b{config.batch_size} {config.compute_dtype}")


def cache_key(config, cpu: CpuId | None = None) -> str:
    """``cpu | setting | jax version``: one cache entry."""
    return f"{(cpu or cpu_id()).key()} | {setting_key(config)} | jax {jax.__version__}"


def cache_path() -> str:
    """``$GAN_JAX_CACHE/conv_policy.json`` (default ``~/.cache/gan_jax``; or ``$XDG_CACHE_HOME/gan_jax``)."""
    root = os.environ.get("GAN_JAX_CACHE")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "gan_jax")
    return os.path.join(os.path.expanduser(root), CACHE_FILE)


def read_cache(path: str) -> dict[str, dict]:
    """The entries of the cache file at ``path`` ({} if there is none); CacheError if unreadable."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CacheError(f"{path}: {type(e).__name__}: {e}") from None
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, dict) or data.get("format") != FORMAT or not all(
            isinstance(v, dict) and isinstance(v.get("spec"), str) for v in entries.values()):
        raise CacheError(f"{path}: not an autotune cache (expected {{\"format\": {FORMAT}, \"entries\": "
                         f"{{key: {{\"spec\": ...}}}}}})")
    return entries


def write_entry(path: str, key: str, entry: dict) -> None:
    """Add or replace one entry of the cache at ``path``, atomically (a temporary file, then a
    rename): readers see the old file or the new one. An unreadable old file is replaced."""
    try:
        entries = read_cache(path)
    except CacheError:
        entries = {}
    entries[key] = entry
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".conv_policy.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"format": FORMAT, "entries": entries}, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def choose(times: Mapping[str, Sequence[float]], margin: float = MARGIN) -> str:
    """The spec with the smallest median time; the first spec (the default) unless another is at
    least ``margin`` faster than it. ``times``: spec -> seconds per step (non-empty lists)."""
    medians = {spec: statistics.median(t) for spec, t in times.items() if len(t)}
    if not medians:
        raise ValueError("choose: no candidate has a time")
    first = next(iter(medians))
    best = min(medians, key=lambda s: (medians[s], s != first))
    return best if medians[best] < (1.0 - margin) * medians[first] else first


@dataclasses.dataclass
class Result:
    """One autotune: the chosen spec, every candidate's step times (s), the time it all took (s),
    and candidates that failed to build (spec -> reason)."""

    spec: str
    times: dict[str, list[float]]
    seconds: float
    failed: dict[str, str] = dataclasses.field(default_factory=dict)

    def entry(self, config, cpu: CpuId) -> dict:
        """The cache entry of this result."""
        return {"spec": self.spec, "cpu": dataclasses.asdict(cpu), "setting": setting_key(config),
                "jax": jax.__version__, "seconds": round(self.seconds, 2),
                "median_ms": {s: round(1e3 * statistics.median(t), 3) for s, t in self.times.items() if t},
                "failed": self.failed,
                "measured": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


Measure = Callable[..., "tuple[dict[str, list[float]], dict[str, str]]"]
"""``measure(config, specs) -> (times, failed)``: seconds per step of each spec's train step,
and the specs that could not be built (spec -> reason)."""


def autotune(config, measure: Measure, candidates: Sequence[str] = CANDIDATES, margin: float = MARGIN,
             clock: Callable[[], float] | None = None) -> Result:
    """Time ``candidates`` with ``measure`` and choose one (:func:`choose`); nothing is cached."""
    import time

    clock = clock or time.perf_counter
    start = clock()
    times, failed = measure(config, list(candidates))
    times = {s: list(t) for s, t in times.items() if s not in failed and len(t)}
    if not times:
        first = next(iter(failed.values()), "no candidates")
        raise NothingTimed(f"conv_policy=auto: no candidate policy could be timed for {setting_key(config)} "
                           f"({first})")
    return Result(choose(times, margin), times, clock() - start, dict(failed))


_CHOSEN: dict[tuple[str, str], str] = {}
"""(cache file, key) -> spec, for this process: a choice is read from disk once."""
_WARNED: set[str] = set()


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def applies() -> bool:
    """Whether ``auto`` tunes anything here: on the CPU, in a one-process run."""
    return jax.default_backend() == "cpu" and jax.process_count() == 1


def lookup(config) -> str | None:
    """The cached choice for ``config`` on this CPU, without timing anything (None: none yet,
    or the cache is unreadable: a warning says so once)."""
    path, key = cache_path(), cache_key(config)
    try:
        return _cached(path, key)[0]
    except CacheError as e:
        if path not in _WARNED:
            _WARNED.add(path)
            warnings.warn(f"conv_policy=auto: the autotune cache is unreadable ({e}); using the default "
                          f"policy until it is measured again (gan-jax train or gan-jax bench --autotune)",
                          stacklevel=2)
        return None


def _cached(path: str, key: str) -> tuple[str | None, bool]:
    """(the choice cached for ``key``, whether it was read from ``path`` now rather than from this
    process's memory); (None, False) when there is none. CacheError: the file is unreadable."""
    if (path, key) in _CHOSEN:
        return _CHOSEN[(path, key)], False
    entry = read_cache(path).get(key)
    if entry is None:
        return None, False
    _CHOSEN[(path, key)] = entry["spec"]
    return entry["spec"], True


def resolve(config, measure: Measure, *, force: bool = False, candidates: Sequence[str] = CANDIDATES,
            log: Callable[[str], None] = _log) -> tuple[str, Result | None]:
    """The policy spec that ``conv_policy="auto"`` means for ``config`` here, and the autotune's
    :class:`Result` when one ran (None: the cached choice, or nothing to tune).

    Reads the cache; runs the autotune when there is no entry for this CPU and setting, the
    cache file is unreadable (a warning, then it is rewritten) or ``force``; stores the choice.
    Off the CPU or in a multi-process run: ``""`` (the default), nothing timed. A cache that
    cannot be written costs a warning; the choice still holds for this process.
    """
    if not applies():
        return "", None
    cpu, path = cpu_id(), cache_path()
    key = cache_key(config, cpu)
    if not force:
        try:
            spec, from_file = _cached(path, key)
        except CacheError as e:
            warnings.warn(f"conv_policy=auto: the autotune cache is unreadable ({e}); measuring again and "
                          f"rewriting it", stacklevel=2)
            spec, from_file = None, False
        if spec is not None:
            if from_file:
                log(f"conv_policy=auto: {spec or 'default'!r} (autotuned for {cpu.model}, cached in {path})")
            return spec, None
    log(f"conv_policy=auto: timing {len(candidates)} conv policies for {setting_key(config)} on {cpu.model} "
        f"(once per CPU and setting; cached in {path}) ...")
    result = autotune(config, measure, candidates)
    _CHOSEN[(path, key)] = result.spec
    try:
        write_entry(path, key, result.entry(config, cpu))
    except OSError as e:
        warnings.warn(f"conv_policy=auto: could not write the autotune cache {path} ({e}); set GAN_JAX_CACHE "
                      f"to a writable directory", stacklevel=2)
    ms = ", ".join(f"{s or 'default'!r} {1e3 * statistics.median(t):.0f}" for s, t in result.times.items())
    log(f"conv_policy=auto: chose {result.spec or 'default'!r} in {result.seconds:.1f} s (ms per step: {ms})")
    return result.spec, result


def forget() -> None:
    """Drop this process's memory of cached choices (tests; after editing the cache file)."""
    _CHOSEN.clear()
    _WARNED.clear()


__all__ = ["AUTO", "CANDIDATES", "CacheError", "CpuId", "ISA_FLAGS", "MARGIN", "NothingTimed", "Result", "autotune", "applies",
           "cache_key", "cache_path", "choose", "cpu_id", "cpu_id_from", "forget", "lookup", "read_cache",
           "resolve", "setting_key", "write_entry"]
