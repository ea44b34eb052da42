"""One HDF5 file handle per process, opened on first use (h5py handles do not survive ``fork``)."""
from __future__ import annotations

import os
from typing import Optional


class LazyH5File:
    """Mixin for readers/writers of one HDF5 file at ``self.path``: :meth:`_handle` opens it in the calling
    process (reopening after a fork), pickling drops the handle so DataLoader workers reopen it themselves.
    Subclasses customise :meth:`_open` (mode, error messages)."""
    path: str
    _file = None
    _pid: Optional[int] = None

    def _open(self):
        import h5py
        return h5py.File(self.path, 'r')

    def _handle(self):
        if self._file is None or self._pid != os.getpid():
            self._file = self._open()
            self._pid = os.getpid()
        return self._file

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state['_file'] = None
        return state
