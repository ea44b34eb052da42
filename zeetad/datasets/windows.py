"""Window enumeration over a feature sequence and the ground truth that falls inside a window."""
from __future__ import annotations


import numpy as np


def enumerate_windows(length: int, size: int, overlap: float) -> list[tuple[int, int]]:
    """``[start, stop)`` windows of ``size`` features covering ``length`` with the given overlap.

    A sequence no longer than ``size`` is one (shorter) window; otherwise the last window is aligned to
    the end so nothing is left out.
    """
    if length <= size:
        return [(0, length)]
    stride = max(1, int(round(size * (1.0 - overlap))))
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] + size < length:
        starts.append(length - size)
    return [(s, s + size) for s in starts]


def window_instances(instances: np.ndarray, begin_s: float, span_s: float,
                     min_coverage: float) -> tuple[np.ndarray, np.ndarray]:
    """Instances ``(N, 3)`` = (start_s, end_s, label) seen by a window -> normalised ``(M, 2)`` and labels ``(M,)``.

    An instance counts if at least ``min_coverage`` of its duration lies inside the window; it is then clipped
    to the window. Zero-length instances count when their instant lies inside.
    """
    if len(instances) == 0:
        return np.zeros((0, 2), np.float32), np.zeros((0,), np.int64)
    start = (instances[:, 0] - begin_s) / span_s
    end = (instances[:, 1] - begin_s) / span_s
    inside = np.clip(np.minimum(end, 1.0) - np.maximum(start, 0.0), 0.0, None)
    length = end - start
    coverage = np.where(length > 0, inside / np.maximum(length, 1e-12), ((start >= 0) & (start <= 1)).astype(float))
    keep = coverage >= min_coverage - 1e-9
    segs = np.stack([np.clip(start[keep], 0, 1), np.clip(end[keep], 0, 1)], axis=1).astype(np.float32)
    return segs, instances[keep, 2].astype(np.int64)
