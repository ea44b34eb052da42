"""All-or-nothing file writes: a reader (or a resumed run) never sees a half-written file under its final name."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Iterator


class WriteError(OSError):
    """An output that cannot be written; ``str()`` is the message alone, which names the file (``errno`` kept)."""

    def __str__(self) -> str:
        return self.strerror


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = '.tmp') -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed onto ``path``, on any
    error (or Ctrl-C) it is removed and ``path`` keeps its previous content."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix=suffix, dir=folder)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; the final file gets the usual permissions
    try:
        yield tmp
        with open(tmp, 'rb') as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_writable(path: str) -> None:
    """Raise :class:`WriteError` naming ``path`` unless a file can be created in its folder (or, while that is
    missing, in its nearest existing parent); creates nothing. An output on a read-only file system is then
    reported before the work, not after it."""
    existing = os.path.dirname(os.path.abspath(os.fspath(path)))
    while not os.path.isdir(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)  # the folder is created later, in the nearest one that exists
    try:
        fd, tmp = tempfile.mkstemp(prefix='.write-check.', dir=existing)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise WriteError(e.errno, f'cannot write {path}: the folder {existing} is not writable '
                                  f'({e.strerror or e})', os.fspath(path)) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str, data: bytes) -> None:
    with atomic_path(path) as tmp, open(tmp, 'wb') as f:
        f.write(data)


def atomic_write_text(path: str, text: str, encoding: str = 'utf-8') -> None:
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str, content, indent: int = 1) -> None:
    atomic_write_text(path, json.dumps(content, indent=indent))
