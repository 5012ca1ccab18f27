"""Writing files: atomic replacement, and checks that an output path can be written before any work.

* :func:`atomic_write`: every file the library writes (images, ``.npy``, JSON, stats,
  classifier weights, the metrics log) goes through it: a reader sees the old file or the
  new one, never half of one, and a failed writer leaves the old file as it was.
* :func:`check_output_file` / :func:`check_output_dir`: the CLI checks every output path
  this way before it computes anything, by creating a file there (and removing it), so that
  a path no one can write (below a regular file, on a read-only filesystem, ...) is one
  line of error at once, for root too (``os.access`` says yes to root).
"""
from __future__ import annotations

import contextlib
import os
import secrets
import stat
from typing import IO, Iterator

from gan_jax.errors import UserError

_TEMP_PREFIX = ".tmp-"


def _create_temp(directory: str, name: str) -> tuple[int, str]:
    """A new, empty file in ``directory`` opened for writing: (fd, path).

    Created with ``os.open(..., 0o666)``, so the process's umask applies exactly as for
    ``open(path, "w")`` (``tempfile.mkstemp`` would give 0600)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f"{_TEMP_PREFIX}{secrets.token_hex(6)}-{name[:100]}")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no unused temporary file name in {directory}")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """``with atomic_write(path) as f: ...``: ``f`` is a new file whose contents replace ``path``
    when the block ends without an exception.

    The data goes to a temporary file in ``path``'s directory, which is flushed, fsynced and
    renamed over ``path`` (``os.replace``: atomic on POSIX). On any exception, KeyboardInterrupt
    included, the temporary file is removed, ``path`` is left untouched and the exception
    propagates. A new file gets the permissions ``open()`` would give it (0o666 minus the
    umask); replacing a file keeps that file's permission bits. ``mode``: ``"wb"`` (default)
    or ``"w"`` (text, ``encoding`` default UTF-8).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode {mode!r}; expected 'w' or 'wb'")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = _create_temp(directory, os.path.basename(path))
    try:
        try:
            existing = os.stat(path)
        except OSError:
            existing = None
        if existing is not None and stat.S_ISREG(existing.st_mode):
            os.fchmod(fd, stat.S_IMODE(existing.st_mode))
        with os.fdopen(fd, mode, encoding=None if mode == "wb" else (encoding or "utf-8")) as f:
            fd = None  # the file object owns it now
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd is not None:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _probe(directory: str) -> None:
    """Create a file in ``directory`` and remove it; OSError if that is not possible."""
    fd, tmp = _create_temp(directory, "write-check")
    os.close(fd)
    os.unlink(tmp)


def check_output_file(path: str, option: str = "--out") -> str:
    """The absolute path of an output file that can be written; UserError naming ``option`` otherwise.

    Its directory must exist and accept a new file (checked by creating one there and
    removing it), and ``path`` must not be a directory. Nothing is left behind."""
    full = os.path.abspath(path)
    directory = os.path.dirname(full)
    if os.path.isdir(full):
        raise UserError(f"{option} {path}: is a directory; expected a file name")
    if not os.path.exists(directory):
        raise UserError(f"{option} {path}: directory {directory} does not exist; expected an existing directory")
    if not os.path.isdir(directory):
        raise UserError(f"{option} {path}: {directory} is a file, not a directory; expected a writable directory")
    try:
        _probe(directory)
    except OSError as e:
        raise UserError(f"{option} {path}: directory {directory} is not writable ({e.strerror or e})") from None
    return full


def check_output_dir(path: str, option: str = "--out") -> str:
    """The absolute path of an output directory that can be created (if new) and written;
    UserError naming ``option`` otherwise.

    Checked by creating it (with its missing parents) and a file in it; what the check
    created is removed again, so a command that fails later leaves nothing behind."""
    full = os.path.abspath(path)
    if os.path.exists(full) and not os.path.isdir(full):
        raise UserError(f"{option} {path}: is a file; expected a directory")
    created = []
    parent = full
    while not os.path.lexists(parent) and os.path.dirname(parent) != parent:
        created.append(parent)
        parent = os.path.dirname(parent)
    try:
        try:
            os.makedirs(full, exist_ok=True)
        except OSError as e:
            raise UserError(f"{option} {path}: cannot create it ({e.strerror or e})") from None
        try:
            _probe(full)
        except OSError as e:
            raise UserError(f"{option} {path}: not writable ({e.strerror or e})") from None
    finally:
        for d in created:  # deepest first
            with contextlib.suppress(OSError):
                os.rmdir(d)
    return full


__all__ = ["atomic_write", "check_output_dir", "check_output_file"]
