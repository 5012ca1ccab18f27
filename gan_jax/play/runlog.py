"""What the Watch part reads: a run directory as ``gan-jax train`` leaves it, read while the
trainer may still be writing to it (nothing here writes).

* :class:`MetricsLog`: ``DIR/metrics.jsonl``, read incrementally (only appended lines are
  parsed; a half-written last line waits for the next read).
* :func:`newest_grid`: the newest ``DIR/samples/step_XXXXXXX.png``.
* :func:`checkpoint_steps`: the finished checkpoints (orbax renames a step's directory to its
  number only once it is complete).
* :func:`curves`: the logged series as long-form rows for the page's line plots.
"""
from __future__ import annotations

import json
import os
import re
import threading
import time

from gan_jax import workdir as wd

_GRID = re.compile(r"^step_(\d+)\.png$")
_NOT_CURVES = ("step", "steps_per_sec", "images_per_sec", "nonfinite", "time")
D_OUTPUTS = ("d_real", "d_fake")
"""The series of D's mean outputs (probabilities) on real and fake images."""


class MetricsLog:
    """``path`` (a ``metrics.jsonl``) read incrementally; thread-safe.

    :meth:`read` returns every complete row so far. A file that shrank or was replaced (a
    new run in the same directory) is read again from its start."""

    def __init__(self, path: str):
        self.path = path
        self._rows: list[dict] = []
        self._offset = 0
        self._identity = None
        self._lock = threading.Lock()

    def read(self) -> list[dict]:
        """The rows logged so far (a new list; the dicts are shared)."""
        with self._lock:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                self._rows, self._offset, self._identity = [], 0, None
                return []
            if (st.st_ino, st.st_dev) != self._identity or st.st_size < self._offset:
                self._rows, self._offset, self._identity = [], 0, (st.st_ino, st.st_dev)
            if st.st_size > self._offset:
                with open(self.path, "rb") as f:
                    f.seek(self._offset)
                    chunk = f.read(st.st_size - self._offset)
                complete = chunk[:chunk.rfind(b"\n") + 1]  # a partly written line waits
                self._offset += len(complete)
                for line in complete.splitlines():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(row, dict) and "step" in row:
                        self._rows.append(row)
            return list(self._rows)

    def modified(self) -> float | None:
        """The file's modification time (seconds since the epoch), None if it does not exist."""
        try:
            return os.stat(self.path).st_mtime
        except FileNotFoundError:
            return None


def curves(rows: list[dict], max_points: int = 400) -> dict[str, list[dict]]:
    """The logged series as long-form rows ``{"step", "value", "series"}`` for plotting, at most
    ``max_points`` steps (evenly thinned, the newest kept): ``{"losses": [...], "d_outputs": [...]}``.

    ``d_outputs``: D's mean probabilities on real and fake images (``d_real``, ``d_fake``);
    ``losses``: every other numeric series (losses and penalties; ``eval/*`` results apart)."""
    if len(rows) > max_points:
        stride = -(-len(rows) // max_points)
        rows = rows[::-1][::stride][::-1]
    out: dict[str, list[dict]] = {"losses": [], "d_outputs": []}
    for row in rows:
        for key, value in row.items():
            if key in _NOT_CURVES or key.startswith("eval/") or not isinstance(value, (int, float)):
                continue
            if isinstance(value, bool):
                continue
            part = "d_outputs" if key in D_OUTPUTS else "losses"
            out[part].append({"step": int(row["step"]), "value": float(value), "series": key})
    return out


def newest_grid(workdir: str) -> tuple[int, str] | None:
    """``(step, path)`` of the newest sample grid in ``workdir/samples``, None if there is none."""
    directory = os.path.join(workdir, "samples")
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return None
    steps = [(int(m.group(1)), name) for name in names if (m := _GRID.match(name))]
    if not steps:
        return None
    step, name = max(steps)
    return step, os.path.join(directory, name)


def _numbered_dirs(directory: str) -> list[int]:
    try:
        return sorted(int(n) for n in os.listdir(directory)
                      if n.isdigit() and os.path.isdir(os.path.join(directory, n)))
    except (FileNotFoundError, NotADirectoryError):
        return []


def checkpoint_steps(workdir: str) -> list[int]:
    """The steps of ``workdir``'s finished checkpoints, oldest first."""
    return _numbered_dirs(wd.checkpoint_dir(workdir))


def has_best(workdir: str) -> bool:
    """Whether ``workdir`` keeps a best checkpoint (``DIR/best/STEP``)."""
    return bool(_numbered_dirs(wd.best_checkpoint_dir(workdir)))


def total_steps(workdir: str, default: int) -> int:
    """The run's step count as its ``config.json`` says now (a resumed run may have raised it), else ``default``."""
    try:
        with open(wd.config_path(workdir)) as f:
            steps = json.load(f).get("steps", default)
        return int(steps)
    except (OSError, ValueError, TypeError, AttributeError):
        return default


def status(rows: list[dict], total_steps: int, modified: float | None, checkpoints: list[int],
           now: float | None = None) -> str:
    """One line: the step, the step rate, whether the run is still being written, the newest checkpoint."""
    now = time.time() if now is None else now
    if not rows:
        head = "no metrics logged yet"
    else:
        last = rows[-1]
        head = f"step {int(last['step']):,} of {total_steps:,}"
        rate = last.get("steps_per_sec")
        if isinstance(rate, (int, float)):
            head += f", {rate:.1f} steps/s"
    if rows and int(rows[-1]["step"]) >= total_steps:
        head += "; finished"
    elif modified is not None:
        age = now - modified
        head += f"; training (updated {age:.0f} s ago)" if age < 120 else "; not training (last update " \
            f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(modified))})"
    tail = f"newest checkpoint: step {checkpoints[-1]:,}" if checkpoints else \
        "no checkpoint yet (the page keeps watching)"
    return f"{head}; {tail}"
