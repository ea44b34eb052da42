"""A lock file that lets several processes write one output safely (POSIX ``fcntl`` record locks).

``<folder>/.<name>.lock`` holds two one-byte locks: every writer of the output holds a *shared* lock on byte 0
for as long as it runs (so a writer can tell whether it is alone), and whoever changes the output (a merge, a
cleanup) holds the *exclusive* lock on byte 1 meanwhile. Record locks work on local disks and on NFS; they are
released by the kernel when a process dies, so a killed writer never leaves a stale lock. The last writer to
leave deletes the lock file, under the exclusive lock on byte 0; a writer that opened the file just before
sees that the name now points elsewhere and opens it again, so two writers never lock different files.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

try:
    import fcntl
except ImportError:  # not POSIX: no locking (one writer at a time is then up to the user)
    fcntl = None

_USERS, _CHANGE = 0, 1  # byte offsets of the two locks


def lock_path(path: str) -> str:
    """``dir/out.h5`` -> ``dir/.out.h5.lock``."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f'.{name}.lock')


class OutputLock:
    """The locks of one output file; a context manager that releases them all.

    Args:
        path: the output (its folder must be writable: opening the lock file is the first write there, so an
            unwritable folder raises ``OSError`` naming the lock file before any work is done).
    """

    def __init__(self, path: str):
        self.path = lock_path(path)
        while True:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            self._lockf(fcntl.LOCK_SH if fcntl else 0, _USERS)
            if self._still_named():
                return
            os.close(self._fd)  # the last writer deleted it meanwhile

    def _still_named(self) -> bool:
        try:
            named = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(self._fd)
        return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)

    def _lockf(self, cmd: int, offset: int) -> None:
        if fcntl is not None:
            fcntl.lockf(self._fd, cmd, 1, offset)

    def alone(self) -> bool:
        """Whether no other process holds this output's lock right now (so its leftovers are nobody's)."""
        if fcntl is None:
            return True
        try:
            self._lockf(fcntl.LOCK_EX | fcntl.LOCK_NB, _USERS)
        except OSError:
            return False
        self._lockf(fcntl.LOCK_SH, _USERS)  # back to sharing: others may start now
        return True

    @contextlib.contextmanager
    def changing(self) -> Iterator[None]:
        """Hold the exclusive lock for changing the output (waits for another process's change to end)."""
        self._lockf(fcntl.LOCK_EX if fcntl else 0, _CHANGE)
        try:
            yield
        finally:
            self._lockf(fcntl.LOCK_UN if fcntl else 0, _CHANGE)

    def close(self) -> None:
        """Release the locks; the last writer to leave deletes the lock file."""
        if self._fd is None:
            return
        try:
            if fcntl is not None:
                self._lockf(fcntl.LOCK_EX | fcntl.LOCK_NB, _USERS)
            os.unlink(self.path)
        except OSError:  # another writer still holds it (or it is gone already)
            pass
        os.close(self._fd)  # releases every lock of this process on the file
        self._fd = None

    def __enter__(self) -> 'OutputLock':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
