"""HDF5 files of per-video frame features: per-video parts merged atomically, resuming (rank shards and
their merge: :mod:`zeetad.video.feature_shards`).

Layout (what ``zeetad.datasets.feature_store.HDF5FeatureStore`` reads): one
dataset per video id, ``(T, C)``, row ``i`` the frame at ``i / sample_fps``
seconds. Dataset attributes: ``sample_fps``, ``offset_s`` (0.0),
``timestamps`` (float64 ``(T,)``), ``model``, ``pretrained``, ``normalized``,
the source path and the video's own fps/duration, and ``complete`` (set last).
The file attributes hold the run-level metadata (same keys, plus the feature
dim, dtype and preprocessing), which a resumed run must match.

The file is never modified in place (HDF5 is not journaled: a write that fails half-way, e.g. on a full
disk, can make the whole file unreadable). Each finished video goes to its own small file in
``<file>.parts/`` (temporary file + rename); closing the writer builds the new file from the old one and the
parts, renames it into place and deletes the parts it merged; merges hold the output's lock, so several runs
may write one file at once. Whatever fails, the videos finished before survive, in the file or in its parts,
and the next run resumes after them. A dataset without the ``complete`` flag is dropped at the next merge.
"""
from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
from typing import Dict, List, Optional, Set, Tuple

import numpy as np

from zeetad.utils.atomic_io import WriteError, atomic_path
from zeetad.utils.file_lock import OutputLock

logger = logging.getLogger(__name__)

FORMAT = 'zeetad-frame-features/1'
COMPLETE = 'complete'
# Run attributes a resumed run or a merged shard must agree on.
RUN_KEYS = ('format', 'sample_fps', 'offset_s', 'model', 'pretrained', 'normalized', 'feature_dim', 'dtype',
            'image_size', 'image_mean', 'image_std', 'resize_mode', 'interpolation')
PER_VIDEO_RUN_KEYS = ('sample_fps', 'offset_s', 'model', 'pretrained', 'normalized')
# Dense attribute storage (HDF5 >= 1.8): a 2-hour video's timestamps exceed the 64 KiB compact limit.
LIBVER = ('v108', 'latest')
PART_EXT = '.h5'


class FeatureFileMismatch(ValueError):
    """An existing feature file was written with different run settings."""


def _plain(value):
    """HDF5 attribute value -> comparable Python value."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _same(a, b) -> bool:
    a, b = _plain(a), _plain(b)
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(float(a) - float(b)) < 1e-9
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def check_run_attrs(path: str, existing: dict, expected: dict) -> None:
    """Raise :class:`FeatureFileMismatch` naming every run setting that differs."""
    diffs = [f'{k}: file has {_plain(existing.get(k))!r}, this run {_plain(expected.get(k))!r}'
             for k in RUN_KEYS if k in expected and not _same(existing.get(k), expected[k])]
    if diffs:
        raise FeatureFileMismatch(f'{path} was written with other settings ({"; ".join(diffs)}); '
                                  'use another output file, or --overwrite to start it again')


def complete_ids(path: str) -> Set[str]:
    """Ids of the complete videos of a feature file, merged or not yet (empty if there is none)."""
    import h5py
    done = set(part_files(path))
    if os.path.isfile(path):
        with h5py.File(path, 'r') as h5:
            done |= {k for k, ds in h5.items() if isinstance(ds, h5py.Dataset) and ds.attrs.get(COMPLETE, False)}
    return done


def run_attrs_of(path: str) -> dict:
    import h5py
    with h5py.File(path, 'r') as h5:
        return {k: _plain(v) for k, v in h5.attrs.items()}


class FeatureWriteError(WriteError):
    """Features that could not be written (disk full, file size limit, ...); the message names the file."""


def parts_dir(path: str) -> str:
    """``feats.h5`` -> ``feats.h5.parts``: the finished videos not yet merged into ``feats.h5``."""
    return f'{path}.parts'


def part_files(path: str) -> Dict[str, str]:
    """``{video id: part file}`` of the finished videos not yet merged into ``path``."""
    folder = parts_dir(path)
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    return {n[:-len(PART_EXT)]: os.path.join(folder, n) for n in names
            if n.endswith(PART_EXT) and not n.startswith('.')}


def remove_feature_file(path: str) -> None:
    """Delete ``path`` and its unmerged videos."""
    if os.path.exists(path):
        os.remove(path)
    shutil.rmtree(parts_dir(path), ignore_errors=True)


def _write_error(exc: BaseException, target: str, what: str) -> FeatureWriteError:
    errno_ = getattr(exc, 'errno', None) or errno.EIO
    return FeatureWriteError(errno_, f'cannot write {what} to {target}: {exc}', target)


class FeatureFileWriter:
    """Writer of one feature file that never modifies the file in place; a context manager.

    Each video is written whole to its own file in ``<path>.parts/`` (temporary file + rename). Closing the
    writer builds the new ``path`` from the current one and the parts in a temporary file, renames it into
    place, then deletes the parts it merged. A failed write (disk full, file size limit), Ctrl-C or a kill thus
    loses at most the video being written; the next writer of ``path`` takes the parts left over. Several
    writers of one ``path`` at once (two runs over different videos) are safe: merges hold the output's lock
    (:class:`~zeetad.utils.file_lock.OutputLock`) and each one starts from the file as it is then.

    Args:
        path: the ``.h5`` file; created if missing, resumed if present.
        run_attrs: run-level metadata (see :data:`RUN_KEYS`); must match an
            existing file's and parts', else :class:`FeatureFileMismatch`.
        overwrite: start the file afresh instead of resuming.

    Raises:
        FeatureWriteError: the output folder is not writable (read-only file system, no permission).
    """

    def __init__(self, path: str, run_attrs: dict, overwrite: bool = False):
        self.path = str(path)
        self.run_attrs = dict(run_attrs, format=FORMAT)
        try:  # the first write to the folder: an unwritable output fails here, before any video is decoded
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self._lock = OutputLock(self.path)
        except OSError as e:
            folder = os.path.dirname(os.path.abspath(self.path))
            raise FeatureWriteError(e.errno or errno.EIO, f'cannot write {self.path}: the folder {folder} is not '
                                    f'writable ({e.strerror or e})', self.path) from None
        try:
            with self._lock.changing():
                if overwrite:
                    remove_feature_file(self.path)
                if self._lock.alone():  # temporary files of killed writes; with other writers they may be theirs
                    _remove_temporary_parts(self.path)
                self._merged, self.dropped_incomplete, self._file_attrs = self._read_existing()
                self._parts = self._scan_parts()
        except BaseException:
            self._lock.close()
            raise
        self._dirty = bool(self._parts or self.dropped_incomplete) or not os.path.exists(self.path)

    def _read_existing(self) -> Tuple[Set[str], List[str], dict]:
        """``(complete ids, incomplete ids, file attributes)`` of ``path`` as it is now (call under the lock)."""
        import h5py
        if not os.path.exists(self.path):
            return set(), [], dict(self.run_attrs)
        try:
            h5 = h5py.File(self.path, 'r')
        except OSError as e:
            raise OSError(f'cannot open feature file {self.path} ({e}); move it away or pass --overwrite') from None
        with h5:
            if not len(h5.attrs) and not len(h5):
                return set(), [], dict(self.run_attrs)  # an empty file: treated as new
            if 'format' not in h5.attrs:
                raise FeatureFileMismatch(f'{self.path} exists and was not written by this tool; use another '
                                          'output file, or --overwrite to replace it')
            check_run_attrs(self.path, dict(h5.attrs), self.run_attrs)
            complete = {key for key, ds in h5.items() if ds.attrs.get(COMPLETE, False)}
            return complete, [key for key in h5 if key not in complete], dict(h5.attrs)

    def _scan_parts(self) -> Dict[str, str]:
        """Finished videos not merged yet (this writer's, another writer's, or left by an earlier run)."""
        parts = part_files(self.path)
        for part in parts.values():
            check_run_attrs(part, run_attrs_of(part), self.run_attrs)
        return parts

    def complete_ids(self) -> Set[str]:
        return self._merged | set(self._parts)

    def write(self, video_id: str, features: np.ndarray, timestamps: np.ndarray,
              extra_attrs: Optional[dict] = None) -> None:
        """Store one video's ``(T, C)`` features and ``(T,)`` timestamps (in its own part file)."""
        import h5py
        features = np.asarray(features)
        timestamps = np.asarray(timestamps, dtype=np.float64)
        if features.ndim != 2 or len(features) != len(timestamps) or len(features) == 0:
            raise ValueError(f'{video_id}: need (T, C) features with T == len(timestamps) >= 1, got '
                             f'{features.shape} and {timestamps.shape}')
        if features.shape[1] != int(self.run_attrs.get('feature_dim', features.shape[1])):
            raise ValueError(f'{video_id}: feature dim {features.shape[1]} != {self.run_attrs["feature_dim"]}')
        dtype = np.dtype(self.run_attrs.get('dtype', features.dtype))
        attrs = {k: self.run_attrs[k] for k in PER_VIDEO_RUN_KEYS if k in self.run_attrs}
        attrs.update(extra_attrs or {})
        attrs['timestamps'] = timestamps
        part = os.path.join(parts_dir(self.path), video_id + PART_EXT)
        try:
            with atomic_path(part) as tmp, h5py.File(tmp, 'w', libver=LIBVER) as h5:
                h5.attrs.update(_attr_values(self.run_attrs))
                ds = h5.create_dataset(video_id, data=features.astype(dtype, copy=False))
                ds.attrs.update(_attr_values(attrs))
                ds.attrs[COMPLETE] = True
        except (OSError, RuntimeError) as e:  # h5py reports write failures as either
            raise _write_error(e, part, f'the features of {video_id}') from e
        self._parts[video_id] = part
        self._dirty = True

    def commit(self) -> None:
        """Merge the parts into ``path`` (all or nothing), then delete the parts merged.

        Under the output's lock the file and the parts folder are read again: another writer may have merged
        since (its videos are kept), or merged this writer's parts already (they are in the file then).
        """
        if not self._dirty:
            return
        with self._lock.changing():
            merged, _, self._file_attrs = self._read_existing()
            parts = self._scan_parts()
            self._merge(merged, parts)
            self._merged, self._parts = merged | set(parts), {}
            self.dropped_incomplete, self._dirty = [], False
            for part in parts.values():  # exactly the parts merged: a part written meanwhile waits for its merge
                os.remove(part)
            if self._lock.alone():  # another writer may be about to put a part there
                with contextlib.suppress(OSError):
                    os.rmdir(parts_dir(self.path))  # only when empty

    def _merge(self, merged: Set[str], parts: Dict[str, str]) -> None:
        import h5py
        try:
            with atomic_path(self.path) as tmp, h5py.File(tmp, 'w', libver=LIBVER) as out:
                out.attrs.update(_attr_values(self._file_attrs))
                if merged - set(parts):
                    with h5py.File(self.path, 'r') as old:
                        for key in sorted(merged - set(parts)):
                            old.copy(old[key], out, name=key)
                for key, part in sorted(parts.items()):
                    with h5py.File(part, 'r') as src:
                        src.copy(src[key], out, name=key)
        except (OSError, RuntimeError) as e:
            raise _write_error(e, self.path, f'{len(parts)} new videos (kept in {parts_dir(self.path)} '
                                             'and merged by the next run)') from e

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self._lock.close()

    def __enter__(self) -> 'FeatureFileWriter':
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            return
        try:  # Ctrl-C or a failed video: keep what is finished, and let the original error through
            self.close()
        except FeatureWriteError as e:
            logger.warning('%s', e)


def _remove_temporary_parts(path: str) -> None:
    """Delete the temporary files of part writes that were killed (only when no other writer runs)."""
    folder = parts_dir(path)
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        if name.startswith('.') and name.endswith('.tmp'):
            os.remove(os.path.join(folder, name))


def _attr_values(attrs: dict) -> dict:
    out = {}
    for key, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, dict):
            value = json.dumps(value, sort_keys=True)
        elif isinstance(value, (list, tuple)):
            value = np.asarray(value)
        out[key] = value
    return out
