"""Per-video feature readers: a folder of ``.npy`` files or one HDF5 file with a dataset per video.

Each reader is registered in ``FEATURE_STORES`` under the ``format`` names a config uses, and says which config
keys it takes, which key locates its files and how to read the stored feature width: a new format is one
registered class. All return ``(T, C)`` arrays. HDF5 handles are opened lazily in each process (h5py files do
not survive ``fork``), and ``.npy`` files are memory-mapped so a window reads only its slice.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from zeetad.registry import FEATURE_STORES
from zeetad.utils.lazy_h5 import LazyH5File
from zeetad.utils.suggest import did_you_mean, unknown_keys

# Keys of every feature-stream config: they describe the stream, not the files, and are not the reader's.
STREAM_KEYS = ('format', 'dim', 'timebase')


class FeatureReadError(ValueError):
    """A feature file that exists but cannot be read (empty, truncated, not npy/HDF5); names file and video."""


class FeatureStore:
    """Common interface: ``load(video_id, start, stop) -> (T, C)``, ``shape(video_id)``, ``path_of``, ``has``.

    A registered subclass also sets ``location`` (the config key of its folder or file, a required argument
    of ``__init__``, whose other arguments are the config keys it accepts) and ``location_kind`` (for errors),
    and implements :meth:`stored_dim`.
    """
    location: str = ''
    location_kind: str = ''

    @classmethod
    def stored_dim(cls, spec: dict) -> Optional[int]:
        """Last dim of one stored array of the stream ``spec`` (cheap), or None if there is nothing to read."""
        return None

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


def _feature_dim(shape: tuple, where: str) -> int:
    """C of a stored ``(T, C)`` array; any other rank is an error (a 1-D array's length is not a dim)."""
    if len(shape) != 2:
        raise FeatureReadError(f'{where}: features must be a 2-D (T, C) array, got shape {tuple(shape)}')
    return int(shape[1])


@FEATURE_STORES.register_module(name='npy')
class NpyFeatureStore(FeatureStore):
    location, location_kind = 'root', 'feature folder'

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
        except (ValueError, EOFError, OSError) as exc:  # EOFError: a zero-byte file
            size = os.path.getsize(path)
            raise FeatureReadError(f'{path}: cannot read the features of video {video_id!r} ({size} bytes; '
                                   f'{type(exc).__name__}: {exc})') from None

    def load(self, video_id: str, start: Optional[int] = None, stop: Optional[int] = None) -> np.ndarray:
        return np.array(self._open(video_id)[start:stop])  # copies only the rows out of the memory map

    def shape(self, video_id: str) -> tuple:
        return self._open(video_id).shape  # reads the .npy header only

    @classmethod
    def stored_dim(cls, spec: dict) -> Optional[int]:
        root, prefix, suffix = spec.get('root'), spec.get('prefix', '') or '', spec.get('suffix', '.npy')
        if not root or not os.path.isdir(root):
            return None
        for name in sorted(os.listdir(root)):
            if name.endswith(suffix) and name.startswith(prefix):
                path = os.path.join(root, name)
                try:
                    shape = np.load(path, mmap_mode='r').shape
                except (ValueError, EOFError, OSError) as exc:
                    raise ValueError(f'{path}: unreadable .npy file ({type(exc).__name__}: {exc})') from None
                return _feature_dim(shape, path)
        return None


@FEATURE_STORES.register_module(name=['hdf5', 'h5'])
class HDF5FeatureStore(LazyH5File, FeatureStore):
    location, location_kind = 'path', 'HDF5 file'

    def __init__(self, path: str, prefix: str = '', suffix: str = ''):
        if not os.path.isfile(path):
            raise FileNotFoundError(f'HDF5 feature file not found: {path}')
        self.path, self.prefix, self.suffix = path, prefix, suffix

    def _open(self):
        try:
            return super()._open()
        except OSError as exc:  # not HDF5, or cut short (an interrupted copy)
            raise FeatureReadError(f'{self.path}: not a readable HDF5 feature file '
                                   f'({os.path.getsize(self.path)} bytes; {exc})') from None

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
        dataset = self._dataset(video_id)
        try:
            return dataset[start:stop]  # h5py reads only the selected rows
        except OSError as exc:  # data blocks past the end of a truncated file
            raise FeatureReadError(f'{self.path}: cannot read the features of video {video_id!r} '
                                   f'(dataset {self.key_of(video_id)!r}): {exc}') from None

    def shape(self, video_id: str) -> tuple:
        return self._dataset(video_id).shape

    def attrs(self) -> dict:
        return dict(self._handle().attrs)

    @classmethod
    def stored_dim(cls, spec: dict) -> Optional[int]:
        path = spec.get('path')
        if not path or not os.path.isfile(path):
            return None
        import h5py
        try:
            with h5py.File(path, 'r') as f:
                for name in f:
                    if hasattr(f[name], 'shape'):
                        return _feature_dim(f[name].shape, f'{path}:{name}')
        except OSError as exc:
            raise ValueError(f'{path}: not a readable HDF5 feature file ({exc})') from None
        return None


def store_class(fmt: str) -> type:
    """The registered reader of ``format=fmt`` (KeyError naming the registered formats if none)."""
    cls = FEATURE_STORES.get(fmt) if isinstance(fmt, str) else None
    if cls is None:
        names = sorted(FEATURE_STORES.module_dict)
        raise KeyError(f'must be one of {names}, got {fmt!r}{did_you_mean(fmt, names)}')
    return cls


def _reader_keys(cls: type) -> tuple:
    import inspect
    return tuple(p for p in inspect.signature(cls.__init__).parameters if p != 'self')


def store_problems(cfg, key: str) -> list[str]:
    """Every problem of a feature-stream config (format, unknown keys, dim, time base), key first."""
    from .timebase import timebase_problems
    if not isinstance(cfg, dict):
        return [f'{key}: expected a dict such as dict(format="npy", root=...), got {cfg!r}']
    fmt = cfg.get('format', 'npy')
    try:
        cls = store_class(fmt)
    except KeyError as exc:
        return [f'{key}.format: {exc.args[0]}']
    problems = unknown_keys(cfg, STREAM_KEYS + _reader_keys(cls), key)
    where = cls.location
    if not isinstance(cfg.get(where), str):
        problems.append(f'{key}.{where}: the {cls.location_kind} is required for format {fmt!r}, '
                        f'got {cfg.get(where)!r}')
    dim = cfg.get('dim')
    if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool) or dim < 1):
        problems.append(f'{key}.dim: must be a positive integer, got {dim!r}')
    if cfg.get('timebase') is not None:
        problems += timebase_problems(cfg['timebase'], f'{key}.timebase')
    return problems


def build_feature_store(cfg: dict, key: str) -> FeatureStore:
    """The registered reader of ``cfg['format']`` (default ``'npy'``), e.g. ``dict(format='npy', root=...,
    prefix='', suffix='.npy')`` or ``dict(format='hdf5', path=...)``; problems raise ValueError naming ``key``."""
    problems = store_problems(cfg, key)
    if problems:
        raise ValueError('; '.join(problems))
    cls = store_class(cfg.get('format', 'npy'))
    return cls(**{k: v for k, v in cfg.items() if k not in STREAM_KEYS})
