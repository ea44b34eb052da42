"""Loading one window of both feature streams, on a common time grid."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .feature_store import FeatureStore
from .timebase import TimeBase, make_timebase, resample_stream


def _check_finite(feats: np.ndarray, video_id: str, path: str) -> None:
    if not np.isfinite(feats).all():
        bad = np.argwhere(~np.isfinite(feats))[0]
        raise ValueError(f'{path}: features of video {video_id!r} contain NaN/Inf (first at row {bad[0]}, '
                         f'column {bad[1]})')


def load_window_streams(info: dict, loc_store: FeatureStore, clip_store: Optional[FeatureStore],
                        clip_cfg: Optional[dict], resize_length: Optional[int]):
    """-> ``loc (L, C)`` float32 and ``clip (L, D)`` float32 (or None), both sampled at the window's grid."""
    video_id = info['video_id']
    start, stop = info['window']
    loc = np.array(loc_store.load(video_id)[start:stop], dtype=np.float32)  # copy out of the memory map
    _check_finite(loc, video_id, loc_store.path_of(video_id))
    if resize_length is not None and len(loc) != resize_length:
        src = TimeBase(1.0 / len(loc), 0.5 / len(loc))  # positions in [0, 1] of the original features
        targets = (np.arange(resize_length) + 0.5) / resize_length
        loc = resample_stream(loc, src, targets)
    num = len(loc)
    centres_s = info['begin_s'] + (np.arange(num) + 0.5) * info['span_s'] / num
    if clip_store is None:
        return loc, None
    clip_all = np.asarray(clip_store.load(video_id), dtype=np.float32)
    path = clip_store.path_of(video_id)
    if clip_all.ndim != 2 or len(clip_all) == 0:
        raise ValueError(f'{path}: CLIP features of video {video_id!r} must be (T, D) with T >= 1, '
                         f'got shape {clip_all.shape}')
    if clip_cfg.get('dim') is not None and clip_all.shape[1] != clip_cfg['dim']:
        raise ValueError(f'{path}: CLIP features of video {video_id!r} have dim {clip_all.shape[1]}, '
                         f'but clip_features.dim is {clip_cfg["dim"]}')
    _check_finite(clip_all, video_id, path)
    clip_tb = make_timebase(clip_cfg['timebase'], info.get('fps'), 'clip_features.timebase')
    return loc, resample_stream(clip_all, clip_tb, centres_s)
