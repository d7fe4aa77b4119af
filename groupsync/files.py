"""Writing files safely: saved plans, access reviews and exported practice files.

Every write goes to a fresh temporary file in the target's own folder (created with O_EXCL and
mode 0600 by `mkstemp`, so nothing planted under a predictable name is followed or reused),
is flushed to disk, then renamed over the target in one step: a reader sees the old file or
the new one, never half of one, and a symlink at the target is replaced, not written through.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from groupsync.errors import FileWriteError


def write_private(path: str, text: str, *, overwrite: bool = True) -> None:
    """Write `text` to `path`, readable by its owner only. With overwrite=False an existing
    file (or symlink) at `path` is refused, atomically: the check and the write are one link."""
    target = Path(path)
    folder = target.parent
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
