"""Seconds <-> feature-index mapping of a feature stream.

Feature ``i`` of a stream is centred at ``offset_s + i * step_s`` seconds and covers one step around it.
Snippet features (I3D, TSP) are computed on windows of ``window`` frames every ``stride`` frames, so
``step_s = stride / fps`` and ``offset_s = window / (2 * fps)`` (the window centre). Frame-level streams
(CLIP at N fps, frames taken at ``i / N`` s) have ``step_s = 1 / N`` and ``offset_s = 0``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class TimeBase:
    step_s: float
    offset_s: float

    def index_to_seconds(self, index):
        return self.offset_s + np.asarray(index, dtype=np.float64) * self.step_s

    def seconds_to_index(self, seconds):
        return (np.asarray(seconds, dtype=np.float64) - self.offset_s) / self.step_s

    def num_features(self, duration_s: float) -> int:
        """How many features a video of ``duration_s`` seconds yields (at least one full step)."""
        return int(np.floor((duration_s - self.offset_s) / self.step_s)) + 1


def make_timebase(cfg: dict, video_fps: Optional[float], key: str = 'timebase') -> TimeBase:
    """Build a :class:`TimeBase` from a stream config.

    Either ``dict(stride=4, window=16, fps=None)`` (snippets; ``fps=None`` takes the video's own fps) or
    ``dict(sample_fps=1.0, offset_s=0.0)`` (frame-level streams).
    """
    if 'sample_fps' in cfg:
        fps = float(cfg['sample_fps'])
        if fps <= 0:
            raise ValueError(f'{key}.sample_fps must be positive, got {fps}')
        return TimeBase(1.0 / fps, float(cfg.get('offset_s', 0.0)))
    if 'stride' not in cfg:
        raise KeyError(f'{key} needs "stride" (and "window", "fps") or "sample_fps"; got {sorted(cfg)}')
    fps = cfg.get('fps') or video_fps
    if not fps:
        raise ValueError(f'{key}.fps is not set and the annotation gives no fps for this video')
    stride, window = float(cfg['stride']), float(cfg.get('window', cfg['stride']))
    return TimeBase(stride / float(fps), window / (2.0 * float(fps)))


def resample_stream(features: np.ndarray, source: TimeBase, target_times: np.ndarray) -> np.ndarray:
    """Linearly interpolate ``features (T_src, C)`` at ``target_times`` (seconds) -> ``(T_tgt, C)``.

    Used to put the CLIP frame stream on the localisation grid; times outside the source range take the
    nearest source feature.
    """
    pos = np.clip(source.seconds_to_index(target_times), 0, len(features) - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, len(features) - 1)
    frac = (pos - lo)[:, None].astype(np.float32)
    lo_feats = features[lo].astype(np.float32)
    return lo_feats + frac * (features[hi].astype(np.float32) - lo_feats)
