"""Per-video feature readers: a folder of ``.npy`` files or one HDF5 file with a dataset per video.

Both return ``(T, C)`` arrays. HDF5 handles are opened lazily in each process (h5py files do not survive
``fork``), and ``.npy`` files are memory-mapped so a window reads only its slice.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np


class FeatureStore:
    """Common interface: ``load(video_id, start, stop) -> (T, C)``, ``shape(video_id)``, ``path_of``, ``has``."""

    def load(self, video_id: str, start: Optional[int] = None, stop: Optional[int] = None) -> np.ndarray:
        """Rows ``[start, stop)`` of a video's features (all rows by default), reading only those rows."""
        raise NotImplementedError

    def shape(self, video_id: str) -> tuple:
        raise NotImplementedError

    def has(self, video_id: str) -> bool:
        raise NotImplementedError

    def path_of(self, video_id: str) -> str:
        raise NotImplementedError

    def attrs(self) -> dict:
        return {}


class NpyFeatureStore(FeatureStore):

    def __init__(self, root: str, prefix: str = '', suffix: str = '.npy', mmap: bool = True):
        if not os.path.isdir(root):
            raise FileNotFoundError(f'feature folder not found: {root}')
        self.root, self.prefix, self.suffix, self.mmap = root, prefix, suffix, mmap

    def path_of(self, video_id: str) -> str:
        return os.path.join(self.root, f'{self.prefix}{video_id}{self.suffix}')

    def has(self, video_id: str) -> bool:
        return os.path.isfile(self.path_of(video_id))

    def _open(self, video_id: str) -> np.ndarray:
        path = self.path_of(video_id)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'feature file for video {video_id!r} not found: {path}')
        try:
            return np.load(path, mmap_mode='r' if self.mmap else None)
        except ValueError as exc:
            raise ValueError(f'cannot read features of video {video_id!r} from {path}: {exc}') from None

    def load(self, video_id: str, start: Optional[int] = None, stop: Optional[int] = None) -> np.ndarray:
        return np.array(self._open(video_id)[start:stop])  # copies only the rows out of the memory map

    def shape(self, video_id: str) -> tuple:
        return self._open(video_id).shape  # reads the .npy header only


class HDF5FeatureStore(FeatureStore):

    def __init__(self, path: str, prefix: str = '', suffix: str = ''):
        if not os.path.isfile(path):
            raise FileNotFoundError(f'HDF5 feature file not found: {path}')
        self.path, self.prefix, self.suffix = path, prefix, suffix
        self._file = None
        self._pid: Optional[int] = None

    def _handle(self):
        import h5py
        if self._file is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, 'r')
            self._pid = os.getpid()
        return self._file

    def key_of(self, video_id: str) -> str:
        return f'{self.prefix}{video_id}{self.suffix}'

    def path_of(self, video_id: str) -> str:
        return f'{self.path}:{self.key_of(video_id)}'

    def has(self, video_id: str) -> bool:
        return self.key_of(video_id) in self._handle()

    def _dataset(self, video_id: str):
        handle = self._handle()
        key = self.key_of(video_id)
        if key not in handle:
            raise FileNotFoundError(f'features of video {video_id!r} not found in {self.path} (dataset {key!r})')
        return handle[key]

    def load(self, video_id: str, start: Optional[int] = None, stop: Optional[int] = None) -> np.ndarray:
        return self._dataset(video_id)[start:stop]  # h5py reads only the selected rows

    def shape(self, video_id: str) -> tuple:
        return self._dataset(video_id).shape

    def attrs(self) -> dict:
        return dict(self._handle().attrs)

    def __getstate__(self):
        # Worker processes reopen the file themselves.
        state = dict(self.__dict__)
        state['_file'] = None
        return state


def build_feature_store(cfg: dict, key: str) -> FeatureStore:
    """``dict(format='npy', root=..., prefix='', suffix='.npy')`` or ``dict(format='hdf5', path=...)``."""
    cfg = dict(cfg)
    fmt = cfg.pop('format', 'npy')
    for meta in ('dim', 'timebase'):
        cfg.pop(meta, None)
    try:
        if fmt == 'npy':
            return NpyFeatureStore(**cfg)
        if fmt in ('hdf5', 'h5'):
            return HDF5FeatureStore(**cfg)
    except TypeError as exc:
        raise TypeError(f'{key}: {exc}') from None
    raise ValueError(f'{key}.format must be "npy" or "hdf5", got {fmt!r}')
