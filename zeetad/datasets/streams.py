"""Loading one window of both feature streams, on a common time grid."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .feature_store import FeatureReadError, FeatureStore
from .timebase import TimeBase, make_timebase, resample_stream


class FeatureDataError(FeatureReadError):
    """Features that were read but hold NaN/Inf or disagree with the annotated duration; names file and video."""


def _check_finite(feats: np.ndarray, video_id: str, path: str, first_row: int) -> None:
    if not np.isfinite(feats).all():
        bad = np.argwhere(~np.isfinite(feats))[0]
        raise FeatureDataError(f'{path}: features of video {video_id!r} contain NaN/Inf (first at row '
                         f'{first_row + bad[0]}, column {bad[1]})')


def check_feature_length(num: int, duration_s: float, tb: TimeBase, tolerance: Optional[float], video_id: str,
                         path: str, key: str) -> None:
    """Raise unless ``num`` features on ``tb`` cover about ``duration_s`` seconds (the annotated duration).

    The expected count is ``tb.num_features(duration_s)``; extractors differ by a few rows (the last partial
    snippet, a container duration a frame off), so ``num`` may differ by ``tolerance`` of it (at least two
    rows). A wrong fps, stride or file is off by a factor and then names the video and the file.
    """
    if duration_s < tb.step_s:
        raise FeatureDataError(f'{path}: video {video_id!r} lasts {duration_s:g} s, less than one {key} step '
                         f'({tb.step_s:g} s): check its "duration" in the annotation file and {key}.timebase')
    if tolerance is None:
        return
    expected = tb.num_features(duration_s)
    if abs(num - expected) > max(2.0, tolerance * expected):
        raise FeatureDataError(
            f'{path}: video {video_id!r} has {num} {key} rows, but its annotated duration {duration_s:g} s on '
            f'{key}.timebase (step {tb.step_s:g} s, offset {tb.offset_s:g} s) needs about {expected} '
            f'({num * tb.step_s:g} s of features for {duration_s:g} s of video; allowed difference '
            f'{tolerance:.0%} or two rows). Check the file, the fps in the annotation and {key}.timebase, '
            'or set the dataset\'s length_tolerance (None: no check)')


def load_window_streams(info: dict, loc_store: FeatureStore, clip_store: Optional[FeatureStore],
                        clip_cfg: Optional[dict], resize_length: Optional[int]):
    """-> ``loc (L, C)`` float32 and ``clip (L, D)`` float32 (or None), both sampled at the window's grid."""
    video_id = info['video_id']
    start, stop = info['window']
    loc = np.asarray(loc_store.load(video_id, start, stop), dtype=np.float32)
    _check_finite(loc, video_id, loc_store.path_of(video_id), start)
    if resize_length is not None and len(loc) != resize_length:
        src = TimeBase(1.0 / len(loc), 0.5 / len(loc))  # positions in [0, 1] of the original features
        targets = (np.arange(resize_length) + 0.5) / resize_length
        loc = resample_stream(loc, src, targets)
    num = len(loc)
    centres_s = info['begin_s'] + (np.arange(num) + 0.5) * info['span_s'] / num
    if clip_store is None:
        return loc, None
    path = clip_store.path_of(video_id)
    shape = clip_store.shape(video_id)
    if len(shape) != 2 or shape[0] == 0:
        raise FeatureDataError(f'{path}: CLIP features of video {video_id!r} must be (T, D) with T >= 1, got shape '
                               f'{shape}')
    if clip_cfg.get('dim') is not None and shape[1] != clip_cfg['dim']:
        raise FeatureDataError(f'{path}: CLIP features of video {video_id!r} have dim {shape[1]}, '
                               f'but clip_features.dim is {clip_cfg["dim"]}')
    clip_tb = make_timebase(clip_cfg['timebase'], info.get('fps'), 'clip_features.timebase')
    # Read only the CLIP rows around the window (one extra on each side for the interpolation).
    pos = clip_tb.seconds_to_index(centres_s[[0, -1]])
    first = int(np.clip(np.floor(pos[0]) - 1, 0, shape[0] - 1))
    last = int(np.clip(np.ceil(pos[1]) + 2, first + 1, shape[0]))
    clip = np.asarray(clip_store.load(video_id, first, last), dtype=np.float32)
    _check_finite(clip, video_id, path, first)
    local_tb = TimeBase(clip_tb.step_s, clip_tb.offset_s + first * clip_tb.step_s)
    return loc, resample_stream(clip, local_tb, centres_s)
