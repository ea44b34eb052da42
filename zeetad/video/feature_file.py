"""HDF5 files of per-video frame features: atomic-per-video writing, resuming, merging shards.

Layout (what ``zeetad.datasets.feature_store.HDF5FeatureStore`` reads): one
dataset per video id, ``(T, C)``, row ``i`` the frame at ``i / sample_fps``
seconds. Dataset attributes: ``sample_fps``, ``offset_s`` (0.0),
``timestamps`` (float64 ``(T,)``), ``model``, ``pretrained``, ``normalized``,
the source path and the video's own fps/duration, and ``complete`` (set last).
The file attributes hold the run-level metadata (same keys, plus the feature
dim, dtype and preprocessing), which a resumed run must match.

A video's dataset is created only once all its features are computed, the
``complete`` flag is written last and the file is flushed, so after Ctrl-C or a
crash between videos the file holds whole videos only; a dataset without the
flag (a kill during the write itself) is deleted when the file is reopened.
"""
from __future__ import annotations

import glob
import json
import os
import re
from typing import Dict, Iterable, List, Optional, Set

import numpy as np

FORMAT = 'zeetad-frame-features/1'
COMPLETE = 'complete'
# Run attributes a resumed run or a merged shard must agree on.
RUN_KEYS = ('format', 'sample_fps', 'offset_s', 'model', 'pretrained', 'normalized', 'feature_dim', 'dtype',
            'image_size', 'image_mean', 'image_std', 'resize_mode', 'interpolation')
PER_VIDEO_RUN_KEYS = ('sample_fps', 'offset_s', 'model', 'pretrained', 'normalized')
# Dense attribute storage (HDF5 >= 1.8): a 2-hour video's timestamps exceed the 64 KiB compact limit.
LIBVER = ('v108', 'latest')


class FeatureFileMismatch(ValueError):
    """An existing feature file was written with different run settings."""


def shard_path(out_path: str, rank: int) -> str:
    """``feats.h5`` -> ``feats.rank{rank}.h5`` (same folder)."""
    root, ext = os.path.splitext(out_path)
    return f'{root}.rank{rank}{ext or ".h5"}'


def find_shards(out_path: str) -> List[str]:
    """Existing shard files of ``out_path``, ordered by rank."""
    root, ext = os.path.splitext(out_path)
    ext = ext or '.h5'
    pattern = re.compile(re.escape(os.path.basename(root)) + r'\.rank(\d+)' + re.escape(ext) + '$')
    found = []
    for path in glob.glob(glob.escape(root) + '.rank*' + ext):
        match = pattern.match(os.path.basename(path))
        if match:
            found.append((int(match.group(1)), path))
    return [p for _, p in sorted(found)]


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
    """Ids of the complete videos in an existing feature file (empty if there is none)."""
    import h5py
    if not os.path.isfile(path):
        return set()
    with h5py.File(path, 'r') as h5:
        return {k for k, ds in h5.items() if isinstance(ds, h5py.Dataset) and ds.attrs.get(COMPLETE, False)}


def run_attrs_of(path: str) -> dict:
    import h5py
    with h5py.File(path, 'r') as h5:
        return {k: _plain(v) for k, v in h5.attrs.items()}


class FeatureFileWriter:
    """Append-only writer of one feature file; a context manager.

    Args:
        path: the ``.h5`` file; created if missing, resumed if present.
        run_attrs: run-level metadata (see :data:`RUN_KEYS`); must match an
            existing file's, else :class:`FeatureFileMismatch`.
        overwrite: start the file afresh instead of resuming.
    """

    def __init__(self, path: str, run_attrs: dict, overwrite: bool = False):
        import h5py
        self.path = str(path)
        self.run_attrs = dict(run_attrs, format=FORMAT)
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        if overwrite and os.path.exists(self.path):
            os.remove(self.path)
        fresh = not os.path.exists(self.path)
        try:
            self._h5 = h5py.File(self.path, 'a', libver=LIBVER)
        except OSError as e:
            raise OSError(f'cannot open feature file {self.path} ({e}); if a run was killed while writing '
                          'it, move it away or pass --overwrite') from None
        try:
            if fresh or (not len(self._h5.attrs) and not len(self._h5)):
                self._h5.attrs.update(_attr_values(self.run_attrs))
            elif 'format' not in self._h5.attrs:
                raise FeatureFileMismatch(f'{self.path} exists and was not written by this tool; use another '
                                          'output file, or --overwrite to replace it')
            else:
                check_run_attrs(self.path, dict(self._h5.attrs), self.run_attrs)
            self.dropped_incomplete = self._drop_incomplete()
            self._h5.flush()
        except BaseException:
            self._h5.close()
            raise

    def _drop_incomplete(self) -> List[str]:
        bad = [k for k, ds in self._h5.items() if not ds.attrs.get(COMPLETE, False)]
        for key in bad:
            del self._h5[key]
        return bad

    def complete_ids(self) -> Set[str]:
        return {k for k, ds in self._h5.items() if ds.attrs.get(COMPLETE, False)}

    def write(self, video_id: str, features: np.ndarray, timestamps: np.ndarray,
              extra_attrs: Optional[dict] = None) -> None:
        """Store one video's ``(T, C)`` features and ``(T,)`` timestamps, then flush."""
        features = np.asarray(features)
        timestamps = np.asarray(timestamps, dtype=np.float64)
        if features.ndim != 2 or len(features) != len(timestamps) or len(features) == 0:
            raise ValueError(f'{video_id}: need (T, C) features with T == len(timestamps) >= 1, got '
                             f'{features.shape} and {timestamps.shape}')
        if features.shape[1] != int(self.run_attrs.get('feature_dim', features.shape[1])):
            raise ValueError(f'{video_id}: feature dim {features.shape[1]} != {self.run_attrs["feature_dim"]}')
        if video_id in self._h5:
            del self._h5[video_id]
        dtype = np.dtype(self.run_attrs.get('dtype', features.dtype))
        ds = self._h5.create_dataset(video_id, data=features.astype(dtype, copy=False))
        attrs = {k: self.run_attrs[k] for k in PER_VIDEO_RUN_KEYS if k in self.run_attrs}
        attrs.update(extra_attrs or {})
        attrs['timestamps'] = timestamps
        ds.attrs.update(_attr_values(attrs))
        ds.attrs[COMPLETE] = True
        self._h5.flush()

    def close(self) -> None:
        if self._h5 is not None and self._h5.id.valid:
            self._h5.flush()
            self._h5.close()
        self._h5 = None

    def __enter__(self) -> 'FeatureFileWriter':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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


def merge_feature_files(out_path: str, inputs: Iterable[str], remove_inputs: bool = False) -> Dict[str, int]:
    """Copy the complete videos of ``inputs`` (e.g. rank shards) into ``out_path``.

    Resumable: videos already complete in ``out_path`` are kept, and a video in
    several inputs is taken from the first. All inputs must share the run
    settings (and those of ``out_path`` if it exists). With ``remove_inputs``
    each input is deleted once everything in it is in ``out_path``.

    Returns:
        ``dict(copied=..., already=..., inputs=...)`` counts.
    """
    import h5py
    inputs = [p for p in inputs if os.path.abspath(p) != os.path.abspath(out_path)]
    if not inputs:
        raise FileNotFoundError(f'nothing to merge into {out_path}: no input (shard) files')
    run_attrs = None
    for path in inputs:
        attrs = run_attrs_of(path)
        if run_attrs is None:
            run_attrs = {k: v for k, v in attrs.items() if k in RUN_KEYS}
        else:
            check_run_attrs(path, attrs, run_attrs)
    copied = already = 0
    with FeatureFileWriter(out_path, run_attrs) as writer:
        done = writer.complete_ids()
        for path in inputs:
            with h5py.File(path, 'r') as src:
                for key, ds in src.items():
                    if not ds.attrs.get(COMPLETE, False):
                        continue
                    if key in done:
                        already += 1
                        continue
                    extra = {k: v for k, v in ds.attrs.items() if k not in (COMPLETE, 'timestamps')}
                    writer.write(key, ds[()], ds.attrs['timestamps'], extra)
                    done.add(key)
                    copied += 1
    if remove_inputs:
        for path in inputs:
            os.remove(path)
    return dict(copied=copied, already=already, inputs=len(inputs))
