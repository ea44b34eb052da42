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

from zeetad.utils.suggest import is_number, unknown_keys

SNIPPET_KEYS = ('stride', 'window', 'fps')
FRAME_KEYS = ('sample_fps', 'offset_s')


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


def timebase_problems(cfg, key: str = 'timebase') -> list[str]:
    """Every problem of a time-base config, each message starting with ``key`` (empty when it is fine).

    A typo is never ignored: ``dict(stirde=8)`` merged over an inherited ``stride=4`` would keep 4.
    """
    if not isinstance(cfg, dict):
        return [f'{key}: expected a dict such as dict(stride=4, window=16) or dict(sample_fps=1.0), got {cfg!r}']
    frame = 'sample_fps' in cfg
    problems = unknown_keys(cfg, FRAME_KEYS if frame else SNIPPET_KEYS, key)
    required, optional = (('sample_fps',), ()) if frame else (('stride',), ('window', 'fps'))
    for name in required + optional:
        value = cfg.get(name)
        if value is None and name in optional:
            continue  # window defaults to stride, fps to the video's own
        if name not in cfg:
            problems.append(f'{key}: needs "stride" (and "window", "fps") or "sample_fps"; got {sorted(cfg)}')
            continue
        if not is_number(value) or not np.isfinite(value) or value <= 0:
            problems.append(f'{key}.{name}: must be a positive number, got {value!r}')
    if frame and not is_number(cfg.get('offset_s', 0.0)):
        problems.append(f'{key}.offset_s: must be a number, got {cfg["offset_s"]!r}')
    return problems


def make_timebase(cfg: dict, video_fps: Optional[float], key: str = 'timebase') -> TimeBase:
    """Build a :class:`TimeBase` from a stream config.

    Either ``dict(stride=4, window=16, fps=None)`` (snippets; ``fps=None`` takes the video's own fps) or
    ``dict(sample_fps=1.0, offset_s=0.0)`` (frame-level streams).
    """
    if isinstance(cfg, dict) and 'sample_fps' not in cfg and 'stride' not in cfg:
        raise KeyError(f'{key} needs "stride" (and "window", "fps") or "sample_fps"; got {sorted(cfg)}')
    problems = timebase_problems(cfg, key)
    if problems:
        raise ValueError('; '.join(problems))
    if 'sample_fps' in cfg:
        return TimeBase(1.0 / float(cfg['sample_fps']), float(cfg.get('offset_s', 0.0)))
    fps = cfg.get('fps') or video_fps
    if not fps:
        raise ValueError(f'{key}.fps is not set and the annotation gives no fps for this video: set {key}.fps, '
                         'or an "fps" per video in the annotation file')
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
