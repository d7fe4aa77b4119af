"""Reading and writing files safely: practice, env and plan files in; saved plans, access
reviews and exported practice files out.

Every read is of a regular file of bounded size (`read_regular`): a FIFO, a device or a socket
given as `-f` is refused at once rather than hung on or read forever.

Every write goes to a fresh temporary file in the target's own folder (created with O_EXCL and
mode 0600 by `mkstemp`, so nothing planted under a predictable name is followed or reused),
is flushed to disk, then renamed over the target in one step: a reader sees the old file or
the new one, never half of one, and a symlink at the target is replaced, not written through.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from groupsync.errors import FileWriteError


class ReadProblem(Exception):
    """Why a file can't be read as an input (the message names no content)."""


def read_regular(path: str | Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes. Opened without blocking, so a
    FIFO with no writer is refused instead of waited on; raises FileNotFoundError,
    IsADirectoryError, ReadProblem or OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(info.st_mode):
            raise ReadProblem("is not a regular file (a FIFO, a device or a socket)")
        if info.st_size > limit:
            raise ReadProblem(f"is larger than {_size(limit)}")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            raw = fh.read(limit + 1)
    finally:
        os.close(fd)
    if len(raw) > limit:  # grew while read
        raise ReadProblem(f"is larger than {_size(limit)}")
    return raw


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit >> 10} KiB"


def write_private(path: str, text: str, *, overwrite: bool = True) -> None:
    """Write `text` to `path`, readable by its owner only. With overwrite=False an existing
    file (or symlink) at `path` is refused, atomically: the check and the write are one link.
    An existing path that is not a regular file (a device, a FIFO, a folder) is refused
    either way: replacing /dev/stdout or a FIFO by a plan file is never what was meant."""
    target = Path(path)
    folder = target.parent
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        mode = os.stat(target).st_mode
        if not stat.S_ISREG(mode):
            raise FileWriteError(f"{path} exists and is not a regular file; refusing to "
                                 "replace it (give a file name)")
    if not overwrite and os.path.lexists(target):
        raise FileWriteError(f"{path} already exists; refusing to overwrite it (use --force)")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise FileWriteError(f"can't write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # fails if anything appeared there since the check
            os.unlink(tmp)
        _sync_folder(folder)
    except FileExistsError:
        raise FileWriteError(f"{path} already exists; refusing to overwrite it (use --force)") \
            from None
    except OSError as exc:
        raise FileWriteError(f"can't write {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the platform lets a folder be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
