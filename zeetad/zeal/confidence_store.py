"""The LVLM-confidence cache: one HDF5 file, one dataset ``(T, C_kept, 2)`` per video.

Layout: dataset ``/<video_id>`` float32 ``(T, C, 2)`` (``[..., 0]`` start, ``[..., 1]`` end P(yes)),
with attributes ``classes`` (JSON list of the C class names, in column order),
``sample_fps`` and ``offset_s`` (row ``i`` is the frame at ``offset_s + i / sample_fps`` s) and
``complete=True``, set last. File attributes describe the run (model, prompt, ...). A video whose
dataset lacks ``complete`` is treated as absent and recomputed, so a killed run resumes safely.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np

from zeetad.utils.lazy_h5 import LazyH5File


@dataclass(frozen=True)
class VideoConfidences:
    """One video's cached confidences."""
    scores: np.ndarray  # (T, C, 2)
    classes: tuple
    sample_fps: float
    offset_s: float

    def frame_times(self) -> np.ndarray:
        """``(T,)`` seconds of each row."""
        return self.offset_s + np.arange(self.scores.shape[0]) / self.sample_fps


def _plain(value):
    if isinstance(value, bytes):
        return value.decode('utf-8')
    if isinstance(value, np.generic):
        return value.item()
    return value


class ConfidenceStore(LazyH5File):
    """Read (and, with ``mode='a'``, write) a confidence cache. h5py is opened lazily, per process."""

    def __init__(self, path: str, mode: str = 'r'):
        if mode not in ('r', 'a'):
            raise ValueError(f'mode must be "r" or "a", got {mode!r}')
        if mode == 'r' and not os.path.isfile(path):
            raise FileNotFoundError(f'LVLM confidence file not found: {path} (write it with tools/zeal/zeal_lvlm.py, '
                                    'or tools/zeal/zeal_synthetic_confidences.py for synthetic data)')
        self.path, self.mode = path, mode

    def _open(self):
        import h5py
        if self.mode == 'a':
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        return h5py.File(self.path, self.mode)

    def __enter__(self) -> 'ConfidenceStore':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def attrs(self) -> dict:
        return {k: _plain(v) for k, v in self._handle().attrs.items()}

    def set_attrs(self, attrs: Mapping) -> None:
        """Describe the run; values that are not plain scalars or strings are stored as JSON."""
        handle = self._handle()
        for key, value in attrs.items():
            handle.attrs[key] = value if isinstance(value, (str, int, float, bool)) else json.dumps(value)

    def has(self, video_id: str) -> bool:
        handle = self._handle()
        return video_id in handle and bool(handle[video_id].attrs.get('complete', False))

    def videos(self) -> list[str]:
        return sorted(v for v in self._handle() if self.has(v))

    def load(self, video_id: str) -> VideoConfidences:
        if not self.has(video_id):
            raise KeyError(f'no complete LVLM confidences for video {video_id!r} in {self.path}')
        ds = self._handle()[video_id]
        scores = np.asarray(ds[()], dtype=np.float32)
        classes = tuple(json.loads(_plain(ds.attrs['classes'])))
        if scores.ndim != 3 or scores.shape[1:] != (len(classes), 2):
            raise ValueError(f'{self.path}:{video_id}: confidences must be (T, {len(classes)}, 2), got {scores.shape}')
        return VideoConfidences(scores, classes, float(ds.attrs['sample_fps']), float(ds.attrs.get('offset_s', 0.0)))

    def write(self, video_id: str, scores: np.ndarray, classes: Sequence[str], sample_fps: float,
              offset_s: float = 0.0, extra: Optional[Mapping] = None) -> None:
        """Store one video (replacing an incomplete or older entry) and flush."""
        if self.mode != 'a':
            raise PermissionError(f'{self.path} is open read-only')
        scores = np.asarray(scores, dtype=np.float32)
        if scores.ndim != 3 or scores.shape[1:] != (len(classes), 2):
            raise ValueError(f'scores must be (T, {len(classes)}, 2), got {scores.shape}')
        if not np.isfinite(scores).all():
            raise ValueError(f'confidences of video {video_id!r} contain NaN/Inf')
        handle = self._handle()
        if video_id in handle:
            del handle[video_id]
        ds = handle.create_dataset(video_id, data=scores)
        ds.attrs['classes'] = json.dumps(list(classes))
        ds.attrs['sample_fps'] = float(sample_fps)
        ds.attrs['offset_s'] = float(offset_s)
        for key, value in (extra or {}).items():
            ds.attrs[key] = value
        ds.attrs['complete'] = True
        handle.flush()
